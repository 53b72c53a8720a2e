"""``estimate_att``: one entry point for matching and weighting estimators of the ATT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from inburgering.matching._design import Design, MatchingInputError, build_design
from inburgering.matching.balance import balance_table, effective_sample_size
from inburgering.matching.inference import (
    abadie_imbens_se,
    normal_interval,
    weighted_regression_att,
)
from inburgering.matching.nearest import match_nearest
from inburgering.matching.propensity import PropensityScore, fit_propensity, user_propensity
from inburgering.matching.result import MatchingResult, sample_table
from inburgering.matching.sensitivity import (
    EValue,
    evalue_continuous,
    evalue_risk_difference,
)
from inburgering.matching.weighting import aipw_att, entropy_att, ipw_att

METHODS = ("nearest", "ipw", "aipw", "entropy")
DISCARD_RULES = ("none", "both", "control", "treated")


def _common_support(distance: np.ndarray, treated: np.ndarray, rule: str) -> np.ndarray:
    """MatchIt's ``discard``: drop units outside the other group's range of the distance."""
    if rule not in DISCARD_RULES:
        raise ValueError(f"discard must be one of {DISCARD_RULES}, got {rule!r}")
    if rule == "none":
        return np.zeros(len(distance), dtype=bool)
    lo1, hi1 = distance[treated].min(), distance[treated].max()
    lo0, hi0 = distance[~treated].min(), distance[~treated].max()
    if rule == "both":
        return (distance < max(lo0, lo1)) | (distance > min(hi0, hi1))
    if rule == "control":
        return (distance < lo1) | (distance > hi1)
    return (distance < lo0) | (distance > hi0)


def _trim_mask(ps: np.ndarray, trim: float | None) -> np.ndarray:
    """Pre-specified trimming: drop units with ps outside [trim, 1 - trim] (Crump et al. 2009)."""
    if trim is None:
        return np.zeros(len(ps), dtype=bool)
    if not 0 < trim < 0.5:
        raise ValueError(f"trim must be in (0, 0.5), got {trim!r}")
    return (ps < trim) | (ps > 1 - trim)


def _subset(design: Design, keep: np.ndarray) -> Design:
    return Design(
        index=design.index[keep],
        treated=design.treated[keep],
        y=design.y[keep],
        X=design.X[keep],
        x_names=design.x_names,
        B=design.B[keep],
        b_names=design.b_names,
        exact_codes=None if design.exact_codes is None else design.exact_codes[keep],
        cluster=None if design.cluster is None else design.cluster[keep],
    )


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.all((y == 0) | (y == 1)))


def _evalue(design: Design, weights: np.ndarray, att: float, se: float, lo: float, hi: float):
    used = weights > 0
    y = design.y[used]
    if _is_binary(design.y):
        treated_mean = float(np.mean(design.y[used & design.treated]))
        return evalue_risk_difference(att, lo, hi, treated_mean)
    sd = float(np.std(y, ddof=1))
    return (
        evalue_continuous(att, se, sd) if sd > 0 else EValue(np.nan, np.nan, np.nan, np.nan, np.nan)
    )


def _match(
    design: Design,
    distance: np.ndarray,
    removed: np.ndarray,
    *,
    ratio: int,
    caliper: float | None,
    replace: bool,
    m_order: str,
    adjust: bool,
    seed: int,
) -> dict[str, Any]:
    out = match_nearest(
        distance,
        design.treated,
        ratio=ratio,
        caliper=caliper,
        replace=replace,
        exact_codes=design.exact_codes,
        discarded=removed,
        m_order=m_order,
        seed=seed,
    )
    weights = out.weights
    if not (weights[design.treated] > 0).any():
        rule = f"caliper {caliper} SD of the distance" if caliper else "exact/common support"
        raise MatchingInputError(
            f"no treated unit could be matched (rule: {rule}); widen the caliper or relax "
            "the exact-matching variables"
        )
    y, t = design.y, design.treated
    att = float(np.average(y[t], weights=weights[t]) - np.average(y[~t], weights=weights[~t]))
    X = design.X if adjust else None
    if not replace:
        clusters = out.subclass if design.cluster is None else design.cluster
        est, se = weighted_regression_att(y, t, weights, clusters, X)
        inference = "cluster-robust (matched sets)" if design.cluster is None else "cluster-robust"
        att = est
    elif adjust:
        att, se = weighted_regression_att(y, t, weights, design.cluster, X)
        inference = "HC1 sandwich (matched sample, with replacement)"
    else:
        se = abadie_imbens_se(y, distance, out.treated_positions, out.match_matrix, att)
        inference = "Abadie-Imbens (2006)"
    mm = out.match_matrix
    rows, cols = np.nonzero(mm >= 0)
    matches = pd.DataFrame(
        {
            "treated_id": design.index[out.treated_positions[rows]],
            "control_id": design.index[mm[rows, cols]],
            "round": cols + 1,
        }
    )
    if out.subclass is not None:
        matches.insert(0, "subclass", out.subclass[out.treated_positions[rows]])
    counts = (mm >= 0).sum(axis=1)
    matched_rows = counts > 0
    pair_diff = np.array(
        [
            y[out.treated_positions[i]] - y[mm[i][mm[i] >= 0]].mean()
            for i in np.flatnonzero(matched_rows)
        ]
    )
    unmatched_t = np.zeros(len(y), dtype=bool)
    unmatched_t[out.treated_positions[~matched_rows]] = True
    unmatched_t &= ~removed
    return {
        "att": att,
        "se": se,
        "weights": weights,
        "inference": inference,
        "matches": matches,
        "unmatched_treated": unmatched_t,
        "extras": {
            "pair_differences": pair_diff,
            "caliper_width": out.caliper_width,
            "estimator": f"nearest_{ratio}to1{'_replace' if replace else ''}"
            f"{'_caliper' if caliper else ''}",
        },
    }


def estimate_att(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    method: str = "nearest",
    ratio: int = 1,
    caliper: float | None = 0.2,
    replace: bool = False,
    exact: Sequence[str] | None = None,
    estimand: str = "ATT",
    trim: float | None = None,
    seed: int = 0,
    distance: str = "logit",
    discard: str = "none",
    m_order: str = "largest",
    ps_learner: Any = "logit",
    propensity: str | None = None,
    outcome_learner: Any = "ols",
    adjust: bool = False,
    moments: int = 1,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> MatchingResult:
    """Estimate the average treatment effect on the treated by matching or weighting.

    Parameters
    ----------
    data : DataFrame
        One row per unit; its index identifies units in the outputs.
    treatment : str
        0/1 (or boolean) treatment column.
    outcome : str
        Numeric outcome column (no missing values: select the observed rows first).
    covariates : sequence of str
        Confounders; numeric or categorical (categoricals enter the logit as dummies).
    method : {"nearest", "ipw", "aipw", "entropy"}
        Greedy nearest-neighbour matching (MatchIt semantics), inverse-probability weighting,
        augmented IPW (doubly robust) or entropy balancing.
    ratio : int
        Controls per treated unit (nearest only).
    caliper : float or None
        Caliper in SDs of the matching distance (nearest only; MatchIt ``std.caliper=TRUE``).
    replace : bool
        Matching with replacement (nearest only).
    exact : sequence of str, optional
        Columns to match exactly on (e.g. arrival quarter; nearest only).
    estimand : {"ATT"}
        Only the ATT is implemented.
    trim : float, optional
        Drop units with propensity score outside [trim, 1 - trim] before estimation.
    seed : int
        Seed for random matching order and flexible learners.
    distance : {"logit", "ps"}
        Matching distance: the linear predictor (Austin 2011; MatchIt ``link="linear.logit"``)
        or the probability (MatchIt's default ``link="logit"``).
    discard : {"none", "both", "control", "treated"}
        MatchIt's common-support rule on the distance.
    m_order : {"largest", "smallest", "random", "data"}
        Matching order of the treated units.
    ps_learner : "logit", "gbm" or scikit-learn classifier
        Propensity model. Non-logit learners are cross-fitted.
    propensity : str, optional
        Column with propensity scores estimated elsewhere (overrides ``ps_learner``).
    outcome_learner : "ols", "gbm" or scikit-learn regressor
        Outcome model for AIPW (fitted on controls).
    adjust : bool
        Nearest only: estimate by weighted regression on treatment and covariates in the matched
        sample (MatchIt's recommended covariate adjustment) instead of a difference in means.
    moments : {1, 2}
        Entropy balancing on means (1) or means and squares of continuous covariates (2).
    cluster : str, optional
        Cluster column (e.g. municipality) for cluster-robust standard errors.
    alpha : float
        1 - confidence level.

    Returns
    -------
    MatchingResult

    Raises
    ------
    MatchingInputError
        Bad input (missing/constant columns, no treated or controls, perfect separation, all
        treated dropped by the caliper or common-support rule), naming the column and rule.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if estimand.upper() != "ATT":
        raise NotImplementedError(
            f"estimand {estimand!r}: only the ATT is implemented (swap the treatment coding "
            "for the ATC)"
        )
    if method != "nearest" and (exact or replace or ratio != 1):
        raise ValueError("exact, replace and ratio only apply to method='nearest'")
    design = build_design(
        data,
        treatment=treatment,
        outcome=outcome,
        covariates=covariates,
        exact=exact,
        cluster=cluster,
    )
    if propensity is not None:
        ps = user_propensity(data[propensity].to_numpy(), propensity)
    else:
        ps = fit_propensity(design.X, design.treated, design.x_names, ps_learner, seed)
    dist = ps.distance(distance)
    outside = _common_support(dist, design.treated, discard)
    trimmed = _trim_mask(ps.ps, trim) & ~outside
    removed = outside | trimmed
    for group, mask in (("treated", design.treated), ("control", ~design.treated)):
        if not (mask & ~removed).any():
            raise MatchingInputError(
                f"no {group} units left after common support (discard={discard!r}) and "
                f"trimming (trim={trim!r}) on column '{treatment}'"
            )

    unmatched_t = np.zeros(len(design.y), dtype=bool)
    matches = None
    if method == "nearest":
        fit = _match(
            design,
            dist,
            removed,
            ratio=ratio,
            caliper=caliper,
            replace=replace,
            m_order=m_order,
            adjust=adjust,
            seed=seed,
        )
        att, se, weights, inference = fit["att"], fit["se"], fit["weights"], fit["inference"]
        matches, unmatched_t, extras = fit["matches"], fit["unmatched_treated"], fit["extras"]
    else:
        keep = ~removed
        sub = _subset(design, keep)
        sub_ps = _refit(ps, sub, keep, ps_learner, seed, propensity is not None)
        if method == "ipw":
            wfit = ipw_att(sub.y, sub.treated, sub.X, sub_ps, sub.cluster)
        elif method == "aipw":
            wfit = aipw_att(sub.y, sub.treated, sub.X, sub_ps, sub.cluster, outcome_learner, seed)
        else:
            wfit = entropy_att(sub.y, sub.treated, sub.X, sub.x_names, sub.cluster, moments)
        weights = np.zeros(len(design.y))
        weights[keep] = wfit.weights
        att, se, inference = wfit.att, wfit.se, wfit.inference
        extras = {"estimator": method, **wfit.extras}

    lo, hi, p_value = normal_interval(att, se, alpha)
    t = design.treated
    balance = balance_table(
        np.column_stack([design.B, dist]), [*design.b_names, "distance"], t, weights
    )
    status = np.select(
        [outside, trimmed, unmatched_t, weights > 0],
        ["outside common support", "trimmed", "unmatched (caliper/exact)", "analysed"],
        default="not selected",
    )
    overlap = pd.DataFrame(
        {"treated": t, "ps": ps.ps, "distance": dist, "weight": weights, "status": status},
        index=design.index,
    )
    not_selected = (weights == 0) & ~removed & ~unmatched_t
    sample = sample_table(
        [
            ("input", "", np.ones(len(t), dtype=bool), t),
            ("common support", f"discard={discard}", outside, t),
            ("trim", f"ps outside [{trim}, {1 - trim}]" if trim else "none", trimmed, t),
            ("unmatched", _unmatched_rule(method, caliper, exact), unmatched_t, t),
            ("zero weight", "control not selected as a match", not_selected, t),
        ]
    )
    extras |= {"propensity_learner": ps.learner, "distance": distance, "alpha": alpha}
    return MatchingResult(
        method=method,
        estimand="ATT",
        att=float(att),
        se=float(se),
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=p_value,
        n_treated=int((weights[t] > 0).sum()),
        n_control=int((weights[~t] > 0).sum()),
        ess=effective_sample_size(weights[~t]),
        ess_treated=effective_sample_size(weights[t]),
        inference=inference,
        balance=balance,
        overlap=overlap,
        sample=sample,
        evalue=_evalue(design, weights, att, se, lo, hi),
        weights=pd.Series(weights, index=design.index, name="weight"),
        matches=matches,
        extras=extras,
    )


def _unmatched_rule(method: str, caliper: float | None, exact: Sequence[str] | None) -> str:
    if method != "nearest":
        return "none"
    parts = [f"caliper {caliper} SD"] if caliper else []
    parts += [f"exact on {list(exact)}"] if exact else []
    return " / ".join([*parts, "no control left"])


def _refit(
    ps: PropensityScore, sub: Design, keep: np.ndarray, learner: Any, seed: int, user: bool
) -> PropensityScore:
    """Re-estimate the propensity model on the retained sample when units were removed, so the
    logit score equations hold in the sample the weighting sandwich is computed on."""
    if keep.all():
        return ps
    if user:
        return user_propensity(ps.ps[keep], "user")
    return fit_propensity(sub.X, sub.treated, sub.x_names, learner, seed)
