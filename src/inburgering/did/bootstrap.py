"""Influence-function inference: analytic (cluster-robust) covariance and the multiplier bootstrap.

Mirrors R did's ``mboot``: Mammen two-point multipliers (one per cluster when clustering, after
summing influence functions within clusters, C&S 2021 Remark 10), bootstrap standard errors from
the interquartile range, and the simultaneous critical value as the 1-alpha quantile of the max
absolute t-statistic. Written here because the ports draw the full ``draws x n`` multiplier
matrix at once (1.6 GB at 200k units); we draw it in chunks so memory stays flat.

:func:`sup_t_critical_value` gives the same simultaneous critical value from the covariance
alone (Gaussian draws of the estimates, Montiel Olea & Plagborg-Møller 2019): the designs that
re-normalise an event study (``reform_did``) need bands for linear combinations of the
coefficients, where drawing k normals per replication is far cheaper than n multipliers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm

_MAMMEN_LOW = (1 - np.sqrt(5)) / 2
_MAMMEN_HIGH = (1 + np.sqrt(5)) / 2
_MAMMEN_P_LOW = (np.sqrt(5) + 1) / (2 * np.sqrt(5))
_IQR_NORMAL = norm.ppf(0.75) - norm.ppf(0.25)
_CHUNK_BYTES = 64 * 2**20


def cluster_sums(inf, cluster: np.ndarray | None, n_clusters: int | None) -> np.ndarray:
    """Sum influence functions within clusters (rows = clusters); dense pass-through otherwise."""
    if cluster is None:
        return inf.toarray() if sp.issparse(inf) else np.asarray(inf)
    n = cluster.shape[0]
    indicator = sp.csr_array((np.ones(n), (cluster, np.arange(n))), shape=(n_clusters, n))
    out = indicator @ inf
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def analytic_vcov(inf, n: int, cluster=None, n_clusters=None) -> np.ndarray:
    """Covariance of the estimates: S'S / n^2 with S the (cluster-summed) influence functions."""
    if cluster is None:
        gram = inf.T @ inf
        gram = gram.toarray() if sp.issparse(gram) else np.asarray(gram)
    else:
        S = cluster_sums(inf, cluster, n_clusters)
        gram = S.T @ S
    return np.atleast_2d(gram) / n**2


def _multipliers(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    u = rng.random(shape, dtype=np.float32)
    if kind == "mammen":
        return np.where(u < _MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH)
    if kind == "rademacher":
        return np.where(u < 0.5, -1.0, 1.0)
    raise ValueError(f"unknown multiplier kind {kind!r} (use 'mammen' or 'rademacher')")


def multiplier_draws(
    inf, *, draws: int, seed, cluster=None, n_clusters=None, kind: str = "mammen"
) -> tuple[np.ndarray, int]:
    """Bootstrap draws of sqrt(m) * mean(v * psi) (draws x k) and m, the resampled units."""
    S = cluster_sums(inf, cluster, n_clusters) if cluster is not None else inf
    m = S.shape[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(draws, _CHUNK_BYTES // (8 * m)))
    out = np.empty((draws, S.shape[1]))
    for start in range(0, draws, chunk):
        stop = min(draws, start + chunk)
        V = _multipliers(rng, (stop - start, m), kind)
        # (S' V')' works for dense and sparse S alike.
        block = S.T @ V.T
        out[start:stop] = np.asarray(block).T
    return out * (np.sqrt(m) / m), m


def bootstrap_inference(
    inf,
    n: int,
    *,
    alpha: float,
    draws: int,
    seed,
    cluster=None,
    n_clusters=None,
    kind: str = "mammen",
) -> tuple[np.ndarray, float, np.ndarray]:
    """Bootstrap SEs, simultaneous critical value and the draws (as R did's ``mboot``)."""
    bres, m = multiplier_draws(
        inf, draws=draws, seed=seed, cluster=cluster, n_clusters=n_clusters, kind=kind
    )
    q75 = np.quantile(bres, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(bres, 0.25, axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / _IQR_NORMAL
    ok = np.isfinite(sigma) & (sigma > 0)
    se = np.full(sigma.shape, np.nan)
    se[ok] = sigma[ok] * np.sqrt(m) / n
    if not ok.any():
        return se, float("nan"), bres
    tmax = np.max(np.abs(bres[:, ok] / sigma[ok]), axis=1)
    crit = float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))
    return se, crit, bres


def sup_t_critical_value(vcov: np.ndarray, *, alpha: float, draws: int, seed) -> float:
    """(1 - alpha) quantile of max_i |Z_i| / sd_i with Z ~ N(0, vcov): the sup-t band's critical
    value. Coefficients with zero variance (a base period) are left out of the maximum; with
    none left, or one, the pointwise value is returned."""
    sd = np.sqrt(np.clip(np.diag(vcov), 0, None))
    ok = sd > np.sqrt(np.finfo(float).eps) * 10
    pointwise = float(norm.ppf(1 - alpha / 2))
    if ok.sum() < 2:
        return pointwise
    corr = vcov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    # Eigen-decomposition instead of Cholesky: the re-normalised event-study covariance is only
    # positive semi-definite (the base coefficients sum to a constant).
    values, vectors = np.linalg.eigh(corr)
    root = vectors * np.sqrt(np.clip(values, 0, None))
    z = np.random.default_rng(seed).standard_normal((draws, ok.sum())) @ root.T
    crit = float(np.quantile(np.abs(z).max(axis=1), 1 - alpha, method="inverted_cdf"))
    return max(crit, pointwise)
