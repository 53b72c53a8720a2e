"""HonestDiD sensitivity: closed forms against an independent LP; fragility flag."""

from __future__ import annotations

import numpy as np
import pytest

from inburgering.did.honest import (
    EventStudy,
    breakdown,
    is_fragile,
    lp_bias_bounds,
    rm_bounds,
    sd_bounds,
)


def _es(beta_pre, beta_post, se=0.01):
    e = np.array(list(range(-len(beta_pre) - 1, -1)) + list(range(len(beta_post))))
    beta = np.array(list(beta_pre) + list(beta_post), float)
    return EventStudy(e, beta, np.eye(beta.size) * se**2)


@pytest.mark.parametrize("m", [0.0, 0.5, 1.0, 2.0])
def test_rm_closed_form_equals_lp(m):
    es = _es([0.01, -0.02, 0.015, 0.005], [0.1, 0.12, 0.11])
    lb, ub, _, _ = rm_bounds(es, m, 0.05)
    theta = es.beta[es.event_time >= 0].mean()
    lo, hi = lp_bias_bounds(es, "relative_magnitude", m)
    assert np.isclose(lb, theta - hi) and np.isclose(ub, theta - lo)


@pytest.mark.parametrize("m", [0.0, 0.01, 0.05])
def test_sd_closed_form_equals_lp(m):
    es = _es([0.03, 0.02, 0.01], [0.1, 0.12, 0.11, 0.15])
    lb, ub, _, _ = sd_bounds(es, m, 0.05)
    theta = es.beta[es.event_time >= 0].mean()
    lo, hi = lp_bias_bounds(es, "smoothness", m)
    assert np.isclose(lb, theta - hi) and np.isclose(ub, theta - lo)


def test_lp_with_a_gap_at_event_zero():
    es = _es([0.01, -0.01, 0.02], [0.1, 0.1, 0.1])
    keep = es.event_time != 0
    gap = EventStudy(es.event_time[keep], es.beta[keep], es.vcov[np.ix_(keep, keep)])
    lb, ub, _, _ = sd_bounds(gap, 0.02, 0.05)
    lo, hi = lp_bias_bounds(gap, "smoothness", 0.02)
    theta = gap.beta[gap.event_time >= 0].mean()
    assert np.isclose(lb, theta - hi) and np.isclose(ub, theta - lo)


def test_breakdown_is_where_the_interval_reaches_zero():
    es = _es([0.01, -0.01, 0.01], [0.1, 0.1, 0.1])
    bd = breakdown(es, "relative_magnitude", 0.05)
    assert 0 < bd < np.inf
    assert rm_bounds(es, bd * 1.01, 0.05)[2] <= 0 < rm_bounds(es, bd * 0.99, 0.05)[2]


def test_pretrend_violation_is_flagged_fragile():
    # A steady differential pre-trend that, extrapolated, explains the post "effect".
    slope = 0.02
    es = _es([-slope * k for k in (5, 4, 3, 2)], [slope * (k + 1) for k in range(3)], se=0.005)
    assert is_fragile(es, 0.05)
    clean = _es([0.001, -0.001, 0.0005, 0.0], [0.1, 0.1, 0.1], se=0.005)
    assert not is_fragile(clean, 0.05)


def test_reform_sensitivity_without_event_time_minus_two_is_skipped_not_fatal(caplog):
    """Small runs can lack the bins the smoothness bounds need: no rows and a log line, so one
    sparse contrast does not stop the reform_did job (seen in the Monte Carlo harness)."""
    from inburgering.designs.event_study import ContrastFit, ReformSettings, honest_records

    gap = EventStudy(np.array([-4, -3, 0, 1]), np.array([0.0, 0.01, 0.1, 0.1]), np.eye(4) * 1e-4)
    fit = ContrastFit(
        *(0.1, 0.01, np.zeros(1), np.zeros(1), np.zeros(1), np.eye(1), gap),
        *(0.0, 0, 1.0, 0.0, 0.01, 100, 100, 10),
    )
    key = {"city": "rotterdam", "comparison": "rest_nl", "outcome": "employed", "horizon": 12}
    settings = ReformSettings(horizons=[12], cities=["rotterdam"])
    with pytest.raises(ValueError):
        is_fragile(gap.window(5, 3), 0.05)  # what the design must absorb
    assert honest_records(fit, key, settings) == []
    assert "needs event time -2" in caplog.text
