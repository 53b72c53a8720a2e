"""Few-cluster inference tools against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from scipy.stats import t as student_t

from inburgering.did.inference import (
    absorb_within,
    crv3,
    ri_t_test,
    synthetic_did,
    wild_cluster_bootstrap,
)


def _panel_regression(rng, G=12, T=6, treated=(0, 1, 2, 3, 4, 5), effect=0.0):
    cl = np.repeat(np.arange(G), T)
    t = np.tile(np.arange(T), G)
    D = np.isin(cl, treated) & (t >= T // 2)
    y = rng.normal(size=G)[cl] + 0.1 * t + effect * D + rng.normal(size=G * T)
    X = np.column_stack([D.astype(float), np.eye(G)[cl], np.eye(T)[t][:, 1:]])
    return X, y, np.ones(G * T), cl


def test_ri_p_value_floor_is_one_over_pool():
    res = ri_t_test(10.0, 1.0, np.array([0.1, -0.5, 1.2, 0.3]), alpha=0.05)
    assert res.floor == 1 / 5 and res.p_value == 1 / 5
    assert np.isinf(res.ci_low) and np.isinf(res.ci_high)  # pool too small to ever reject at 5%


def test_ri_interval_is_test_inversion():
    placebo = np.linspace(-3, 3, 39)
    res = ri_t_test(2.0, 0.5, placebo, alpha=0.05)
    for tau0 in np.linspace(res.ci_low - 1, res.ci_high + 1, 41):
        p = ri_t_test(2.0 - tau0, 0.5, placebo, alpha=0.05).p_value
        inside = res.ci_low <= tau0 <= res.ci_high
        assert inside == (p > 0.05) or np.isclose(abs(2.0 - tau0) / 0.5, res.q)


def _untied_placebos(n: int) -> np.ndarray:
    """|t_j| = 0.1, 0.2, ..., 0.1 n with alternating signs: no two placebos tie in |t|."""
    j = np.arange(n)
    return 0.1 * (j + 1) * np.where(j % 2 == 0, 1.0, -1.0)


@pytest.mark.parametrize(
    ("n_placebos", "q_expected"),
    [
        # J = 39, alpha (J + 1) = 2: p = (1 + c) / 40 > 0.05 needs c >= 2 placebos with
        # |t_j| >= |t(tau0)|, so |t(tau0)| <= 2nd largest |t_j| = 3.8 (the largest, 3.9, would
        # keep tau0 with c = 1, p = 0.05: a 97.5% interval).
        (39, 3.8),
        # J = 38, alpha (J + 1) = 1.95: p = (1 + c) / 39 > 0.05 needs c >= 1, q = largest = 3.8.
        (38, 3.8),
        # J = 59, alpha (J + 1) = 3: c >= 3, q = 3rd largest of 0.1 .. 5.9 = 5.7.
        (59, 5.7),
    ],
)
def test_ri_interval_with_untied_placebos_matches_hand_derivation(n_placebos, q_expected):
    res = ri_t_test(2.0, 0.5, _untied_placebos(n_placebos), alpha=0.05)
    assert res.q == pytest.approx(q_expected)
    assert (res.ci_low, res.ci_high) == pytest.approx(
        (2.0 - q_expected * 0.5, 2.0 + q_expected * 0.5)
    )
    assert res.floor == pytest.approx(1 / (n_placebos + 1))
    # Just inside the interval the test does not reject, just outside it does.
    for tau0, rejects in ((res.ci_high - 1e-6, False), (res.ci_high + 1e-6, True)):
        p = ri_t_test(2.0 - tau0, 0.5, _untied_placebos(n_placebos), alpha=0.05).p_value
        assert (p <= 0.05) == rejects


def test_crv3_is_mnw_cv3_centred_at_the_estimate_with_t_critical_values():
    rng = np.random.default_rng(3)
    X, y, _, cl = _panel_regression(rng, treated=(0, 1, 2))
    # Cluster sizes spanning two orders of magnitude: the mean of the leave-one-out estimates is
    # then not the estimate (in a balanced unweighted panel the two coincide and CV3 = CV3J).
    w = (10 ** rng.uniform(0, 2, size=np.unique(cl).size))[cl]
    res = crv3(X, y, w, cl, 0, alpha=0.10)

    def wls_first(keep: np.ndarray) -> float:
        Xk = X[keep][:, np.any(X[keep] != 0, axis=0)] * np.sqrt(w[keep])[:, None]
        return np.linalg.lstsq(Xk, y[keep] * np.sqrt(w[keep]), rcond=None)[0][0]

    betas = np.array([wls_first(cl != g) for g in np.unique(cl)])
    G = betas.size
    est = wls_first(np.ones(y.size, bool))
    assert np.isclose(res.estimate, est) and res.n_clusters == G
    # MacKinnon, Nielsen & Webb (2023): CV3 centred at the full-sample estimate, CV3J at the mean.
    assert np.isclose(res.se, np.sqrt((G - 1) / G * np.sum((betas - est) ** 2)), rtol=1e-9)
    assert np.isclose(
        res.se_cv3j, np.sqrt((G - 1) / G * np.sum((betas - betas.mean()) ** 2)), rtol=1e-9
    )
    assert res.se > res.se_cv3j * 1.001  # centring at the mean minimises the sum of squares
    crit = student_t.ppf(0.95, G - 1)
    assert np.isclose(res.ci_high - res.estimate, crit * res.se)
    assert np.isclose(res.p_value, 2 * student_t.sf(abs(est / res.se), G - 1))


def test_crv3_matches_pyfixest_crv3():
    """pyfixest's CRV3 without small-sample factors is Σ (b_(g) - b)²; CV3 scales it by (G-1)/G."""
    rng = np.random.default_rng(11)
    G, T = 15, 8
    cl = np.repeat(np.arange(G), T)
    t = np.tile(np.arange(T), G)
    D = (cl < 6) & (t >= 4)
    y = rng.normal(size=G)[cl] + 0.05 * t + 0.3 * D + rng.normal(size=G * T) * (1 + (cl % 3))
    w = rng.integers(5, 50, size=G * T).astype(float)
    frame = pd.DataFrame({"y": y, "D": D.astype(float), "cl": cl, "t": t, "w": w})
    fit = pf.feols(
        "y ~ D | cl + t",
        data=frame,
        weights="w",
        vcov={"CRV3": "cl"},
        ssc=pf.ssc(k_adj=False, G_adj=False),
    )
    X, yd = absorb_within(np.column_stack([D.astype(float), np.eye(T)[t][:, 1:]]), y, w, cl)
    res = crv3(X, yd, w, cl, 0)
    assert np.isclose(res.estimate, fit.coef()["D"])
    assert np.isclose(res.se, np.sqrt((G - 1) / G) * fit.se()["D"])
    assert fit._df_t == G - 1  # pyfixest also uses t(G-1) for cluster-robust inference


