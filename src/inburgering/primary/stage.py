"""Rule verdict: the primary family's verdict table from the reform design's outputs."""

from __future__ import annotations

import logging

import pandas as pd

from inburgering.calendar import load_calendar
from inburgering.contracts.tidy import read_tidy
from inburgering.io import write_csv_atomic
from inburgering.primary.verdict import control_means, primary_hash, verdict_table
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


def run(job: RuleJob) -> None:
    """Rule verdict: estimates, pre-trend tests, HonestDiD and randomization-inference rows
    and the raw outcome trends (control means) -> verdict.csv."""
    primary = job.params["primary"]
    reform_year = int(load_calendar(job.input["policies"]).reform_date[:4])
    trends = pd.read_csv(job.input["outcome_trends"], dtype={"cohort": str})
    table = verdict_table(
        read_tidy(job.input["estimates"]),
        pd.read_csv(job.input["pretrends"]),
        pd.read_csv(job.input["honestdid"]),
        primary,
        inference=pd.read_csv(job.input["inference"]),
        controls=control_means(trends, reform_year),
    )
    for row in table.itertuples():
        log.info(
            "verdict %s vs %s, %s at %d months: %s (%s)",
            row.city, row.comparison, row.outcome, row.horizon, row.verdict, row.reason,
        )  # fmt: skip
    log.info("primary analysis hash %s", primary_hash(primary))
    write_csv_atomic(table, job.output["verdict"])
