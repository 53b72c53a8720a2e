"""Every estimate against the planted truth (synthetic runs): bias and interval coverage.

A row without a truth is an error, not a silent drop (DESIGN.md, "Validation").
"""

from __future__ import annotations

import logging

import pandas as pd

from inburgering.contracts.tidy import KEY_COLUMNS, read_tidy
from inburgering.designs.registry import DESCRIPTIVE
from inburgering.io import write_csv_atomic
from inburgering.workflow import RuleJob, StageError

log = logging.getLogger(__name__)


def read_truth(path) -> pd.DataFrame:
    truth = pd.read_csv(
        path, keep_default_na=False, na_values={"horizon": [""], "event_time": [""]}
    )
    for column in ("horizon", "event_time"):
        truth[column] = pd.to_numeric(truth[column]).astype("Int64")
    return truth


def compare(estimates: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Every estimate row joined to its truth (``bias``, ``covered``); descriptive rows (the
    registry's ``DESCRIPTIVE``: statistics of the sample itself, with no planted truth) are left
    out and counted in the log."""
    keys = list(KEY_COLUMNS)
    descriptive = estimates["design"].isin(DESCRIPTIVE)
    log.info(
        "validation: %d descriptive rows (%s) have no causal truth",
        int(descriptive.sum()),
        ", ".join(DESCRIPTIVE),
    )
    estimates = estimates[~descriptive]
    joined = estimates.merge(truth, on=keys, how="left", validate="many_to_one", indicator=True)
    missing = joined["_merge"] == "left_only"
    if missing.any():
        example = joined.loc[missing, keys].iloc[0].to_dict()
        raise StageError(
            f"validation: {int(missing.sum())} estimate rows have no truth in truth/estimands.csv, "
            f"e.g. {example}; extend the generator's truth table for this estimand"
        )
    joined = joined.drop(columns="_merge")
    joined["bias"] = joined["estimate"] - joined["truth"]
    joined["covered"] = (joined["ci_low"] <= joined["truth"]) & (
        joined["truth"] <= joined["ci_high"]
    )
    return joined


def run(job: RuleJob) -> None:
    result = compare(read_tidy(job.input["estimates"]), read_truth(job.input["truth"]))
    headline = result[result["headline"]]
    log.info(
        "headline coverage: %d of %d intervals cover the truth",
        int(headline["covered"].sum()),
        len(headline),
    )
    write_csv_atomic(result, job.output["validation"])