def test_crv3_undefined_with_one_treated_cluster():
    rng = np.random.default_rng(4)
    X, y, w, cl = _panel_regression(rng, treated=(0,))
    res = crv3(X, y, w, cl, 0)
    assert np.isnan(res.se) and np.isnan(res.ci_low) and np.isnan(res.p_value)


def test_wild_bootstrap_flags_few_treated_clusters():
    rng = np.random.default_rng(5)
    X, y, w, cl = _panel_regression(rng, treated=(0,))
    res = wild_cluster_bootstrap(X, y, w, cl, 0, treated_clusters=1, draws=199, seed=1)
    assert not res.reliable and 0 <= res.p_value <= 1
    X, y, w, cl = _panel_regression(rng, G=30, treated=tuple(range(15)), effect=1.0)
    res = wild_cluster_bootstrap(X, y, w, cl, 0, treated_clusters=15, draws=399, seed=1)
    assert res.reliable and res.p_value < 0.05


def test_wild_bootstrap_size_under_null():
    rejections = []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        X, y, w, cl = _panel_regression(rng, G=20, treated=tuple(range(10)))
        res = wild_cluster_bootstrap(X, y, w, cl, 0, treated_clusters=10, draws=199, seed=seed)
        rejections.append(res.p_value < 0.1)
    assert np.mean(rejections) < 0.25


def test_sdid_recovers_effect_and_placebos_are_null():
    rng = np.random.default_rng(6)
    N, T = 40, 10
    unit = rng.normal(size=N)[:, None]
    Y = unit + np.linspace(0, 1, T)[None, :] + 0.05 * rng.normal(size=(N, T))
    pre = np.arange(T) < 7
    Y[0, ~pre] += 0.5
    res = synthetic_did(Y, 0, pre, np.arange(1, 20), np.arange(1, N))
    assert abs(res.estimate - 0.5) < 0.1
    assert res.p_value == 1 / 20 and res.floor == 1 / 20


def test_sdid_with_donors_all_equal_before_the_change():
    # Small runs: binary-outcome means of tiny municipalities can all be 0 in the pre-years, so
    # the weight problem is flat (every weight vector optimal); SDID must still answer.
    pre = np.array([True, True, True, False, False])
    Y = np.zeros((6, 5))
    Y[0, ~pre] = 0.3
    Y[1:, ~pre] = 0.1
    res = synthetic_did(Y, 0, pre, np.arange(1, 4), np.arange(1, 6))
    assert res.estimate == pytest.approx(0.2) and np.isfinite(res.se)
