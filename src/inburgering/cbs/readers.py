"""Readers for the formats CBS delivers (.sav, .dta) and the ones we write (.parquet, .csv).

Every reader returns the requested columns as text exactly as stored (codes, not labels;
YYYYMMDD dates stay text; empty strings become missing), so the same code runs on real and
synthetic files and a .sav reads identically to the same data as .parquet or .csv.

Files are read in chunks of only the needed columns, and each chunk can be filtered to the
persons (or address objects) of interest before it is kept: a 60-million-row SPOLISBUS year
then costs one chunk of memory plus the rows of the analysis population. Each row keeps its
file index and row number (``_file``, ``_row``) so validation messages can point at it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyreadstat

from inburgering.cbs.catalogue import Catalogue, ResolvedFile
from inburgering.workflow import StageError

log = logging.getLogger(__name__)

CHUNK_ROWS = 500_000
SOURCE_COLUMNS = ["_file", "_row"]


@dataclass
class LoadedTable:
    """A logical table read from one or more files, with provenance for error messages.

    Attributes
    ----------
    name
        Logical table name (catalogue key).
    frame
        Logical columns as text, plus ``_file`` (index into ``files``) and ``_row`` (0-based
        row number in that file).
    files
        The resolved files, in the order ``_file`` refers to.
    columns
        Logical → real column name, for messages that name the column as the file has it.
    distinct
        Distinct values over all rows of the columns requested with ``distinct=``.
    raw
        Logical column -> its text as the file holds it, indexed by (``_file``, ``_row``), for
        columns that were parsed (dates, numbers): messages quote ``20210523``, not a Timestamp.
    resolved
        The files read with their delivery year and version (coverage checks, provenance).
    """

    name: str
    frame: pd.DataFrame
    files: list[Path]
    columns: dict[str, str]
    distinct: dict[str, set[str]] = field(default_factory=dict)
    raw: dict[str, pd.Series] = field(default_factory=dict)
    resolved: list[ResolvedFile] = field(default_factory=list)

    def real(self, logical: str) -> str:
        return self.columns.get(logical, logical)

    def with_raw(self, columns: Collection[str]) -> LoadedTable:
        """Remember the file's text of `columns` before they are parsed (see ``raw``)."""
        source = pd.MultiIndex.from_frame(self.frame[SOURCE_COLUMNS])
        raw = dict(self.raw)
        for column in columns:
            if column not in raw:
                raw[column] = pd.Series(self.frame[column].to_numpy(), index=source)
        return replace(self, raw=raw)

    def text(self, index: object, column: str) -> str | None:
        """The value of one cell as the file holds it (the raw text when it was parsed)."""
        row = self.frame.loc[index]
        value = row[column]
        if column in self.raw:
            source = (int(row["_file"]), int(row["_row"]))
            found = self.raw[column].get(source)
            value = found.iloc[0] if isinstance(found, pd.Series) else found
        return None if value is None or pd.isna(value) else str(value)

    def describe(self, index: object) -> str:
        """One row as 'file row N: {REAL: value}', for messages naming an example row."""
        row = self.frame.loc[index]
        values = {
            self.real(c): self.text(index, c) for c in self.frame.columns if c not in SOURCE_COLUMNS
        }
        return f"{self.files[int(row['_file'])].name} row {int(row['_row'])}: {values}"

    def file_names(self) -> str:
        return ", ".join(path.name for path in self.files)


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


def _text(series: pd.Series) -> pd.Series:
    """One column as stripped text; SPSS numerics holding integer codes lose their '.0'."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y%m%d").astype("string")
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if (values == np.round(values)).all():
            series = series.astype("Int64")
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text (see module docstring)."""
    return pd.DataFrame({column: _text(frame[column]) for column in frame.columns})


