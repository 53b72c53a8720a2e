"""Snakemake entry point of the process design."""

from __future__ import annotations

import pandas as pd

from inburgering.io import write_csv_atomic
from inburgering.process.indicators import (
    composition,
    indicator_rows,
    outcome_trends,
    route_mix,
    route_start_survival,
)
from inburgering.tidy import write_tidy
from inburgering.workflow import RuleJob


def run(job: RuleJob) -> None:
    persons = pd.read_parquet(job.input["persons"])
    data_end = pd.Period(job.params["data_end"], "M").end_time.normalize()
    alpha = job.params["alpha"]
    write_tidy(indicator_rows(persons, data_end, alpha), job.output["estimates"])
    write_csv_atomic(composition(persons), job.output["composition"])
    write_csv_atomic(route_mix(persons), job.output["route_mix"])
    write_csv_atomic(route_start_survival(persons, data_end, alpha), job.output["survival"])
    outcomes = pd.read_parquet(job.input["outcomes"])
    write_csv_atomic(outcome_trends(persons, outcomes), job.output["outcome_trends"])
