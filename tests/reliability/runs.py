"""Helpers for tests that run, kill and compare whole workflow runs."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from inburgering.validation.montecarlo import ROOT, overlay_for, snakemake_command

# Files that by nature differ between runs (DESIGN.md determinism contract; docs/reliability.md).
TIMING_FILES = {"RUNTIMES.csv"}


def start_workflow(base: Path, sections: dict, targets: list[str], *args: str) -> subprocess.Popen:
    """Start a run in the background, in its own process group so it can be killed whole."""
    results = base / "results"
    (base / "workdir").mkdir(parents=True, exist_ok=True)
    overlay = base / "overlay.yaml"
    overlay.write_text(yaml.safe_dump(overlay_for(results, **sections)), encoding="utf-8")
    command = snakemake_command(
        base / "workdir", [overlay], [str(results / t) for t in targets], *args
    )
    log = open(base / "snakemake.log", "w", encoding="utf-8")  # noqa: SIM115 - closed by caller
    return subprocess.Popen(
        command, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float) -> bool:
    """Poll until condition holds; False if the process ended or time ran out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below pid (Linux /proc), so a job that left the group is found too."""
    todo, seen = [pid], []
    while todo:
        for child in _children(todo.pop()):
            seen.append(child)
            todo.append(child)
    return seen


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL the run's process group and every descendant: a power cut, not a Ctrl-C."""
    tree = descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):  # the run may have ended by itself
        os.killpg(process.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):  # already gone with its group
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def incomplete_markers(workdir: Path) -> set[str]:
    """Paths Snakemake has marked incomplete (.snakemake/incomplete holds base64 names)."""
    folder = workdir / ".snakemake" / "incomplete"
    names = set()
    for marker in folder.rglob("*") if folder.exists() else []:
        if marker.is_file() and marker.name != "migration_underway":
            parts = marker.relative_to(folder).parts
            encoded = "".join(p.lstrip("@") for p in parts)
            names.add(base64.urlsafe_b64decode(encoded).decode("utf-8"))
    return names


def tree_files(folder: Path, skip: set[str] = frozenset()) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def differences(first: dict[str, bytes], second: dict[str, bytes]) -> list[str]:
    """Human-readable differences between two file trees (first differing line per file)."""
    out = [f"only in one run: {name}" for name in sorted(set(first) ^ set(second))]
    for name in sorted(set(first) & set(second)):
        if first[name] != second[name]:
            pairs = zip(first[name].splitlines(), second[name].splitlines(), strict=False)
            line = next(((i, a, b) for i, (a, b) in enumerate(pairs) if a != b), None)
            where = f" at line {line[0]}: {line[1][:200]!r} vs {line[2][:200]!r}" if line else ""
            out.append(f"{name} differs{where}")
    return out


__all__ = ["ROOT", "TIMING_FILES", "differences", "incomplete_markers", "kill_hard",
           "start_workflow", "tree_files", "wait_for"]  # fmt: skip
