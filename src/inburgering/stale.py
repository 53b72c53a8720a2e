"""Outputs of an earlier run never look current while, or after, a run that rebuilds them fails.

Snakemake deletes the outputs of a failed job, not those downstream of it: after a failed
``--forcerun prepare`` the export and the reports of the previous run stay, complete-looking.
So at the start of a run, every output folder that one of the scheduled jobs rewrites gets a
``STALE.txt`` marker that says so (and the export loses its manifest, without which it is not
a package for output checking); the marker goes when the run ends successfully. The export
rule replaces its folder as a whole, which also removes the marker as soon as the export is
current again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

STALE_FILE = "STALE.txt"


def _message(started: str) -> str:
    return (
        "STALE: a run that rebuilds the files in this folder started at "
        f"{started} and has not finished successfully.\n"
        "They come from an earlier run and may not match the current data, code or "
        "configuration. Do not read, publish or submit them: rerun the workflow; this file "
        "disappears when the run that rebuilds them succeeds.\n"
    )


def stale_folders(
    scheduled_rules: Iterable[str], writers: Mapping[str, Sequence[str]]
) -> list[str]:
    """The folders (keys of ``writers``: folder -> rules writing or feeding it) that a scheduled
    rule rewrites."""
    scheduled = set(scheduled_rules)
    return [folder for folder, rules in writers.items() if scheduled & set(rules)]


def mark_stale(folders: Iterable[str | Path], remove: Iterable[str] = ()) -> list[Path]:
    """Write the marker into each existing folder and delete the files named in ``remove``
    (e.g. the export manifest); returns the markers written."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    markers = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue  # nothing there that could look current
        for name in remove:
            (folder / name).unlink(missing_ok=True)
        marker = folder / STALE_FILE
        marker.write_text(_message(started), encoding="utf-8")
        markers.append(marker)
    return markers


def clear_stale(folders: Iterable[str | Path]) -> None:
    for folder in map(Path, folders):
        (folder / STALE_FILE).unlink(missing_ok=True)


def stale_report(folders: Iterable[str | Path]) -> list[str]:
    """Lines for the end of a failed run: which folders hold outdated files."""
    stale = [str(f) for f in map(Path, folders) if (f / STALE_FILE).exists()]
    if not stale:
        return []
    return [
        f"Run failed: {folder} holds outputs of an earlier run (see {STALE_FILE})"
        for folder in stale
    ]
