"""pyfixest comparison estimators and the tidy-row export."""

from __future__ import annotations

import numpy as np
import pytest

from inburgering.contracts.tidy import TIDY_COLUMNS
from inburgering.did import (
    DidError,
    aggte,
    att_gt,
    comparison_to_tidy,
    did2s_event_study,
    sunab_event_study,
    to_tidy,
    twfe_event_study,
)

KW = {"outcome": "lemp", "time": "year", "group": "first.treat", "unit": "countyreal"}


def test_sunab_equals_callaway_santanna_post_effects(mpdta):
    # Without covariates and with never-treated controls the saturated Sun-Abraham event study
    # and C&S's outcome-regression dynamic effects coincide for e >= 0 (both compare each
    # cohort's change since g-1 with the never-treated change).
    sa = sunab_event_study(mpdta, **KW).set_index("event_time")
    cs = aggte(att_gt(mpdta, **KW, method="reg", bootstrap=0), "dynamic")
    for e, a in zip(cs.levels, cs.att, strict=True):
        if e >= 0:
            assert sa.loc[int(e), "att"] == pytest.approx(a, abs=1e-8)


def test_twfe_and_did2s_on_homogeneous_effects(staggered):
    data = staggered(units=1500, seed=3, x_trend=0.0, slope=0.0)
    kw = {"outcome": "y", "time": "t", "group": "g", "unit": "id"}
    for fn in (twfe_event_study, did2s_event_study, sunab_event_study):
        out = fn(data, **kw)
        assert list(out.columns) == ["event_time", "att", "se", "ci_low", "ci_high", "estimator"]
        post = out[out.event_time >= 0]
        assert np.all(np.abs(post["att"] - 1.0) < 4 * post["se"]), fn.__name__


def test_did2s_refuses_cohorts_with_one_untreated_period(mpdta):
    with pytest.raises(DidError, match="fewer than two untreated periods"):
        did2s_event_study(mpdta, **KW)


def test_to_tidy_rows(mpdta):
    res = att_gt(mpdta, **KW, bootstrap=99)
    keys = {
        "design": "instrument_did",
        "treatment": "min_wage",
        "city": "all",
        "comparison": "never_treated",
        "outcome": "lemp",
        "horizon": 12,
    }
    simple = to_tidy(aggte(res, "simple"), **keys)
    dynamic = to_tidy(aggte(res, "dynamic"), **keys)
    group = to_tidy(aggte(res, "group"), **keys)
    assert list(simple.columns) == list(TIDY_COLUMNS)
    assert simple["estimand"].tolist() == ["att_overall"]
    assert dynamic["event_time"].tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert set(group["subgroup"]) == {"cohort:2004", "cohort:2006", "cohort:2007"}
    assert "bootstrap" in simple["inference"].item()
    twfe = comparison_to_tidy(twfe_event_study(mpdta, **KW), cluster="countyreal", **keys)
    assert not twfe["headline"].any()
    with pytest.raises(DidError, match="no tidy estimand"):
        to_tidy(aggte(res, "calendar"), **keys)
