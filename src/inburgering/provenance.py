"""Provenance of a run: config hash, input checksums, package versions, code, stage times.

The export stage calls :func:`write_provenance`, which writes two files next to the export:

- ``PROVENANCE.json`` ties the export to its configuration, data files, code and packages. It is
  deterministic: two runs with the same inputs, config and code write identical bytes, wherever
  their results folders are (so it can itself be checked by the determinism tests).
- ``RUNTIMES.csv`` holds everything that by nature differs between runs: wall time, CPU time,
  peak memory and finishing time of each stage (from Snakemake's benchmark files). It is the one
  export file excluded from byte-identity checks (docs/reliability.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from inburgering.config import config_hash
from inburgering.io import sha256_file, write_text_atomic

ROOT = Path(__file__).resolve().parents[2]
PROVENANCE_NAME = "PROVENANCE.json"
RUNTIMES_NAME = "RUNTIMES.csv"
RUNTIME_COLUMNS = ("rule", "seconds", "max_rss_mb", "cpu_seconds", "finished")
# Keys that say where a run writes or reads, not what it computes: they differ between two
# otherwise identical runs, so they are left out of the hash (the content of the data, the
# catalogue and the policy calendar is in the input checksums instead).
LOCATION_KEYS = (
    ("run", "results"),
    ("data", "root"),
    ("data", "catalogue"),
    ("data", "policies"),
    ("prepare", "municipalities", "mergers"),
)
# The code that produces results: the package and the workflow definition.
CODE_GLOBS = ("src/inburgering/**/*.py", "src/inburgering/**/*.yaml", "workflow/**/*", "Snakefile")


def git_commit(repo: Path = ROOT) -> str:
    """The checked-out commit (plus '-dirty' for local changes), or 'unknown' without git (RA)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        # A package installed outside its repository must not report some enclosing repo.
        if Path(git("rev-parse", "--show-toplevel")).resolve() != repo.resolve():
            return "unknown"
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def code_hash(root: Path = ROOT) -> str:
    """sha256 over the package and workflow sources: identifies the code even without git (RA)
    and catches uncommitted or untracked changes that '-dirty' cannot tell apart."""
    digest = hashlib.sha256()
    files = {p for pattern in CODE_GLOBS for p in root.glob(pattern) if p.is_file()}
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        if "__pycache__" in path.parts or path.name.startswith("."):
            continue
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(path).encode("ascii") + b"\n")
    return digest.hexdigest()


def _lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[name.strip()] = version.split(";")[0].strip()
    return pins


def locked_versions(lock: Path = ROOT / "requirements.lock") -> dict[str, str]:
    """Versions actually installed for every package pinned in the lock file."""
    versions: dict[str, str] = {}
    if not lock.exists():
        return versions
    for name in _lock_pins(lock):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return dict(sorted(versions.items(), key=lambda item: item[0].lower()))


def lock_mismatches(lock: Path = ROOT / "requirements.lock") -> dict[str, dict[str, str]]:
    """Packages whose installed version differs from the pin (RA installs from its own list)."""
    if not lock.exists():
        return {}
    installed = locked_versions(lock)
    return {
        name: {"locked": pin, "installed": installed[name]}
        for name, pin in sorted(_lock_pins(lock).items(), key=lambda item: item[0].lower())
        if installed[name] != pin
    }


def _walk(path: Path) -> list[Path]:
    """Files below a folder, skipping hidden ones: Snakemake's directory timestamp and the
    ``.<stem>.partial-<pid>`` leftovers of an interrupted writer are not data."""
    if not path.is_dir():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _display(file: Path, root: Path | None) -> str:
    """A location-independent name: relative to the data root, the working folder or the
    repository (config files), else the path as given."""
    for base in (root, Path.cwd(), ROOT):
        if base is not None and file.resolve().is_relative_to(Path(base).resolve()):
            return file.resolve().relative_to(Path(base).resolve()).as_posix()
    return file.as_posix()


def input_checksums(paths: Iterable[Path], root: Path | None = None) -> dict[str, str]:
    """sha256 of every input file (directories are walked), keyed by path relative to root."""
    checksums = {}
    for path in paths:
        for file in _walk(Path(path)):
            checksums[_display(file, root)] = sha256_file(file)
    return dict(sorted(checksums.items()))


