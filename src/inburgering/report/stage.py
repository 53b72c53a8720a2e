"""Snakemake entry point of the report stage: render reports from results/export/ only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering.report.context import G4
from inburgering.report.inputs import Exports
from inburgering.report.render import render
from inburgering.report.translate import Translator
from inburgering.workflow import RuleJob


def report_metadata(
    document: str, language: str, city: str = "", synthetic: bool = False
) -> dict[str, Any]:
    """Title and localisation of one edition (front-matter overrides, as ``quarto -M``); a
    report of a synthetic run is marked on every PDF page and at the top of the HTML view."""
    t = Translator(language)
    metadata = {
        **t.quarto_metadata(),
        "title": t.title(document, city=t.label("city", city)),
        "subtitle": t.title("subtitle"),
    }
    if synthetic:
        metadata["header-includes"] = synthetic_marks(t("synthetic_mark"))
    return metadata


def synthetic_marks(mark: str) -> list[str]:
    """Raw Typst (a page header) and raw HTML (a fixed banner) saying the data are synthetic."""
    colour = "#D55E00"
    typst = (
        f'#set page(header: align(right, text(size: 8pt, weight: "bold", '
        f'fill: rgb("{colour}"))[{mark}]))'
    )
    html = (
        f'<div class="synthetic-mark" style="position: fixed; top: 0; right: 0; z-index: 10; '
        f"background: white; color: {colour}; border: 1px solid {colour}; padding: 2px 6px; "
        f'font: bold 12px sans-serif;">{mark}</div>'
    )
    # Inline raw (`...`{=format}): a fenced block in metadata would print as code.
    return [f"`{typst}`{{=typst}}", f"`{html}`{{=html}}"]


def is_synthetic(export_dir: Path) -> bool:
    provenance = Exports(export_dir).provenance()
    return provenance is not None and provenance.get("data_source") == "synthetic"


def report_params(
    export_dir: Path, settings: dict, city: str, focal_city: str, reform_date: str
) -> dict[str, Any]:
    """Cell parameters (figures go to the sources' own ``figure_dir`` default, a folder below
    the staged sources, see render.py). The focal city and the reform date come from the
    configuration (primary.city, prepare.reform_date), the reform as its cohort quarter."""
    return {
        "export_dir": str(export_dir.resolve()),
        "language": settings["language"],
        "city": city,
        "focal_city": focal_city,
        "reform_quarter": str(pd.Period(pd.Timestamp(reform_date), freq="Q")),
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
    export_dir = Path(job.input["manifest"]).parent
    params = report_params(
        export_dir,
        settings,
        city,
        focal_city=str(job.params["focal_city"]),
        reform_date=str(job.params["reform_date"]),
    )
    synthetic = is_synthetic(export_dir)
    metadata = report_metadata(str(job.params["document"]), settings["language"], city, synthetic)
    render(Path(job.input["source"]), outputs, params, work_dir, metadata)
    shutil.rmtree(work_dir)  # no render folders left beside the reports
