"""Recovery of planted effects on simulated staggered data, and interval coverage (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from inburgering.did import aggte, att_gt


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_panel_recovers_planted_event_effects(staggered, method, control):
    data = staggered(units=4000, seed=1)
    res = att_gt(
        data,
        outcome="y",
        time="t",
        group="g",
        unit="id",
        covariates=["x"],
        method=method,
        control=control,
        bootstrap=0,
    )
    dyn = aggte(res, "dynamic")
    for e, a, s in zip(dyn.levels, dyn.att, dyn.table["se"].iloc[:-1], strict=True):
        truth = 1.0 + 0.5 * e if e >= 0 else 0.0
        assert abs(a - truth) < 4 * s, (e, a, truth, s)


def test_cross_sections_recover_planted_effects(staggered):
    data = staggered(units=30000, seed=2, cross_section=True)
    res = att_gt(data, outcome="y", time="t", group="g", covariates=["x"], bootstrap=0)
    simple = aggte(res, "simple")
    post = res.table[res.table["post"]]
    truth = np.average(
        1.0 + 0.5 * (post["time"] - post["group"]),
        weights=[np.mean(data["g"] == g) for g in post["group"]],
    )
    assert abs(simple.overall_att - truth) < 4 * simple.overall_se


def test_unconditional_estimator_is_biased_when_trends_depend_on_x(staggered):
    data = staggered(units=4000, seed=5, x_trend=0.5)
    res = att_gt(data, outcome="y", time="t", group="g", unit="id", bootstrap=0)
    dyn = aggte(res, "dynamic")
    # x raises treatment probability and trends: the unconditional event study is off.
    assert (
        np.max(np.abs(dyn.att - (1.0 + 0.5 * np.maximum(dyn.levels, 0)) * (dyn.levels >= 0))) > 0.1
    )


@pytest.mark.slow
@pytest.mark.parametrize("panel", [True, False])
def test_monte_carlo_coverage(staggered, panel):
    """95% intervals of the overall event-study effect cover the truth in 90-98% of draws."""
    reps = 300
    covered = 0
    for r in range(reps):
        data = staggered(units=1500 if panel else 12000, seed=1000 + r, cross_section=not panel)
        res = att_gt(
            data,
            outcome="y",
            time="t",
            group="g",
            unit="id" if panel else None,
            covariates=["x"],
            bootstrap=0,
        )
        dyn = aggte(res, "dynamic")
        truth = np.mean([1.0 + 0.5 * e for e in dyn.levels if e >= 0])
        row = dyn.table.iloc[-1]
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert 0.90 <= covered / reps <= 0.98
