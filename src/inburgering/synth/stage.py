"""Snakemake entry point of the synth stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inburgering.calendar import PolicyCalendar
from inburgering.cbs.catalogue import Catalogue
from inburgering.config import load_catalogue, load_policies
from inburgering.synth.generate import generate
from inburgering.synth.params import SynthParameters
from inburgering.synth.truth import CityMatchingContrasts
from inburgering.workflow import RuleJob

# Keys of the config's synth section that are not generator parameters.
NOT_PARAMETERS = frozenset({"format", "parameters"})


def parameters_from_config(
    synth: dict[str, Any], data_end: str, prepare: dict[str, Any]
) -> SynthParameters:
    """Generator parameters: the synth section (plus its `parameters` overrides) and shared keys."""
    values = {k: v for k, v in synth.items() if k not in NOT_PARAMETERS}
    values.update(synth.get("parameters") or {})
    values.update(
        data_end=data_end,
        reform_date=str(prepare["reform_date"]),
        uncertain_until=str(prepare["uncertain_regime_until"]),
        horizons=prepare["horizons"],
    )
    return SynthParameters.from_mapping(values)


def run(job: RuleJob) -> None:
    synth = job.params["synth"]
    catalogue = Catalogue(
        load_catalogue(job.input["catalogue"]), job.output["microdata"], [synth["format"]]
    )
    params = parameters_from_config(synth, job.params["data_end"], job.params["prepare"])
    calendar = PolicyCalendar.from_policies(load_policies(job.input["policies"]))
    generate(
        params,
        catalogue,
        Path(job.output["truth"]).parents[1],
        synth["format"],
        calendar,
        CityMatchingContrasts.from_config(job.params["city_matching"]),
        threads=job.threads,
    )
