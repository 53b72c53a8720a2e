"""Write logical tables as CBS-style files (real names and columns from the catalogue).

Columns are text (codes, ids, YYYYMMDD dates) except the measured amounts in NUMERIC; coded
columns carry SPSS value labels (what RA delivers). SPSS headers embed the creation time, which
is pinned so that the same seed gives byte-identical files.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from inburgering.cbs.catalogue import TableSpec
from inburgering.io import atomic_path

# Logical columns stored as numbers (amounts and counts); everything else is text.
NUMERIC = frozenset({"base_wage", "base_hours", "test_score", "schooling_years", "children"})
SAV_TIMESTAMP = b"01 Jan 2600:00:00"  # creation date (9 bytes) + time (8 bytes) in the header
SAV_TIMESTAMP_OFFSET = 92
SAV_CASES_OFFSET = 80  # int32 number of cases in the header
# Extension record 7, subtype 16 (two int64: 1 and the number of cases): type, subtype, size, count.
SAV_CASES64_RECORD = struct.pack("<4i", 7, 16, 8, 2)
SAV_SYSMIS = -np.finfo(np.float64).max  # ReadStat's system-missing double
SAV_MAX_SHORT_STRING = 255  # wider text is split into segments (left to pyreadstat)
SPACE = ord(" ")


def file_path(spec: TableSpec, root: Path, year: int, fmt: str, version: int = 1) -> Path:
    relative = spec.pattern.format(year=year, version=version, ext=fmt)
    return root / relative


def real_names(frame: pd.DataFrame, spec: TableSpec) -> dict[str, str]:
    """Logical → real names; wide columns arrive as ``{logical}_{year}`` (municipality_2019)."""
    mapping = {}
    for column in frame.columns:
        if column in spec.columns:
            mapping[column] = spec.columns[column]
            continue
        logical, _, year = column.rpartition("_")
        if logical not in spec.wide_columns or not year.isdigit():
            raise KeyError(f"table {spec.name}: column {column!r} is not in the catalogue")
        mapping[column] = spec.wide_columns[logical].format(year=int(year))
    return mapping


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float, text as numpy object arrays (pyreadstat iterates those far faster
    than pandas' Arrow-backed strings)."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if column in NUMERIC:
            out[column] = pd.to_numeric(values).astype(float)
        elif isinstance(values.dtype, pd.StringDtype):
            # Already text: the same str objects, missing as "", without a numpy unicode copy.
            text = values.to_numpy(dtype=object, na_value="")
            out[column] = pd.Series(text, index=frame.index, dtype=object)
        else:
            text = np.where(values.isna().to_numpy(), "", values.to_numpy(dtype=object).astype(str))
            out[column] = pd.Series(text.astype(object), index=frame.index, dtype=object)
    return out


def write_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    root: Path,
    year: int,
    fmt: str,
    labels: dict[str, dict[str, str]] | None = None,
    version: int = 1,
) -> Path:
    """Rename logical → real columns and write atomically; labels map logical columns."""
    mapping = real_names(frame, spec)
    real = _typed(frame).rename(columns=mapping)
    path = file_path(spec, root, year, fmt, version)
    with atomic_path(path) as tmp:
        if fmt == "sav":
            value_labels = {mapping[c]: v for c, v in (labels or {}).items() if c in mapping}
            _write_sav(real, tmp, spec.description[:60], value_labels)
            _pin_sav_timestamp(tmp)
        elif fmt == "parquet":
            real.to_parquet(tmp, index=False)
        elif fmt == "csv":
            real.to_csv(tmp, index=False)
        else:
            raise ValueError(f"cannot write format {fmt!r}")
    return path


def _write_sav(
    frame: pd.DataFrame, path: Path, file_label: str, value_labels: dict[str, dict]
) -> None:
    """pyreadstat's uncompressed .sav, its data section packed here with numpy.

    Why: pyreadstat inserts every value through a Python loop, a third of the generator's time
    at national size (millions of job periods). pyreadstat writes the dictionary from a one-row
    frame holding each column's widest value (the same variable widths, labels and header), its
    one case is replaced by the packed cases, and the case count in the header is set. Tables
    whose text is not ASCII or wider than 255 bytes go through pyreadstat entirely.
    """
    cases = _sav_cases(frame, value_labels)
    if cases is None or len(frame) < 2:
        pyreadstat.write_sav(
            frame, str(path), file_label=file_label, variable_value_labels=value_labels
        )
        return
    widest = _widest_row(frame)
    pyreadstat.write_sav(
        widest, str(path), file_label=file_label, variable_value_labels=value_labels
    )
    with open(path, "r+b") as handle:
        handle.seek(-cases.shape[1], os.SEEK_END)
        handle.truncate()
        dictionary = handle.tell()
        handle.write(cases.tobytes())
        handle.seek(SAV_CASES_OFFSET)
        handle.write(struct.pack("<i", len(frame)))
        # The 64-bit case count of the extension record 7/16 (values: 1, cases).
        handle.seek(0)
        header = handle.read(dictionary)
        at = header.rfind(SAV_CASES64_RECORD)
        if at < 0:
            raise ValueError(f"{path}: no 64-bit case count record in pyreadstat's dictionary")
        handle.seek(at + len(SAV_CASES64_RECORD) + 8)
        handle.write(struct.pack("<q", len(frame)))


def _sav_cases(frame: pd.DataFrame, value_labels: dict[str, dict]) -> np.ndarray | None:
    """The data section as bytes (cases x row width), as ReadStat lays it out: doubles in 8
    bytes (missing: SYSMIS), text in its width rounded up to 8, padded with spaces; None when a
    column is not a float or ASCII text of at most 255 bytes."""
    n = len(frame)
    blocks = []
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype == np.float64:
            numbers = np.where(np.isnan(values), SAV_SYSMIS, values).astype("<f8")
            blocks.append(numbers.view(np.uint8).reshape(n, 8))
            continue
        if values.dtype != object:
            return None
        try:
            encoded = values.astype(bytes)
        except (UnicodeEncodeError, TypeError):
            return None
        labels = value_labels.get(column) or {}
        width = max([1, encoded.dtype.itemsize, *(len(str(label)) for label in labels)])
        if width > SAV_MAX_SHORT_STRING:
            return None
        storage = -(-width // 8) * 8
        text = np.full((n, storage), SPACE, dtype=np.uint8)
        raw = encoded.view(np.uint8).reshape(n, encoded.dtype.itemsize)
        text[:, : raw.shape[1]] = np.where(raw == 0, SPACE, raw)
        blocks.append(text)
    return np.ascontiguousarray(np.hstack(blocks))


def _widest_row(frame: pd.DataFrame) -> pd.DataFrame:
    """One row: each text column's longest value, each number column's first value."""
    row = {}
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype == object:
            lengths = np.char.str_len(values.astype(bytes))
            row[column] = [values[int(np.argmax(lengths))]]
        else:
            row[column] = [values[0]]
    return pd.DataFrame(row).astype(frame.dtypes.to_dict())


def _pin_sav_timestamp(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(SAV_TIMESTAMP_OFFSET)
        handle.write(SAV_TIMESTAMP)


def as_text_ids(values: np.ndarray, width: int = 9) -> np.ndarray:
    """Ids as zero-padded text (np.char.zfill), built from the digits of value + 10**width for
    non-negative ids below 10**width (several times faster for millions of job periods)."""
    values = np.asarray(values)
    limit = 10**width
    if values.dtype.kind not in "iu" or values.ndim != 1 or width > 17:
        return np.char.zfill(values.astype(str), width).astype(object)
    if values.size == 0 or values.min() < 0 or values.max() >= limit:
        return np.char.zfill(values.astype(str), width).astype(object)
    digits = (values.astype(np.int64) + limit).astype(f"U{width + 1}")
    padded = np.ascontiguousarray(digits.view("U1").reshape(values.size, width + 1)[:, 1:])
    return padded.view(f"U{width}").ravel().astype(object)
