"""The verdict on research question 4: is the focal city's policy more or less effective?

The primary family (config ``primary``) is fixed before the data are seen: the focal city against
each comparison, a few outcomes and horizons. For each member the headline ``reform_did`` contrast
(``att_overall``, subgroup ``all``) carries the honest interval — person-level sampling plus the
city-by-quarter shock variance (``did.shocks``) — and the decision rule is applied in a fixed
order, so that every verdict can be traced to one reason:

1. no headline row, or no finite standard error             -> not assessable
2. fewer than ``min_persons`` persons on either side         -> not assessable
3. the joint pre-trend test rejects at ``pretrend_alpha``    -> not assessable
4. family-wise adjusted p < ``alpha``                         -> more / less effective (by the
   outcome's better direction)
5. otherwise                                                  -> no distinguishable difference

Adjusted p-values (Holm by default) are computed over the rows that reach step 4, so a row that
is not assessable does not dilute the others. The HonestDiD breakdown value (relative
magnitudes) and the minimum detectable difference are reported beside each verdict, not used in
it: the first tells how large a post-reform violation of parallel trends, relative to the largest
pre-reform one, would overturn the sign; the second what the design could have detected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from inburgering.config import config_hash
from inburgering.contracts.verdict import COLUMNS, REASONS
from inburgering.designs.event_study import HEADLINE_INFERENCE, PERSON_INFERENCE

# The headline rows' inference, as a method code the reports label.
METHODS = {HEADLINE_INFERENCE: "variance_component", PERSON_INFERENCE: "persons_only"}
KEY = ["city", "comparison", "outcome", "horizon"]


def primary_hash(primary: Mapping[str, Any]) -> str:
    """Stable hash of the pre-specified primary analysis (recorded in provenance)."""
    return config_hash(primary)


def primary_family(primary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per primary contrast x outcome x horizon, in the configured order."""
    rows = [
        {
            "city": primary["city"],
            "comparison": comparison,
            "outcome": outcome,
            "horizon": int(horizon),
            "direction": direction,
        }
        for comparison in primary["comparisons"]
        for outcome, direction in primary["outcomes"].items()
        for horizon in primary["horizons"]
    ]
    return pd.DataFrame(rows)


def minimum_detectable(se: np.ndarray, alpha: float, family: int, power: float) -> np.ndarray:
    """Smallest true difference found with probability ``power`` by a two-sided test at the
    Bonferroni level alpha/family (Holm's first step; a conservative family-wise bound)."""
    z = norm.ppf(1 - alpha / (2 * max(family, 1))) + norm.ppf(power)
    return z * np.asarray(se, float)


def _headline(estimates: pd.DataFrame) -> pd.DataFrame:
    rows = estimates[
        (estimates["design"] == "reform_did")
        & (estimates["estimand"] == "att_overall")
        & (estimates["subgroup"] == "all")
        & estimates["headline"].astype(bool)
    ]
    cols = [*KEY, "estimate", "se", "ci_low", "ci_high", "p_value", "inference"]
    rows = rows[[*cols, "n_treated", "n_control"]]
    method = rows["inference"].map(METHODS).fillna(rows["inference"])
    return rows.assign(horizon=rows["horizon"].astype(int), inference=method)


def _breakdowns(honestdid: pd.DataFrame) -> pd.DataFrame:
    rm = honestdid[
        (honestdid["design"] == "reform_did") & (honestdid["restriction"] == "relative_magnitude")
    ]
    first = rm.groupby(KEY, as_index=False)["breakdown"].first()
    return first.rename(columns={"breakdown": "breakdown_mbar"})


def _pretrends(pretrends: pd.DataFrame) -> pd.DataFrame:
    rows = pretrends[pretrends["design"] == "reform_did"]
    return rows[[*KEY, "wald_p"]].rename(columns={"wald_p": "pretrend_p"})


def _decide(row: pd.Series, primary: Mapping[str, Any]) -> tuple[str, str]:
    """Steps 1-3 of the decision rule; None for rows that go on to the adjusted test."""
    if not np.isfinite(row["se"]) or row["se"] <= 0:
        return "not_assessable", REASONS["no_interval"]
    if min(row["n_treated"], row["n_control"]) < primary["min_persons"]:
        return "not_assessable", REASONS["few_persons"]
    if np.isfinite(row["pretrend_p"]) and row["pretrend_p"] < primary["pretrend_alpha"]:
        return "not_assessable", REASONS["pretrend"]
    return "", ""


def _direction(row: pd.Series) -> str:
    better = row["estimate"] > 0 if row["direction"] == "higher_is_better" else row["estimate"] < 0
    return "more_effective" if better else "less_effective"


def verdict_table(
    estimates: pd.DataFrame,
    pretrends: pd.DataFrame,
    honestdid: pd.DataFrame,
    primary: Mapping[str, Any],
) -> pd.DataFrame:
    """The verdict per primary contrast x outcome x horizon (``COLUMNS``)."""
    family = primary_family(primary)
    merged = (
        family.merge(_headline(estimates), on=KEY, how="left")
        .merge(_pretrends(pretrends), on=KEY, how="left")
        .merge(_breakdowns(honestdid), on=KEY, how="left")
    )
    merged[["se", "pretrend_p"]] = merged[["se", "pretrend_p"]].astype(float)
    merged[["n_treated", "n_control"]] = merged[["n_treated", "n_control"]].fillna(0)
    decided = merged.apply(lambda r: _decide(r, primary), axis=1, result_type="expand")
    merged["verdict"], merged["reason"] = decided[0], decided[1]
    tested = merged["verdict"] == ""
    merged["p_adjusted"] = np.nan
    if tested.any():
        merged.loc[tested, "p_adjusted"] = multipletests(
            merged.loc[tested, "p_value"].to_numpy(float),
            alpha=primary["alpha"],
            method=primary["adjustment"],
        )[1]
    significant = tested & (merged["p_adjusted"] < primary["alpha"])
    merged.loc[significant, "verdict"] = merged[significant].apply(_direction, axis=1)
    merged.loc[significant, "reason"] = REASONS["significant"]
    merged.loc[tested & ~significant, "verdict"] = "no_distinguishable_difference"
    merged.loc[tested & ~significant, "reason"] = REASONS["not_significant"]
    merged["mde"] = minimum_detectable(
        merged["se"], primary["alpha"], len(family), primary["power"]
    )
    merged[["n_treated", "n_control"]] = merged[["n_treated", "n_control"]].astype(int)
    return merged.loc[:, list(COLUMNS)]
