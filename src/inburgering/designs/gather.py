"""Gathering tidy estimate rows: the parts of a scattered design; every design in one table."""

from __future__ import annotations

import logging

import pandas as pd

from inburgering.contracts.tidy import read_tidy, tidy_frame, write_tidy
from inburgering.io import write_csv_atomic
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


def gather(job: RuleJob) -> None:
    frames = [read_tidy(path) for path in job.input.values()]
    combined = tidy_frame(pd.concat(frames, ignore_index=True))
    log.info("gathered %d estimate rows from %d designs", len(combined), len(frames))
    write_tidy(combined, job.output["estimates"])


def gather_parts(job: RuleJob) -> None:
    """Gather rule of a scattered design (one job per outcome x horizon, contrast...): each
    output is the concatenation of the inputs of the same name: ``estimates`` as tidy rows
    (``write_tidy`` orders them), the other names, person-free side tables, in input order."""
    for name, path in job.output.items():
        parts = job.input[name]
        parts = parts if isinstance(parts, list) else [parts]
        if name == "estimates":
            write_tidy(pd.concat([read_tidy(p) for p in parts]), path)
            continue
        frames = []
        for part in parts:
            try:
                frames.append(pd.read_csv(part))
            except pd.errors.EmptyDataError:  # a part without rows (or columns) of this table
                continue
        write_csv_atomic(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), path)
    log.info("gathered %d parts into %s", len(parts), ", ".join(job.output))
