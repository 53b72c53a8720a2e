"""Table 1: the study population per settlement city (descriptives.csv).

Shares are computed here from the published counts only (each level over its city's total for
the variable), so a level withheld by the output checks, or one whose city total was withheld,
reads "suppressed", never 0 %. A yes/no characteristic shows one row (the share with it).
"""

from __future__ import annotations

import pandas as pd

from inburgering.contracts.side_tables import TOTAL_LEVEL, UNKNOWN_LEVEL
from inburgering.report.context import Report
from inburgering.report.tables import PP, pipe_table
from inburgering.report.translate import Translator

COMPARISON_POOL = "rest_nl"
YES_NO = {"true", "false", UNKNOWN_LEVEL}


def table_one(report: Report) -> str:
    t = report.t
    frame = report.exports.table("descriptives")
    if frame is None:
        return report.not_run("descriptives.csv")
    frame = frame.assign(level=frame["level"].astype(str))
    cities = [c for c in (*report.cities, COMPARISON_POOL) if c in set(frame["city"])]
    counts = frame.set_index(["variable", "level", "city"])["n"]
    header = [""] + [t.label("city", c) for c in cities]
    first = frame["variable"].iloc[0]
    body = [[t("col_persons")] + [t.count(counts.get((first, TOTAL_LEVEL, c))) for c in cities]]
    for variable, rows in frame.groupby("variable", sort=False):
        levels = list(dict.fromkeys(rows["level"]))
        shown = ["true"] if set(levels) - {TOTAL_LEVEL} <= YES_NO else levels
        for level in (v for v in shown if v != TOTAL_LEVEL):
            cells = [_share(t, counts, variable, level, c) for c in cities]
            body.append([_row_label(t, variable, level), *cells])
    numeric = [False] + [True] * len(cities)
    return pipe_table(header, body, t("tbl_descriptives"), "tbl-descriptives", numeric) + "\n"


def _share(t: Translator, counts: pd.Series, variable: str, level: str, city: str) -> str:
    part = counts.get((variable, level, city))
    total = counts.get((variable, TOTAL_LEVEL, city))
    if part is None or total is None:  # not in the export (the producer writes every cell)
        return "–"
    if pd.isna(part) or pd.isna(total) or total == 0:
        return t("suppressed")
    return f"{t.number(part / total * PP, 1)}%"


def _row_label(t: Translator, variable: str, level: str) -> str:
    name = t.label("descriptive", variable)
    name = name[:1].upper() + name[1:]
    return name if level == "true" else f"{name}: {_level(t, level)}"


def _level(t: Translator, level: str) -> str:
    """A band as a reader writes it ("≥ 45", "< 18", "18–26"), any other level by its label."""
    if level.endswith("+"):
        return f"≥ {level[:-1]}"
    if level.startswith("<"):
        return f"< {level[1:]}"
    if "-" in level and level.replace("-", "").isdigit():
        return level.replace("-", "–")
    return t.label("level", level)
