"""The generator's fast paths give exactly what the straightforward code gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from inburgering.synth.dates import yyyymmdd
from inburgering.synth.writers import _write_sav, as_text_ids


def _pyreadstat_bytes(frame: pd.DataFrame, path, labels: dict) -> bytes:
    pyreadstat.write_sav(frame, str(path), file_label="test", variable_value_labels=labels)
    return path.read_bytes()


@pytest.mark.parametrize("rows", [2, 3, 1000])
def test_packed_sav_equals_pyreadstat(tmp_path, rows):
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame(
        {
            "ID": pd.Series(as_text_ids(rng.integers(0, 10**9, rows)), dtype=object),
            "CODE": pd.Series(rng.choice(["1", "2", "", "13"], rows), dtype=object),
            "LONGTEXT": pd.Series(rng.choice(["x" * 30, "y" * 9, ""], rows), dtype=object),
            "AMOUNT": np.where(rng.random(rows) < 0.2, np.nan, rng.normal(size=rows)),
        }
    )
    labels = {"CODE": {"1": "een", "2": "twee", "13": "a much longer label than any code"}}
    _write_sav(frame, tmp_path / "packed.sav", "test", labels)
    expected = _pyreadstat_bytes(frame, tmp_path / "reference.sav", labels)
    assert (tmp_path / "packed.sav").read_bytes() == expected


def test_non_ascii_text_falls_back_to_pyreadstat(tmp_path):
    frame = pd.DataFrame({"NAME": pd.Series(["Zoë", "Ada", "Émile"], dtype=object)})
    _write_sav(frame, tmp_path / "packed.sav", "test", {})
    expected = _pyreadstat_bytes(frame, tmp_path / "reference.sav", {})
    assert (tmp_path / "packed.sav").read_bytes() == expected


def test_dates_and_ids_as_formatted_one_by_one():
    dates = np.array(["2020-01-05", "NaT", "1999-12-31", "2024-02-29", "2020-01-05"], "M8[D]")
    expected = ["" if np.isnat(d) else str(d).replace("-", "") for d in dates]
    assert list(yyyymmdd(dates)) == expected
    assert list(yyyymmdd(dates[[0, 2]])) == ["20200105", "19991231"]  # spread out: no table
    ids = np.array([0, 7, 123456789, 42, 10**9 + 5])
    assert list(as_text_ids(ids)) == [str(i).zfill(9) for i in ids]
    assert list(as_text_ids(ids[:4], 12)) == [str(i).zfill(12) for i in ids[:4]]
