"""Monthly state grids → spells (SECM categories, enrolment, jobs) with CBS-style dates.

Month m of a person is the period [start + m months, start + (m+1) months - 1 day] (months added
like pandas DateOffset), so the state on the date start + h months is the state of month h and
prepare recovers every horizon outcome exactly from the spell files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inburgering.synth.dates import DAY, add_months

UNOBSERVED = -1


def runs(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values along months: (row, first month, last month, value), row-major."""
    n, m = grid.shape
    change = np.ones((n, m), dtype=bool)
    change[:, 1:] = grid[:, 1:] != grid[:, :-1]
    last = np.ones((n, m), dtype=bool)
    last[:, :-1] = change[:, 1:]
    row, first = np.nonzero(change)
    _, final = np.nonzero(last)
    value = grid[row, first]
    keep = value != UNOBSERVED
    return row[keep], first[keep], final[keep], value[keep]


def spell_dates(
    start: np.ndarray, first: np.ndarray, final: np.ndarray, data_end: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    begin = add_months(start, first)
    end = np.minimum(add_months(start, final + 1) - np.timedelta64(1, "D"), data_end)
    return begin, end


def calendar_months(
    begin: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split spells at calendar-month boundaries (SPOLIS income periods): (spell, from, to)."""
    first = begin.astype("datetime64[M]")
    count = (end.astype("datetime64[M]") - first).astype(np.int64) + 1
    spell = np.repeat(np.arange(len(begin)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    month = first[spell] + offset
    period_from = np.maximum(month.astype(DAY), begin[spell])
    period_to = np.minimum((month + 1).astype(DAY) - np.timedelta64(1, "D"), end[spell])
    return spell, period_from, period_to


def month_grid(start: np.ndarray, data_end: np.datetime64) -> tuple[int, np.ndarray]:
    """Number of grid months and, per person, how many months start on or before the data end."""
    months_seen = (data_end.astype("datetime64[M]") - start.astype("datetime64[M]")).astype(
        np.int64
    ) + 1
    # The period starting in the data-end month is seen only if it starts by the data end.
    last_start = add_months(start, months_seen - 1)
    months_seen = np.where(last_start > data_end, months_seen - 1, months_seen)
    return int(months_seen.max()), months_seen


def spells_frame(
    persons_index: np.ndarray, start: np.ndarray, grid: np.ndarray, data_end: np.datetime64
) -> pd.DataFrame:
    row, first, final, value = runs(grid)
    begin, end = spell_dates(start[row], first, final, data_end)
    return pd.DataFrame({"person": persons_index[row], "state": value, "begin": begin, "end": end})
