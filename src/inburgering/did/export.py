"""Turn aggregations and comparison event studies into rows of the tidy estimate contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from inburgering.contracts.tidy import tidy_frame
from inburgering.did.errors import DidError
from inburgering.did.result import AggregateResult

_ESTIMAND = {"simple": "att_overall", "dynamic": "att_event", "group": "att_group"}


def _p_value(att: np.ndarray, se: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * norm.sf(np.abs(att / se))


def _inference_label(agg: AggregateResult) -> str:
    p = agg.parent.params
    parts = [
        f"multiplier bootstrap ({agg.bootstrap} {p['multiplier']} draws, uniform band)"
        if agg.bootstrap
        else "analytic influence function"
    ]
    if p["cluster"]:
        parts.append(f"clustered by {p['cluster']} ({agg.parent.n_clusters})")
    return "; ".join(parts)


def to_tidy(
    agg: AggregateResult,
    *,
    design: str,
    treatment: str,
    city: str,
    comparison: str,
    outcome: str,
    horizon: int | None,
    subgroup: str = "all",
    estimator: str = "cs_dr",
    headline: bool = True,
    inference: str | None = None,
    include_overall: bool = False,
) -> pd.DataFrame:
    """Rows of the tidy estimate contract (``inburgering.contracts.tidy``) for one aggregation.

    Parameters
    ----------
    agg : AggregateResult
        From ``aggte(result, kind)`` with kind ``simple`` (estimand ``att_overall``),
        ``dynamic`` (``att_event`` rows with ``event_time``) or ``group`` (``att_group``; the
        cohort goes into ``subgroup`` as ``cohort:<g>`` because the contract has no cohort key).
    include_overall : bool
        Also emit the overall row of a dynamic/group aggregation as ``att_overall`` (use a
        distinct ``estimator`` then, e.g. ``cs_dr_dynamic``, so keys stay unique).
    """
    if agg.kind not in _ESTIMAND:
        raise DidError(f"to_tidy: no tidy estimand for kind {agg.kind!r} (simple, dynamic, group)")
    parent = agg.parent
    treated = parent.unit_group > 0
    base = {
        "design": design,
        "treatment": treatment,
        "city": city,
        "comparison": comparison,
        "outcome": outcome,
        "horizon": horizon,
        "estimator": estimator,
        "headline": headline,
        "inference": inference or _inference_label(agg),
        "n_treated": int(treated.sum()),
        "n_control": int((parent.unit_group == 0).sum()),
        "n_clusters": parent.n_clusters,
    }
    table = agg.table
    rows = []
    levels = table[table["term"] != "overall"]
    for _, row in levels.iterrows():
        out = {
            **base,
            "estimand": _ESTIMAND[agg.kind],
            "subgroup": subgroup,
            "estimate": row["att"],
            "se": row["se"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
        }
        if agg.kind == "dynamic":
            out["event_time"] = int(row["event_time"])
        else:
            g = row["group"]
            out["subgroup"] = f"cohort:{g}" if subgroup == "all" else f"{subgroup};cohort:{g}"
            out["n_treated"] = int((parent.unit_group == g).sum())
        rows.append(out)
    if agg.kind == "simple" or include_overall:
        row = table[table["term"] == "overall"].iloc[0]
        rows.append(
            {
                **base,
                "estimand": "att_overall",
                "subgroup": subgroup,
                "estimate": row["att"],
                "se": row["se"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
            }
        )
    frame = pd.DataFrame(rows)
    frame["p_value"] = _p_value(frame["estimate"].to_numpy(float), frame["se"].to_numpy(float))
    return tidy_frame(frame)


def comparison_to_tidy(
    table: pd.DataFrame,
    *,
    design: str,
    treatment: str,
    city: str,
    comparison: str,
    outcome: str,
    horizon: int | None,
    subgroup: str = "all",
    cluster: str = "unit",
) -> pd.DataFrame:
    """Tidy rows (``att_event``, headline false) for a pyfixest comparison event study."""
    frame = pd.DataFrame(
        {
            "design": design,
            "estimand": "att_event",
            "treatment": treatment,
            "city": city,
            "comparison": comparison,
            "outcome": outcome,
            "horizon": horizon,
            "subgroup": subgroup,
            "event_time": table["event_time"].astype(int),
            "estimator": table["estimator"],
            "headline": False,
            "estimate": table["att"],
            "se": table["se"],
            "ci_low": table["ci_low"],
            "ci_high": table["ci_high"],
            "p_value": _p_value(table["att"].to_numpy(float), table["se"].to_numpy(float)),
            "inference": f"CRV1 clustered by {cluster} (pyfixest)",
        }
    )
    return tidy_frame(frame)
