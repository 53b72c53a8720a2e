"""Report fixtures: crafted exports rendered once per session (keeps the suite fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from export_fixtures import write_full_export, write_minimal_export

from inburgering.config import load_config
from inburgering.report.render import render
from inburgering.report.stage import is_synthetic, report_metadata, report_params

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
# What the render rules pass: the default configuration's focal city and reform date.
DEFAULT_CONFIG = load_config(REPO / "config" / "config.yaml")
FOCAL_CITY = DEFAULT_CONFIG["primary"]["city"]
REFORM_DATE = str(DEFAULT_CONFIG["prepare"]["reform_date"])
REFERENCE = {"national_expected": {"b1": 0.83, "onderwijs": 0.14, "z": 0.03}}


def render_report(
    export: Path,
    out: Path,
    document: str,
    language: str = "en",
    city: str = "",
    formats: tuple[str, ...] = ("html",),
    renderer: str = "builtin",
) -> list[Path]:
    """Render one report; the built-in renderer unless told (test_quarto.py uses the CLI)."""
    name = f"{document}_{city}_{language}" if city else f"{document}_{language}"
    outputs = [out / f"{name}.{fmt}" for fmt in formats]
    work = out / f".{name}_files"
    settings = {"language": language, "route_mix_reference": REFERENCE}
    params = report_params(export, settings, city, FOCAL_CITY, REFORM_DATE)
    source = REPORTS / f"{document}.qmd"
    render(
        source,
        outputs,
        params,
        work,
        report_metadata(document, language, city, is_synthetic(export)),
        renderer,
    )
    return outputs


@pytest.fixture(scope="session")
def full_export(tmp_path_factory) -> Path:
    return write_full_export(tmp_path_factory.mktemp("full") / "export")


@pytest.fixture(scope="session")
def minimal_export(tmp_path_factory) -> Path:
    return write_minimal_export(tmp_path_factory.mktemp("minimal") / "export")


@pytest.fixture(scope="session")
def full_main(full_export, tmp_path_factory) -> list[Path]:
    """Main report on the full crafted export, HTML and PDF."""
    out = tmp_path_factory.mktemp("full_main")
    return render_report(full_export, out, "main", formats=("html", "pdf"))