def _chunks(
    path: Path, fmt: str, columns: list[str], rows: int, processes: int = 1
) -> Iterator[pd.DataFrame]:
    if fmt in ("sav", "dta"):
        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        # Several processes parse parts of each chunk (benchmarks/register_scale.py).
        parallel = {"multiprocess": True, "num_processes": processes} if processes > 1 else {}
        for chunk, _ in pyreadstat.read_file_in_chunks(
            reader,
            str(path),
            chunksize=rows,
            usecols=columns,
            apply_value_formats=False,
            dates_as_pandas_datetime=True,
            **parallel,
        ):
            yield chunk
    elif fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
            yield batch.to_pandas()
    elif fmt == "csv":
        yield from pd.read_csv(
            path, usecols=columns, dtype=str, keep_default_na=False, chunksize=rows
        )
    else:
        raise StageError(f"{path}: unsupported format {fmt!r}")


# pyreadstat's words when a .sav/.dta holds fewer rows than its header announces.
TRUNCATED = "did not contain the expected number of rows"


def _read_failure(path: Path, error: Exception, rows_read: int) -> str:
    """The reader's error, saying in words what a truncated file means."""
    detail = f"{type(error).__name__}: {error}"
    if TRUNCATED in str(error):
        return (
            f"{path}: the file is incomplete: it ends after about {rows_read} rows, fewer than "
            f"its header announces (a truncated copy or an interrupted transfer); copy the file "
            f"again or pick another version ({detail})"
        )
    return f"{path}: cannot read ({detail})"


def _scan(
    path: Path,
    fmt: str,
    columns: list[str],
    keep: tuple[str, Collection[str]] | None,
    distinct: Collection[str],
    chunk_rows: int,
    processes: int = 1,
) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """Read chunk by chunk: keep the wanted rows, collect distinct values over all rows.

    Logs one progress line per file: rows read, rows kept and the read rate.
    """
    started = time.perf_counter()
    wanted = None
    if keep is not None:
        values = list(keep[1]) if isinstance(keep[1], set | frozenset) else keep[1]
        wanted = pa.array(pd.Series(values, dtype="string").dropna().unique())
    seen: dict[str, set[str]] = {column: set() for column in distinct}
    kept = []
    offset = 0
    try:
        for raw in _chunks(path, fmt, columns, chunk_rows, processes):
            rows = np.arange(offset, offset + len(raw))
            offset += len(raw)
            for column in distinct:
                seen[column].update(_text(pd.Series(raw[column].unique())).dropna())
            if keep is not None:
                # pyarrow's hash lookup: pandas' isin iterates a large value list in Python.
                key = pa.array(_text(raw[keep[0]]), type=pa.string())
                mask = pc.is_in(key, value_set=wanted).to_numpy(zero_copy_only=False)
                raw, rows = raw[mask], rows[mask]
            chunk = as_text(raw[columns])
            chunk["_row"] = rows
            kept.append(chunk)
    except StageError:
        raise
    except Exception as error:
        raise StageError(_read_failure(path, error, offset)) from error
    if kept:
        frame = pd.concat(kept, ignore_index=True)
    else:
        frame = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
        frame = frame.assign(_row=np.array([], dtype=np.int64))
    seconds = time.perf_counter() - started
    log.info(
        "read %s: %d rows read, %d kept, %.0f rows/s",
        path.name,
        offset,
        len(frame),
        offset / seconds if seconds > 0 else float("nan"),
    )
    return frame, seen


def read_file(
    path: Path,
    fmt: str,
    columns: list[str],
    *,
    keep: tuple[str, Collection[str]] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    processes: int = 1,
) -> pd.DataFrame:
    """Columns of one file as text, chunk by chunk, keeping only rows whose `keep` column (a
    real column name) holds one of the given values; adds the row number ``_row``."""
    return _scan(path, fmt, columns, keep, (), chunk_rows, processes)[0]


