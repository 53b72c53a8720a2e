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

For the paper-format table each row also carries the randomization-inference p-value of the
same contrast where the design computed one (rest of NL: placebo municipalities), the
municipalities on each side, and the comparison's raw outcome share after the reform (the
level a difference is read against), none of which enters the decision.
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
from inburgering.designs.event_study import PERSON_INFERENCE
from inburgering.designs.shock_variance import INDEX_LABEL, SHARE_LABEL

# The headline rows' inference, as a method code the reports label.
METHODS = {
    INDEX_LABEL: "variance_component",
    SHARE_LABEL: "variance_component",
    PERSON_INFERENCE: "persons_only",
}
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
    rows = rows[[*cols, "n_treated", "n_control", "n_clusters"]]
    method = rows["inference"].map(METHODS).fillna(rows["inference"])
    # The treated side is the focal city, one municipality; every other cluster of the
    # contrast is a comparison municipality.
    clusters = rows["n_clusters"].astype(float)
    return rows.drop(columns="n_clusters").assign(
        horizon=rows["horizon"].astype(int),
        inference=method,
        clusters_treated=np.where(clusters.notna(), 1.0, np.nan),
        clusters_control=clusters - 1,
    )


def _randomization(inference: pd.DataFrame | None) -> pd.DataFrame:
    """The randomization-inference p-value per contrast (the design's ``inference`` table)."""
    if inference is None or inference.empty:
        return pd.DataFrame(columns=[*KEY, "ri_p"])
    rows = inference[inference["design"] == "reform_did"]
    return rows[[*KEY, "ri_p"]].assign(horizon=rows["horizon"].astype(int))


def control_means(trends: pd.DataFrame | None, first_year: int) -> pd.DataFrame:
    """The comparison's raw outcome share over its cohort years from ``first_year`` on
    (process ``outcome_trends``: persons whose outcome at the horizon is measured)."""
    columns = ["comparison", "outcome", "horizon", "control_mean", "n_control_post"]
    if trends is None or trends.empty:
        return pd.DataFrame(columns=columns)
    post = trends[pd.to_numeric(trends["cohort"], errors="coerce") >= first_year]
    post = post.assign(hits=post["share"] * post["n"])
    sums = post.groupby(["city", "outcome", "horizon"], as_index=False)[["hits", "n"]].sum()
    sums = sums.assign(control_mean=sums["hits"] / sums["n"], horizon=sums["horizon"].astype(int))
    return sums.rename(columns={"city": "comparison", "n": "n_control_post"})[columns]


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
    *,
    inference: pd.DataFrame | None = None,
    controls: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The verdict per primary contrast x outcome x horizon (``COLUMNS``).

    ``inference``: the design's randomization-inference rows (``ri_p``); ``controls``: the
    comparisons' post-reform outcome means (:func:`control_means`). Without them (the design
    simulator of the Monte Carlo) those columns are empty; the verdict does not use them.
    """
    family = primary_family(primary)
    if controls is None or controls.empty:
        controls = control_means(None, 0)
    merged = (
        family.merge(_headline(estimates), on=KEY, how="left")
        .merge(_pretrends(pretrends), on=KEY, how="left")
        .merge(_breakdowns(honestdid), on=KEY, how="left")
        .merge(_randomization(inference), on=KEY, how="left")
        .merge(controls, on=["comparison", "outcome", "horizon"], how="left")
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
    counts = ["n_control_post", "clusters_treated", "clusters_control"]
    merged[counts] = merged[counts].astype(float).astype("Int64")
    merged[["ri_p", "control_mean"]] = merged[["ri_p", "control_mean"]].astype(float)
    return merged.loc[:, list(COLUMNS)]
