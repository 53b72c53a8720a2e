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

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm

_MAMMEN_LOW = (1 - np.sqrt(5)) / 2
_MAMMEN_HIGH = (1 + np.sqrt(5)) / 2
_MAMMEN_P_LOW = (np.sqrt(5) + 1) / (2 * np.sqrt(5))
_IQR_NORMAL = norm.ppf(0.75) - norm.ppf(0.25)
_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class StoredDraws:
    """Multiplier-bootstrap draws kept by ``att_gt`` for reuse by its aggregations.

    ``draws`` (count x columns) are the draws of sqrt(m) * mean(v * psi) for every column of a
    basis (the cells' influence functions, then the unit-level columns of ``aggregate``); an
    aggregation whose influence function is ``basis @ coef`` has draws ``draws @ coef``, the
    very draws a fresh bootstrap of that influence function with the same seed would give.
    """

    draws: np.ndarray
    m: int
    count: int
    seed: Any
    kind: str

    def serves(self, count: int, seed: Any, kind: str) -> bool:
        """True when a bootstrap with these settings would draw the same multipliers."""
        same_seed = seed is self.seed or (
            isinstance(seed, (int, np.integer))
            and isinstance(self.seed, (int, np.integer))
            and int(seed) == int(self.seed)
        )
        return same_seed and count == self.count and kind == self.kind


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


def _float32_threshold(p: float) -> np.float32:
    """Smallest float32 >= p: a float32 u is below p exactly when it is below this value, and
    comparing in float32 is several times faster than promoting every uniform to float64."""
    threshold = np.float32(p)
    return threshold if float(threshold) >= p else np.nextafter(threshold, np.float32(1))


_TWO_POINT = {  # kind: (P(low), low value, high value)
    "mammen": (_MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH),
    "rademacher": (0.5, -1.0, 1.0),
}


def _two_point(kind: str) -> tuple[np.float32, float, float]:
    if kind not in _TWO_POINT:
        raise ValueError(f"unknown multiplier kind {kind!r} (use 'mammen' or 'rademacher')")
    p_low, low, high = _TWO_POINT[kind]
    return _float32_threshold(p_low), low, high


def multiplier_draws(
    inf,
    *,
    draws: int,
    seed,
    cluster=None,
    n_clusters=None,
    kind: str = "mammen",
    extra: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Bootstrap draws of sqrt(m) * mean(v * psi) (draws x k) and m, the resampled units.

    ``extra`` (n x q, dense) are further columns drawn with the same multipliers and appended
    after inf's k columns; ``att_gt`` uses them so that every later aggregation, a linear map
    of these columns, gets its draws without a second pass over n x draws multipliers.
    """
    S = cluster_sums(inf, cluster, n_clusters) if cluster is not None else inf
    E = None
    if extra is not None:
        E = cluster_sums(extra, cluster, n_clusters) if cluster is not None else extra
    m = S.shape[0]
    threshold, low, high = _two_point(kind)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(draws, _CHUNK_BYTES // (8 * m)))
    k = S.shape[1]
    out = np.empty((draws, k + (0 if E is None else E.shape[1])))
    # Each multiplier is high + (low - high) * z with z = 1{u < P(low)}, u the same float32
    # uniforms in the same order as R-style v = ifelse(u < p, low, high): so the draws are
    # those v would give, but V S = high * colsum(S) + (low - high) * Z S needs only the 0/1
    # matrix Z, filled straight from the comparison (no float64 copy of u, no select).
    col_sum = np.asarray(S.sum(axis=0)).ravel()
    extra_sum = None if E is None else E.sum(axis=0)
    indicator = np.empty((chunk, m))
    for start in range(0, draws, chunk):
        stop = min(draws, start + chunk)
        Z = indicator[: stop - start]
        np.less(rng.random((stop - start, m), dtype=np.float32), threshold, out=Z)
        # (S' Z')' works for dense and sparse S alike.
        out[start:stop, :k] = high * col_sum + (low - high) * np.asarray(S.T @ Z.T).T
        if E is not None:
            out[start:stop, k:] = high * extra_sum + (low - high) * (Z @ E)
    return out * (np.sqrt(m) / m), m


def summarize_draws(bres: np.ndarray, m: int, n: int, alpha: float) -> tuple[np.ndarray, float]:
    """Bootstrap SEs (from the interquartile range) and the sup-t critical value of the draws."""
    q75 = np.quantile(bres, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(bres, 0.25, axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / _IQR_NORMAL
    ok = np.isfinite(sigma) & (sigma > 0)
    se = np.full(sigma.shape, np.nan)
    se[ok] = sigma[ok] * np.sqrt(m) / n
    if not ok.any():
        return se, float("nan")
    tmax = np.max(np.abs(bres[:, ok] / sigma[ok]), axis=1)
    return se, float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))


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
    se, crit = summarize_draws(bres, m, n, alpha)
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
