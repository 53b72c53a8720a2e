"""Helpers for tests that run the Snakemake workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_overlay(path: Path, results: Path, **sections: dict) -> Path:
    """A --configfile overlay that sends every output below `results`."""
    overlay = {
        "run": {"results": str(results)},
        "data": {"root": str(results / "synthetic" / "microdata")},
        **sections,
    }
    path.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    return path


def run_snakemake(*args: str, cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    snakemake = Path(sys.executable).parent / "snakemake"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [str(snakemake), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
