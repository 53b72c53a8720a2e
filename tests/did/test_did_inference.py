"""Bootstrap, uniform bands, clustering and the pre-trend test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from inburgering.did import aggte, att_gt
from inburgering.did.bootstrap import bootstrap_inference, sup_t_critical_value


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
    dyn = aggte(res, "dynamic")
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
    dyn = aggte(_fit(mpdta, bootstrap=0), "dynamic")
    np.testing.assert_allclose(np.sqrt(np.diag(dyn.vcov)), dyn.table["se"].iloc[:-1])
    assert dyn.influence.shape == (500, dyn.levels.size)


def test_sup_t_critical_value_known_cases():
    k, alpha = 8, 0.05
    independent = sup_t_critical_value(np.eye(k), alpha=alpha, draws=200_000, seed=1)
    # max of k independent |N(0,1)|: P(max <= c) = (2 Phi(c) - 1)^k.
    exact = norm.ppf((1 + (1 - alpha) ** (1 / k)) / 2)
    assert independent == pytest.approx(exact, abs=0.01)
    # Perfectly correlated coefficients are one test: the pointwise value. Scales do not matter.
    sd = np.array([0.1, 1.0, 3.0, 10.0])
    assert sup_t_critical_value(
        np.outer(sd, sd), alpha=alpha, draws=20_000, seed=1
    ) == pytest.approx(norm.ppf(1 - alpha / 2), abs=0.01)
    # A zero-variance base coefficient is left out of the maximum.
    with_base = np.zeros((k + 1, k + 1))
    with_base[1:, 1:] = np.eye(k)
    assert sup_t_critical_value(with_base, alpha=alpha, draws=200_000, seed=1) == pytest.approx(
        exact, abs=0.01
    )


def test_sup_t_matches_multiplier_bootstrap_band(staggered):
    """The Gaussian sup-t value equals R did's bootstrap band (mboot) up to simulation noise."""
    data = staggered(units=5000, seed=4)
    res = att_gt(data, outcome="y", time="t", group="g", unit="id", bootstrap=0)
    dyn = aggte(res, "dynamic")
    _, boot_crit, _ = bootstrap_inference(dyn.influence, res.n, alpha=0.05, draws=20_000, seed=5)
    gauss = sup_t_critical_value(dyn.vcov, alpha=0.05, draws=50_000, seed=5)
    assert gauss == pytest.approx(boot_crit, abs=0.06)
    assert gauss > norm.ppf(0.975) + 0.4
