"""Readers: every format gives the same text table; chunking and filtering change nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from prepare_helpers import job, world, write_world

from inburgering.cbs import read_table
from inburgering.cbs.readers import read_file
from inburgering.prepare.stage import run

FORMATS = ["sav", "parquet", "csv", "dta"]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    return {fmt: write_world(base / fmt, fmt) for fmt in FORMATS}


@pytest.mark.parametrize("table", list(world()))
@pytest.mark.parametrize("fmt", ["sav", "csv", "dta"])
def test_every_format_reads_like_parquet(worlds, table, fmt):
    expected = read_table(worlds["parquet"], table, wide=True).frame
    got = read_table(worlds[fmt], table, wide=True).frame
    pd.testing.assert_frame_equal(got, expected)


def test_sav_and_parquet_prepare_identically(tmp_path):
    for fmt in ("sav", "parquet"):
        write_world(tmp_path / fmt, fmt)
        run(job(tmp_path / fmt, tmp_path / f"out_{fmt}", fmt))
    for name in ("persons", "outcomes", "person_months", "municipality_policies"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "out_sav" / f"{name}.parquet"),
            pd.read_parquet(tmp_path / "out_parquet" / f"{name}.parquet"),
        )
    for name in ("sample_flow", "data_quality"):
        sav = (tmp_path / "out_sav" / f"{name}.csv").read_text()
        assert sav == (tmp_path / "out_parquet" / f"{name}.csv").read_text()


def test_numeric_and_date_columns_become_text(tmp_path):
    path = tmp_path / "typed.sav"
    frame = pd.DataFrame(
        {
            "CODE": [11.0, 22.0, np.nan],
            "DATUM": pd.to_datetime(["2022-01-31", "2023-12-01", None]),
            "NAAM": ["  a ", "", "b"],
            "SCORE": [31.5, 12.0, 3.0],
        }
    )
    pyreadstat.write_sav(frame, str(path))
    got = read_file(path, "sav", ["CODE", "DATUM", "NAAM", "SCORE"])
    assert got["CODE"].tolist()[:2] == ["11", "22"] and pd.isna(got["CODE"].iloc[2])
    assert got["DATUM"].tolist()[:2] == ["20220131", "20231201"]
    assert got["NAAM"].tolist()[0] == "a" and pd.isna(got["NAAM"].iloc[1])
    assert got["SCORE"].tolist() == ["31.5", "12.0", "3.0"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_chunks_and_filter_keep_row_numbers(tmp_path, fmt):
    ids = [f"{i:09d}" for i in range(1000)]
    frame = pd.DataFrame({"RINPERSOON": ids, "SECM": ["11"] * 1000})
    path = tmp_path / f"big.{fmt}"
    if fmt == "sav":
        pyreadstat.write_sav(frame, str(path))
    elif fmt == "dta":
        pyreadstat.write_dta(frame, str(path))
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    wanted = {ids[3], ids[517], ids[999]}
    got = read_file(path, fmt, ["RINPERSOON", "SECM"], keep=("RINPERSOON", wanted), chunk_rows=100)
    assert got["RINPERSOON"].tolist() == sorted(wanted)
    assert got["_row"].tolist() == [3, 517, 999]
    whole = read_file(path, fmt, ["RINPERSOON", "SECM"], chunk_rows=10_000)
    chunked = read_file(path, fmt, ["RINPERSOON", "SECM"], chunk_rows=77)
    pd.testing.assert_frame_equal(whole, chunked)


def test_distinct_values_cover_unfiltered_rows(worlds):
    loaded = read_table(
        worlds["sav"],
        "address_municipality",
        wide=True,
        keep=("object_id", ["A1"]),
        distinct=["municipality"],
        chunk_rows=2,
    )
    assert loaded.frame["object_id"].tolist() == ["A1"]
    assert loaded.distinct["municipality"] == {"0599", "0363", "0344", "0014"}


def test_each_file_logs_rows_read_kept_and_rate(tmp_path, caplog):
    path = tmp_path / "SPOLISBUS2020V1.sav"
    ids = [f"{i:09d}" for i in range(1000)]
    pyreadstat.write_sav(pd.DataFrame({"RINPERSOON": ids, "SECM": ["11"] * 1000}), str(path))
    with caplog.at_level("INFO", logger="inburgering.cbs.readers"):
        read_file(path, "sav", ["RINPERSOON"], keep=("RINPERSOON", ids[:3]), chunk_rows=100)
    (line,) = [r.getMessage() for r in caplog.records if path.name in r.getMessage()]
    assert "1000 rows read, 3 kept" in line and line.endswith("rows/s")


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_parallel_chunk_reading_reads_the_same(tmp_path, fmt):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "RINPERSOON": [f"{i:09d}" for i in rng.integers(0, 10**9, 5000)],
            "LOON": rng.normal(size=5000).round(2),
            "START": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 900, 5000), "D"),
        }
    )
    path = tmp_path / f"jobs.{fmt}"
    (pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta)(frame, str(path))
    keep = ("RINPERSOON", set(frame["RINPERSOON"].iloc[::7]))
    columns = ["RINPERSOON", "LOON", "START"]
    single = read_file(path, fmt, columns, keep=keep, chunk_rows=1500)
    parallel = read_file(path, fmt, columns, keep=keep, chunk_rows=1500, processes=2)
    pd.testing.assert_frame_equal(single, parallel)
    assert len(single) >= 5000 // 7
