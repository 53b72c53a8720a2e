"""The catalogue resolver finds the newest file version and reads logical columns."""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

from inburgering.cbs import Catalogue, read_table
from inburgering.config import load_catalogue
from inburgering.workflow import StageError


@pytest.fixture()
def catalogue(repo_root, tmp_path):
    return Catalogue(
        load_catalogue(repo_root / "config" / "catalogue.yaml"), tmp_path, ["sav", "csv"]
    )


def write_gba(path, rows=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "RINPERSOONS": ["R"] * rows,
            "RINPERSOON": [f"{i:09d}" for i in range(rows)],
            "GBAGESLACHT": ["1"] * rows,
            "GBAGEBOORTEJAAR": ["1990"] * rows,
            "GBAGEBOORTEMAAND": ["01"] * rows,
            "GBAGEBOORTELAND": ["5009"] * rows,
            "GBAGENERATIE": ["1"] * rows,
        }
    )
    if path.suffix == ".sav":
        pyreadstat.write_sav(frame, str(path))
    else:
        frame.to_csv(path, index=False)


def test_newest_year_and_version_win(catalogue, tmp_path):
    base = tmp_path / "Bevolking" / "GBAPERSOONTAB"
    write_gba(base / "2024" / "GBAPERSOON2024TABV3.sav")
    write_gba(base / "2025" / "GBAPERSOON2025TABV1.sav")
    write_gba(base / "2025" / "GBAPERSOON2025TABV2.sav", rows=3)
    write_gba(base / "2025" / "GBAPERSOON2025TABV10.csv", rows=4)
    (resolved,) = catalogue.resolve("gba_persons")
    assert resolved.path.name == "GBAPERSOON2025TABV10.csv"
    frame = read_table(catalogue, "gba_persons").frame
    assert len(frame) == 4
    assert frame["person_id"].tolist()[1] == "000000001"  # leading zeros survive


def test_sav_and_csv_read_identically(catalogue, tmp_path):
    base = tmp_path / "Bevolking" / "GBAPERSOONTAB" / "2025"
    write_gba(base / "GBAPERSOON2025TABV1.sav", rows=5)
    from_sav = read_table(catalogue, "gba_persons").frame.drop(columns=["_file"])
    (base / "GBAPERSOON2025TABV1.sav").rename(tmp_path / "moved.sav")
    write_gba(base / "GBAPERSOON2025TABV1.csv", rows=5)
    from_csv = read_table(catalogue, "gba_persons").frame.drop(columns=["_file"])
    pd.testing.assert_frame_equal(from_sav, from_csv)


def test_missing_file_names_pattern(catalogue):
    with pytest.raises(StageError, match=r"gba_persons.*GBAPERSOON\{year\}TABV\{version\}"):
        catalogue.resolve("gba_persons")


def test_missing_column_names_file_and_column(catalogue, tmp_path):
    path = tmp_path / "Bevolking" / "GBAPERSOONTAB" / "2025" / "GBAPERSOON2025TABV1.csv"
    write_gba(path)
    frame = pd.read_csv(path, dtype=str).drop(columns=["GBAGENERATIE"])
    frame.to_csv(path, index=False)
    with pytest.raises(
        StageError,
        match=r"GBAPERSOON2025TABV1.csv: column 'GBAGENERATIE' \(logical gba_persons.generation\)",
    ):
        read_table(catalogue, "gba_persons")


def test_corrupt_sav_is_a_clear_error(catalogue, tmp_path):
    path = tmp_path / "Bevolking" / "GBAPERSOONTAB" / "2025" / "GBAPERSOON2025TABV1.sav"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"$FL2@(#) truncated")
    with pytest.raises(StageError, match="cannot read the file header"):
        read_table(catalogue, "gba_persons")
