"""Balance diagnostics computed the way MatchIt's ``summary.matchit`` and cobalt do them.

* Standardised mean difference: weighted mean difference divided by the SD of the treated group
  in the full (unweighted) sample — the ATT convention — and the *same* denominator before and
  after matching/weighting, so a change in the SMD is a change in the means only. Binary
  covariates use sqrt(p(1-p)) as SD; categorical covariates are expanded to one row per level.
* Variance ratio (treated / control, weighted; continuous covariates only).
* eCDF mean and max: mean and maximum absolute difference between the weighted empirical CDFs
  (for binary covariates both equal the absolute difference in proportions).
* Effective sample size per group: (sum w)^2 / sum w^2 (Kish), as WeightIt's ``ESS()``.

No hypothesis tests: balance is a property of the sample, not of a population (Ho et al. 2007).
The parity tests compare this table with MatchIt's summary on the lalonde data.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd

from inburgering.matching._design import array_digest

BALANCE_COLUMNS = (
    "covariate",
    "binary",
    "mean_treated_before",
    "mean_control_before",
    "smd_before",
    "var_ratio_before",
    "ecdf_mean_before",
    "ecdf_max_before",
    "mean_treated_after",
    "mean_control_after",
    "smd_after",
    "var_ratio_after",
    "ecdf_mean_after",
    "ecdf_max_after",
)


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w))


def weighted_var(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    """MatchIt's ``wvar``: p(1-p) for binary, else the unbiased weighted variance."""
    w = w / w.sum()
    mean = np.sum(w * x)
    if binary:
        return float(mean * (1 - mean))
    return float(np.sum(w * (x - mean) ** 2) / (1 - np.sum(w**2)))


def ecdf_stats(x: np.ndarray, treated: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Mean and max absolute difference of the weighted eCDFs of treated and controls."""
    if _is_binary(x):
        diff = abs(weighted_mean(x[treated], w[treated]) - weighted_mean(x[~treated], w[~treated]))
        return diff, diff
    signed = np.where(treated, -w / w[treated].sum(), w / w[~treated].sum())
    order = np.argsort(x, kind="stable")
    x_sorted = x[order]
    gaps = np.abs(np.cumsum(signed[order]))
    # Evaluate only at the last unit of each distinct value, where both eCDFs are defined.
    at_value_end = np.append(np.diff(x_sorted) != 0, True)
    gaps = gaps[at_value_end]
    return float(gaps.mean()), float(gaps.max())


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size of a weight vector (zeros ignored)."""
    w = np.asarray(w, dtype=float)
    if not np.any(w > 0):
        return 0.0
    return float(w.sum() ** 2 / np.sum(w**2))


def _one_sample(
    x: np.ndarray, treated: np.ndarray, w: np.ndarray, sd: float, binary: bool
) -> dict[str, float]:
    m1 = weighted_mean(x[treated], w[treated])
    m0 = weighted_mean(x[~treated], w[~treated])
    var_ratio = np.nan
    if not binary:
        v0 = weighted_var(x[~treated], w[~treated], binary)
        v1 = weighted_var(x[treated], w[treated], binary)
        var_ratio = v1 / v0 if v0 > 0 else np.inf
    ecdf_mean, ecdf_max = ecdf_stats(x, treated, w)
    smd = (m1 - m0) / sd if sd > 0 else np.nan
    return {
        "mean_treated": m1,
        "mean_control": m0,
        "smd": smd,
        "var_ratio": var_ratio,
        "ecdf_mean": ecdf_mean,
        "ecdf_max": ecdf_max,
    }


# The unadjusted half of a balance table depends only on the covariates, the treatment and the
# base weights, which every estimator of one sample (and every outcome observed for the same
# persons) shares; at national size it is a second per table. The last few are kept, keyed by a
# digest of those arrays (bytes and shapes), so another sample is always recomputed.
_UNADJUSTED: OrderedDict[bytes, list[tuple[bool, float, dict[str, float]]]] = OrderedDict()
_UNADJUSTED_KEPT = 4


def _unadjusted(
    B: np.ndarray, treated: np.ndarray, base: np.ndarray
) -> list[tuple[bool, float, dict[str, float]]]:
    """(binary, treated SD, balance before adjustment) per column of ``B``."""
    key = array_digest(np.asarray(B, dtype=float), treated, base)
    if key not in _UNADJUSTED:
        columns = []
        for j in range(B.shape[1]):
            x = B[:, j].astype(float)
            binary = _is_binary(x)
            sd = float(np.sqrt(weighted_var(x[treated], np.ones(treated.sum()), binary)))
            columns.append((binary, sd, _one_sample(x, treated, base, sd, binary)))
        _UNADJUSTED[key] = columns
        while len(_UNADJUSTED) > _UNADJUSTED_KEPT:
            _UNADJUSTED.popitem(last=False)
    _UNADJUSTED.move_to_end(key)
    return [(binary, sd, dict(before)) for binary, sd, before in _UNADJUSTED[key]]


def balance_table(
    B: np.ndarray,
    names: list[str],
    treated: np.ndarray,
    weights: np.ndarray,
    *,
    base_weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Balance before (``base_weights``, default 1) and after (``weights``) adjustment.

    Parameters
    ----------
    B : (n, p) array
        Covariates, categoricals already expanded to one indicator per level.
    names : list of str
        Row labels for the columns of ``B``.
    treated : array of bool
    weights : array of float
        Matching or balancing weights; zero for units not in the adjusted sample.
    base_weights : array of float, optional
        Weights of the unadjusted sample (e.g. zero for units dropped by trimming).

    Returns
    -------
    DataFrame with the columns in ``BALANCE_COLUMNS``, one row per covariate.
    """
    treated = np.asarray(treated, dtype=bool)
    base = np.ones(len(treated)) if base_weights is None else np.asarray(base_weights, float)
    rows = []
    unadjusted = _unadjusted(B, treated, base)
    for j, name in enumerate(names):
        x = B[:, j].astype(float)
        binary, sd, before = unadjusted[j]
        after = _one_sample(x, treated, np.asarray(weights, float), sd, binary)
        row = {"covariate": name, "binary": binary}
        row |= {f"{key}_before": value for key, value in before.items()}
        row |= {f"{key}_after": value for key, value in after.items()}
        rows.append(row)
    return pd.DataFrame(rows, columns=list(BALANCE_COLUMNS))


def love_plot_data(balance: pd.DataFrame, threshold: float = 0.1) -> pd.DataFrame:
    """Long table for a Love plot: one row per covariate and sample (before/after)."""
    long = balance.melt(
        id_vars="covariate",
        value_vars=["smd_before", "smd_after"],
        var_name="sample",
        value_name="smd",
    )
    long["sample"] = long["sample"].str.removeprefix("smd_")
    long["abs_smd"] = long["smd"].abs()
    long["balanced"] = long["abs_smd"] < threshold
    return long
