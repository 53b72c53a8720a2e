"""Bootstrap, uniform bands, clustering and the pre-trend test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from inburgering.did import att_gt


def _fit(data, **kw):
    return att_gt(data, outcome="lemp", time="year", group="first.treat", unit="countyreal", **kw)


def test_bootstrap_se_close_to_analytic_and_band_wider(mpdta):
    res = _fit(mpdta, covariates=["lpop"], bootstrap=999, seed=3)
    table = res.table
    ratio = table["se"] / table["se_analytic"]
    assert ratio.between(0.85, 1.15).all()
    # Simultaneous band over 12 cells must exceed the pointwise 1.96 but stay plausible.
    assert norm.ppf(0.975) < res.crit_val < 3.5
    width = table["ci_high"] - table["ci_low"]
    np.testing.assert_allclose(width, 2 * res.crit_val * table["se"])
    dyn = res.aggte("dynamic")
    assert dyn.crit_val > norm.ppf(0.975)
    overall = dyn.table.iloc[-1]
    assert overall["ci_high"] - overall["ci_low"] == pytest.approx(
        2 * norm.ppf(0.975) * overall["se"]
    )


def test_bootstrap_is_reproducible_with_seed(mpdta):
    a = _fit(mpdta, bootstrap=199, seed=11).table
    b = _fit(mpdta, bootstrap=199, seed=11).table
    c = _fit(mpdta, bootstrap=199, seed=12).table
    assert a.equals(b)
    assert not np.allclose(a["se"], c["se"])


def test_clustered_inference_sums_influence_within_clusters(mpdta):
    plain = _fit(mpdta, bootstrap=0)
    clustered = _fit(mpdta, bootstrap=0, cluster="state")
    np.testing.assert_allclose(plain.att, clustered.att)
    # Analytic cluster-robust SE: sqrt(sum_c (sum_{i in c} psi_i)^2) / n.
    inf = plain.influence[:, 0]
    states = mpdta.groupby("countyreal")["state"].first().to_numpy()
    sums = np.bincount(np.unique(states, return_inverse=True)[1], weights=inf)
    assert clustered.table["se"].iloc[0] == pytest.approx(np.sqrt(np.sum(sums**2)) / plain.n)
    boot = _fit(mpdta, bootstrap=999, cluster="state", seed=1)
    ratio = boot.table["se"] / clustered.table["se"]
    assert ratio.between(0.8, 1.2).all()


def test_pretrend_test_rejects_violated_parallel_trends(staggered):
    data = staggered(units=3000, seed=4, x_trend=0.3)
    biased = att_gt(data, outcome="y", time="t", group="g", unit="id", bootstrap=0)
    adjusted = att_gt(
        data, outcome="y", time="t", group="g", unit="id", covariates=["x"], bootstrap=0
    )
    assert biased.pretrend_test().p_value < 0.01
    assert adjusted.pretrend_test().p_value > 0.01


def test_event_vcov_matches_standard_errors(mpdta):
    dyn = _fit(mpdta, bootstrap=0).aggte("dynamic")
    np.testing.assert_allclose(np.sqrt(np.diag(dyn.vcov)), dyn.table["se"].iloc[:-1])
    assert dyn.influence.shape == (500, dyn.levels.size)
