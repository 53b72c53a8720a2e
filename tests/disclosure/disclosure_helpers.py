"""Helpers shared by the disclosure tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from inburgering.config import schema_path

SCHEMA = schema_path("disclosure")


def two_way(
    cells: Mapping[tuple[str, str], int],
    *,
    total: str = "all",
    dims: tuple[str, str] = ("city", "cohort"),
    margins: bool = True,
) -> pd.DataFrame:
    """A frequency table with row, column and grand totals (the published margins)."""
    rows = [{dims[0]: a, dims[1]: b, "n": v} for (a, b), v in cells.items()]
    if margins:
        firsts = sorted({a for a, _ in cells})
        seconds = sorted({b for _, b in cells})
        rows += [
            {dims[0]: a, dims[1]: total, "n": sum(v for (x, _), v in cells.items() if x == a)}
            for a in firsts
        ]
        rows += [
            {dims[0]: total, dims[1]: b, "n": sum(v for (_, y), v in cells.items() if y == b)}
            for b in seconds
        ]
        rows.append({dims[0]: total, dims[1]: total, "n": sum(cells.values())})
    return pd.DataFrame(rows)
