"""Corruptions of CBS-style files, one function per kind of damage found in real deliveries.

Every function works on a data root through the catalogue (config/catalogue.yaml), so files are
found by their logical table and columns are addressed by logical name but written under the
real CBS column names. Each returns a :class:`Damage` saying what it broke, so a test can check
that the stage's message points at exactly that file, column and row.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyreadstat

from inburgering.cbs.catalogue import Catalogue
from inburgering.config import load_catalogue

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ["sav", "parquet", "csv", "dta"]
KEY = ["person_type", "person_id"]


@dataclass(frozen=True)
class Damage:
    """What a corruption did: the file name, the real column, and an offending row."""

    file: str
    column: str = ""
    person_id: str = ""
    value: str = ""


def catalogue(root: Path) -> Catalogue:
    return Catalogue(load_catalogue(ROOT / "config" / "catalogue.yaml"), root, FORMATS)


def real(root: Path, table: str, logical: str) -> str:
    return catalogue(root).spec(table).columns[logical]


def path_of(root: Path, table: str) -> Path:
    """The file the pipeline would read for a table (newest year and version)."""
    return catalogue(root).resolve(table)[-1].path


def read(path: Path) -> pd.DataFrame:
    """All columns as stored (the generator writes text columns)."""
    suffix = path.suffix.lower()
    if suffix == ".sav":
        return pyreadstat.read_sav(str(path), apply_value_formats=False)[0]
    if suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".sav":
        pyreadstat.write_sav(frame, str(path))
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _edit(root: Path, table: str) -> tuple[Path, pd.DataFrame]:
    path = path_of(root, table)
    return path, read(path)


def _pid(root: Path, table: str, frame: pd.DataFrame, row: int) -> str:
    return str(frame.loc[row, real(root, table, "person_id")])


# --- whole files ---------------------------------------------------------------------------


def truncate(root: Path, table: str, keep: float = 0.5) -> Damage:
    """Cut the file short, as an interrupted copy into RA does."""
    path = path_of(root, table)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return Damage(path.name)


def garble(root: Path, table: str) -> Damage:
    """Overwrite the header with junk: not a readable file of its format any more."""
    path = path_of(root, table)
    data = bytearray(path.read_bytes())
    data[:64] = b"\x00corrupt" * 8
    path.write_bytes(bytes(data))
    return Damage(path.name)


def delete(root: Path, table: str) -> Damage:
    """Remove the table's file; the Damage's column holds the logical table name."""
    path = path_of(root, table)
    path.unlink()
    return Damage(path.name, table)


# --- columns ----------------------------------------------------------------------------------


def drop_column(root: Path, table: str, logical: str) -> Damage:
    path, frame = _edit(root, table)
    column = real(root, table, logical)
    write(frame.drop(columns=[column]), path)
    return Damage(path.name, column)


def rename_column(root: Path, table: str, logical: str, new: str) -> Damage:
    """A CBS re-release that renamed a column (the catalogue still has the old name)."""
    path, frame = _edit(root, table)
    column = real(root, table, logical)
    write(frame.rename(columns={column: new}), path)
    return Damage(path.name, column)


def numeric_column(root: Path, table: str, logical: str) -> Damage:
    """Store a text code/date column as SPSS numeric (doubles), as SPSS exports often do."""
    path, frame = _edit(root, table)
    column = real(root, table, logical)
    values = pd.to_numeric(frame[column].replace("", None), errors="coerce").astype(float)
    write(frame.assign(**{column: values}), path)
    return Damage(path.name, column)


# --- values -------------------------------------------------------------------------------------


def set_value(root: Path, table: str, logical: str, value: str, row: int = 3) -> Damage:
    """One cell gets a bad value; the Damage names that row's person."""
    path, frame = _edit(root, table)
    column = real(root, table, logical)
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    write(frame, path)
    return Damage(path.name, column, _pid(root, table, frame, row), value)


def duplicate_key(root: Path, table: str, logical: str, value: str, row: int = 3) -> Damage:
    """A second row for the same person with conflicting content."""
    path, frame = _edit(root, table)
    column = real(root, table, logical)
    twin = frame.loc[[row]].assign(**{column: value})
    write(pd.concat([frame, twin], ignore_index=True), path)
    # The example row may be either twin: name the person, not the conflicting value.
    return Damage(path.name, real(root, table, "person_id"), _pid(root, table, frame, row))


def duplicate_row(root: Path, table: str, row: int = 3) -> Damage:
    """An exact copy of a row (a documented repair: kept once)."""
    path, frame = _edit(root, table)
    write(pd.concat([frame, frame.loc[[row]]], ignore_index=True), path)
    return Damage(path.name, "", _pid(root, table, frame, row))


def invert_spell(root: Path, table: str, row: int = 3) -> Damage:
    """A spell whose end lies before its start (documented repair: spell dropped)."""
    path, frame = _edit(root, table)
    start, end = real(root, table, "start"), real(root, table, "end")
    frame.loc[row, end] = (pd.Timestamp(frame.loc[row, start]) - pd.Timedelta(days=10)).strftime(
        "%Y%m%d"
    )
    write(frame, path)
    return Damage(path.name, end, _pid(root, table, frame, row))


def overlap_spell(root: Path, table: str, row: int = 3) -> Damage:
    """A second spell of the same state that overlaps the first (documented repair: merged)."""
    path, frame = _edit(root, table)
    start, end = real(root, table, "start"), real(root, table, "end")
    twin = frame.loc[[row]].copy()
    begin = pd.Timestamp(frame.loc[row, start]) + pd.Timedelta(days=5)
    twin[start] = begin.strftime("%Y%m%d")
    twin[end] = (begin + pd.Timedelta(days=400)).strftime("%Y%m%d")
    write(pd.concat([frame, twin], ignore_index=True), path)
    return Damage(path.name, start, _pid(root, table, frame, row))


# --- populations --------------------------------------------------------------------------------


def persons_where(root: Path, table: str, logical: str, predicate) -> set[str]:
    frame = read(path_of(root, table))
    hit = predicate(frame[real(root, table, logical)].astype(str))
    return set(frame.loc[hit, real(root, table, "person_id")].astype(str))


def remove_persons(root: Path, ids: set[str], keep: int = 0) -> Damage:
    """Drop persons from every person-keyed file (all but the first `keep`, in id order)."""
    spared = set(sorted(ids)[:keep])
    gone = ids - spared
    cat = catalogue(root)
    for table, spec in cat.tables.items():
        if "person_id" not in spec.columns or not cat.available(table):
            continue
        for found in cat.resolve(table):
            frame = read(found.path)
            column = spec.columns["person_id"]
            write(frame[~frame[column].astype(str).isin(gone)].reset_index(drop=True), found.path)
    return Damage("", "", value=str(len(gone)))


def city_persons(root: Path, code: str) -> set[str]:
    """Persons whose SWI gemeente municipality is `code` (the settlement city)."""
    return persons_where(root, "swi_municipality", "municipality", lambda s: s == code)


def cohort_persons(root: Path, quarter: str) -> set[str]:
    """Persons whose obligation starts in a quarter such as '2019Q2'."""
    period = pd.Period(quarter, "Q")

    def in_quarter(text: pd.Series) -> pd.Series:
        dates = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
        return dates.dt.to_period("Q") == period

    return persons_where(root, "swi_basis", "obligation_start", in_quarter)


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    return target
