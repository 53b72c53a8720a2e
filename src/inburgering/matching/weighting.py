"""Weighting estimators of the ATT: IPW, augmented IPW (doubly robust) and entropy balancing.

Why our own code: the Python options either lack the ATT (econml's DR learners target the ATE),
penalise the propensity model (dowhy's default scikit-learn logit) or give no variance that
accounts for weight estimation. Each estimator here is written as stacked estimating equations
so one M-estimation sandwich (:func:`inburgering.matching.inference.sandwich`) gives its
standard error, clustered if asked.

* IPW (ATT): treated weight 1, control weight e/(1-e), normalised within controls (Hajek).
* AIPW (ATT): a linear outcome model fitted on controls, m0(X), plus IPW on its residuals:
  mean_t(Y - m0) - sum_c w_c (Y - m0) / sum_c w_c. Consistent if either the propensity or the
  outcome model is right (Robins, Rotnitzky & Zhao 1994; the "DR-ATT" of Sant'Anna & Zhao 2020
  without the time dimension).
* Entropy balancing (Hainmueller 2012): control weights w_c ∝ exp(lambda'(X_c - Xbar_t)) that
  match the treated means exactly, found by minimising the convex dual log-sum-exp with Newton
  steps (scipy ``trust-exact``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logsumexp

from inburgering.matching._design import MatchingInputError
from inburgering.matching.inference import sandwich
from inburgering.matching.propensity import PropensityScore

# Largest standardised imbalance accepted as "exact" balance for entropy balancing.
EBAL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class WeightingFit:
    """Point estimate, standard error and unit weights of a weighting estimator."""

    att: float
    se: float
    weights: np.ndarray
    inference: str
    extras: dict = field(default_factory=dict)


def _with_intercept(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(X)), X])


def _logit_score(design: np.ndarray, t: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return design * (t - expit(design @ beta))[:, None]


def _weighted_gram(design: np.ndarray, w: np.ndarray) -> np.ndarray:
    """mean_i w_i x_i x_i' (the derivative blocks of the score equations below)."""
    return (design * w[:, None]).T @ design / len(design)


# Closed-form Jacobians (rows: moments, columns: parameters) of the stacked estimating equations
# below, for :func:`inburgering.matching.inference.sandwich`; each is checked against central
# finite differences in tests/matching/test_estimators.py.


def _ipw_jacobian(design: np.ndarray, t: np.ndarray, y: np.ndarray, th: np.ndarray) -> np.ndarray:
    p = design.shape[1]
    b, m0 = th[:p], th[p + 1]
    eta = design @ b
    e, odds = expit(eta), np.exp(eta)
    control_odds = (1 - t) * odds
    A = np.zeros((p + 2, p + 2))
    A[:p, :p] = -_weighted_gram(design, e * (1 - e))
    A[p, p] = -t.mean()
    A[p + 1, :p] = control_odds * (y - m0) @ design / len(y)
    A[p + 1, p + 1] = -control_odds.mean()
    return A


def _aipw_jacobian(design: np.ndarray, t: np.ndarray, y: np.ndarray, th: np.ndarray) -> np.ndarray:
    n, p = design.shape
    b, g, m0 = th[:p], th[p : 2 * p], th[2 * p + 1]
    eta = design @ b
    e, odds = expit(eta), np.exp(eta)
    r = y - design @ g
    control_odds = (1 - t) * odds
    A = np.zeros((2 * p + 2, 2 * p + 2))
    A[:p, :p] = -_weighted_gram(design, e * (1 - e))
    A[p : 2 * p, p : 2 * p] = -_weighted_gram(design, 1 - t)
    A[2 * p, p : 2 * p] = -(t @ design) / n
    A[2 * p, 2 * p] = -t.mean()
    A[2 * p + 1, :p] = control_odds * (r - m0) @ design / n
    A[2 * p + 1, p : 2 * p] = -(control_odds @ design) / n
    A[2 * p + 1, 2 * p + 1] = -control_odds.mean()
    return A


def _ps_is_logit(ps: PropensityScore) -> bool:
    return ps.learner == "logit" and ps.coefficients is not None


