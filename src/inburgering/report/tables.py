"""Tables formatted for reading: estimate, interval, n (never dumped data frames).

Effects on shares are shown in percentage points; intervals as "[low, high]"; counts with
thousands separators in the report language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from inburgering.report.translate import Translator

PP = 100.0  # outcomes are shares; effects read as percentage points


def pipe_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    caption: str,
    label: str,
    numeric: Sequence[bool] | None = None,
) -> str:
    """A Markdown pipe table with a numbered caption (``: caption {#tbl-x}``)."""
    numeric = numeric or [False] * len(header)
    align = [
        "-" * width + ":" if right else ":" + "-" * width
        for right, width in zip(numeric, _dash_widths(header, rows), strict=True)
    ]
    lines = [_row(header), _row(align), *(_row(r) for r in rows)]
    return "\n".join(lines) + f"\n\n: {caption} {{#{label}}}\n"


def _dash_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Separator dashes in proportion to each column's widest cell (headers count by their
    longest word, as they may wrap). Pandoc sizes the columns of a wide pipe table by these
    dashes (Quarto renders with 72 columns), so an interval column gets the room it needs
    instead of an equal share, and intervals do not wrap."""
    widths = [max((len(w) for w in str(h).split()), default=1) for h in header]
    for row in rows:
        widths = [max(w, len(str(cell))) for w, cell in zip(widths, row, strict=True)]
    return [max(3, w) for w in widths]


@dataclass(frozen=True)
class Column:
    """One column of a report table: its header (a translation key), how a row shows in it,
    and whether it is right-aligned (numbers)."""

    header: str
    cell: Callable[[pd.Series], str]
    numeric: bool = False


def label_column(t: Translator, name: str, kind: str | None = None) -> Column:
    """A column showing the label of the code in ``row[name]`` (header ``col_<name>``)."""
    return Column(f"col_{name}", lambda row: t.label(kind or name, row[name]))


def frame_table(
    t: Translator, frame: pd.DataFrame, columns: Sequence[Column], caption: str, label: str
) -> str:
    """One table row per frame row, formatted column by column."""
    body = [[c.cell(row) for c in columns] for _, row in frame.iterrows()]
    header = [t(c.header) for c in columns]
    return pipe_table(header, body, caption, label, [c.numeric for c in columns]) + "\n"


def is_true(value: object) -> bool:
    """A flag as exported tables hold it (bool, or the text 'True'/'true')."""
    return str(value).lower() == "true"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def effect(t: Translator, value: float, scale: float = PP, digits: int = 1) -> str:
    return t.number(value * scale, digits, sign=True) if pd.notna(value) else t("suppressed")


def interval(t: Translator, low: float, high: float, scale: float = PP, digits: int = 1) -> str:
    """ "[low, high]"; a dash when there is none (randomization inference gives a p-value only):
    only a caller that knows the disclosure rules withheld a value says "suppressed"."""
    if pd.isna(low) or pd.isna(high):
        return "–"
    # With decimal commas (Dutch) the bounds are separated by a semicolon: "[2,4; 19,9]".
    separator = "; " if t.language == "nl" else ", "
    return f"[{t.number(low * scale, digits)}{separator}{t.number(high * scale, digits)}]"


def p_value(t: Translator, value: float) -> str:
    if pd.isna(value):
        return "–"
    return "< " + t.number(0.001, 3) if value < 0.001 else t.number(value, 3)


def counts(t: Translator, treated: object, control: object) -> str:
    if pd.isna(control):
        return t.count(treated)
    return f"{t.count(treated)} / {t.count(control)}"


def estimate_cells(t: Translator, row: pd.Series, scale: float = PP) -> list[str]:
    """Estimate, 95% interval and n of one tidy row, in that order.

    A published row without an interval (the wild bootstrap reports a p-value only, CRV3 is
    undefined with one treated cluster) shows a dash: "suppressed" is kept for the rows the
    disclosure rules withheld."""
    withheld = is_true(row.get("suppressed", False))
    return [
        effect(t, row["estimate"], scale),
        t("suppressed") if withheld else interval(t, row["ci_low"], row["ci_high"], scale),
        counts(t, row["n_treated"], row["n_control"]),
    ]