def portable_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration without its location keys (see LOCATION_KEYS), JSON-compatible."""
    portable = json.loads(json.dumps(dict(config), sort_keys=True, default=str))
    for *sections, key in LOCATION_KEYS:
        parent = portable
        for section in sections:
            parent = parent.get(section) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(key, None)
    return portable


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "-", "NA") else None
    except ValueError:  # Snakemake writes "-" where it could not measure
        return None


def stage_times(benchmark_files: Iterable[Path]) -> list[dict[str, Any]]:
    """Wall time, peak memory, CPU time and finishing time per rule from benchmark TSVs.

    Missing files are skipped (a stage that did not run in this configuration); with
    ``repeat()`` benchmarks the first repetition is used.
    """
    rows = []
    for path in sorted({Path(p) for p in benchmark_files}, key=lambda p: p.stem):
        if not path.is_file():
            continue
        with open(path, encoding="utf-8") as handle:
            record = next(csv.DictReader(handle, delimiter="\t"), None)
        if record is None:
            continue
        finished = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
        rows.append(
            {
                "rule": path.stem,
                "seconds": float(record["s"]),
                "max_rss_mb": _number(record.get("max_rss")),
                "cpu_seconds": _number(record.get("cpu_time")),
                "finished": finished.isoformat(timespec="seconds"),
            }
        )
    return rows


def provenance(
    config: Mapping[str, Any],
    *,
    inputs: Iterable[Path],
    input_root: Path | None,
    benchmarks: Iterable[Path] = (),
) -> dict[str, Any]:
    """The deterministic provenance record (no clock times: those go to RUNTIMES.csv).

    ``inputs`` are the data files or folders and config files the run read; keys of ``inputs``
    in the record are relative to ``input_root`` (the data root) so that the record does not
    depend on where the data live. ``stages`` lists the rules whose times are in RUNTIMES.csv.
    """
    lock = ROOT / "requirements.lock"
    checksums = input_checksums(inputs, input_root)
    return {
        "run_name": config["run"]["name"],
        "data_source": config["data"]["source"],
        "seed": config["run"].get("seed"),
        "config_hash": config_hash(portable_config(config)),
        # The pre-specified primary analysis on its own: a reader checks it was not changed.
        "primary_hash": config_hash(config["primary"]) if "primary" in config else None,
        "config": portable_config(config),
        "git_commit": git_commit(),
        "code_hash": code_hash(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        # The workflow fixes it for every job (common.smk); another value means reruns can differ.
        "python_hash_seed": os.environ.get("PYTHONHASHSEED"),
        "lock_file_sha256": sha256_file(lock) if lock.exists() else None,
        "packages": locked_versions(lock),
        "packages_not_matching_lock": lock_mismatches(lock),
        "inputs": [{"file": name, "sha256": digest} for name, digest in checksums.items()],
        "stages": sorted({Path(p).stem for p in benchmarks}),
        "runtimes_file": RUNTIMES_NAME,
    }


def to_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def runtimes_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RUNTIME_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in RUNTIME_COLUMNS})
    return buffer.getvalue()


def write_provenance(
    export_dir: str | os.PathLike[str],
    config: Mapping[str, Any],
    inputs: Iterable[str | os.PathLike[str]],
    input_root: str | os.PathLike[str] | None,
    benchmarks: Iterable[str | os.PathLike[str]],
) -> dict[str, Path]:
    """Write PROVENANCE.json (deterministic) and RUNTIMES.csv (timings) into export_dir.

    Parameters
    ----------
    export_dir
        The export folder (or the staging folder the export stage renames into place).
    config
        The run's configuration (Snakemake's ``config``).
    inputs
        Data files or folders and config files the run read (folders are walked).
    input_root
        ``data.root``: input names are recorded relative to it.
    benchmarks
        Snakemake benchmark TSVs of the stages before the export; absent ones are skipped.

    Returns
    -------
    dict
        ``{"provenance": path, "runtimes": path}`` of the written files.
    """
    export_dir = Path(export_dir)
    benchmarks = [Path(b) for b in benchmarks]
    record = provenance(
        config,
        inputs=[Path(p) for p in inputs],
        input_root=Path(input_root) if input_root is not None else None,
        benchmarks=benchmarks,
    )
    paths = {"provenance": export_dir / PROVENANCE_NAME, "runtimes": export_dir / RUNTIMES_NAME}
    write_text_atomic(paths["provenance"], to_json(record))
    write_text_atomic(paths["runtimes"], runtimes_csv(stage_times(benchmarks)))
    return paths


def provenance_block(export_dir: str | os.PathLike[str]) -> str:
    """A Markdown block for reports: the provenance facts and the per-stage run times."""
    export_dir = Path(export_dir)
    path = export_dir / PROVENANCE_NAME
    if not path.is_file():
        return f"_No {PROVENANCE_NAME} in {export_dir.name}: provenance not recorded._\n"
    record = json.loads(path.read_text(encoding="utf-8"))
    facts = ("run_name", "data_source", "seed", "config_hash", "git_commit", "code_hash", "python")
    lines = ["| item | value |", "|---|---|"]
    lines += [f"| {key} | `{record.get(key)}` |" for key in facts]
    lines.append(f"| input files | {len(record.get('inputs', []))} (sha256 in {PROVENANCE_NAME}) |")
    mismatched = record.get("packages_not_matching_lock") or {}
    lines.append(
        f"| packages | {len(record.get('packages', {}))} pinned, {len(mismatched)} "
        "differ from requirements.lock |"
    )
    runtimes = export_dir / RUNTIMES_NAME
    if runtimes.is_file():
        with open(runtimes, encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        lines += ["", "| stage | seconds | peak memory (MB) |", "|---|---:|---:|"]
        lines += [f"| {r['rule']} | {r['seconds']} | {r['max_rss_mb']} |" for r in rows]
    return "\n".join(lines) + "\n"
