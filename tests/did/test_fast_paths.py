"""Fast paths of the DiD code give exactly what the straightforward code gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from inburgering.did import honest
from inburgering.did.aggregate import _cells_times
from inburgering.did.honest import EventStudy, rm_ci, sensitivity
from inburgering.did.inference import (
    WEBB,
    ClusterSums,
    absorb_within,
    crv3,
    wild_cluster_bootstrap,
)
from inburgering.did.shocks import quarter_weights


def _crosstab_weights(municipality, q, quarters) -> np.ndarray:
    """The reference: shares per quarter by pd.crosstab (the former implementation)."""
    frame = pd.DataFrame({"m": municipality, "q": q})
    counts = pd.crosstab(frame["m"], frame["q"]).reindex(columns=quarters, fill_value=0)
    totals = counts.sum(axis=0).replace(0, np.nan)
    return (counts / totals).fillna(0.0).to_numpy(float)


def test_quarter_weights_equal_crosstab_shares():
    rng = np.random.default_rng(3)
    municipality = rng.choice(["0599", "0363", "1680", "0014", "0518"], 5000).astype(object)
    q = rng.integers(8070, 8110, 5000)
    quarters = np.arange(8080, 8120)  # some quarters empty, some rows outside
    expected = _crosstab_weights(municipality, q, quarters)
    assert np.array_equal(quarter_weights(municipality, q, quarters), expected)
    # a municipality whose persons all fall outside the quarters keeps its (zero) row
    outside = np.append(municipality, "9999").astype(object)
    early = np.append(q, 7000)
    assert np.array_equal(
        quarter_weights(outside, early, quarters), _crosstab_weights(outside, early, quarters)
    )


def test_crv3_with_unsorted_text_clusters_equals_refits_by_hand():
    rng = np.random.default_rng(5)
    cluster = rng.choice(["b", "a", "c", "e", "d"], 400).astype(object)
    X = np.column_stack([np.ones(400), rng.normal(size=400)])
    y = X @ [1.0, 0.5] + rng.normal(size=400)
    w = rng.uniform(0.5, 2.0, 400)
    result = crv3(X, y, w, cluster, 1)
    loo = []
    for g in sorted(set(cluster)):
        keep = cluster != g
        Xk, yk, wk = X[keep], y[keep], w[keep]
        loo.append(np.linalg.solve((Xk.T * wk) @ Xk, (Xk.T * wk) @ yk)[1])
    se = np.sqrt(4 / 5 * np.sum((np.array(loo) - result.estimate) ** 2))
    assert result.se == pytest.approx(se, rel=1e-10)


def test_cells_times_is_bit_for_bit_the_sparse_product():
    """Per level over the used cells, the same bits as scipy's full sparse x dense product
    (one cell per level as an event study, many as an overall average, mixed magnitudes)."""
    rng = np.random.default_rng(11)
    for seed in range(5):
        cells = sp.random_array((3000, 120), density=0.05, format="csc", random_state=seed)
        cells.data = rng.normal(size=cells.nnz) * 10.0 ** rng.uniform(-6, 6, cells.nnz)
        coef = np.zeros((120, 25))
        coef[np.arange(120), rng.integers(1, 25, 120)] = rng.normal(size=120)
        coef[:, 0] = rng.normal(size=120) * (rng.random(120) < 0.6)
        assert np.array_equal(_cells_times(cells, coef), np.asarray(cells @ coef))
    dense = rng.normal(size=(50, 4))
    assert np.array_equal(_cells_times(dense, coef[:4]), dense @ coef[:4])


def test_cells_times_adds_repeated_entries_of_a_non_canonical_matrix():
    # Column 0 stores row 0 twice (1 and 3), then row 2; column 1 stores row 1.
    data, indices, indptr = [1.0, 3.0, 2.0, 4.0], [0, 0, 2, 1], [0, 3, 4]
    cells = sp.csc_array((data, indices, indptr), shape=(3, 2))
    assert not cells.has_canonical_format
    coef = np.array([[2.0], [1.0]])
    assert np.array_equal(_cells_times(cells, coef), np.array([[8.0], [4.0], [4.0]]))


def test_cluster_sums_equal_the_indicator_product():
    rng = np.random.default_rng(2)
    for code in (np.sort(rng.integers(0, 40, 900)), rng.integers(0, 40, 900)):
        rows = rng.normal(size=(900, 7))
        indicator = np.zeros((code.max() + 1, 900))
        indicator[code, np.arange(900)] = 1.0
        present = np.unique(code)
        np.testing.assert_allclose(ClusterSums(code)(rows), (indicator @ rows)[present], rtol=1e-12)


def _wild_by_residuals(X, y, w, cluster, draws, seed) -> float:
    """The reference: every draw's outcomes, refit and residuals as n x draws arrays."""
    n, k = X.shape
    _, cl = np.unique(cluster, return_inverse=True)
    G = cl.max() + 1
    indicator = np.zeros((G, n))
    indicator[cl, np.arange(n)] = 1.0
    XtW = X.T * w
    Q = np.linalg.pinv(XtW @ X, hermitian=True) @ XtW
    ssc = G / (G - 1) * (n - 1) / (n - k)

    def se(resid):
        return np.sqrt(ssc * np.sum((indicator @ (Q[0][:, None] * resid)) ** 2, axis=0))

    beta = Q @ y
    t = beta[0] / se((y - X @ beta)[:, None])[0]
    X_r = X[:, 1:]
    fitted_r = X_r @ np.linalg.lstsq(X_r * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    v = np.random.default_rng(seed).choice(WEBB, size=(G, draws))
    y_star = fitted_r[:, None] + (y - fitted_r)[:, None] * v[cl]
    b_star = Q @ y_star
    t_star = b_star[0] / se(y_star - X @ b_star)
    return float(np.mean(np.abs(t_star) >= abs(t)))


def test_wild_bootstrap_from_cluster_sums_equals_the_residual_form():
    rng = np.random.default_rng(8)
    for seed in range(6):
        G, T = 30 + 7 * seed, 12
        cluster = rng.permutation(np.repeat([f"m{g:03d}" for g in range(G)], T))
        code = np.unique(cluster, return_inverse=True)[1]
        quarter = np.tile(np.arange(T), G)
        D = ((code < 4) & (quarter >= 6)).astype(float)
        X = np.column_stack([D, np.eye(T)[quarter][:, 1:]])
        y = 0.4 + 0.03 * D + 0.01 * quarter + rng.normal(0, 0.1, G * T)
        w = rng.integers(1, 60, G * T).astype(float)
        X, y = absorb_within(X, y, w, cluster)
        result = wild_cluster_bootstrap(X, y, w, cluster, 0, treated_clusters=4, seed=seed)
        assert result.p_value == _wild_by_residuals(X, y, w, cluster, 999, seed)


def _event_study() -> EventStudy:
    event_time = np.array([-4, -3, -2, 0, 1, 2])
    beta = np.array([0.004, -0.006, 0.002, 0.03, 0.028, 0.035])
    vcov = np.diag(np.full(6, 0.012**2)) + 0.3 * 0.012**2
    return EventStudy(event_time, beta, vcov)


def test_honest_rows_do_not_depend_on_the_kept_critical_values():
    es = _event_study()
    grids = {"relative_magnitude": [0.0, 0.5, 1.0], "smoothness": [0.0, 0.01]}
    honest._LF_CACHE.clear()
    first = sensitivity(es, grids, 0.05)
    assert honest._LF_CACHE  # the polyhedra were kept
    again = sensitivity(es, grids, 0.05)
    honest._LF_CACHE.clear()
    fresh = sensitivity(es, grids, 0.05)
    assert first == again == fresh
    assert rm_ci(es, 0.5, 0.05) == rm_ci(es, 0.5, 0.05)


def test_scalar_folded_normal_quantile_equals_the_array_bisection():
    mus = np.array([0.0, 0.3, 1.7, 4.0])
    array = honest._folded_normal_quantile(0.95, mus)
    for mu, expected in zip(mus, array, strict=True):
        assert honest._folded_normal_quantile(0.95, mu) == expected
