"""Table 1, the paper-format primary table, labelled sample-flow steps and figure text without
raw identifiers (issue #17), in both editions."""

from __future__ import annotations

import re
import shutil
from importlib.resources import files
from pathlib import Path

import matplotlib.text
import pytest
import yaml
from conftest import render_report
from export_fixtures import descriptives_table
from test_report_quality import RAW, visible_text

from inburgering.config import load_catalogue
from inburgering.prepare.flow import STEPS
from inburgering.report import style

# A code as the data write it (snake_case), which a reader should never see in a figure.
SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")


def _table(page: str, label: str) -> str:
    table = page[page.index(f'id="{label}"') :]
    return visible_text(table[: table.index("</table>")])


def _cells(table: str) -> list[str]:
    return [line.strip() for line in table.splitlines() if line.strip()]


def test_table_one_shows_shares_per_city_and_withheld_cells_as_suppressed(full_main):
    page = full_main[0].read_text(encoding="utf-8")
    cells = _cells(_table(page, "tbl-descriptives"))
    assert "rest of the Netherlands" in cells and "Persons" in cells
    frame = descriptives_table().set_index(["city", "variable", "level"])["n"]
    women = frame[("rotterdam", "female", "true")] / frame[("rotterdam", "female", "all")]
    assert f"{100 * women:.1f}%" in cells
    # Utrecht's withheld age cells: "suppressed", never a 0 % share.
    row = cells[cells.index("Age: ≥ 45") : cells.index("Age: ≥ 45") + 6]
    assert row[4] == "suppressed" and "0.0%" not in row
    assert "Origin region: unknown" in cells and "Origin region: Syria" in cells


def test_city_report_table_one_has_its_city_and_the_rest_of_the_netherlands(full_export, tmp_path):
    page = render_report(full_export, tmp_path, "city", "nl", "utrecht")[0].read_text("utf-8")
    cells = _cells(_table(page, "tbl-descriptives"))
    assert "Utrecht" in cells and "rest van Nederland" in cells and "Amsterdam" not in cells
    assert "onderdrukt" in cells and "Herkomstregio: onbekend" in cells


def test_primary_table_carries_ri_p_control_mean_and_municipalities(full_main):
    cells = _cells(_table(full_main[0].read_text(encoding="utf-8"), "tbl-primary"))
    at = cells.index("Randomization p")
    # The first block (employment, 12 months): Utrecht's row withheld, RI for the rest of NL only.
    assert cells[at + 1 : at + 5] == ["–", "–", "suppressed", "0.075"]
    at = cells.index("Municipalities (Rotterdam / comparison)")
    assert cells[at + 1 : at + 5] == ["1 / 1", "1 / 1", "1 / 1", "1 / 339"]
    at = cells.index("Comparison mean after the reform (%)")
    assert cells[at + 1] == "31.0"


def test_every_sample_flow_step_has_a_label_in_both_editions():
    table = yaml.safe_load((files("inburgering.report") / "translations.yaml").read_text("utf-8"))
    catalogue = load_catalogue(Path(__file__).parents[2] / "config" / "catalogue.yaml")
    resident = catalogue["codes"]["person_type_resident"]
    steps = {step.format(resident=resident) for step in STEPS.values()}
    for language in ("en", "nl"):
        assert steps <= set(table[language]["labels"]["step"]), language


def test_sample_flow_steps_are_labelled_in_the_report(full_export, tmp_path):
    page = render_report(full_export, tmp_path, "main", "nl")[0].read_text("utf-8")
    flow = _table(page, "tbl-sample-flow")
    assert "inburgeringsplichtigen in het SWI-basisbestand" in flow
    assert STEPS["obligated"] not in flow


@pytest.mark.parametrize(
    ("document", "language", "city"),
    [("main", "en", ""), ("city", "nl", "utrecht"), ("appendix-methods", "nl", "")],
)
def test_no_raw_identifier_in_any_figure_text(
    full_export, tmp_path, monkeypatch, document, language, city
):
    """Every text drawn in a figure (titles, axes, ticks, legends) goes through the labels."""
    drawn: dict[str, list[str]] = {}
    save = style.save

    def recording_save(fig, path):
        fig.canvas.draw()  # tick labels exist only once drawn
        drawn[path.name] = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        return save(fig, path)

    monkeypatch.setattr(style, "save", recording_save)
    render_report(full_export, tmp_path, document, language, city)
    assert len(drawn) >= (1 if document.startswith("appendix") else 3)
    for name, texts in drawn.items():
        text = "\n".join(texts)
        found = sorted({*RAW.findall(text), *SNAKE.findall(text)})
        assert found == [], f"{name}: {found}"


def test_descriptives_levels_are_labelled(full_main):
    """No data code of Table 1 reaches the page (origin and group codes included)."""
    table = _table(full_main[0].read_text(encoding="utf-8"), "tbl-descriptives")
    assert SNAKE.findall(table) == [] and not re.search(r"\b(true|false|missing)\b", table)


def test_methods_appendix_shows_the_primary_monte_carlo_compactly(full_export, tmp_path):
    """One row per engine and size x world x shock scale, each statistic over the family's rows
    as mean (lowest-highest row): a table a reader can take in, not one line per primary row."""
    page = render_report(full_export, tmp_path, "appendix-methods")[0].read_text("utf-8")
    table = _table(page, "tbl-mc-primary")
    cells = _cells(table)
    assert "the design simulator, 40,000" in cells
    worlds = [c for c in cells if c.startswith(("planted effects", "equal effects"))]
    assert worlds == [
        "planted effects × 1",
        "planted effects × 2",
        "equal effects × 1",
        "equal effects × 2",
    ]
    at = cells.index("equal effects × 2")
    # world, seeds, honest coverage, persons-only coverage, max |bias|, SE / SD, not assessable,
    # family-wise false
    assert cells[at + 1 : at + 4] == ["30", "95% (93%–97%)", "70% (70%–70%)"]
    assert cells[at + 7] == "3%"
    # The other Monte Carlo table names its shock scale.
    shocks = _cells(_table(page, "tbl-monte-carlo"))
    assert "Shocks" in shocks and "× 2" in shocks and "× 0" in shocks


def test_methods_appendix_without_the_primary_monte_carlo_says_so(full_export, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(full_export, export)
    (export / "monte_carlo_primary.csv").unlink()
    page = visible_text(render_report(export, tmp_path, "appendix-methods")[0].read_text("utf-8"))
    assert "committed summary enters the export" in page
    # And the other way round: without the workflow's Monte Carlo the primary one still shows.
    (export / "monte_carlo_primary.csv").write_bytes(
        (full_export / "monte_carlo_primary.csv").read_bytes()
    )
    (export / "monte_carlo.csv").unlink()
    page = render_report(export, tmp_path, "appendix-methods")[0].read_text("utf-8")
    assert 'id="tbl-mc-primary"' in page


def test_honestdid_legend_sits_below_the_panels(full_export, tmp_path, monkeypatch):
    """At print size a legend inside each panel covered the intervals: one figure legend,
    below the panels, and no axes legend."""
    figures = {}
    save = style.save

    def keep(fig, path):
        figures[path.stem] = (len(fig.legends), [ax.get_legend() for ax in fig.axes])
        return save(fig, path)

    monkeypatch.setattr(style, "save", keep)
    render_report(full_export, tmp_path, "main")
    legends, inside = figures["fig-honestdid"]
    assert legends == 1 and inside == [None] * len(inside)
