"""The focal city and the reform quarter reach the report sections from the render rule (config
primary.city and prepare.reform_date), never from a constant of the report package: a report
built with another focal city or reform year draws and names those."""

from __future__ import annotations

from pathlib import Path
from string import Formatter

import pytest

from inburgering.contracts.tidy import G4_CITIES
from inburgering.report import overview, style, verdict
from inburgering.report.context import open_report
from inburgering.report.document import RenderError
from inburgering.report.stage import report_params
from inburgering.report.translate import LANGUAGES, Translator, load_table


def _trend_figure(export: Path, tmp_path: Path, monkeypatch, focal: str, reform: str):
    """The outcome-trend section's figure and caption for one focal city and reform quarter."""
    saved = []

    def keep(fig, path):
        fig.canvas.draw()
        saved.append(fig)
        return path

    monkeypatch.setattr(style, "save", keep)
    report = open_report(str(export), "en", str(tmp_path), focal_city=focal, reform_quarter=reform)
    markdown = overview._outcome_trends(report)
    (fig,) = saved
    return fig, markdown


def _panels(fig) -> list[tuple[str, list[str], list[float]]]:
    """Per visible panel: its title, its line labels and where its dashed reform line stands."""
    panels = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        labels = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
        dashed = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
        panels.append((ax.get_title(), labels, sorted(set(dashed))))
    return panels


def test_trends_draw_the_configured_focal_city_against_the_others(
    full_export, tmp_path, monkeypatch
):
    fig, markdown = _trend_figure(full_export, tmp_path, monkeypatch, "amsterdam", "2022Q1")
    panels = _panels(fig)
    assert [title for title, _, _ in panels] == [
        "Amsterdam and Rotterdam",
        "Amsterdam and Den Haag",
        "Amsterdam and Utrecht",
        "Amsterdam and rest of the Netherlands",
    ]
    assert all(labels[0] == "Amsterdam" for _, labels, _ in panels)
    assert "Amsterdam against each comparison" in markdown and "Rotterdam against" not in markdown


def test_trends_mark_the_configured_reform_year(full_export, tmp_path, monkeypatch):
    """Crafted cohorts 2021Q3..2022Q2: the dashed line stands before the first cohort of the
    reform year, wherever the configuration puts the reform."""
    fig, _ = _trend_figure(full_export, tmp_path, monkeypatch, "rotterdam", "2022Q1")
    assert {tuple(dashed) for _, _, dashed in _panels(fig)} == {(1.5,)}
    fig, _ = _trend_figure(full_export, tmp_path, monkeypatch, "rotterdam", "2021Q3")
    assert {tuple(dashed) for _, _, dashed in _panels(fig)} == {(-0.5,)}


@pytest.mark.parametrize(
    ("focal", "reform", "message"),
    [("eindhoven", "2022Q1", "focal_city='eindhoven'"), ("rotterdam", "2022", "reform_quarter")],
)
def test_report_refuses_a_focal_city_or_reform_quarter_it_cannot_use(
    full_export, tmp_path, focal, reform, message
):
    with pytest.raises(ValueError, match=message):
        open_report(str(full_export), "en", str(tmp_path), focal_city=focal, reform_quarter=reform)


def test_render_parameters_carry_the_reform_as_its_cohort_quarter(tmp_path):
    settings = {"language": "nl"}
    params = report_params(tmp_path, settings, "", focal_city="utrecht", reform_date="2023-07-01")
    assert (params["focal_city"], params["reform_quarter"]) == ("utrecht", "2023Q3")


# Texts about Rotterdam's own reference data or the default calendar's bundle (named facts, not
# the focal city): the route-mix expectations of Rotterdam and its Taalstart package.
ABOUT_ROTTERDAM = {"route_mix_intro", "bundles_intro", "fig_route_mix"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_names_rotterdam_as_the_focal_city(language):
    """Every text, with another focal city: the city it names is that one."""
    t = Translator(language, focal_city="amsterdam")
    named = []
    for key, text in load_table()[language]["text"].items():
        fields = {field for _, field, _, _ in Formatter().parse(str(text)) if field}
        shown = t(key, **{field: "x" for field in fields - {"focal"}})
        if "Rotterdam" in shown and key not in ABOUT_ROTTERDAM:
            named.append(key)
    assert named == []
    assert t("axis_pp_short").startswith("Amsterdam ")
    assert t("verdict_more_effective").startswith("Amsterdam ")


def test_a_text_needing_the_focal_city_says_so_without_it():
    with pytest.raises(RenderError, match=r"'stat_persons'.*focal"):
        Translator("en")("stat_persons")


def test_city_pairs_and_series_are_labelled_for_any_focal_city():
    en, nl = Translator("en"), Translator("nl")
    assert en.label("treatment", "amsterdam_vs_rotterdam") == "Amsterdam vs Rotterdam"
    assert nl.label("treatment", "rotterdam_vs_den_haag") == "Rotterdam vs Den Haag"
    assert en.label("treatment", "z_vs_b1") == "Z-route vs B1-route"
    names = ["Amsterdam", "Den Haag", "the rest of the Netherlands"]
    assert en.series(names) == "Amsterdam, Den Haag and the rest of the Netherlands"
    assert nl.series(["Utrecht", "de rest van Nederland"]) == "Utrecht en de rest van Nederland"


def test_the_verdict_question_names_the_focal_city_and_its_comparisons(full_export, tmp_path):
    report = open_report(
        str(full_export), "en", str(tmp_path), focal_city="rotterdam", reform_quarter="2022Q1"
    )
    summary = verdict.executive_summary(report)
    family = report.exports.table("verdict")["comparison"].unique()
    t = Translator("en")
    wanted = [t.label("in_sentence", c) for c in (*G4_CITIES, "rest_nl") if c in family]
    assert len(wanted) > 1 and "the rest of the Netherlands" in wanted
    assert f"more effective than that of {t.series(wanted)}?" in summary
    assert "**Was Rotterdam's implementation" in summary