def ipw_att(
    y: np.ndarray,
    treated: np.ndarray,
    X: np.ndarray,
    ps: PropensityScore,
    clusters: np.ndarray | None = None,
) -> WeightingFit:
    """Inverse-probability-weighted ATT with a sandwich SE that includes the logit step."""
    t = treated.astype(float)
    odds = ps.ps / (1 - ps.ps)
    weights = np.where(treated, 1.0, odds)
    mu1 = np.mean(y[treated])
    mu0 = np.sum(weights[~treated] * y[~treated]) / np.sum(weights[~treated])
    design = _with_intercept(X)
    if _ps_is_logit(ps):
        beta = np.array(list(ps.coefficients.values()))
        theta = np.concatenate([beta, [mu1, mu0]])
        p = len(beta)

        def moments(th: np.ndarray) -> np.ndarray:
            b, m1, m0 = th[:p], th[p], th[p + 1]
            odds_ = np.exp(design @ b)
            return np.column_stack(
                [_logit_score(design, t, b), t * (y - m1), (1 - t) * odds_ * (y - m0)]
            )

        def jacobian(th: np.ndarray) -> np.ndarray:
            return _ipw_jacobian(design, t, y, th)

        label = "sandwich (M-estimation incl. logit)"
    else:
        theta = np.array([mu1, mu0])
        p = 0

        def moments(th: np.ndarray) -> np.ndarray:
            return np.column_stack([t * (y - th[0]), (1 - t) * odds * (y - th[1])])

        jacobian = None
        label = "sandwich (propensity treated as known)"
    cov = sandwich(moments, theta, clusters, jacobian)
    se = float(np.sqrt(cov[p, p] + cov[p + 1, p + 1] - 2 * cov[p, p + 1]))
    return WeightingFit(mu1 - mu0, se, weights, _cluster_label(label, clusters))


def _cluster_label(label: str, clusters: np.ndarray | None) -> str:
    return label if clusters is None else f"{label}, clustered"