def _column_map(
    table: str, found: ResolvedFile, mapping: dict[str, str], optional: Collection[str]
) -> dict[str, str]:
    """Logical → real name as spelled in the file (case-insensitive); optional ones may lack."""
    available = file_columns(found.path, found.format)
    lookup = {name.lower(): name for name in available}
    resolved = {}
    for logical, real in mapping.items():
        if real.lower() in lookup:
            resolved[logical] = lookup[real.lower()]
        elif logical not in optional:
            raise StageError(
                f"{found.path}: column {real!r} (logical {table}.{logical}) not found; "
                f"the file has {available[:25]}; fix tables.{table}.columns in the catalogue"
            )
        else:
            log.warning("%s: optional column %s (%s) absent", found.path.name, real, logical)
    return resolved


def _wide_map(found: ResolvedFile, wide: dict[str, str]) -> dict[str, str]:
    """Every year present of each wide column: {'municipality_2021': 'gem2021', ...}."""
    available = file_columns(found.path, found.format)
    mapping = {}
    for logical, template in wide.items():
        regex = re.compile(
            "^" + re.escape(template).replace(re.escape("{year}"), r"(\d{4})") + "$", re.I
        )
        for name in available:
            match = regex.match(name)
            if match:
                mapping[f"{logical}_{match.group(1)}"] = name
    return mapping


def read_table(
    catalogue: Catalogue,
    table: str,
    *,
    year: int | None = None,
    wide: bool = False,
    keep: tuple[str, Collection[str]] | None = None,
    optional: Collection[str] = (),
    distinct: Collection[str] = (),
    chunk_rows: int = CHUNK_ROWS,
    processes: int = 1,
) -> LoadedTable:
    """Read a logical table (newest version; every year for ``year: each`` tables).

    Parameters
    ----------
    catalogue
        The resolved catalogue.
    table
        Logical table name.
    year
        For wide columns (VSLGWB ``gem{year}``): the logical name holds that year's column.
    wide
        Read every year present of each wide column as ``{logical}_{year}``.
    keep
        ``(logical column, values)``: keep only rows whose column holds one of the values,
        filtered chunk by chunk so memory stays bounded for very large files.
    optional
        Logical columns that may be absent from the file; they come back missing.
    distinct
        Logical columns (wide ones: their prefix) whose distinct values over *all* rows,
        before `keep` filtering, are collected into ``LoadedTable.distinct``.
    chunk_rows
        Rows per chunk.
    processes
        Processes that parse each chunk of a .sav/.dta file (1: in this process).

    Returns
    -------
    LoadedTable
        Logical columns as text with ``_file``/``_row`` provenance.
    """
    spec = catalogue.spec(table)
    frames, files = [], []
    columns: dict[str, str] = {}
    seen: dict[str, set[str]] = {logical: set() for logical in distinct}
    resolved = catalogue.resolve(table)
    for index, found in enumerate(resolved):
        mapping = dict(spec.columns)
        if year is not None:
            mapping.update({lg: tpl.format(year=year) for lg, tpl in spec.wide_columns.items()})
        mapping = _column_map(table, found, mapping, optional)
        if wide:
            mapping.update(_wide_map(found, spec.wide_columns))
        real_keep = (mapping[keep[0]], keep[1]) if keep else None
        collect = {
            real: logical
            for name, real in mapping.items()
            for logical in distinct
            if name == logical or name.startswith(f"{logical}_")
        }
        frame, values = _scan(
            found.path,
            found.format,
            list(mapping.values()),
            real_keep,
            list(collect),
            chunk_rows,
            processes,
        )
        for real, found_values in values.items():
            seen[collect[real]].update(found_values)
        frame.columns = [*mapping, "_row"]
        frame.insert(len(mapping), "_file", index)
        frames.append(frame)
        files.append(found.path)
        columns.update(mapping)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for logical in optional:
        if logical not in frame:
            frame[logical] = pd.Series(pd.NA, index=frame.index, dtype="string")
    return LoadedTable(
        name=table, frame=frame, files=files, columns=columns, distinct=seen, resolved=resolved
    )
