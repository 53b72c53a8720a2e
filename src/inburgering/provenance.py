"""Provenance of a run: config hash, input checksums, package versions, git commit, stage times.

Written next to every export (``results/export/PROVENANCE.json``) so that a reviewer holding only
the export can tell exactly which code, configuration, data files and packages produced it.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from inburgering.config import config_hash
from inburgering.io import sha256_file

ROOT = Path(__file__).resolve().parents[2]


def git_commit(repo: Path = ROOT) -> str:
    """The checked-out commit (plus '-dirty' for local changes), or 'unknown' without git (RA)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def locked_versions(lock: Path = ROOT / "requirements.lock") -> dict[str, str]:
    """Versions actually installed for every package pinned in the lock file."""
    versions: dict[str, str] = {}
    if not lock.exists():
        return versions
    for line in lock.read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip()
        if not name or name.startswith("#"):
            continue
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def input_checksums(paths: Iterable[Path], root: Path | None = None) -> dict[str, str]:
    """sha256 of every input file (directories are walked), keyed by path relative to root."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    checksums = {}
    for file in files:
        key = file.relative_to(root).as_posix() if root and file.is_relative_to(root) else str(file)
        checksums[key] = sha256_file(file)
    return dict(sorted(checksums.items()))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:  # Snakemake writes "-" where it could not measure
        return None


def stage_times(benchmark_files: Iterable[Path]) -> list[dict[str, Any]]:
    """Wall time and peak memory per rule from Snakemake's benchmark TSVs."""
    rows = []
    for path in sorted(benchmark_files):
        with open(path, encoding="utf-8") as handle:
            record = next(csv.DictReader(handle, delimiter="\t"), None)
        if record is None:
            continue
        rows.append(
            {
                "rule": Path(path).stem,
                "seconds": float(record["s"]),
                "max_rss_mb": _number(record.get("max_rss")),
            }
        )
    return rows


def provenance(
    config: Mapping[str, Any],
    *,
    inputs: Iterable[Path],
    input_root: Path | None,
    benchmarks: Iterable[Path],
) -> dict[str, Any]:
    """Everything a reviewer needs to tie an export to its code, config, data and packages."""
    return {
        "run": config["run"]["name"],
        "config_hash": config_hash(config),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "packages": locked_versions(),
        "inputs": input_checksums(inputs, input_root),
        "stage_times": stage_times(benchmarks),
    }


def to_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"