def _outcome_model(
    y: np.ndarray, treated: np.ndarray, X: np.ndarray, learner: object, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions of E[Y | X, control]; the OLS coefficients when the model is linear."""
    design = _with_intercept(X)
    if isinstance(learner, str) and learner == "ols":
        gamma, *_ = np.linalg.lstsq(design[~treated], y[~treated], rcond=None)
        return design @ gamma, gamma
    from sklearn.base import clone
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.model_selection import KFold

    estimator = GradientBoostingRegressor(random_state=seed) if learner == "gbm" else clone(learner)
    # Cross-fitting: predictions for every unit come from a model not trained on it.
    m0 = np.empty(len(y))
    for train, test in KFold(5, shuffle=True, random_state=seed).split(X):
        fit_rows = train[~treated[train]]
        m0[test] = clone(estimator).fit(X[fit_rows], y[fit_rows]).predict(X[test])
    return m0, None


def aipw_att(
    y: np.ndarray,
    treated: np.ndarray,
    X: np.ndarray,
    ps: PropensityScore,
    clusters: np.ndarray | None = None,
    outcome_learner: object = "ols",
    seed: int = 0,
) -> WeightingFit:
    """Doubly robust (augmented IPW) ATT with a stacked-equation sandwich SE."""
    t = treated.astype(float)
    m0, gamma = _outcome_model(y, treated, X, outcome_learner, seed)
    odds = ps.ps / (1 - ps.ps)
    weights = np.where(treated, 1.0, odds)
    resid = y - m0
    a1 = np.mean(resid[treated])
    a0 = np.sum(odds[~treated] * resid[~treated]) / np.sum(odds[~treated])
    design = _with_intercept(X)
    if _ps_is_logit(ps) and gamma is not None:
        beta = np.array(list(ps.coefficients.values()))
        p = len(beta)
        theta = np.concatenate([beta, gamma, [a1, a0]])

        def moments(th: np.ndarray) -> np.ndarray:
            b, g, m1, m0_ = th[:p], th[p : 2 * p], th[2 * p], th[2 * p + 1]
            r = y - design @ g
            odds_ = np.exp(design @ b)
            return np.column_stack(
                [
                    _logit_score(design, t, b),
                    design * ((1 - t) * r)[:, None],
                    t * (r - m1),
                    (1 - t) * odds_ * (r - m0_),
                ]
            )

        def jacobian(th: np.ndarray) -> np.ndarray:
            return _aipw_jacobian(design, t, y, th)

        label = "sandwich (M-estimation incl. logit and outcome model)"
        k = 2 * p
    else:
        # Flexible nuisances: Neyman orthogonality lets us ignore their estimation error.
        theta = np.array([a1, a0])
        k = 0

        def moments(th: np.ndarray) -> np.ndarray:
            return np.column_stack([t * (resid - th[0]), (1 - t) * odds * (resid - th[1])])

        jacobian = None
        label = "sandwich (cross-fitted nuisances treated as known)"
    cov = sandwich(moments, theta, clusters, jacobian)
    se = float(np.sqrt(cov[k, k] + cov[k + 1, k + 1] - 2 * cov[k, k + 1]))
    return WeightingFit(a1 - a0, se, weights, _cluster_label(label, clusters))


def balance_moments(X: np.ndarray, names: list[str], moments: int) -> tuple[np.ndarray, list[str]]:
    """Columns whose treated means entropy balancing matches (squares added for moments=2)."""
    if moments == 1:
        return X, names
    if moments != 2:
        raise ValueError(f"moments must be 1 or 2, got {moments!r}")
    continuous = [j for j in range(X.shape[1]) if not np.all(np.isin(X[:, j], (0, 1)))]
    squares = X[:, continuous] ** 2
    return np.column_stack([X, squares]), names + [f"{names[j]}^2" for j in continuous]


def entropy_weights(
    X: np.ndarray, treated: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Control weights matching the treated means of X exactly.

    Returns (weights for controls summing to 1, lambda, column centres, column scales).
    """
    target = X[treated].mean(axis=0)
    scale = X.std(axis=0)
    controls = X[~treated]
    for j, name in enumerate(names):
        if not controls[:, j].min() <= target[j] <= controls[:, j].max():
            raise MatchingInputError(
                f"entropy balancing impossible: the treated mean of '{name}' ({target[j]:.4g}) "
                "lies outside the range of the controls (rule: targets must be inside the "
                "convex hull of the controls)"
            )
    Z = (controls - target) / scale

    last: dict[bytes, tuple[float, np.ndarray, np.ndarray]] = {}

    def dual(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        # trust-exact asks for value, gradient and Hessian at the same point in three calls;
        # all three come from one pass over the controls, so the last point is kept.
        key = lam.tobytes()
        if key not in last:
            eta = Z @ lam
            w = np.exp(eta - logsumexp(eta))
            grad = Z.T @ w
            hess = (Z * w[:, None]).T @ Z - np.outer(grad, grad)
            last.clear()
            last[key] = (float(logsumexp(eta)), grad, hess)
        value, grad, hess = last[key]
        return value, grad.copy(), hess.copy()

    lam0 = np.zeros(Z.shape[1])
    fit = minimize(
        lambda lam: dual(lam)[0],
        lam0,
        jac=lambda lam: dual(lam)[1],
        hess=lambda lam: dual(lam)[2],
        method="trust-exact",
        options={"gtol": 1e-12, "maxiter": 500},
    )
    _, grad, _ = dual(fit.x)
    if np.max(np.abs(grad)) > EBAL_TOLERANCE:
        worst = names[int(np.argmax(np.abs(grad)))]
        raise MatchingInputError(
            f"entropy balancing did not converge: '{worst}' still differs by "
            f"{np.max(np.abs(grad)):.3g} SD (rule: exact balance on every covariate; drop or "
            "coarsen it, or use fewer moments)"
        )
    eta = Z @ fit.x
    return np.exp(eta - logsumexp(eta)), fit.x, target, scale


def entropy_att(
    y: np.ndarray,
    treated: np.ndarray,
    X: np.ndarray,
    names: list[str],
    clusters: np.ndarray | None = None,
    moments: int = 1,
) -> WeightingFit:
    """Entropy-balancing ATT with a sandwich SE that includes estimating the treated means
    and the balancing parameters."""
    Xb, bnames = balance_moments(X, names, moments)
    w_c, lam, target, scale = entropy_weights(Xb, treated, bnames)
    weights = np.ones(len(y))
    weights[~treated] = w_c * (~treated).sum()
    mu1 = float(np.mean(y[treated]))
    mu0 = float(np.sum(w_c * y[~treated]))
    t = treated.astype(float)
    p = Xb.shape[1]
    # A fixed constant keeps exp() in range; scaling a moment row does not change the sandwich.
    shift = float(np.max(((Xb - target) / scale) @ lam))

    def stacked(th: np.ndarray) -> np.ndarray:
        m, lam_, m1, m0 = th[:p], th[p : 2 * p], th[2 * p], th[2 * p + 1]
        Z = (Xb - m) / scale
        e = (1 - t) * np.exp(Z @ lam_ - shift)
        return np.column_stack([Z * t[:, None], Z * e[:, None], t * (y - m1), e * (y - m0)])

    def jacobian(th: np.ndarray) -> np.ndarray:
        m, lam_, m0 = th[:p], th[p : 2 * p], th[2 * p + 1]
        Z = (Xb - m) / scale
        e = (1 - t) * np.exp(Z @ lam_ - shift)
        n = len(y)
        ze_mean = e @ Z / n
        A = np.zeros((2 * p + 2, 2 * p + 2))
        A[:p, :p] = np.diag(-t.mean() / scale)
        # d(Z_j e)/dm_k = -[j = k] e / s_k - Z_j e lam_k / s_k
        A[p : 2 * p, :p] = np.diag(-e.mean() / scale) - np.outer(ze_mean, lam_ / scale)
        A[p : 2 * p, p : 2 * p] = _weighted_gram(Z, e)
        A[2 * p, 2 * p] = -t.mean()
        outcome_part = e * (y - m0)
        A[2 * p + 1, :p] = -outcome_part.mean() * lam_ / scale
        A[2 * p + 1, p : 2 * p] = outcome_part @ Z / n
        A[2 * p + 1, 2 * p + 1] = -e.mean()
        return A

    theta = np.concatenate([target, lam, [mu1, mu0]])
    cov = sandwich(stacked, theta, clusters, jacobian)
    k = 2 * p
    se = float(np.sqrt(cov[k, k] + cov[k + 1, k + 1] - 2 * cov[k, k + 1]))
    label = _cluster_label("sandwich (M-estimation incl. balancing step)", clusters)
    return WeightingFit(mu1 - mu0, se, weights, label, {"balance_columns": bnames})
