"""Written files match the catalogue, carry value labels and are byte-identical per seed."""

from __future__ import annotations

import re

import pandas as pd
import pyreadstat
from synth_helpers import read_logical, write_run

from inburgering.cbs.readers import file_columns
from inburgering.synth.writers import NUMERIC

DATE_COLUMNS = re.compile(r"(^|_)(start|end|date|deadline)$|_date$|^obligation_start$")


def test_every_catalogue_table_and_column_is_written(parquet_run):
    _, catalogue = parquet_run
    for name, spec in catalogue.tables.items():
        for found in catalogue.resolve(name):
            columns = file_columns(found.path, found.format)
            missing = [c for c in spec.real_columns() if c not in columns]
            assert not missing, f"{found.path.name} lacks {missing}"
            for template in spec.wide_columns.values():
                assert template.format(year=2016) in columns


def test_formats_of_values(parquet_run):
    _, catalogue = parquet_run
    for name, spec in catalogue.tables.items():
        frame = read_logical(catalogue, name)
        for logical in spec.columns:
            values = frame[logical].dropna()
            values = values[values != ""]
            if logical == "person_id":
                assert values.str.fullmatch(r"\d{9}").all(), name
            elif logical == "person_type":
                assert (values == "R").all()
            elif DATE_COLUMNS.search(logical) and logical != "month":
                assert values.str.fullmatch(r"20\d{6}|19\d{6}").all(), (name, logical)
            elif logical in NUMERIC:
                assert pd.to_numeric(values).notna().all()


def test_municipality_codes_without_prefix(parquet_run):
    _, catalogue = parquet_run
    frame = read_logical(catalogue, "address_municipality", year=2022)
    assert frame["municipality"].str.fullmatch(r"\d{4}").all()
    assert {"0599", "0363", "0518", "0344"} <= set(frame["municipality"])


def test_sav_has_value_labels(sav_run):
    _, catalogue = sav_run
    path = catalogue.resolve("gba_persons")[0].path
    _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    # Labels from the catalogue code list, unknown sex ("-") included as CBS labels it.
    assert meta.variable_value_labels["GBAGESLACHT"] == {"1": "man", "2": "vrouw", "-": "onbekend"}
    secm = catalogue.resolve("socio_economic")[0].path
    _, meta = pyreadstat.read_sav(str(secm), metadataonly=True)
    assert meta.variable_value_labels["SECM"]["22"] == "Ontvanger bijstandsuitkering"


def test_same_seed_gives_identical_bytes(sav_run, tmp_path):
    """Also when a worker process writes the files (the synth rule's two threads)."""
    first, _ = sav_run
    write_run(tmp_path, 1500, "sav", threads=2)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative
