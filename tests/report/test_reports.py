"""The real report sources on crafted exports: complete inputs, absent inputs, Dutch edition,
and checks a reader would make (browser loads every figure, no PDF page is blank)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from browser import check_page, chromium
from conftest import render_report
from PIL import Image, ImageStat

from inburgering.report.inputs import CONTRACT
from inburgering.report.translate import TABLE

needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium not installed (apt-get install chromium)"
)
needs_pdftoppm = pytest.mark.skipif(
    shutil.which("pdftoppm") is None,
    reason="pdftoppm not installed (apt-get install poppler-utils)",
)
NOT_RUN = "Not run in this configuration"


def test_full_export_renders_every_section(full_main):
    html = full_main[0].read_text(encoding="utf-8")
    assert NOT_RUN not in html
    for label in (
        "fig-reform",
        "fig-event",
        "fig-verdict",
        "fig-trends",
        "tbl-primary",
        "fig-route-start",
        "fig-pip",
        "fig-love",
        "fig-overlap",
        "fig-honestdid",
        "tbl-inference",
        "tbl-bundle-rotterdam-assessment-in-intake-intensified-intake",
        "fig-bundle-rotterdam-assessment-in-intake-intensified-intake",
    ):
        assert f'id="{label}"' in html, label
    assert 'src="http' not in html and "??" not in html
    assert "assessment in the intake + intensified intake" in html
    # The bundle's own pre-trend tests and HonestDiD breakdown, next to its event study.
    assert "p = 0.330" in html and "M̄ = 1.25" in html and "not flagged fragile" in html


def test_minimal_export_says_what_was_not_run(minimal_export, tmp_path):
    html = render_report(minimal_export, tmp_path, "main")[0].read_text(encoding="utf-8")
    assert html.count(NOT_RUN) >= 8
    assert "route start survival" in html and 'id="tbl-reform"' in html
    assert "route_start_survival.csv" not in html  # no file names in prose


@pytest.mark.parametrize("document", ["appendix-methods", "appendix-reproducibility"])
def test_appendices_render_with_and_without_inputs(document, full_export, minimal_export, tmp_path):
    full = render_report(full_export, tmp_path / "full", document)[0].read_text()
    assert NOT_RUN not in full
    bare = render_report(minimal_export, tmp_path / "bare", document)[0].read_text()
    assert NOT_RUN in bare


def test_methods_appendix_without_monte_carlo_says_how_to_run_it(full_export, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(full_export, export)
    (export / "monte_carlo.csv").unlink()
    html = render_report(export, tmp_path / "out", "appendix-methods")[0].read_text()
    assert "monte carlo" in html and "runs outside the workflow" in html
    assert "make montecarlo" not in html  # no commands in prose
    full = render_report(full_export, tmp_path / "full", "appendix-methods")[0].read_text()
    assert "runs outside the workflow" not in full


def test_dutch_city_edition(full_export, tmp_path):
    html = render_report(full_export, tmp_path, "city", "nl", "rotterdam")[0].read_text()
    assert "Rotterdam: relatieve effectiviteit van het inburgeringsbeleid" in html
    for dutch in ("Samenvatting", "Figuur\u00a0", "procentpunt", "Inhoud", "Vergeleken met"):
        assert dutch in html, dutch
    assert "Executive summary" not in html
    caption = re.search(r"Event studies van de wet[^<]*?: ([^.]*)\.", html)
    assert caption.group(1) == "Rotterdam"  # its own city only
    assert 'id="fig-bundle-rotterdam-assessment-in-intake-intensified-intake"' in html
    assert "assessment in de intake + intensieve intake" in html


def test_translation_table_has_the_same_keys_in_every_language():
    table = yaml.safe_load(TABLE.read_text(encoding="utf-8"))

    def keys(node, prefix=""):
        if not isinstance(node, dict):
            return {prefix}
        return set().union(*(keys(v, f"{prefix}/{k}") for k, v in node.items()))

    assert keys(table["en"]) == keys(table["nl"])


def test_contract_is_documented():
    doc = (TABLE.parents[3] / "docs" / "report-inputs.md").read_text(encoding="utf-8")
    for item in CONTRACT:
        assert f"`{item.name}`" in doc, item.name
        for column in item.columns:
            assert column in doc, f"{item.name}: {column}"


@needs_chromium
def test_html_loads_in_a_browser_with_every_figure(full_main, tmp_path):
    check = check_page(full_main[0], tmp_path / "screen.png")
    assert check.title.startswith("Relative effectiveness")
    assert len(check.images) >= 10
    assert [i for i in check.images if not i["complete"] or i["width"] == 0] == []
    assert check.errors == []


@needs_pdftoppm
def test_no_pdf_page_is_blank(full_main, tmp_path):
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(full_main[1]), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    assert len(pages) >= 5
    for page in pages:
        spread = ImageStat.Stat(Image.open(page).convert("L")).stddev[0]
        assert spread > 5, f"{page.name} looks blank (grey-level spread {spread:.1f})"


def test_missing_interval_is_a_dash_unless_the_row_was_withheld():
    from inburgering.report.tables import estimate_cells
    from inburgering.report.translate import Translator

    t = Translator("en")
    base = {"estimate": 0.08, "ci_low": float("nan"), "ci_high": float("nan")}
    row = pd.Series({**base, "n_treated": 1215, "n_control": 15408, "suppressed": False})
    assert estimate_cells(t, row)[1] == "–"  # wild bootstrap: p-value only
    withheld = row.copy()
    withheld["estimate"], withheld["suppressed"] = float("nan"), True
    assert estimate_cells(t, withheld)[:2] == [t("suppressed")] * 2
