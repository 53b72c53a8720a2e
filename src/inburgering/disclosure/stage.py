"""Snakemake entry point of the disclosure stage: check every table, write results/export/."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from inburgering.io import atomic_path, sha256_file
from inburgering.tidy import read_tidy, write_tidy
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


def suppress_estimates(estimates: pd.DataFrame, min_persons: int) -> tuple[pd.DataFrame, int]:
    small = (estimates["n_treated"] < min_persons) | (estimates["n_control"] < min_persons)
    small = small.fillna(True)
    checked = estimates.copy()
    checked.loc[small, ["estimate", "se", "ci_low", "ci_high", "p_value"]] = float("nan")
    return checked, int(small.sum())


def suppress_counts(flow: pd.DataFrame, min_persons: int) -> tuple[pd.DataFrame, int]:
    counts = [c for c in flow.columns if c.startswith("persons")]
    checked = flow.copy()
    small = checked[counts].lt(min_persons) & checked[counts].gt(0)
    checked[counts] = checked[counts].astype("Int64").mask(small)
    return checked, int(small.to_numpy().sum())


def run(job: RuleJob) -> None:
    min_persons = job.params["disclosure"]["min_persons"]
    estimates, n_estimates = suppress_estimates(read_tidy(job.input["estimates"]), min_persons)
    write_tidy(estimates, job.output["estimates"])
    flow, n_flow = suppress_counts(pd.read_csv(job.input["sample_flow"]), min_persons)
    with atomic_path(job.output["sample_flow"]) as tmp:
        flow.to_csv(tmp, index=False)
    manifest = pd.DataFrame(
        [
            {
                "file": Path(job.output[name]).name,
                "rule": f"min_persons={min_persons}",
                "cells_suppressed": n,
                "sha256": sha256_file(job.output[name]),
            }
            for name, n in (("estimates", n_estimates), ("sample_flow", n_flow))
        ]
    )
    with atomic_path(job.output["manifest"]) as tmp:
        manifest.to_csv(tmp, index=False)
    log.info("export: %d estimate rows and %d counts suppressed", n_estimates, n_flow)
