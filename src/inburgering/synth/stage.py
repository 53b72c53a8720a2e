"""Snakemake entry point of the synth stage."""

from __future__ import annotations

from pathlib import Path

from inburgering.cbs.catalogue import Catalogue
from inburgering.config import load_catalogue
from inburgering.synth.generate import SynthParameters, generate
from inburgering.workflow import RuleJob


def parameters_from_config(
    synth: dict, data_end: str, reform_date: str, horizons: list[int]
) -> SynthParameters:
    return SynthParameters(
        persons=synth["persons"],
        seed=synth["seed"],
        first_cohort=synth["first_cohort"],
        last_cohort=synth["last_cohort"],
        data_end=data_end,
        reform_date=reform_date,
        horizons=tuple(horizons),
    )


def run(job: RuleJob) -> None:
    synth = job.params["synth"]
    catalogue = Catalogue(
        load_catalogue(job.input["catalogue"]), job.output["microdata"], [synth["format"]]
    )
    params = parameters_from_config(
        synth, job.params["data_end"], job.params["reform_date"], job.params["horizons"]
    )
    generate(params, catalogue, Path(job.output["truth"]).parents[1], synth["format"])
