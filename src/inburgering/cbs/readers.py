"""Readers for the formats CBS delivers (.sav, .dta) and the ones we write (.parquet, .csv).

Every reader returns the requested columns as strings exactly as stored (codes, not labels;
YYYYMMDD dates stay text), so the same code runs on real and synthetic files. Missing columns
stop with a message naming the file, the logical and real column, and what the file has.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat

from inburgering.cbs.catalogue import Catalogue, ResolvedFile
from inburgering.workflow import StageError

log = logging.getLogger(__name__)


def file_columns(path: Path, fmt: str) -> list[str]:
    """Column names without reading the data."""
    try:
        if fmt == "sav":
            return list(pyreadstat.read_sav(str(path), metadataonly=True)[1].column_names)
        if fmt == "dta":
            return list(pyreadstat.read_dta(str(path), metadataonly=True)[1].column_names)
        if fmt == "parquet":
            return list(pq.read_schema(path).names)
        if fmt == "csv":
            return list(pd.read_csv(path, nrows=0).columns)
    except Exception as error:  # pyreadstat raises its own types for corrupt files
        raise StageError(
            f"{path}: cannot read the file header ({type(error).__name__}: {error})"
        ) from error
    raise StageError(f"{path}: unsupported format {fmt!r}")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Codes as strings; SPSS numerics that hold integer codes lose their '.0'."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_float_dtype(series):
            whole = series.dropna()
            if (whole == whole.round()).all():
                series = series.astype("Int64")
        out[column] = series.astype("string")
    return pd.DataFrame(out)


def read_file(path: Path, fmt: str, columns: list[str]) -> pd.DataFrame:
    try:
        if fmt == "sav":
            frame, _ = pyreadstat.read_sav(str(path), usecols=columns, apply_value_formats=False)
        elif fmt == "dta":
            frame, _ = pyreadstat.read_dta(str(path), usecols=columns, apply_value_formats=False)
        elif fmt == "parquet":
            frame = pd.read_parquet(path, columns=columns)
        elif fmt == "csv":
            frame = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False)
        else:
            raise StageError(f"{path}: unsupported format {fmt!r}")
    except StageError:
        raise
    except Exception as error:
        raise StageError(f"{path}: cannot read ({type(error).__name__}: {error})") from error
    return _as_text(frame[columns])


def read_table(catalogue: Catalogue, table: str, *, year: int | None = None) -> pd.DataFrame:
    """Read a logical table (newest version) with logical column names.

    For wide columns (e.g. VSLGWB ``gem{year}``) pass ``year``; the logical name then holds that
    year's column.
    """
    spec = catalogue.spec(table)
    resolved: list[ResolvedFile] = catalogue.resolve(table)
    frames = []
    for found in resolved:
        mapping = dict(spec.columns)
        if year is not None:
            for logical, template in spec.wide_columns.items():
                mapping[logical] = template.format(year=year)
        available = file_columns(found.path, found.format)
        lookup = {name.lower(): name for name in available}
        missing = [(lg, real) for lg, real in mapping.items() if real.lower() not in lookup]
        if missing:
            logical, real = missing[0]
            raise StageError(
                f"{found.path}: column {real!r} (logical {table}.{logical}) not found; "
                f"the file has {available[:25]}; fix tables.{table}.columns in the catalogue"
            )
        real_names = [lookup[real.lower()] for real in mapping.values()]
        frame = read_file(found.path, found.format, real_names)
        frame.columns = list(mapping)
        log.info("read %s: %d rows from %s", table, len(frame), found.path.name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
