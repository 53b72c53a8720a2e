"""Validation rules applied to a table before it is used (the rules are listed in quality.RULES).

Each function takes a :class:`LoadedTable`, records its rule in the :class:`DataQuality` ledger
(stopping on fatal findings) and returns the table with documented repairs applied. Spells are
checked on the analysis population's rows only (files are filtered while read).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from inburgering.cbs.readers import SOURCE_COLUMNS, LoadedTable
from inburgering.prepare.quality import DataQuality

OPEN_END = pd.Timestamp("2099-12-31")
MIN_DATE = pd.Timestamp("1900-01-01")


@dataclass(frozen=True)
class Limits:
    """Validation settings from ``prepare.validation``."""

    person_id_digits: int = 9
    min_date: pd.Timestamp = MIN_DATE
    max_date: pd.Timestamp = OPEN_END

    @classmethod
    def from_config(cls, validation: dict) -> Limits:
        return cls(
            person_id_digits=int(validation["person_id_digits"]),
            min_date=pd.Timestamp(validation["min_date"]),
            max_date=pd.Timestamp(validation["max_date"]),
        )


def with_frame(loaded: LoadedTable, frame: pd.DataFrame) -> LoadedTable:
    return replace(loaded, frame=frame)


def content(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in SOURCE_COLUMNS]


def drop_duplicates(dq: DataQuality, loaded: LoadedTable) -> LoadedTable:
    """Identical rows (provenance aside) are kept once."""
    duplicated = loaded.frame.duplicated(content(loaded.frame))
    dq.repaired("duplicate_rows", loaded, "*", duplicated)
    return with_frame(loaded, loaded.frame[~duplicated])


def person_key(dq: DataQuality, loaded: LoadedTable, limits: Limits) -> LoadedTable:
    """Key present; numeric ids padded back to their fixed width; then the format is fatal."""
    frame = loaded.frame
    for column in ("person_type", "person_id"):
        dq.check("key_missing", loaded, column, frame[column].isna())
    ids = frame["person_id"]
    width = limits.person_id_digits
    short = ids.str.fullmatch(r"\d+") & (ids.str.len() < width)
    dq.repaired("person_id_padding", loaded, "person_id", short)
    frame = frame.assign(person_id=ids.str.zfill(width).where(short, ids))
    loaded = with_frame(loaded, frame)
    dq.check(
        "key_format", loaded, "person_id", ~frame["person_id"].str.fullmatch(rf"\d{{{width}}}")
    )
    return loaded


def unique_key(dq: DataQuality, loaded: LoadedTable, key: list[str]) -> None:
    """After exact duplicates are dropped, a repeated key means conflicting records."""
    repeated = loaded.frame.duplicated(key, keep=False)
    dq.check("key_unique", loaded, key[-1], repeated, explain=lambda m: conflict(loaded, key, m))


def conflict(loaded: LoadedTable, key: list[str], repeated: pd.Series) -> str:
    """Every row of the first repeated key, and the fields in which they differ."""
    frame = loaded.frame[repeated.fillna(False).astype(bool)]
    first = frame.iloc[0][key]
    rows = frame[(frame[key] == first).all(axis=1)]
    differ = [c for c in content(rows) if rows[c].astype("string").nunique(dropna=False) > 1]
    listed = "; ".join(loaded.describe(index) for index in rows.index)
    fields = ", ".join(
        f"{loaded.real(c)} ({' vs '.join(repr(loaded.text(i, c)) for i in rows.index)})"
        for c in differ
    )
    return f"; the {len(rows)} rows of that key: {listed}; fields that differ: {fields}"


def dates(
    dq: DataQuality, loaded: LoadedTable, columns: list[str], limits: Limits, fmt: str = "%Y%m%d"
) -> LoadedTable:
    """Parse text dates in place; malformed or out-of-range non-missing values are fatal."""
    parsed = {}
    loaded = loaded.with_raw(columns)
    for column in columns:
        text = loaded.frame[column]
        values = pd.to_datetime(text, format=fmt, errors="coerce")
        dq.check("date_format", loaded, column, values.isna() & text.notna())
        outside = (values < limits.min_date) | (values > limits.max_date)
        dq.check(
            "date_range",
            loaded,
            column,
            outside,
            f": {limits.min_date.date()}..{limits.max_date.date()}",
        )
        parsed[column] = values
    return with_frame(loaded, loaded.frame.assign(**parsed))


def codes(dq: DataQuality, loaded: LoadedTable, column: str, allowed: list[str]) -> None:
    """Non-missing values must come from the code list."""
    values = loaded.frame[column]
    dq.check(
        "code_list", loaded, column, values.notna() & ~values.isin(allowed), f": {sorted(allowed)}"
    )


# The variants CBS files use for one municipality code: 'GM0599', '0599', '599' (a number, or
# text that lost its leading zero) and 'gm599'; all mean the 4-digit '0599' of VSLGWB.
MUNICIPALITY_VARIANT = r"(?i)(?:GM)?\s*(\d{1,4})"


def municipality_format(dq: DataQuality, loaded: LoadedTable, columns: list[str]) -> LoadedTable:
    """Normalise the CBS variants of a municipality code to 4 digits; anything else is fatal."""
    loaded = loaded.with_raw(columns)
    for column in columns:
        text = loaded.frame[column]
        digits = text.str.fullmatch(MUNICIPALITY_VARIANT).fillna(False)
        fixed = text.str.extract(MUNICIPALITY_VARIANT, expand=False).str.zfill(4)
        fixed = fixed.where(digits, text)
        dq.repaired("municipality_code_format", loaded, column, text.notna() & (fixed != text))
        loaded = with_frame(loaded, loaded.frame.assign(**{column: fixed}))
        dq.check(
            "unknown_municipality",
            loaded,
            column,
            fixed.notna() & ~fixed.str.fullmatch(r"\d{4}"),
            ": not a municipality code (GM0599, 0599, 599)",
        )
    return loaded


def known_municipalities(
    dq: DataQuality, loaded: LoadedTable, column: str, known: set[str] | None
) -> None:
    """Codes must occur in the municipality classification (when it is available)."""
    if known is not None:
        values = loaded.frame[column]
        dq.check("unknown_municipality", loaded, column, values.notna() & ~values.isin(known))


def spells(
    dq: DataQuality, loaded: LoadedTable, by: list[str], limits: Limits, *, truncate: bool
) -> LoadedTable:
    """Validate start/end spells, then repair open, inverted and overlapping spells.

    Parameters
    ----------
    by
        Columns within which spells may not overlap (person key, plus the category for state
        spells: a person can be employed and on benefits at once, but not twice employed).
    truncate
        Overlap repair: cut the earlier spell (address spells, where the later move wins)
        instead of merging (state spells, where the union is the same state).
    """
    dq.check("spell_start_missing", loaded, "start", loaded.frame["start"].isna())
    loaded = dates(dq, loaded, ["start", "end"], limits)
    frame = loaded.frame
    open_end = frame["end"].isna()
    dq.repaired("spell_open_end", loaded, "end", open_end)
    frame = frame.assign(end=frame["end"].fillna(OPEN_END))
    inverted = frame["end"] < frame["start"]
    dq.repaired("spell_inverted", with_frame(loaded, frame), "end", inverted)
    frame = frame[~inverted].sort_values([*by, "start", "end"], kind="mergesort")
    if truncate:
        next_start = frame.groupby(by, sort=False)["start"].shift(-1)
        overlap = frame["end"] >= next_start
        dq.repaired("spell_overlap", with_frame(loaded, frame), "end", overlap)
        frame = frame.assign(end=frame["end"].where(~overlap, next_start - pd.Timedelta(days=1)))
        frame = frame[frame["end"] >= frame["start"]]
    else:
        reach = frame.groupby(by, sort=False)["end"].cummax()
        previous = reach.groupby([frame[c] for c in by], sort=False).shift()
        overlap = frame["start"] <= previous
        dq.repaired("spell_overlap", with_frame(loaded, frame), "start", overlap)
        if overlap.any():
            frame = _merge(frame, by, overlap)
    return with_frame(loaded, frame.reset_index(drop=True))


def _merge(frame: pd.DataFrame, by: list[str], overlap: pd.Series) -> pd.DataFrame:
    """Union of overlapping spells (rows sorted by `by`, start); provenance of the first."""
    block = (~overlap).cumsum().rename("_block")
    merged = frame.groupby(block, sort=False).agg(
        {**{c: "first" for c in frame.columns if c != "end"}, "end": "max"}
    )
    return merged[frame.columns]


def impossible_order(
    dq: DataQuality, loaded: LoadedTable, rule: str, later: str, earlier: str
) -> LoadedTable:
    """A process date before the step it must follow is set missing (the step is unknown)."""
    frame = loaded.frame
    wrong = frame[later] < frame[earlier]
    dq.repaired(rule, loaded, later, wrong)
    return with_frame(loaded, frame.assign(**{later: frame[later].mask(wrong)}))
