"""reform_did on simulated repeated cross-sections with known relative effects."""

from __future__ import annotations

import pandas as pd
import pytest

from inburgering.calendar import load_calendar
from inburgering.designs.event_study import EventStudySettings, quarter_index
from inburgering.designs.reform_did import ReformDidSettings, outcome_tables
from inburgering.validation.designsim import SimSpec, simulate


@pytest.fixture(scope="module")
def tables(repo_root):
    data = simulate(SimSpec(persons=40000, instrument_effect=0.0, seed=11), horizons=(12,))
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12],
        cities=["rotterdam", "amsterdam", "den_haag", "utrecht"],
        alpha=0.05,
        wild_draws=99,
        ri_pool=19,
    )
    reform = ReformDidSettings.from_schema_defaults()
    calendar = load_calendar(repo_root / "config" / "policies.yaml")
    out = outcome_tables(
        data["persons"], data["outcomes"], "participation", 12, settings, reform, calendar
    )
    keys = ["city", "comparison", "outcome", "horizon", "subgroup"]
    overall = out["estimates"].query("estimand == 'att_overall'").merge(data["truth"], on=keys)
    overall["covered"] = (overall["ci_low"] <= overall["truth"]) & (
        overall["truth"] <= overall["ci_high"]
    )
    return out, overall


def test_headline_covers_truth(tables):
    _, overall = tables
    head = overall[overall["headline"]]
    assert len(head) >= 20
    assert head["covered"].mean() >= 0.85


def test_naive_misses_the_truth(tables):
    _, overall = tables
    naive = overall[overall["estimator"] == "naive"]
    head = overall[overall["headline"] & (overall["subgroup"] == "all")]
    assert (naive["estimate"] - naive["truth"]).abs().mean() > 0.03
    assert naive["covered"].mean() <= 0.5 < head["covered"].mean()


def test_rows_name_their_inference(tables):
    out, _ = tables
    est = out["estimates"]
    assert (est["inference"] != "").all()
    assert {
        "cs_dr",
        "cs_reg_ri",
        "twfe",
        "naive",
        "twfe_cells_wcr",
        "twfe_cells_crv3",
        "sdid",
    } <= set(est["estimator"])
    wild = est[est["estimator"] == "twfe_cells_wcr"]
    assert wild["inference"].str.contains("UNRELIABLE").all()  # one treated cluster


def test_pre_period_event_rows_centre_on_zero(tables):
    out, _ = tables
    ev = out["estimates"].query("estimand == 'att_event' and event_time < 0")
    z = ev["estimate"] / ev["se"]
    assert abs(z.mean()) < 0.5
    assert ((ev["ci_low"] <= 0) & (ev["ci_high"] >= 0)).mean() > 0.9


def test_side_tables(tables):
    out, _ = tables
    assert {"wald_stat", "wald_p", "slope"} <= set(out["pretrends"].columns)
    assert set(out["honestdid"]["restriction"]) == {"relative_magnitude", "smoothness"}
    assert (
        isinstance(out["inference"], pd.DataFrame)
        and (out["inference"]["ri_floor"] == 1 / 20).all()
    )


def test_uniform_bands_cover_every_event_coefficient_and_are_wider(tables):
    out, _ = tables
    events = out["estimates"].query("estimand == 'att_event' and subgroup == 'all' and headline")
    keys = ["city", "comparison", "outcome", "horizon", "estimator", "event_time"]
    bands = out["uniform_bands"].merge(events, on=keys, how="outer", indicator=True)
    assert (bands["_merge"] == "both").all()  # one band row per headline event coefficient
    assert len(bands) == len(events) > 100
    assert (bands["band_low"] <= bands["ci_low"] + 1e-12).all()
    assert (bands["band_high"] >= bands["ci_high"] - 1e-12).all()
    crit = bands.groupby(["city", "comparison"])["critical_value"].agg(["min", "max", "size"])
    assert (crit["min"] == crit["max"]).all()  # one critical value per event study
    # ~30 quarterly coefficients: a sup-t value well above 1.96 and below Bonferroni's.
    assert ((crit["min"] > 2.4) & (crit["min"] < 3.6)).all()


def test_contrast_without_base_quarters_is_not_estimated():
    """A treated city with no persons in the base quarters (the last 4 before the reform) gives
    no DiD: the fit must refuse rather than return an un-normalised contrast."""
    import numpy as np

    from inburgering.designs.event_study import fit_contrast
    from inburgering.did.errors import DidError

    REFORM_Q = int(quarter_index(pd.Series(["2022Q1"]))[0])
    rng = np.random.default_rng(0)
    quarters = [*range(REFORM_Q - 12, REFORM_Q - 6), *range(REFORM_Q, REFORM_Q + 4)]
    rows = [
        {"q": q, "treated": t, "municipality": f"m{t}{i % 3}", "y": rng.normal()}
        for q in quarters
        for t in (0, 1)
        for i in range(30)
    ]
    rows += [
        {"q": q, "treated": 0, "municipality": "m00", "y": rng.normal()}
        for q in range(REFORM_Q - 6, REFORM_Q)
        for _ in range(30)
    ]
    data = pd.DataFrame(rows)
    with pytest.raises(DidError, match="no cohort quarter in the base"):
        fit_contrast(
            data, data["treated"].to_numpy() == 1, "y", [], base_quarters=4, event_q=REFORM_Q
        )
