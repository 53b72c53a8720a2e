"""Standard errors for matching and weighting estimators.

Which variance for which design, and why:

* Matching **without** replacement: the matched-sample regression of the outcome on treatment
  (optionally plus covariates) with the matching weights and a cluster-robust (CR1) variance
  clustered on the matched set (``subclass``), as MatchIt's "Estimating effects" vignette
  recommends (Austin & Small 2014; Abadie & Spiess 2022 show pair clustering is valid for matching
  without replacement). A user cluster (e.g. municipality) replaces the subclass when given.
* Matching **with** replacement: pairs overlap, so pair clustering is not valid. We use the
  Abadie–Imbens (2006) variance of the matching estimator for the ATT, generalised to a variable
  number of matches per treated unit (calipers), with the conditional outcome variance estimated
  by matching each control to its ``J`` nearest controls on the same distance (J = 2, Stata's
  ``teffects nnmatch`` default). It treats the propensity score as known (no Abadie–Imbens 2016
  correction); this is the variance ``Matching::Match`` reports.
* Weighting (IPW, AIPW, entropy balancing): M-estimation sandwich over the stacked estimating
  equations of the weight model and the outcome means, so the variance accounts for the
  estimated weights (as WeightIt's ``glm_weightit``); clustered by a user cluster if given.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.numdiff import approx_fprime


def normal_interval(estimate: float, se: float, alpha: float = 0.05) -> tuple[float, float, float]:
    """Two-sided normal-approximation interval and p-value."""
    z = stats.norm.ppf(1 - alpha / 2)
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else np.nan
    return estimate - z * se, estimate + z * se, p_value


def weighted_regression_att(
    y: np.ndarray,
    treated: np.ndarray,
    weights: np.ndarray,
    clusters: np.ndarray | None,
    X: np.ndarray | None = None,
) -> tuple[float, float]:
    """Coefficient on treatment in WLS of y on treatment (+ X); CR1 or HC1 standard error.

    CR1 uses the G/(G-1) * (n-1)/(n-k) small-sample factor, the default of R's
    ``sandwich::vcovCL`` and of statsmodels, so the result equals MatchIt's recommended
    ``coeftest(lm(..., weights), vcovCL, cluster = ~subclass)``.
    """
    keep = weights > 0
    columns = [np.ones(keep.sum()), treated[keep].astype(float)]
    if X is not None and X.shape[1]:
        columns += [X[keep]]
    design = np.column_stack(columns)
    model = sm.WLS(y[keep], design, weights=weights[keep])
    if clusters is None:
        fit = model.fit(cov_type="HC1")
    else:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": clusters[keep]})
    return float(fit.params[1]), float(fit.bse[1])


def _same_group_neighbours(distance: np.ndarray, J: int) -> np.ndarray:
    """Indices of the J nearest other units on a scalar distance (ties by sort order)."""
    n = len(distance)
    order = np.argsort(distance, kind="stable")
    d_sorted = distance[order]
    neighbours = np.empty((n, J), dtype=np.int64)
    for pos in range(n):
        lo, hi, found = pos - 1, pos + 1, []
        while len(found) < J and (lo >= 0 or hi < n):
            take_lo = hi >= n or (
                lo >= 0 and d_sorted[pos] - d_sorted[lo] <= d_sorted[hi] - d_sorted[pos]
            )
            if take_lo:
                found.append(lo)
                lo -= 1
            else:
                found.append(hi)
                hi += 1
        neighbours[order[pos]] = order[found]
    return neighbours


def abadie_imbens_se(
    y: np.ndarray,
    distance: np.ndarray,
    treated_positions: np.ndarray,
    match_matrix: np.ndarray,
    att: float,
    J: int = 2,
) -> float:
    """Abadie–Imbens (2006) standard error of the ATT matching estimator with replacement.

    V = 1/N1^2 * [ sum_t (Y_t - Ybar_M(t) - att)^2 + sum_c (K_c^2 - Q_c) * sigma2_c ],
    with K_c = sum over treated t using c of 1/k_t and Q_c = sum of 1/k_t^2 (for a fixed number
    of matches M this is AI's K(K-1)/M^2 term), sigma2_c = J/(J+1) (Y_c - mean of its J nearest
    controls)^2.
    """
    counts = (match_matrix >= 0).sum(axis=1)
    matched = counts > 0
    mm, k = match_matrix[matched], counts[matched]
    y_t = y[treated_positions[matched]]
    control_mean = np.array([y[row[row >= 0]].mean() for row in mm])
    first = np.sum((y_t - control_mean - att) ** 2)
    rows, cols = np.nonzero(mm >= 0)
    used = mm[rows, cols]
    K = np.zeros(len(y))
    Q = np.zeros(len(y))
    np.add.at(K, used, 1.0 / k[rows])
    np.add.at(Q, used, 1.0 / k[rows] ** 2)
    controls = np.unique(used)
    all_controls = np.setdiff1d(np.arange(len(y)), treated_positions)
    J = min(J, len(all_controls) - 1)
    if J < 1:
        sigma2 = np.zeros(len(y))
    else:
        neighbours = _same_group_neighbours(distance[all_controls], J)
        y_c = y[all_controls]
        sigma2_c = J / (J + 1) * (y_c - y_c[neighbours].mean(axis=1)) ** 2
        sigma2 = np.zeros(len(y))
        sigma2[all_controls] = sigma2_c
    second = np.sum((K[controls] ** 2 - Q[controls]) * sigma2[controls])
    return float(np.sqrt((first + second) / matched.sum() ** 2))


def sandwich(
    moments: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    clusters: np.ndarray | None = None,
    jacobian: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """M-estimation sandwich covariance A^-1 B A^-T / n of stacked estimating equations.

    ``moments(theta)`` returns the (n, p) matrix of unit-level estimating functions, whose
    column means are zero at the estimate. A is the Jacobian of the mean moments (rows:
    moments, columns: parameters): ``jacobian(theta)`` where the estimator supplies it in closed
    form, else central finite differences. A closed form matters at scale: the finite
    differences rebuild the (n, p) moment matrix twice per parameter (2p passes over n rows,
    minutes for an AIPW with 45 covariates at national size), the closed form costs one pass,
    and it is exact where the differences carry a relative error of about 1e-10. B sums outer
    products within clusters (G/(G-1) small-sample factor) or per unit.
    """
    psi = moments(theta)
    n = psi.shape[0]
    if jacobian is not None:
        A = jacobian(theta)
    else:
        A = approx_fprime(theta, lambda t: moments(t).mean(axis=0), centered=True)
    if clusters is None:
        B = psi.T @ psi / n
    else:
        _, codes = np.unique(clusters, return_inverse=True)
        sums = np.zeros((codes.max() + 1, psi.shape[1]))
        np.add.at(sums, codes, psi)
        G = sums.shape[0]
        B = sums.T @ sums / n * G / (G - 1)
    A_inv = np.linalg.inv(A)
    return A_inv @ B @ A_inv.T / n
