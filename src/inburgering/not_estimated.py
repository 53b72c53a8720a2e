"""What a design did not estimate, and why: one table for the run summary, the export and the
report (``results/estimates/not_estimated.csv``).

A design that skips a contrast (too few persons, no eligible adoption cohort, an estimator the
data cannot support) must say so where a reader looks, not only in its log: a run in which
``instrument_did`` wrote no row at all otherwise ends like a complete one.

Two sources, so that no design's outputs change shape:

- the matching designs already write every skipped cell to their ``*_samples.csv`` side table
  (``step == "not estimated"``, the reason in ``rule``);
- the DiD designs skip inside long loops; they call :func:`note`, which logs one warning line
  whose payload after :data:`MARKER` is JSON, so the rule's own log file (a declared output of
  every rule) carries the record to :func:`gather`, which runs after every design.

``reason`` is count-free (it is exported); ``detail`` keeps the full message with its counts
and stays inside RA with the estimates.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering.io import write_csv_atomic

KEY_COLUMNS = ("design", "treatment", "city", "comparison", "outcome", "horizon", "subgroup")
COLUMNS = (*KEY_COLUMNS, "reason", "detail")
EXPORT_COLUMNS = (*KEY_COLUMNS, "reason")
MARKER = "NOT ESTIMATED "

# Count-free reasons for the matching designs' sample-table rules (their text carries counts).
_SAMPLE_REASONS = (
    (re.compile(r"treated / \d+ control persons, below"), "too few treated or control persons"),
    (re.compile(r"^headline (\w+) not estimable"), r"headline estimator \1 not estimable"),
    (re.compile(r"^(?:subgroup \S+: )?not estimated: label absent"), "subgroup label absent"),
    (re.compile(r"^subgroup \S+: not estimated: (?!\d)"), "learner not estimable"),
    (re.compile(r"^(\w+): "), r"benchmark \1 not estimable"),
)


def note(logger: logging.Logger, reason: str, detail: str = "", **key: Any) -> None:
    """Log that the cell ``key`` was not estimated: ``reason`` count-free, ``detail`` free."""
    record = {column: key.get(column, "") for column in KEY_COLUMNS}
    record.update(reason=reason, detail=detail or reason)
    logger.warning("%s%s", MARKER, json.dumps(record, sort_keys=True, default=str))


def from_logs(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every :func:`note` record in the given log files (a missing file has none)."""
    rows = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            _, marker, payload = line.partition(MARKER)
            if marker:
                rows.append(json.loads(payload))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _count_free(rule: str) -> str:
    for pattern, reason in _SAMPLE_REASONS:
        match = pattern.search(rule)
        if match:
            return match.expand(reason)
    return "not estimable"


def from_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """The "not estimated" rows of a matching design's sample table."""
    if samples.empty or "step" not in samples:
        return pd.DataFrame(columns=list(COLUMNS))
    skipped = samples[samples["step"] == "not estimated"].copy()
    skipped["subgroup"] = skipped["rule"].str.extract(r"^subgroup (\S+):", expand=False)
    skipped["subgroup"] = skipped["subgroup"].fillna("all")
    skipped["reason"] = skipped["rule"].map(_count_free)
    skipped["detail"] = skipped["rule"]
    return skipped.reindex(columns=list(COLUMNS))


def combine(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One table, sorted and without duplicates (a stable file for byte-identical reruns)."""
    frames = [f for f in frames if len(f)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    table = table.reindex(columns=list(COLUMNS)).fillna("")
    table["horizon"] = table["horizon"].map(lambda h: str(int(float(h))) if h != "" else "")
    return table.drop_duplicates().sort_values(list(COLUMNS)).reset_index(drop=True)


def write(table: pd.DataFrame, path: str | Path) -> None:
    write_csv_atomic(table.loc[:, list(COLUMNS)], Path(path))


def write_export(path: str | Path, folder: str | Path) -> Path:
    """The export copy (``not_estimated.csv`` in ``folder``): key columns and the count-free
    reason. It carries no statistic, so, like the provenance, it needs no disclosure rule; the
    export's leak scan still reads it."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    target = Path(folder) / "not_estimated.csv"
    write_csv_atomic(table.reindex(columns=list(EXPORT_COLUMNS)).fillna(""), target)
    return target


def summary_lines(path: str | Path) -> list[str]:
    """Lines for the end-of-run summary: per design and reason, how many cells were skipped."""
    path = Path(path)
    if not path.exists():
        return []
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if table.empty:
        return ["Not estimated: nothing (every configured cell has estimates)."]
    counts = table.groupby(["design", "reason"], sort=True).size()
    lines = [f"Not estimated ({len(table)} cells, details in {path}):"]
    lines += [f"  {design}: {n} x {reason}" for (design, reason), n in counts.items()]
    return lines


def run(job: Any) -> None:
    """Snakemake entry of rule not_estimated: matching sample tables + DiD design logs."""
    samples = [pd.read_csv(path, dtype={"horizon": str}) for path in job.inputs("samples")]
    table = combine([*map(from_samples, samples), from_logs(job.params["design_logs"])])
    logging.getLogger(__name__).info("%d cells not estimated", len(table))
    write(table, job.output["not_estimated"])
