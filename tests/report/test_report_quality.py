"""What a demanding reader checks: the verdict up front, page count, figure size, suppressed
cells never shown as zero, no code or paths in prose, captions beside their floats, and both
editions (issue #17). Rendered with the built-in renderer; test_quarto.py renders with Quarto."""

from __future__ import annotations

import html as html_module
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import render_report
from export_fixtures import verdict_table
from PIL import Image

from inburgering.report import style

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils not installed (pdftotext)"
)
MAX_PAGES = 20
MAX_FIGURE_BYTES = 250_000
MAX_HTML_BYTES = 2_000_000
# The widest figure is the printed text width at the saved resolution (plus a tight-bbox margin).
MAX_FIGURE_WIDTH = int(style.FULL_WIDTH * style.DPI * 1.12)
MAX_FIGURE_HEIGHT = int(9.0 * style.DPI)  # at most a page of A4 text height
# What must never appear in the prose of a report: export paths, commands, raw codes.
RAW = re.compile(
    r"results/|make \w|\.csv\b|\bMbar\b|\b[a-z]+_vs_[a-z0-9_]+\b|cohort_\d{4}Q\d|"
    r"nearest_\dto\d|gate_dr|\b(?:rest_nl|den_haag|reform_did|city_matching)\b|"
    r"\{=\w+\}|#set page"
)


