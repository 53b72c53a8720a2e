"""Truth rows equal person-level means of Y(d1) - Y(d0); files reproduce the person facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synth_helpers import read_logical

from inburgering.contracts.tidy import KEY_COLUMNS
from inburgering.synth.municipalities import NEVER
from inburgering.synth.outcomes import Probabilities
from inburgering.synth.shocks import PersonShocks, shocked
from inburgering.synth.truth import CityMatchingContrasts, Standardiser, city_rows
from inburgering.validation.truth import read_truth


@pytest.fixture(scope="module")
def truth(parquet_run):
    out, _ = parquet_run
    return (
        read_truth(out / "truth" / "estimands.csv"),
        pd.read_parquet(out / "truth" / "potential_outcomes.parquet"),
        pd.read_csv(out / "truth" / "instrument_cells.csv"),
    )


def _employed(pot: pd.DataFrame, world: str) -> np.ndarray:
    """Realised employment in a world: the latent uniform below the probability the person
    meets under their city shock (the same shock in every world)."""
    p = Probabilities(*(pot[f"{world}_{s}"].to_numpy(float) for s in "EDS"))
    return (pot["u"].to_numpy() < shocked(p, PersonShocks.from_table(pot)).employed).astype(float)


def _lookup(table: pd.DataFrame, **keys) -> pd.Series:
    mask = np.ones(len(table), bool)
    for key, value in keys.items():
        mask &= (table[key] == value).to_numpy()
    assert mask.sum() == 1, keys
    return table[mask].iloc[0]


def test_keys_follow_the_tidy_contract(truth):
    estimands, _, _ = truth
    assert list(estimands.columns) == [*KEY_COLUMNS, "truth", "truth_sample"]
    assert not estimands.duplicated(list(KEY_COLUMNS)).any()
    for outcome in ("participation", "employed", "social_assistance"):
        for horizon in (12, 24):
            for city in ("rotterdam", "amsterdam", "den_haag", "utrecht"):
                _lookup(
                    estimands,
                    design="reform_did",
                    estimand="att_overall",
                    city=city,
                    comparison="rest_nl",
                    outcome=outcome,
                    horizon=horizon,
                    subgroup="all",
                )


def _carried(effect: pd.Series, frame: pd.DataFrame, treated, control) -> float:
    """Independent standardisation (pandas): the comparison's mean effect per cell of group,
    sex, schooling band and age band, falling back to group x sex, then group."""
    cells = pd.DataFrame(
        {
            "group": frame["group"].to_numpy(),
            "female": frame["female"].to_numpy(),
            "school": pd.cut(frame["schooling_years"], [-1, 5, 8, 11, 99]).astype(str).to_numpy(),
            "age": pd.cut(frame["age"], [0, 26, 29, 39, 49, 99]).astype(str).to_numpy(),
            "effect": effect,
        }
    )
    carried = pd.Series(np.nan, index=cells.index[treated])
    for keys in (["group", "female", "school", "age"], ["group", "female"], ["group"]):
        means = cells[control].groupby(keys)["effect"].mean().rename("m")
        fill = cells[treated].join(means, on=keys)["m"]
        carried = carried.fillna(fill)
    return float(cells.loc[treated, "effect"].mean() - carried.mean())


def test_reform_truth_is_standardised_to_the_citys_persons(truth):
    estimands, pot, _ = truth
    seen = pot[(pot["horizon"] == 12) & pot["observed"] & (pot["regime"] == "wi2021")]
    seen = seen.reset_index(drop=True)
    effect = _employed(seen, "obs") - _employed(seen, "old")
    city = seen["city"].to_numpy()
    expected = _carried(effect, seen, city == "rotterdam", city == "rest_nl")
    row = _lookup(
        estimands,
        design="reform_did",
        estimand="att_overall",
        city="rotterdam",
        comparison="rest_nl",
        outcome="employed",
        horizon=12,
        subgroup="all",
    )
    assert row["truth_sample"] == pytest.approx(expected, abs=1e-9)
    # Rotterdam's planted effect (0.05 at full ramp) beats the rest's mean (0.01).
    assert row["truth"] > 0.02


def test_route_and_city_truth(truth):
    estimands, pot, _ = truth
    seen = pot[(pot["horizon"] == 24) & pot["observed"] & (pot["regime"] == "wi2021")]
    z = seen[seen["route"] == "z"]
    row = _lookup(
        estimands, design="route_matching", treatment="z_vs_b1", outcome="employed", horizon=24
    )
    assert row["truth_sample"] == pytest.approx(
        (_employed(z, "route_z") - _employed(z, "route_b1")).mean()
    )
    rot = seen[(seen["city"] == "rotterdam") & (seen["group"] == "statushouder")]
    # Rotterdam persons' observed world is the "settled in Rotterdam" world.
    assert np.allclose(rot["obs_E"], rot["city_rotterdam_E"])
    row = _lookup(
        estimands,
        design="city_matching",
        treatment="rotterdam_vs_utrecht",
        outcome="employed",
        horizon=24,
    )
    expected = (_employed(rot, "obs") - _employed(rot, "city_utrecht")).mean()
    assert row["truth_sample"] == pytest.approx(expected)


def test_city_matching_truth_follows_the_configured_treated_city(truth):
    """The truth compares whom the design compares (config matching.city): another treated
    city, group and comparison list give that city's rows, from the same potential outcomes."""
    _, pot, _ = truth
    contrasts = CityMatchingContrasts(
        treated="amsterdam",
        comparisons=("rotterdam", "rest_nl"),
        regimes=("wi2021",),
        groups=("gezinsmigrant",),
    )
    rows = pd.DataFrame(city_rows(pot, (24,), contrasts))
    # rest_nl has no "settled there" world: no row rather than a wrong one.
    assert set(rows["treatment"]) == {"amsterdam_vs_rotterdam"}
    assert set(rows["city"]) == {"amsterdam"}
    seen = pot[(pot["horizon"] == 24) & pot["observed"] & (pot["regime"] == "wi2021")]
    ams = seen[(seen["city"] == "amsterdam") & (seen["group"] == "gezinsmigrant")]
    row = _lookup(rows, outcome="employed")
    expected = (_employed(ams, "obs") - _employed(ams, "city_rotterdam")).mean()
    assert row["truth_sample"] == pytest.approx(expected)


