"""A failed run never leaves an export or reports that look current (inburgering.stale)."""

from __future__ import annotations

import shutil

from workflow_helpers import run_snakemake, write_overlay

from inburgering.stale import STALE_FILE, clear_stale, mark_stale, stale_folders, stale_report

OUTDATED_BY = {"export": ["export"], "reports": ["export", "render_report"]}


def test_only_folders_a_scheduled_rule_changes_are_marked():
    assert stale_folders({"prepare", "export"}, OUTDATED_BY) == ["export", "reports"]
    assert stale_folders({"render_report"}, OUTDATED_BY) == ["reports"]
    assert stale_folders({"validate_against_truth"}, OUTDATED_BY) == []


def test_marking_removes_the_manifest_and_clearing_removes_the_marker(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "MANIFEST.csv").write_text("file\n")
    (export / "estimates.csv").write_text("x\n")
    markers = mark_stale([export, tmp_path / "never_written"], remove=["MANIFEST.csv"])
    assert markers == [export / STALE_FILE]
    assert not (export / "MANIFEST.csv").exists() and (export / "estimates.csv").exists()
    assert "STALE" in (export / STALE_FILE).read_text()
    assert stale_report([export]) == [
        f"Run failed: {export} holds outputs of an earlier run (see {STALE_FILE})"
    ]
    clear_stale([export])
    assert not (export / STALE_FILE).exists() and stale_report([export]) == []


def test_failed_upstream_rerun_marks_export_and_reports(tiny_run, tmp_path):
    """Rerun prepare on a copy of a complete run with a mapping that finds no persons file."""
    results = tmp_path / "results"
    shutil.copytree(tiny_run, results, symlinks=True)
    assert (results / "export" / "MANIFEST.csv").exists()
    broken = {"tables": {"gba_persons": {"pattern": "nowhere/GBAPERSOON{year}V{version}.{ext}"}}}
    overlay = write_overlay(
        tmp_path / "broken.yaml", results, synth={"persons": 4000},
        prepare={"catalogue_overrides": broken},
    )  # fmt: skip
    completed = run_snakemake(
        "--cores", "2", "--configfile", "config/config.yaml", str(overlay),
        "--forcerun", "prepare", "--rerun-triggers", "mtime",
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output[-3000:]
    for folder in ("export", "reports"):
        assert (results / folder / STALE_FILE).exists(), folder
        assert f"Run failed: {results / folder}" in output
    assert not (results / "export" / "MANIFEST.csv").exists()
    assert (tiny_run / "export" / "MANIFEST.csv").exists()  # the shared run is untouched
