"""Snakemake entry point of the report stage: render reports from results/export/ only."""

from __future__ import annotations

from pathlib import Path

from inburgering.report.render import render
from inburgering.workflow import RuleJob


def run(job: RuleJob) -> None:
    output = Path(job.output["html"])
    params = {"export_dir": str(Path(job.input["manifest"]).parent), **job.params["report"]}
    render(Path(job.input["source"]), output, params, output.parent / f".{output.stem}_files")
