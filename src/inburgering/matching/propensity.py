"""Propensity scores: an unpenalised logit (the default) or a flexible classifier.

The logit is fitted with statsmodels' GLM (IRLS), the algorithm R's ``glm`` uses, so that matching
on it reproduces MatchIt (``distance = "glm"``). scikit-learn's ``LogisticRegression`` is avoided
for the default because it penalises by default and stops at a looser tolerance. A flexible
learner (gradient boosting or any scikit-learn classifier) is fitted with cross-fitting, because
in-sample predictions of a flexible model overstate separation.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy.special import expit, logit

from inburgering.matching._design import MatchingInputError, array_digest

# Scores this close to 0 or 1 mean the logit diverged: perfect or quasi-perfect separation.
_SEPARATION_EPS = 1e-10


@dataclass(frozen=True)
class PropensityScore:
    """Fitted propensity scores and the model behind them."""

    ps: np.ndarray  # P(treated | X)
    linear: np.ndarray  # logit of ps
    learner: str
    coefficients: dict[str, float] | None = None

    def distance(self, scale: str) -> np.ndarray:
        """The matching distance: ``"logit"`` (linear predictor) or ``"ps"`` (probability)."""
        if scale == "logit":
            return self.linear
        if scale == "ps":
            return self.ps
        raise ValueError(f"distance scale must be 'logit' or 'ps', got {scale!r}")


def _separating_covariate(X: np.ndarray, treated: np.ndarray, names: list[str]) -> str | None:
    for j, name in enumerate(names):
        x1, x0 = X[treated, j], X[~treated, j]
        if x1.min() > x0.max() or x1.max() < x0.min():
            return name
    return None


def _separation_error(X: np.ndarray, treated: np.ndarray, names: list[str]) -> MatchingInputError:
    column = _separating_covariate(X, treated, names)
    where = (
        f"covariate '{column}' alone separates treated from controls"
        if column
        else "a combination of covariates separates treated from controls"
    )
    return MatchingInputError(
        f"perfect separation in the propensity model: {where} (rule: treated and controls must "
        "overlap on every covariate; there is no common support, so coarsen or drop it, or use "
        "exact matching on it)"
    )


def fit_logit(X: np.ndarray, treated: np.ndarray, names: list[str]) -> PropensityScore:
    """Unpenalised logistic regression of treatment on covariates (with intercept) by IRLS."""
    design = np.column_stack([np.ones(len(X)), X])
    model = sm.GLM(treated.astype(float), design, family=sm.families.Binomial())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation is detected below, with a useful message
        try:
            fit = model.fit(method="IRLS", tol=1e-12, maxiter=100)
        except Exception as exc:  # statsmodels raises on exact separation in some versions
            raise _separation_error(X, treated, names) from exc
    linear = design @ fit.params
    ps = expit(linear)
    if ps.min() < _SEPARATION_EPS or ps.max() > 1 - _SEPARATION_EPS:
        raise _separation_error(X, treated, names)
    coefficients = dict(zip(["(Intercept)", *names], map(float, fit.params), strict=True))
    return PropensityScore(ps=ps, linear=linear, learner="logit", coefficients=coefficients)


def fit_flexible(
    X: np.ndarray, treated: np.ndarray, learner: Any, *, seed: int = 0, folds: int = 5
) -> PropensityScore:
    """Cross-fitted scores from a scikit-learn classifier (``"gbm"`` = gradient boosting)."""
    from sklearn.base import clone
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if isinstance(learner, str):
        if learner != "gbm":
            raise ValueError(
                f"propensity learner must be 'logit', 'gbm' or a classifier: {learner}"
            )
        estimator = GradientBoostingClassifier(
            n_estimators=200, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=seed
        )
        label = "gbm"
    else:
        estimator = clone(learner)
        label = type(learner).__name__
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    ps = cross_val_predict(estimator, X, treated.astype(int), cv=splitter, method="predict_proba")
    # Flexible learners can output exact 0/1; bound them so logits and odds stay finite.
    ps = np.clip(ps[:, 1], 1e-6, 1 - 1e-6)
    return PropensityScore(ps=ps, linear=logit(ps), learner=label)


# A design runs several estimators (matching, IPW, AIPW, entropy) on one sample, and each fits
# the same propensity model: at national size the IRLS logit is seconds per fit. Fits by a named
# learner are kept for the most recent samples, keyed by a digest of everything the fit depends
# on (the design matrix bytes and shape, the treatment, the column names, learner and seed), so a
# different sample can never receive another sample's scores.
_FITS: OrderedDict[bytes, PropensityScore] = OrderedDict()
_FITS_KEPT = 4


def _fit_key(
    X: np.ndarray, treated: np.ndarray, names: list[str], learner: str, seed: int
) -> bytes:
    arrays = (np.asarray(X, dtype=float), np.asarray(treated, dtype=bool))
    return array_digest(*arrays) + repr((list(names), learner, seed)).encode()


def _read_only(score: PropensityScore) -> PropensityScore:
    for array in (score.ps, score.linear):
        array.setflags(write=False)  # shared between estimators: nobody may change them
    return score


def fit_propensity(
    X: np.ndarray, treated: np.ndarray, names: list[str], learner: Any = "logit", seed: int = 0
) -> PropensityScore:
    """Fit the propensity model named by ``learner`` (``"logit"``, ``"gbm"`` or a classifier).

    A fit by a named learner (``"logit"``, ``"gbm"``) on the same data is computed once and
    shared (read-only arrays); a classifier object is refitted every time (its state may change).
    """
    if not isinstance(learner, str):
        return fit_flexible(X, treated, learner, seed=seed)
    key = _fit_key(X, treated, names, learner, seed)
    if key in _FITS:
        _FITS.move_to_end(key)
        return _FITS[key]
    if learner == "logit":
        score = fit_logit(X, treated, names)
    else:
        score = fit_flexible(X, treated, learner, seed=seed)
    _FITS[key] = _read_only(score)
    while len(_FITS) > _FITS_KEPT:
        _FITS.popitem(last=False)
    return score


def user_propensity(ps: np.ndarray, name: str) -> PropensityScore:
    """Wrap propensity scores supplied by the user (e.g. estimated elsewhere)."""
    ps = np.asarray(ps, dtype=float)
    if not np.isfinite(ps).all() or ps.min() <= 0 or ps.max() >= 1:
        raise MatchingInputError(f"propensity scores '{name}' must lie strictly inside (0, 1)")
    return PropensityScore(ps=ps, linear=logit(ps), learner="user")
