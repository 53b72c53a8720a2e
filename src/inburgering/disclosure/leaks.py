"""Leak scanner: exported files and rendered reports must hold no individual data.

Looks for person identifiers (RINPERSOON values, with or without leading zeros), dates and
amounts that belong to fewer than ``rare_value_max_persons`` persons in the person-level inputs,
and counts below the threshold in count columns of CSV files. Every token is looked up in a
set, so a scan is linear in the size of the files.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.rules import DisclosureRules

TEXT_SUFFIXES = (".csv", ".json", ".md", ".html", ".htm", ".txt", ".qmd", ".tex", ".typ", ".svg")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_])-?\d(?:[\d.\-]*\d)?(?![A-Za-z0-9_])")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATA_URI = re.compile(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=\s]+")


@dataclass(frozen=True)
class LeakFinding:
    """One suspected leak: file, line (1-based), what kind, the offending token."""

    path: str
    line: int
    kind: str
    token: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.token!r} {self.detail}".rstrip()


class LeakError(DisclosureError):
    """The export or a report contains individual data; carries the findings."""

    def __init__(self, findings: list[LeakFinding]) -> None:
        self.findings = findings
        shown = "; ".join(str(f) for f in findings[:10])
        more = f" (and {len(findings) - 10} more)" if len(findings) > 10 else ""
        super().__init__("export", "leak_scan", f"{len(findings)} finding(s): {shown}{more}")


def _date_key(token: str) -> str | None:
    """YYYYMMDD for an ISO or compact date token that is a valid calendar date."""
    match = _ISO.match(token)
    digits = "".join(match.groups()) if match else token
    if len(digits) != 8 or not digits.isdigit():
        return None
    month, day = int(digits[4:6]), int(digits[6:8])
    return digits if 1 <= month <= 12 and 1 <= day <= 31 else None


def _amount_key(token: str) -> str | None:
    """Canonical decimal text (no trailing zeros, no leading zeros) or None if not a number."""
    try:
        number = Decimal(token)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    text = format(number.normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def _significant_digits(text: str) -> int:
    return len(text.replace("-", "").replace(".", "").lstrip("0"))


@dataclass(frozen=True)
class _Needles:
    ids: frozenset[str]
    dates: frozenset[str]
    amounts: frozenset[str]


def _build_needles(
    person_keys: Iterable[object],
    person_values: Mapping[str, Iterable[object]] | None,
    rules: DisclosureRules,
    allow: Iterable[object] = (),
) -> _Needles:
    ids: set[str] = set()
    for raw in person_keys:
        text = str(raw).strip()
        if not text:
            continue
        ids.add(text)
        stripped = text.lstrip("0")
        # Without leading zeros a short id is indistinguishable from an ordinary count.
        if len(stripped) >= rules.min_id_digits:
            ids.add(stripped)
    dates: set[str] = set()
    amounts: set[str] = set()
    for values in (person_values or {}).values():
        series = pd.Series(list(values) if not isinstance(values, pd.Series) else values)
        series = series.dropna()
        if pd.api.types.is_datetime64_any_dtype(series):
            keys = series.dt.strftime("%Y%m%d")
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            keys = series.map(lambda v: _amount_key(repr(float(v))))
        else:
            keys = series.astype(str).map(lambda v: _date_key(v.strip()[:10]))
        counts = Counter(k for k in keys if k is not None)
        rare = {k for k, n in counts.items() if n < rules.rare_value_max_persons}
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            amounts |= {k for k in rare if _significant_digits(k) >= rules.min_amount_digits}
        else:
            dates |= rare
    allowed = [str(a) for a in allow]
    dates -= {d for d in map(_date_key, allowed) if d}
    amounts -= {a for a in map(_amount_key, allowed) if a}
    return _Needles(frozenset(ids), frozenset(dates), frozenset(amounts))


def _scan_tokens(path: str, text: str, needles: _Needles) -> list[LeakFinding]:
    findings = []
    for number, line in enumerate(_DATA_URI.sub("", text).splitlines(), start=1):
        for token in _TOKEN.findall(line):
            parts = [token] if _ISO.match(token.lstrip("-")) else [token, *token.split("-")]
            for part in dict.fromkeys(p for p in parts if p):
                if part in needles.ids:
                    findings.append(LeakFinding(path, number, "person_id", part))
                date = _date_key(part)
                if date is not None and date in needles.dates:
                    findings.append(LeakFinding(path, number, "individual_date", part))
                amount = _amount_key(part)
                if amount is not None and amount in needles.amounts:
                    findings.append(LeakFinding(path, number, "individual_amount", part))
    return findings


def _scan_counts(path: str, text: str, rules: DisclosureRules) -> list[LeakFinding]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    columns = [
        i
        for i, name in enumerate(header)
        if any(re.search(p, name) for p in rules.count_column_patterns)
    ]
    findings = []
    for number, row in enumerate(reader, start=2):
        for i in columns:
            if i >= len(row) or row[i].strip() == "":
                continue
            try:
                value = float(row[i])
            except ValueError:
                continue
            if 0 < value < rules.min_persons:
                findings.append(
                    LeakFinding(
                        path,
                        number,
                        "small_count",
                        row[i],
                        f"column {header[i]} < {rules.min_persons}",
                    )
                )
    return findings


def scan_for_leaks(
    paths: Iterable[str | os.PathLike[str]],
    *,
    person_keys: Iterable[object] = (),
    person_values: Mapping[str, Iterable[object]] | None = None,
    rules: DisclosureRules,
    allow: Iterable[object] = (),
) -> list[LeakFinding]:
    """Scan exported files and rendered reports for individual data.

    Parameters
    ----------
    paths
        Files or directories (searched recursively); text formats are scanned (csv, json,
        md, html, txt, qmd, tex, typ, svg); embedded base64 images are skipped.
    person_keys
        Person identifiers from the inputs (RINPERSOON as zero-padded strings).
    person_values
        Person-level dates and amounts, e.g. ``{"start": persons.obligation_start,
        "wage": jobs.wage}``; only values shared by fewer than ``rare_value_max_persons``
        persons are searched (a date shared by hundreds identifies nobody).
    rules
        From :func:`load_rules`.
    allow
        Dates and amounts that are public, not individual (policy dates from
        ``config/policies.yaml``, cohort boundaries): never reported.

    Returns
    -------
    list of LeakFinding
        Empty when the files are clean.
    """
    needles = _build_needles(person_keys, person_values, rules, allow)
    findings: list[LeakFinding] = []
    for path in _expand(paths):
        text = path.read_text(encoding="utf-8", errors="replace")
        findings += _scan_tokens(str(path), text, needles)
        if path.suffix.lower() == ".csv":
            findings += _scan_counts(str(path), text, rules)
    return findings


def assert_no_leaks(
    paths: Iterable[str | os.PathLike[str]],
    *,
    person_keys: Iterable[object] = (),
    person_values: Mapping[str, Iterable[object]] | None = None,
    rules: DisclosureRules,
    allow: Iterable[object] = (),
) -> None:
    """Like :func:`scan_for_leaks` but raise :class:`LeakError` listing every finding."""
    findings = scan_for_leaks(
        paths, person_keys=person_keys, person_values=person_values, rules=rules, allow=allow
    )
    if findings:
        raise LeakError(findings)


def _expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        files += [p for p in candidates if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES]
    return files
