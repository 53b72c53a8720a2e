"""Snakemake entry point of the process design (the G4 cities from the policy calendar)."""

from __future__ import annotations

import pandas as pd

from inburgering.calendar import load_calendar
from inburgering.contracts.tidy import write_tidy
from inburgering.io import write_csv_atomic
from inburgering.process.indicators import (
    composition,
    indicator_rows,
    outcome_trends,
    route_mix,
    route_start_survival,
)
from inburgering.workflow import RuleJob


def run(job: RuleJob) -> None:
    persons = pd.read_parquet(job.input["persons"])
    data_end = pd.Period(job.params["data_end"], "M").end_time.normalize()
    alpha = job.params["alpha"]
    cities = load_calendar(job.input["policies"]).cities
    write_tidy(indicator_rows(persons, cities, data_end, alpha), job.output["estimates"])
    write_csv_atomic(composition(persons, cities), job.output["composition"])
    write_csv_atomic(route_mix(persons, cities), job.output["route_mix"])
    survival = route_start_survival(persons, cities, data_end, alpha)
    write_csv_atomic(survival, job.output["survival"])
    outcomes = pd.read_parquet(job.input["outcomes"])
    write_csv_atomic(outcome_trends(persons, outcomes, cities), job.output["outcome_trends"])
