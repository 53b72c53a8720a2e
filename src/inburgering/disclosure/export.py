"""The export package for the CBS output request: checked files, manifest, request form.

Everything is written to a staging directory next to ``export_dir``, checked (safety re-check
of every item, leak scan of every written file) and only then renamed onto ``export_dir``: a
failure leaves the previous export untouched and no partial one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.figures import CheckedFigure
from inburgering.disclosure.leaks import assert_no_leaks
from inburgering.disclosure.primary import as_counts
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.spec import AUDIT_PREFIX, CheckedTable, CheckReport
from inburgering.io import atomic_path, sha256_file, write_csv_atomic, write_text_atomic

ExportItem = CheckedTable | CheckedFigure
MANIFEST_COLUMNS = (
    "file",
    "item",
    "kind",
    "description",
    "rows",
    "underlying_counts",
    "rules_applied",
    "cells_suppressed",
    "sha256",
)


def _recheck(item: ExportItem, rules: DisclosureRules) -> None:
    """Defence in depth: what is about to be written must still satisfy the count rules."""
    frame = item.frame
    audit = [c for c in frame.columns if str(c).startswith(AUDIT_PREFIX)]
    if audit:
        raise DisclosureError(item.name, "individual_values", f"audit columns {audit} present")
    if isinstance(item, CheckedTable):
        minimum, zeros = rules.min_persons, item.spec.kind == "frequency"
        if item.spec.kind == "amount":
            minimum = rules.dominance_min_persons
        counts = item.spec.count_columns
    elif item.kind == "survival":
        minimum, zeros, counts = rules.min_at_risk, False, ("n_at_risk",)
    else:
        minimum, zeros = rules.min_persons_per_bin, item.kind in ("histogram", "bar")
        counts = tuple(item.report.underlying_counts)
    for column in counts:
        values = as_counts(frame, column) if column in frame.columns else np.array([])
        bad = (values < minimum) & ~(zeros & (values == 0))
        if bad.any():
            row = frame.loc[bad].head(1).to_dict(orient="records")
            raise DisclosureError(
                item.name, "min_persons", f"published {column} below {minimum}; example row: {row}"
            )
    if isinstance(item, CheckedFigure) and item.image is not None and not item.image.is_file():
        raise DisclosureError(item.name, "figure", f"rendered image {item.image} does not exist")


def _counts_text(report: CheckReport) -> str:
    parts = [
        f"{c}: {r[0]}-{r[1]}" if r else f"{c}: all suppressed"
        for c, r in report.underlying_counts.items()
    ]
    return "; ".join(parts)


def _write_item(item: ExportItem, staging: Path) -> list[dict[str, Any]]:
    kind = item.spec.kind if isinstance(item, CheckedTable) else f"figure:{item.kind}"
    files = [(f"{item.name}.csv" if isinstance(item, CheckedTable) else f"{item.name}.data.csv")]
    write_csv_atomic(item.frame, staging / files[0])
    if isinstance(item, CheckedFigure) and item.image is not None:
        files.append(f"{item.name}{item.image.suffix}")
        with atomic_path(staging / files[-1]) as tmp:
            shutil.copyfile(item.image, tmp)
    return [
        {
            "file": name,
            "item": item.name,
            "kind": kind,
            "description": item.description,
            "rows": item.report.n_rows,
            "underlying_counts": _counts_text(item.report),
            "rules_applied": "; ".join(item.report.rules_applied),
            "cells_suppressed": item.report.n_suppressed,
            "sha256": sha256_file(staging / name),
        }
        for name in files
    ]


def _output_request(
    entries: Sequence[Mapping[str, Any]], rules: DisclosureRules, provenance: Mapping[str, Any]
) -> str:
    form = rules.output_request
    kind = "LIGHT" if form.get("light") else "regulier"
    lines = [
        "# CBS output request (uitvoeraanvraag)",
        "",
        "Fill in and copy into the official output control form "
        "(in RA: K:\\Utilities\\Rules\\Guidelines); verify the fields against the current form.",
        "",
        f"- Projectnummer: {form.get('project_number', '')}",
        f"- Onderzoeker: {form.get('researcher', '')}",
        f"- Instelling: {form.get('institution', '')}",
        f"- Soort output: {kind}",
        f"- Aantal bestanden: {len(entries)}",
        "- Omschrijving: disclosure-checked tables and figures of the G4 inburgering "
        "relative-effectiveness pipeline (results/export/).",
    ]
    for key in sorted(provenance):
        lines.append(f"- {key}: {provenance[key]}")
    lines += [
        "",
        "## Files",
        "",
        "| file | description | underlying counts (min-max) | cells suppressed | sha256 |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {e['file']} | {e['description']} | {e['underlying_counts']} | "
        f"{e['cells_suppressed']} | {e['sha256'][:16]} |"
        for e in entries
    ]
    lines += ["", "## Rules applied (statement per rule)", ""]
    lines += [f"- **{rule}**: {text}." for rule, text in rules.describe().items()]
    lines += [
        "",
        "Suppressed cells are empty in the files and flagged in the column "
        "`suppressed`; all counts are unweighted numbers of persons.",
        "",
    ]
    return "\n".join(lines)


def _publish(staging: Path, export_dir: Path) -> None:
    """Swap the staged directory in; the old export survives until the new one is in place."""
    backup = export_dir.with_name(f".{export_dir.name}.old-{os.getpid()}")
    if export_dir.exists():
        os.replace(export_dir, backup)
    try:
        os.replace(staging, export_dir)
    except BaseException:
        if backup.exists():
            os.replace(backup, export_dir)
        raise
    if backup.exists():
        shutil.rmtree(backup)


def write_export(
    checked_items: Iterable[ExportItem],
    export_dir: str | os.PathLike[str],
    *,
    rules: DisclosureRules,
    provenance: Mapping[str, Any] | None = None,
    person_keys: Iterable[object] = (),
    person_values: Mapping[str, Iterable[object]] | None = None,
    allow: Iterable[object] = (),
    extras: Callable[[Path], None] | None = None,
    audit: Callable[[Path], None] | None = None,
) -> Path:
    """Write the export package: checked files, MANIFEST.csv, manifest.json, output_request.md.

    Parameters
    ----------
    checked_items
        Results of :func:`check_table` / :func:`check_tables` / :func:`check_figure_data`.
    export_dir
        Target directory (``results/export``); replaced as a whole, atomically.
    rules
        From :func:`load_rules`.
    provenance
        Extra fields for the manifest and request form (config hash, git commit, data files);
        keep it free of timestamps if byte-identical exports are wanted.
    person_keys, person_values
        Person identifiers, dates and amounts of the inputs for the leak scan of every
        written file (see :func:`scan_for_leaks`); counts are always scanned.
    allow
        Public dates/amounts the leak scan must not report (policy dates, cohort bounds).
    extras
        Writes files that hold no statistics (provenance, run times) into the staging folder;
        they are leak-scanned with everything else but not listed in the manifest.
    audit
        Called with the staging folder after the leak scan, before it is published: raises to
        stop the export (the cross-table disclosure audit, :mod:`inburgering.disclosure.audit`).

    Returns
    -------
    Path
        The manifest (``export_dir/MANIFEST.csv``).

    Raises
    ------
    DisclosureError
        If any item is unchecked or unsafe, names collide, or the leak scan finds anything;
        nothing is written to ``export_dir`` in that case.
    """
    items = list(checked_items)
    for item in items:
        if not isinstance(item, CheckedTable | CheckedFigure):
            raise DisclosureError(
                type(item).__name__,
                "unchecked",
                "only CheckedTable/CheckedFigure items may be exported",
            )
    names = [i.name for i in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DisclosureError(", ".join(duplicates), "export", "item names must be unique")
    for item in items:
        _recheck(item, rules)
    target = Path(export_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        entries = sorted(
            (e for item in items for e in _write_item(item, staging)), key=lambda e: e["file"]
        )
        manifest = pd.DataFrame(entries, columns=list(MANIFEST_COLUMNS))
        write_csv_atomic(manifest, staging / "MANIFEST.csv")
        document = {
            "files": entries,
            "rules": rules.describe(),
            "configuration": rules.section,
            "provenance": dict(provenance or {}),
        }
        write_text_atomic(
            staging / "manifest.json",
            json.dumps(document, indent=2, sort_keys=True, default=str) + "\n",
        )
        write_text_atomic(
            staging / "output_request.md", _output_request(entries, rules, dict(provenance or {}))
        )
        if extras is not None:
            extras(staging)
        assert_no_leaks(
            [staging],
            person_keys=person_keys,
            person_values=person_values,
            rules=rules,
            allow=allow,
        )
        if audit is not None:
            audit(staging)
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "MANIFEST.csv"
