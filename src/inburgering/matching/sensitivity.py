"""Sensitivity to unobserved confounding: E-values and Rosenbaum bounds.

Why our own code: both are a few lines of closed-form arithmetic and no maintained Python package
provides Rosenbaum bounds for a matched sample (dowhy's E-value analyser works on its own
linear/GLM estimators only, not on an arbitrary estimate with an interval).

* E-value (VanderWeele & Ding 2017, Ann. Intern. Med. 167:268): the minimum strength of
  association, on the risk-ratio scale, an unmeasured confounder must have with both treatment
  and outcome to explain the estimate away: RR + sqrt(RR (RR - 1)) (RR inverted if < 1). For the
  confidence limit closer to the null; 1 when the interval contains the null.
  - continuous outcomes: standardised difference d = estimate / sd(Y), RR ≈ exp(0.91 d) and the
    interval exp(0.91 d ± 1.78 se_d) (VanderWeele & Ding 2017, Table; EValue ``evalues.MD``);
  - binary outcomes with a risk-difference estimate (our employment outcomes): converted to a risk
    ratio with the treated mean p1, RR = p1 / (p1 - ATT), and the interval limits likewise.
* Rosenbaum bounds for matched pairs (Rosenbaum 2002, Observational Studies, ch. 4): bounds on the
  one-sided p-value of Wilcoxon's signed-rank test when the odds of treatment within a pair may
  differ by a factor Gamma; normal approximation with average ranks for ties. Zero differences
  are dropped before ranking (Wilcoxon's convention, scipy's ``zero_method="wilcox"``) exactly as
  ``rbounds::psens`` does since rbounds 0.5 (``diff <- diff[diff != 0]``, still so in 2.2; only
  rbounds 0.1-0.3 ranked the zeros with the other pairs). A deliberate choice: a pair without a
  difference carries no information on the direction of the effect. Unlike psens we do not round
  the p-values to four digits. For 1:k matching the pair difference is the treated outcome minus
  the mean of its controls (an approximation; ``sensitivitymv`` is exact for that case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import brentq

# VanderWeele & Ding's conversion constants from a standardised mean difference to log RR.
_MD_LOGRR = 0.91
_MD_LOGRR_SE = 1.78


@dataclass(frozen=True)
class EValue:
    """E-values for a point estimate and for the confidence limit closer to the null."""

    rr: float
    rr_low: float
    rr_high: float
    point: float
    ci: float


def _evalue_rr(rr: float) -> float:
    if np.isnan(rr) or rr < 0:
        return np.nan
    if rr == 0 or np.isinf(rr):
        # A risk-difference limit at the edge of the risk scale (the outcome never occurs in one
        # arm): no finite confounder explains it away.
        return np.inf
    rr = 1 / rr if rr < 1 else rr
    return float(rr + np.sqrt(rr * (rr - 1)))


def evalue_rr(rr: float, lo: float | None = None, hi: float | None = None) -> EValue:
    """E-values for a risk ratio (also for odds/hazard ratios of a rare outcome)."""
    lo = rr if lo is None else lo
    hi = rr if hi is None else hi
    # The interval limit closer to the null; an interval containing the null gives 1.
    ci = 1.0 if lo <= 1 <= hi else _evalue_rr(lo if rr > 1 else hi)
    return EValue(rr, lo, hi, _evalue_rr(rr), ci)


def evalue_smd(d: float, se: float) -> EValue:
    """E-values for a standardised mean difference d with standard error se."""
    rr = float(np.exp(_MD_LOGRR * d))
    lo = float(np.exp(_MD_LOGRR * d - _MD_LOGRR_SE * se))
    hi = float(np.exp(_MD_LOGRR * d + _MD_LOGRR_SE * se))
    return evalue_rr(rr, lo, hi)


def evalue_continuous(estimate: float, se: float, sd_outcome: float) -> EValue:
    """E-values for a mean difference on a continuous outcome with standard deviation sd."""
    return evalue_smd(estimate / sd_outcome, se / sd_outcome)


def evalue_risk_difference(
    estimate: float, ci_low: float, ci_high: float, treated_mean: float
) -> EValue:
    """E-values for an ATT on a binary outcome, via RR = p1 / (p1 - ATT) among the treated."""

    def to_rr(att: float) -> float:
        p0 = treated_mean - att
        if p0 <= 0:
            return np.inf
        return treated_mean / p0

    return evalue_rr(to_rr(estimate), to_rr(ci_low), to_rr(ci_high))


def _signed_rank_parts(differences: np.ndarray) -> tuple[float, np.ndarray]:
    """Signed-rank statistic T and the ranks of |d| after dropping zeros (as rbounds::psens)."""
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    ranks = stats.rankdata(np.abs(d), method="average")
    return float(np.sum(ranks[d > 0])), ranks


def rosenbaum_pvalues(differences: np.ndarray, gamma: float) -> tuple[float, float]:
    """Lower and upper bounds on the one-sided (greater) signed-rank p-value at ``gamma``."""
    if gamma < 1:
        raise ValueError(f"gamma must be >= 1, got {gamma!r}")
    T, ranks = _signed_rank_parts(differences)
    if len(ranks) == 0:
        return np.nan, np.nan
    bounds = []
    for p in (1 / (1 + gamma), gamma / (1 + gamma)):
        mean = p * ranks.sum()
        sd = np.sqrt(p * (1 - p) * np.sum(ranks**2))
        bounds.append(float(stats.norm.sf((T - mean) / sd)))
    return bounds[0], bounds[1]


def rosenbaum_bounds(
    differences: np.ndarray, gammas: np.ndarray | list[float] | None = None
) -> pd.DataFrame:
    """Rosenbaum bounds over a Gamma grid for treated-minus-control pair differences.

    Parameters
    ----------
    differences : array of float
        Treated minus (mean of matched) control outcome per matched set. For an effect expected
        to be negative, pass the negated differences.
    gammas : sequence of float, optional
        Sensitivity parameters (>= 1); default 1, 1.1, ..., 3.

    Returns
    -------
    DataFrame with columns ``gamma, p_lower, p_upper``.
    """
    grid = np.round(np.arange(1.0, 3.0001, 0.1), 10) if gammas is None else np.asarray(gammas)
    rows = [(g, *rosenbaum_pvalues(differences, g)) for g in grid]
    return pd.DataFrame(rows, columns=["gamma", "p_lower", "p_upper"])


def critical_gamma(differences: np.ndarray, alpha: float = 0.05, max_gamma: float = 100.0) -> float:
    """Smallest Gamma at which the upper-bound p-value reaches ``alpha`` (loss of significance).

    Returns 1.0 when the result is not significant even without hidden bias and ``inf`` when it
    stays significant up to ``max_gamma``.
    """

    def gap(log_gamma: float) -> float:
        return rosenbaum_pvalues(differences, float(np.exp(log_gamma)))[1] - alpha

    if gap(0.0) >= 0:
        return 1.0
    if gap(np.log(max_gamma)) < 0:
        return np.inf
    return float(np.exp(brentq(gap, 0.0, np.log(max_gamma), xtol=1e-10)))
