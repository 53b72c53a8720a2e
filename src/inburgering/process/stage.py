"""Snakemake entry point of the process design."""

from __future__ import annotations

import pandas as pd

from inburgering.io import atomic_path
from inburgering.process.indicators import (
    composition,
    indicator_rows,
    route_mix,
    route_start_survival,
)
from inburgering.tidy import write_tidy
from inburgering.workflow import RuleJob


def _write_csv(frame: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")


def run(job: RuleJob) -> None:
    persons = pd.read_parquet(job.input["persons"])
    data_end = pd.Period(job.params["data_end"], "M").end_time.normalize()
    alpha = job.params["alpha"]
    write_tidy(indicator_rows(persons, data_end, alpha), job.output["estimates"])
    _write_csv(composition(persons), job.output["composition"])
    _write_csv(route_mix(persons), job.output["route_mix"])
    _write_csv(route_start_survival(persons, data_end, alpha), job.output["survival"])
