"""Shared fixtures: the repository root, the default config, a tiny synthetic run."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_helpers import run_snakemake, write_overlay

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One end-to-end workflow run on a small synthetic population (shared by e2e tests)."""
    base = tmp_path_factory.mktemp("tiny_run")
    results = base / "results"
    overlay = write_overlay(base / "overlay.yaml", results, synth={"persons": 4000})
    completed = run_snakemake("--cores", "2", "--configfile", "config/config.yaml", str(overlay))
    if completed.returncode != 0:
        pytest.fail(f"workflow failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-8000:]}")
    return results
