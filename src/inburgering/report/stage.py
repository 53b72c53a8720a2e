"""Snakemake entry point of the report stage: render reports from results/export/ only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from inburgering.report.context import G4
from inburgering.report.render import render
from inburgering.report.translate import Translator
from inburgering.workflow import RuleJob


def report_metadata(document: str, language: str, city: str = "") -> dict[str, Any]:
    """Title and localisation of one edition (front-matter overrides, as ``quarto -M``)."""
    t = Translator(language)
    return {
        **t.quarto_metadata(),
        "title": t.title(document, city=t.label("city", city)),
        "subtitle": t.title("subtitle"),
    }


def report_params(export_dir: Path, settings: dict, city: str) -> dict[str, Any]:
    """Cell parameters (figures go to the sources' own ``figure_dir`` default, a folder below
    the staged sources, see render.py)."""
    return {
        "export_dir": str(export_dir.resolve()),
        "language": settings["language"],
        "city": city,
        "route_mix_reference": settings.get("route_mix_reference", {}),
    }


def run(job: RuleJob) -> None:
    """Render one report (main, a city, an appendix) to every configured format."""
    settings = dict(job.params["report"])
    city = str(job.params.get("city", ""))
    if city and city not in G4:
        raise ValueError(f"report city {city!r} is not a G4 city {G4}")
    outputs = [Path(path) for path in job.output.values()]
    work_dir = outputs[0].parent / f".{outputs[0].stem}_files"
    params = report_params(Path(job.input["manifest"]).parent, settings, city)
    metadata = report_metadata(str(job.params["document"]), settings["language"], city)
    render(Path(job.input["source"]), outputs, params, work_dir, metadata)
    shutil.rmtree(work_dir)  # no render folders left beside the reports
