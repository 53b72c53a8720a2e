"""Write logical tables as CBS-style files (real names and columns from the catalogue).

Columns are text (codes, ids, YYYYMMDD dates) except the measured amounts in NUMERIC; coded
columns carry SPSS value labels (what RA delivers). SPSS headers embed the creation time, which
is pinned so that the same seed gives byte-identical files.
"""

from __future__ import annotations

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
            pyreadstat.write_sav(
                real, str(tmp), file_label=spec.description[:60], variable_value_labels=value_labels
            )
            _pin_sav_timestamp(tmp)
        elif fmt == "parquet":
            real.to_parquet(tmp, index=False)
        elif fmt == "csv":
            real.to_csv(tmp, index=False)
        else:
            raise ValueError(f"cannot write format {fmt!r}")
    return path


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
