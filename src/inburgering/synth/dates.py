"""Vectorised calendar arithmetic on numpy datetime64[D] arrays.

`add_months` reproduces ``pandas.DateOffset(months=k)`` exactly (the day is clipped to the end
of the target month), which is how prepare measures outcomes at a horizon; doing it in numpy
keeps the person x month grid cheap at national scale.
"""

from __future__ import annotations

import numpy as np

DAY = "datetime64[D]"


def add_months(dates: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    month_start = dates.astype("datetime64[M]")
    day = (dates - month_start.astype(DAY)).astype(np.int64)
    target = month_start + np.asarray(months, dtype=np.int64)
    days_in_month = ((target + 1).astype(DAY) - target.astype(DAY)).astype(np.int64)
    return target.astype(DAY) + np.minimum(day, days_in_month - 1)


def yyyymmdd(dates: np.ndarray) -> np.ndarray:
    """Dates as CBS text (YYYYMMDD); NaT becomes the empty string.

    Millions of spell dates fall on a few thousand days: each day in their range is formatted
    once and looked up (formatting every date took a tenth of the generator's time)."""
    dates = np.asarray(dates).astype(DAY)
    present = ~np.isnat(dates)
    out = np.full(dates.shape, "", dtype=object)
    if not present.any():
        return out
    day = dates[present].astype(np.int64)
    first, last = int(day.min()), int(day.max())
    if last - first >= day.size:  # spread-out dates: format each one
        out[present] = _yyyymmdd_text(dates[present]).astype(object)
        return out
    table = _yyyymmdd_text(np.arange(first, last + 1).astype(DAY)).astype(object)
    out[present] = table[day - first]
    return out


def _yyyymmdd_text(dates: np.ndarray) -> np.ndarray:
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (dates - dates.astype("datetime64[M]").astype(DAY)).astype(np.int64) + 1
    return (years * 10000 + months * 100 + days).astype(str)


def quarter_index(dates: np.ndarray) -> np.ndarray:
    """Quarters since 2000Q1 (integer), for cohort and event-time arithmetic."""
    months = dates.astype("datetime64[M]").astype(np.int64) - 360
    return months // 3


def quarter_label(index: np.ndarray) -> np.ndarray:
    index = np.asarray(index, dtype=np.int64)
    return np.char.add(
        np.char.add((2000 + index // 4).astype(str), "Q"), (index % 4 + 1).astype(str)
    )


def quarter_from_label(label: str) -> int:
    year, quarter = label.split("Q")
    return (int(year) - 2000) * 4 + int(quarter) - 1


def month_end(period: str) -> np.datetime64:
    """Last day of a 'YYYY-MM' month."""
    return (np.datetime64(period, "M") + 1).astype(DAY) - 1