def test_instrument_aggregation_from_cells(truth):
    estimands, _, cells = truth
    c = cells[
        (cells["outcome"] == "employed") & (cells["horizon"] == 12) & (cells["group"] > "2016Q1")
    ]
    # Only the cohorts instrument_did can estimate count
    # (designs.instrument_did.eligible_cohorts); in this small population few instruments have one.
    eligible = sorted(c.loc[c["eligible"], "instrument"].unique())
    assert eligible, "no instrument with an eligible adoption cohort"
    c = c[(c["instrument"] == eligible[0]) & c["eligible"]]
    size = c.groupby("group")["n"].transform("sum")
    post = c["period"] >= c["group"]
    expected = np.average(c.loc[post, "truth"], weights=size[post])
    row = _lookup(
        estimands,
        design="instrument_did",
        estimand="att_overall",
        treatment=eligible[0],
        outcome="employed",
        horizon=12,
    )
    assert row["truth"] == pytest.approx(expected)
    instrument = estimands[(estimands["design"] == "instrument_did") & (estimands["city"] == "all")]
    assert set(instrument["treatment"]) <= set(cells.loc[cells["eligible"], "instrument"])
    pre = instrument[instrument["event_time"] < 0]
    assert (pre["truth"] == 0).all()


def test_files_reproduce_person_outcomes(parquet_run):
    """The reader's definitions (docstring of synth.generate) recover truth/persons.parquet."""
    out, catalogue = parquet_run
    facts = pd.read_parquet(out / "truth" / "persons.parquet")
    secm = read_logical(catalogue, "socio_economic")
    enrol = read_logical(catalogue, "education_enrolment")
    for frame in (secm, enrol):
        frame["start"] = pd.to_datetime(frame["start"], format="%Y%m%d")
        frame["end"] = pd.to_datetime(frame["end"], format="%Y%m%d")
    end = pd.Timestamp("2025-12-31")
    for h in (6, 24):
        at = facts[["person_id"]].assign(date=facts["obligation_start"] + pd.DateOffset(months=h))
        for name, spells, codes in (
            ("employed", secm, {"11", "12", "13", "14"}),
            ("social_assistance", secm, {"22"}),
            ("in_education", enrol, None),
        ):
            chosen = spells if codes is None else spells[spells["category"].isin(codes)]
            hit = chosen.merge(at, on="person_id")
            hit = hit[(hit["start"] <= hit["date"]) & (hit["date"] <= hit["end"])]
            derived = at["person_id"].isin(hit["person_id"]).astype(float).where(at["date"] <= end)
            assert derived.equals(facts[f"{name}_{h}"].astype(float)), (name, h)


