"""A G4 city's own instrument bundle: the estimator targets the synthetic truth's estimand.

Noise-free population (outcome = expected outcome): Rotterdam adopts a two-instrument bundle in
2018Q4/2019Q1 that ramps up over four quarters; one comparison municipality adopts an instrument
of its own inside the window (a +0.2 jump that must not enter the comparison trend), one did so
long before it (settled, a valid comparison). Parallel trends hold otherwise, so the estimate
equals the truth exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.calendar import BUNDLE_COMPARISON, instrument_bundles
from inburgering.designs.city_instrument_did import (
    BundleWindow,
    CityBundleSettings,
    city_instrument_tables,
    unchanged_municipalities,
)
from inburgering.designs.event_study import EventStudySettings, analysis_frame, quarter_index
from inburgering.designs.instrument_did import adoption_table
from inburgering.synth import truth
from inburgering.synth.dates import quarter_from_label
from inburgering.synth.shocks import PersonShocks

QUARTERS = [f"{y}Q{q}" for y in range(2017, 2022) for q in range(1, 5)]
ROTTERDAM = "0599"
START = QUARTERS.index("2018Q4")
EFFECT = 0.1
CHANGED, SETTLED = "1010", "1011"
NEVER_CHANGE = [f"10{k:02d}" for k in range(8)]
TREATMENT = "assessment_in_intake+intensified_intake"
POLICIES = {
    "reform": {"date": "2022-01-01"},
    "municipalities": {"rotterdam": {"code": ROTTERDAM}},
    "instruments": {
        "intensified_intake": {"adoption": {"rotterdam": {"start": "2018-11-01"}}},
        "assessment_in_intake": {"adoption": {"rotterdam": {"start": "2019-01-01"}}},
        "x": {"adoption": {}},
    },
}


def _exposure(t: int) -> float:
    return float(np.clip((t - START + 1) / 4, 0.0, 1.0))


def _population(per_quarter: int = 3) -> pd.DataFrame:
    rows = []
    for m in [ROTTERDAM, CHANGED, SETTLED, *NEVER_CHANGE]:
        for t, label in enumerate(QUARTERS):
            y0 = 0.3 + 0.01 * t + 0.02 * (int(m) % 7)
            if m == CHANGED and label >= "2020Q2":
                y0 += 0.2  # its own instrument, adopted inside Rotterdam's window
            effect = EFFECT * _exposure(t) if m == ROTTERDAM else 0.0
            rows += [{"municipality": m, "cohort": label, "y0": y0, "y1": y0 + effect}]
    frame = pd.DataFrame(rows * per_quarter)
    return frame.assign(person_id=[f"{i:09d}" for i in range(len(frame))])


def _inputs(people: pd.DataFrame):
    persons = people.assign(
        city=np.where(people["municipality"] == ROTTERDAM, "rotterdam", "rest_nl"),
        group="statushouder",
        regime="wi2013",
        female=0.0,
    )
    outcomes = pd.DataFrame(
        {"person_id": people["person_id"], "horizon": 12, "employed": people["y1"]}
    )
    table = pd.DataFrame(
        {
            "municipality": [CHANGED, SETTLED],
            "instrument": "x",
            "start": pd.to_datetime(["2020-04-01", "2014-01-01"]),
        }
    )
    return persons, outcomes, adoption_table(POLICIES, table)


def _truth(people: pd.DataFrame) -> pd.DataFrame:
    zeros = np.zeros(len(people))
    pot = pd.DataFrame(
        {
            "horizon": 12,
            "observed": True,
            "u": 0.5,
            **PersonShocks.none(len(people)).columns(),
            "regime": "wi2013",
            "cohort_q": [quarter_from_label(c) for c in people["cohort"]],
            "city": np.where(people["municipality"] == ROTTERDAM, "rotterdam", "rest_nl"),
            **{"obs_E": people["y1"], "obs_D": zeros, "obs_S": zeros},
            **{f"off_{TREATMENT}_E": people["y0"], f"off_{TREATMENT}_D": zeros},
            f"off_{TREATMENT}_S": zeros,
        }
    )
    bundles = instrument_bundles(POLICIES["instruments"], ["rotterdam"], "2022-01-01")
    rows = pd.DataFrame(truth.bundle_rows(pot, (12,), bundles))
    return rows[rows["outcome"] == "employed"]


@pytest.fixture(scope="module")
def estimated():
    people = _population()
    persons, outcomes, adoption = _inputs(people)
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12],
        cities=["rotterdam"],
        alpha=0.05,
        covariates=["female"],
        ri_pool=8,
        wild_draws=99,
    )
    bundles = CityBundleSettings.from_schema_defaults()
    tables = city_instrument_tables(
        persons, outcomes, POLICIES, adoption, ["employed"], settings, bundles
    )
    return people, tables["estimates"], tables


def test_estimate_equals_truth_on_a_noise_free_population(estimated):
    people, rows, _ = estimated
    headline = rows[rows["headline"]]
    assert set(headline["treatment"]) == {TREATMENT}
    assert set(headline["comparison"]) == {BUNDLE_COMPARISON}
    overall = headline.loc[headline["estimand"] == "att_overall", "estimate"].item()
    # The ramp 0.1 * (1/4, 2/4, 3/4, 1, ...) over the 13 quarters 2018Q4-2021Q4.
    assert overall == pytest.approx(EFFECT * (1.5 + 10) / 13, abs=1e-9)
    expected = _truth(people)
    assert overall == pytest.approx(
        expected.loc[expected["estimand"] == "att_overall", "truth"].item(), abs=1e-9
    )
    events = headline[headline["estimand"] == "att_event"].merge(
        expected[expected["estimand"] == "att_event"], on="event_time", suffixes=("", "_true")
    )
    assert len(events) == len(QUARTERS) and events["event_time"].min() == -START
    np.testing.assert_allclose(events["estimate"], events["truth"], atol=1e-9)


def test_comparison_leaves_out_municipalities_that_change(estimated):
    people, _, _ = estimated
    persons, outcomes, adoption = _inputs(people)
    bundle = instrument_bundles(POLICIES["instruments"], ["rotterdam"], "2022-01-01")[0]
    q = quarter_index(pd.Series(["2017Q1", "2018Q4", "2021Q4"]))
    window = BundleWindow(bundle, int(q[1]), int(q[0]), int(q[2]))
    data = analysis_frame(persons, outcomes, 12, [])
    kept = unchanged_municipalities(data, adoption, window, settle_quarters=4)
    assert CHANGED not in kept and SETTLED in kept and len(kept) == len(NEVER_CHANGE) + 1


def test_rows_say_their_inference(estimated):
    _, rows, _ = estimated
    overall = rows[rows["estimand"] == "att_overall"].set_index("estimator")
    assert {"naive", "twfe", "cs_reg_ri", "sdid"} < set(overall.index)
    assert overall["inference"].str.len().gt(0).all()
    assert "randomization inference" in overall.loc["cs_reg_ri", "inference"]
    # The naive before/after difference carries the comparison's trend (0.01 per quarter).
    assert overall.loc["naive", "estimate"] > overall.loc[overall["headline"], "estimate"].max()


def test_side_tables_carry_the_bundle_key(estimated):
    _, rows, tables = estimated
    key = {"design": "instrument_did", "treatment": TREATMENT, "city": "rotterdam"}
    for name in ("pretrends", "uniform_bands", "inference"):
        frame = tables[name]
        assert len(frame), name
        for column, value in key.items():
            assert (frame[column] == value).all(), (name, column)
    # Noise-free parallel trends: the leads are zero, so is their linear slope.
    assert tables["pretrends"]["slope"].abs().max() < 1e-9
    bands = tables["uniform_bands"]
    events = rows[(rows["estimand"] == "att_event") & rows["headline"]]
    assert len(bands) == len(events) and (bands["critical_value"] > 1.96).all()
