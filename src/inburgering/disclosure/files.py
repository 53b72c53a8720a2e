"""File-level API for the Snakemake rule: files in, results/export/ out (no logic in rules)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering.contracts.tidy import read_tidy
from inburgering.disclosure.export import write_export
from inburgering.disclosure.figures import CheckedFigure
from inburgering.disclosure.rules import load_rules
from inburgering.disclosure.spec import TableSpec
from inburgering.disclosure.summaries import tidy_estimates_spec
from inburgering.disclosure.tables import check_tables

PathLike = str | os.PathLike[str]


def read_table(path: PathLike, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV or parquet table; in CSVs only empty fields are missing and ``text_columns``
    stay text (zero-padded codes such as municipality 0363 keep their zeros)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    try:
        return pd.read_csv(
            path, keep_default_na=False, na_values=[""], dtype={c: str for c in text_columns}
        )
    except pd.errors.EmptyDataError:
        # A design with nothing to report writes its side table from no rows, which has no
        # header either (a G4 bundle design without eligible bundles): a table of no rows.
        return pd.DataFrame()


def _person_inputs(
    persons: PathLike | None, key_column: str, value_columns: Sequence[str]
) -> tuple[list[str], dict[str, pd.Series]]:
    if persons is None:
        return [], {}
    frame = read_table(persons, [key_column])
    keys = frame[key_column].astype(str).tolist()
    return keys, {c: frame[c] for c in value_columns if c in frame.columns}


def export_from_files(
    export_dir: PathLike,
    *,
    estimates: Iterable[PathLike] = (),
    tables: Iterable[tuple[PathLike, TableSpec]] = (),
    figures: Iterable[CheckedFigure] = (),
    disclosure: Mapping[str, Any] | None = None,
    persons: PathLike | None = None,
    person_key: str = "person_id",
    person_value_columns: Sequence[str] = ("obligation_start",),
    allow: Iterable[object] = (),
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Check tidy estimate files and descriptive tables, write the export package.

    Parameters
    ----------
    export_dir
        ``results/export``; replaced atomically as a whole (one rule must own it).
    estimates
        Tidy estimate CSVs (:func:`inburgering.contracts.tidy.write_tidy`); exported under their
        stem.
    tables
        ``(path, spec)`` for descriptive tables; checked after the estimates, in order, with one
        margin registry (tables sharing a ``universe`` protect each other).
    figures
        Figure data already checked with :func:`check_figure_data`.
    disclosure
        The ``disclosure:`` config section (validated against and filled from
        ``schemas/disclosure.schema.yaml``).
    persons, person_key, person_value_columns
        Person-level table whose identifiers and (rare) dates/amounts the leak scan looks for
        in every exported file.
    allow
        Public dates/amounts (policy dates, cohort boundaries) the leak scan ignores.
    provenance
        Extra fields for the manifest and the output request form.

    Returns
    -------
    Path
        ``export_dir/MANIFEST.csv``.
    """
    rules = load_rules(disclosure)
    items = [
        (read_tidy(p), tidy_estimates_spec(Path(p).stem, f"tidy estimates ({Path(p).stem})"))
        for p in estimates
    ]
    items += [(read_table(path, spec.group_columns), spec) for path, spec in tables]
    checked = [*check_tables(items, rules), *figures]
    keys, values = _person_inputs(persons, person_key, person_value_columns)
    return write_export(
        checked,
        export_dir,
        rules=rules,
        provenance=provenance,
        person_keys=keys,
        person_values=values,
        allow=allow,
    )
