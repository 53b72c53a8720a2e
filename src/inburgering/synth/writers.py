"""Write logical tables as CBS-style files (real names and columns from the catalogue)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from inburgering.cbs.catalogue import TableSpec
from inburgering.io import atomic_path


def file_path(spec: TableSpec, root: Path, year: int, fmt: str, version: int = 1) -> Path:
    relative = spec.pattern.format(year=year, version=version, ext=fmt)
    return root / relative


def write_table(
    frame: pd.DataFrame, spec: TableSpec, root: Path, year: int, fmt: str, version: int = 1
) -> Path:
    """Rename logical → real columns (wide columns for `year`) and write atomically."""
    mapping = dict(spec.columns)
    for logical, template in spec.wide_columns.items():
        mapping[logical] = template.format(year=year)
    real = frame.rename(columns=mapping).loc[:, [mapping[c] for c in frame.columns]]
    real = real.astype(str)
    path = file_path(spec, root, year, fmt, version)
    with atomic_path(path) as tmp:
        if fmt == "sav":
            pyreadstat.write_sav(real, str(tmp), file_label=spec.description[:60])
        elif fmt == "parquet":
            real.to_parquet(tmp, index=False)
        elif fmt == "csv":
            real.to_csv(tmp, index=False)
        else:
            raise ValueError(f"cannot write format {fmt!r}")
    return path
