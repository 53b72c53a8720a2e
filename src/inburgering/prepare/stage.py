"""Snakemake entry point of the prepare stage."""

from __future__ import annotations

import pandas as pd

from inburgering.cbs import Catalogue
from inburgering.config import load_catalogue, load_policies
from inburgering.io import atomic_path
from inburgering.prepare.tables import build_outcomes, build_persons
from inburgering.workflow import RuleJob


def run(job: RuleJob) -> None:
    data = job.params["data"]
    prepare = job.params["prepare"]
    catalogue = Catalogue(load_catalogue(job.input["catalogue"]), data["root"], data["formats"])
    policies = load_policies(job.input["policies"])
    cities = {city: spec["code"] for city, spec in policies["municipalities"].items()}
    persons, flow = build_persons(
        catalogue, cities, prepare["reform_date"], prepare["uncertain_regime_until"]
    )
    data_end = pd.Period(data["end"], "M").end_time.normalize()
    outcomes = build_outcomes(catalogue, persons, prepare["horizons"], data_end)
    for name, frame in (("persons", persons), ("outcomes", outcomes)):
        with atomic_path(job.output[name]) as tmp:
            frame.to_parquet(tmp, index=False)
    with atomic_path(job.output["sample_flow"]) as tmp:
        flow.to_csv(tmp, index=False)
