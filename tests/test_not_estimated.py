"""What a design did not estimate reaches one table, the run summary and the export."""

from __future__ import annotations

import logging

import pandas as pd

from inburgering import not_estimated
from inburgering.designs.cells import SAMPLE_COLUMNS
from inburgering.designs.event_study import EventStudySettings
from inburgering.designs.instrument_did import instrument_rows
from inburgering.validation.designsim import SimSpec, simulate


def _log_to(path, logger_name: str) -> logging.Handler:
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger(logger_name).addHandler(handler)
    return handler


def test_instrument_did_without_adoptions_is_recorded(tmp_path):
    """The RA case: no municipality_instruments table, so no adopter outside the G4."""
    data = simulate(SimSpec(persons=3000, instrument_effect=0.0, seed=2), horizons=(12,))
    adoption = pd.DataFrame({"instrument": [], "municipality": [], "g": []})
    log_path = tmp_path / "instrument_did.log"
    handler = _log_to(log_path, "inburgering.designs.instrument_did")
    try:
        rows = instrument_rows(
            data["persons"],
            data["outcomes"],
            adoption,
            ["early_start", "intensified_intake"],
            ["participation"],
            EventStudySettings.from_schema_defaults(
                horizons=[12], cities=["rotterdam"], alpha=0.05
            ),
        )
    finally:
        logging.getLogger("inburgering.designs.instrument_did").removeHandler(handler)
        handler.close()
    assert rows.empty
    table = not_estimated.combine([not_estimated.from_logs([log_path])])
    assert list(table.columns) == list(not_estimated.COLUMNS)
    assert table[["design", "treatment", "outcome", "horizon"]].values.tolist() == [
        ["instrument_did", "early_start", "participation", "12"],
        ["instrument_did", "intensified_intake", "participation", "12"],
    ]
    assert table["reason"].str.startswith("no eligible adoption cohort").all()


def _sample_row(rule: str, subgroup_design: bool = False) -> dict:
    row = dict.fromkeys(SAMPLE_COLUMNS, "")
    row.update(
        design="heterogeneity" if subgroup_design else "route_matching",
        treatment="z_vs_b1",
        city="all",
        comparison="matched",
        outcome="participation",
        horizon=24,
        step="not estimated",
        rule=rule,
        treated=7,
        control=300,
    )
    return row


def test_matching_sample_rules_become_count_free_reasons():
    samples = pd.DataFrame(
        [
            _sample_row("not estimated: 7 treated / 300 control persons, below min_treated=20"),
            _sample_row("headline aipw not estimable: perfect separation"),
            _sample_row("ipw: weights degenerate"),
            _sample_row("subgroup age:18-26: not estimated: 7 treated / 30 control persons, below"),
            _sample_row("subgroup all: not estimated: covariate 'x' is constant", True),
            {**_sample_row("kept"), "step": "matched"},
        ]
    )
    table = not_estimated.combine([not_estimated.from_samples(samples)])
    assert sorted(table["reason"]) == [
        "benchmark ipw not estimable",
        "headline estimator aipw not estimable",
        "learner not estimable",
        "too few treated or control persons",
        "too few treated or control persons",
    ]
    assert set(table["subgroup"]) == {"all", "age:18-26"}
    assert not table["reason"].str.contains(r"\d").any()  # exported: no counts
    assert table["detail"].str.contains("7 treated").sum() == 2  # counts stay in RA


def test_export_copy_drops_the_detail_and_summary_counts_by_reason(tmp_path):
    logger = logging.getLogger("test.not_estimated")
    log_path = tmp_path / "design.log"
    handler = _log_to(log_path, logger.name)
    try:
        for horizon in (12, 24):
            not_estimated.note(
                logger, "DiD estimator not estimable", "rank deficient: 3 units",
                design="reform_did", city="utrecht", comparison="den_haag",
                outcome="employed", horizon=horizon, subgroup="all", treatment="wi2021",
            )  # fmt: skip
    finally:
        logger.removeHandler(handler)
        handler.close()
    table = not_estimated.combine([not_estimated.from_logs([log_path, tmp_path / "absent.log"])])
    path = tmp_path / "not_estimated.csv"
    not_estimated.write(table, path)
    export = not_estimated.write_export(path, tmp_path)
    exported = pd.read_csv(export, dtype=str, keep_default_na=False)
    assert list(exported.columns) == list(not_estimated.EXPORT_COLUMNS)  # no detail
    assert len(exported) == 2 and not exported["reason"].str.contains("3 units").any()
    lines = not_estimated.summary_lines(path)
    assert lines[0].startswith("Not estimated (2 cells")
    assert lines[1] == "  reform_did: 2 x DiD estimator not estimable"
    empty = tmp_path / "none.csv"
    not_estimated.write(not_estimated.combine([]), empty)
    assert "nothing" in not_estimated.summary_lines(empty)[0]