def test_settlement_from_addresses(parquet_run):
    out, catalogue = parquet_run
    facts = pd.read_parquet(out / "truth" / "persons.parquet").set_index("person_id")
    spells = read_logical(catalogue, "gba_addresses")
    spells = spells.assign(start=pd.to_datetime(spells["start"]), end=pd.to_datetime(spells["end"]))
    spells = spells.join(facts["obligation_start"], on="person_id")
    first = spells[spells["end"] >= spells["obligation_start"]].sort_values(["person_id", "start"])
    first = first.drop_duplicates("person_id").head(400)
    for _, row in first.iterrows():
        year = row["start"].year
        vsl = (
            read_logical(catalogue, "address_municipality", year=year)
            if year not in _CACHE
            else _CACHE[year]
        )
        _CACHE[year] = vsl
        code = vsl.loc[vsl["object_id"] == row["object_id"], "municipality"].iloc[0]
        assert code == facts.loc[row["person_id"], "municipality"]


_CACHE: dict[int, pd.DataFrame] = {}


BUNDLE = "assessment_in_intake+intensified_intake"  # Rotterdam's 2018Q4/2019Q1 intake package


def test_rotterdam_bundle_truth(truth):
    estimands, pot, _ = truth
    seen = pot[(pot["horizon"] == 24) & pot["observed"] & (pot["regime"] != "uncertain")]
    rotterdam = seen[seen["city"] == "rotterdam"]
    q = rotterdam["cohort_q"]  # quarters since 2000Q1: 2018Q4 = 75, 2021Q4 = 87
    post = rotterdam[(q >= 75) & (q <= 87)]
    expected = (_employed(post, "obs") - _employed(post, f"off_{BUNDLE}")).mean()
    row = _lookup(
        estimands,
        design="instrument_did",
        estimand="att_overall",
        city="rotterdam",
        treatment=BUNDLE,
        outcome="employed",
        horizon=24,
    )
    assert row["comparison"] == "rest_nl_unchanged"
    assert row["truth_sample"] == pytest.approx(expected) and row["truth"] > 0
    # Before adoption the bundle changes nothing, and it is Rotterdam's alone: a municipality
    # that never adopted either instrument has the same outcomes with the bundle switched off.
    before = rotterdam[q < 75]
    assert np.array_equal(before["obs_E"], before[f"off_{BUNDLE}_E"])
    never = seen[
        (seen["city"] == "rest_nl")
        & (seen["adopt_intensified_intake"] == NEVER)
        & (seen["adopt_assessment_in_intake"] == NEVER)
    ]
    assert len(never) and np.array_equal(never["obs_E"], never[f"off_{BUNDLE}_E"])
    events = estimands[
        (estimands["city"] == "rotterdam")
        & (estimands["treatment"] == BUNDLE)
        & (estimands["estimand"] == "att_event")
    ]
    assert (events.loc[events["event_time"] < 0, "truth"] == 0).all()
    assert events["event_time"].max() == 87 - 75  # ends before the reform, Rotterdam's next change


def test_standardiser_carries_the_comparisons_cell_effects_to_the_treated():
    # Two cells. The comparison's effect is 0.10 in cell 0 and 0.30 in cell 1; the treated sit
    # mostly in cell 1. Own-population means would compare 0.25 with 0.15; the comparison's
    # effect for persons like the treated is (0.10 + 3 x 0.30) / 4 = 0.25: no difference.
    values = np.array([0.1, 0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 0.3])
    treated = np.array([True] * 4 + [False] * 4)
    cell = np.array([0, 1, 1, 1, 0, 0, 0, 1])
    assert Standardiser(treated, ~treated, [cell]).difference(values) == pytest.approx(0.0)
    assert values[treated].mean() - values[~treated].mean() == pytest.approx(0.1)


def test_standardiser_falls_back_to_the_coarser_cell():
    # The treated person in fine cell 2 has no comparison there: its coarse cell (1) has mean
    # 0.4 among the comparison.
    values = np.array([0.5, 0.9, 0.2, 0.4])
    treated = np.array([True, True, False, False])
    fine = np.array([0, 2, 0, 1])
    coarse = np.array([0, 1, 0, 1])
    got = Standardiser(treated, ~treated, [fine, coarse]).difference(values)
    assert got == pytest.approx(np.mean([0.5, 0.9]) - np.mean([0.2, 0.4]))
    values = np.array([0.5, 0.9, 0.2, 0.6])
    got = Standardiser(treated, ~treated, [fine, coarse]).difference(values)
    assert got == pytest.approx(0.7 - np.mean([0.2, 0.6]))