def visible_text(page: str) -> str:
    """The text a reader sees: no tags, scripts, styles or embedded images."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    page = re.sub(r"<[^>]+>", " ", page)
    return html_module.unescape(page)


def section(page: str, start: str, end: str) -> str:
    """The visible text between two section anchors (``id="sec-..."``)."""
    body = page[page.index(f'id="sec-{start}"') :]
    return visible_text(body[: body.index(f'id="sec-{end}"')])


def pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]


def figures(html: Path) -> list[Path]:
    return sorted((html.parent / f".{html.stem}_files" / "source" / "_figures").rglob("*.png"))


def test_executive_summary_leads_with_the_verdict(full_main):
    summary = section(full_main[0].read_text(encoding="utf-8"), "summary", "data")
    for comparison in ("Amsterdam", "Den Haag", "Utrecht", "rest of the Netherlands"):
        assert f"Compared with {comparison}:" in summary, comparison
    assert "Rotterdam was more effective in participation at 12 months" in summary
    assert "Rotterdam was less effective in employed at 24 months" in summary
    assert "the pre-reform trends already differed" in summary
    assert ". No distinguishable difference in" in summary and ". no " not in summary
    assert 'id="fig-verdict"' in full_main[0].read_text(encoding="utf-8")


def test_the_report_says_what_was_not_estimated_and_why(full_main):
    page = section(full_main[0].read_text(encoding="utf-8"), "limitations", "references")
    assert "What was not estimated." in page
    assert "DiD estimator not estimable" in page and "no eligible adoption cohort" in page
    # Cells per design and reason: two reform_did contrasts, one instrument.
    assert re.search(r"reform DiD\s+DiD estimator not estimable\s+2", page), page


def test_without_verdict_the_report_says_the_primary_analysis_was_not_run(minimal_export, tmp_path):
    page = render_report(minimal_export, tmp_path, "main")[0].read_text()
    assert "The primary analysis was not run" in section(page, "summary", "data")


def test_primary_table_has_comparisons_as_columns_and_withheld_rows_suppressed(full_main):
    page = full_main[0].read_text(encoding="utf-8")
    table = page[page.index('id="tbl-primary"') :]
    table = visible_text(table[: table.index("</table>")])
    for header in ("Amsterdam", "Den Haag", "Utrecht", "rest of the Netherlands"):
        assert header in table
    for statistic in ("Honest SE (pp)", "Adjusted p (Holm)", "Pre-trend p", "MDE (pp)"):
        assert statistic in table
    # Utrecht x employed x 12 months has no estimate in the fixture: suppressed, not 0.
    block = table[table.index("employed at 12 months") : table.index("employed at 24 months")]
    assert "suppressed" in block
    suppressed = verdict_table()["estimate"].isna().sum()
    assert suppressed == 1


@needs_poppler
def test_main_pdf_is_at_most_20_pages_and_page_1_is_the_summary(full_main):
    pages = pdf_pages(full_main[1])
    assert len(pages) <= MAX_PAGES, f"{len(pages)} pages"
    assert "Executive summary" in pages[0] and "Compared with Amsterdam" in pages[0]
    assert all("SYNTHETIC DATA" in page for page in pages)  # a synthetic run, every page


def image_pages(pdf: Path) -> set[int]:
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    return {int(line.split()[0]) for line in listing if line.strip()}


def pdf_lines(pdf: Path) -> list[list[tuple[float, float, str]]]:
    """Per page, the body's text lines as (top, bottom, text), top to bottom (``pdftotext
    -bbox-layout``); the running synthetic mark and page numbers left out."""
    layout = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in re.findall(r"<page .*?</page>", layout, flags=re.DOTALL):
        lines = []
        for top, bottom, body in re.findall(
            r'<line xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</line>',
            page,
            flags=re.DOTALL,
        ):
            text = " ".join(re.findall(r"<word [^>]*>(.*?)</word>", body))
            if not re.fullmatch(r"\d+|SYNTHETIC DATA", text):
                lines.append((float(top), float(bottom), html_module.unescape(text)))
        pages.append(sorted(lines))
    return pages


# A figure caption sits below its image: the body text above it on its page ends at least this
# far above it (the image is in between). A table caption sits above its table: its first row
# starts within this distance below.
MIN_FIGURE_GAP_PT = 40.0
MAX_TABLE_GAP_PT = 30.0
PAGE_TOP_PT = 50.0  # below the running synthetic mark: where a page's body starts


def caption_problems(pages: list[list[tuple[float, float, str]]]) -> list[str]:
    """Captions separated from their float: a figure caption with no room for an image above
    it on its page (at the top of the page, or text right above), a table caption with no
    table right below it (last line of its page, or a gap)."""
    problems = []
    for number, lines in enumerate(pages, start=1):
        for i, (top, bottom, text) in enumerate(lines):
            if re.match(r"Figure \d+:", text):
                ceiling = max((b for _, b, _ in lines[:i] if b <= top), default=PAGE_TOP_PT)
                if top - ceiling < MIN_FIGURE_GAP_PT:
                    problems.append(f"page {number}: {text[:40]!r} without its figure above")
            if re.match(r"Table \d+:", text):
                below = [t for t, _, _ in lines[i + 1 :] if t >= bottom]
                if not below or min(below) - bottom > MAX_TABLE_GAP_PT:
                    problems.append(f"page {number}: {text[:40]!r} without its table below")
    return problems


@needs_poppler
def test_every_caption_is_on_the_page_of_its_float(full_main):
    """Every figure caption has its image above it on its page and every table caption its
    table right below it (Typst: figure captions below, table captions above)."""
    pages = pdf_lines(full_main[1])
    assert all(pages), "a page without body text"
    assert caption_problems(pages) == []


def test_caption_check_catches_a_caption_moved_off_its_float():
    """The check itself: a figure caption at the top of the next page, a table caption
    ending a page, both found; a caption under an image, a table under its caption, not."""
    good = [[(100.0, 110.0, "Some text."), (300.0, 311.0, "Figure 1: A chart."),
             (330.0, 341.0, "Table 1: Numbers."), (345.0, 356.0, "Step Persons")]]  # fmt: skip
    assert caption_problems(good) == []
    orphaned = [[(100.0, 110.0, "Text."), (700.0, 711.0, "Table 2: Numbers.")],
                [(60.0, 71.0, "Figure 2: A chart."), (200.0, 211.0, "More text.")]]  # fmt: skip
    found = caption_problems(orphaned)
    assert any("Table 2" in p for p in found) and any("Figure 2" in p for p in found)


def test_figures_are_legible_and_small(full_main):
    paths = figures(full_main[0])
    assert len(paths) >= 8
    for path in paths:
        width, height = Image.open(path).size
        assert path.stat().st_size <= MAX_FIGURE_BYTES, f"{path.name}: {path.stat().st_size:,} B"
        assert width <= MAX_FIGURE_WIDTH and height <= MAX_FIGURE_HEIGHT, (path.name, width, height)
    assert full_main[0].stat().st_size <= MAX_HTML_BYTES


def test_love_plot_shows_at_most_20_covariates_by_readable_name(full_main, full_export, tmp_path):
    page = visible_text(full_main[0].read_text(encoding="utf-8"))
    assert "the 20 worst-balanced of 29 covariates, worst first" in page
    appendix = visible_text(
        render_report(full_export, tmp_path, "appendix-methods")[0].read_text(encoding="utf-8")
    )
    assert "cohort: 2024Q4" in appendix and "cohort_2024Q4" not in appendix


def test_withheld_composition_cells_are_never_zero(full_main):
    page = full_main[0].read_text(encoding="utf-8")
    table = page[page.index('id="tbl-composition"') :]
    table = visible_text(table[: table.index("</table>")])
    utrecht = [line for line in table.splitlines() if line.strip()]
    assert "suppressed" in table  # "overig" in Utrecht: every cell withheld
    assert "≥ 240" in table  # Utrecht statushouders: 3 of 4 cohort cells published, a lower bound
    assert not any(re.fullmatch(r"0", cell.strip()) for cell in utrecht)


def test_no_code_or_paths_in_the_prose(full_main, full_export, tmp_path):
    city = render_report(full_export, tmp_path, "city", "en", "utrecht")[0]
    for path in (full_main[0], city):
        text = visible_text(path.read_text(encoding="utf-8"))
        found = sorted(set(RAW.findall(text)))
        assert found == [], f"{path.name}: {found}"
        assert 'class="synthetic-mark"' in path.read_text(encoding="utf-8")


def test_city_report_contains_only_its_own_material(full_export, tmp_path):
    page = render_report(full_export, tmp_path, "city", "en", "utrecht")[0].read_text()
    text = visible_text(page)
    assert "Compared with Utrecht:" in text and "Compared with Amsterdam:" not in text
    assert "per G4 city" not in text
    assert "Z-route vs B1-route" not in text  # pooled route matching: the main report


def test_dutch_edition_uses_semicolons_in_intervals_and_cbs_terms(full_export, tmp_path):
    page = render_report(full_export, tmp_path, "main", "nl")[0].read_text(encoding="utf-8")
    text = visible_text(page)
    assert re.search(r"\[−?\d+,\d; −?\d+,\d\]", text)
    assert not re.search(r"\[−?\d+,\d, −?\d+,\d\]", text)
    assert "outputcontrole" in text and "onthulling" not in text
    for english in ("Executive summary", "Compared with", "Primary analysis", "suppressed"):
        assert english not in text, english


def test_rounded_zero_has_no_sign():
    from inburgering.report.translate import Translator

    assert Translator("en").number(-0.04, 1, sign=True) == "0.0"
    assert Translator("nl").number(-0.04, 1) == "0,0"
    assert Translator("en").number(-0.06, 1) == "\u22120.1"


def test_verdict_fixture_follows_the_contract():
    from inburgering.report.inputs import VERDICT_EXPORT_COLUMNS

    frame = verdict_table()
    assert tuple(frame.columns) == VERDICT_EXPORT_COLUMNS
    assert set(frame["verdict"]) == {
        "more_effective",
        "less_effective",
        "no_distinguishable_difference",
        "not_assessable",
    }
    assert pd.api.types.is_numeric_dtype(frame["horizon"])


def test_validation_shows_truth_beside_headline_and_na_without_interval(full_export, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(full_export, export)
    frame = pd.read_csv(export / "validation.csv")
    frame.loc[frame["design"] == "heterogeneity", ["ci_low", "ci_high"]] = None
    frame.to_csv(export / "validation.csv", index=False)
    page = render_report(export, tmp_path / "out", "appendix-methods")[0].read_text()
    table = page[page.index('id="tbl-validation"') :]
    table = visible_text(table[: table.index("</table>")])
    heterogeneity = table.split("heterogeneity")[1].split("instrument DiD")[0]
    assert "n/a" in heterogeneity and "0%" not in heterogeneity
    assert 'id="tbl-headline-truth"' in page and "Truth (pp)" in page
