"""Gathering the tidy estimate rows of every design into one table."""

from __future__ import annotations

import logging

import pandas as pd

from inburgering.tidy import read_tidy, tidy_frame, write_tidy
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


def gather(job: RuleJob) -> None:
    frames = [read_tidy(path) for path in job.input.values()]
    combined = tidy_frame(pd.concat(frames, ignore_index=True))
    log.info("gathered %d estimate rows from %d designs", len(combined), len(frames))
    write_tidy(combined, job.output["estimates"])
