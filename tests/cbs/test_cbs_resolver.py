"""Newest-version resolution on irregular real-world RA file names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from inburgering.cbs import Catalogue
from inburgering.config import load_catalogue
from inburgering.workflow import StageError

ROOT = Path(__file__).resolve().parents[2]


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"RINPERSOON": ["000000001"]}).to_csv(path, index=False)


@pytest.fixture()
def make(tmp_path):
    def catalogue(formats: list[str]) -> Catalogue:
        return Catalogue(load_catalogue(ROOT / "config" / "catalogue.yaml"), tmp_path, formats)

    return catalogue


def names(resolved) -> list[str]:
    return [f.path.name for f in resolved]


def test_space_before_year_and_lower_case_extension(make, tmp_path):
    spolis = tmp_path / "Spolis" / "SPOLISBUS"
    touch(spolis / "2014" / "SPOLISBUS 2014V1.DTA")
    touch(spolis / "2015" / "spolisbus2015v2.dta")
    touch(spolis / "2015" / "SPOLISBUS2015V1.dta")
    touch(spolis / "2016" / "SPOLISBUS2016V3.sav")
    resolved = make(["sav", "dta"]).resolve("jobs")  # year: each
    assert names(resolved) == ["SPOLISBUS 2014V1.DTA", "spolisbus2015v2.dta", "SPOLISBUS2016V3.sav"]
    assert [(f.year, f.version, f.format) for f in resolved] == [
        (2014, 1, "dta"),
        (2015, 2, "dta"),
        (2016, 3, "sav"),
    ]


def test_date_prefix_and_two_digit_versions(make, tmp_path):
    folder = tmp_path / "InkomenBestedingen" / "SECMBUS"
    touch(folder / "SECMBUS2023V9.sav")
    touch(folder / "140707 SECMBUS2023V10.sav")
    touch(folder / "SECMBUS2022V11.sav")
    (resolved,) = make(["sav"]).resolve("socio_economic")  # year: latest
    assert resolved.path.name == "140707 SECMBUS2023V10.sav"


def test_format_preference_within_a_version(make, tmp_path):
    folder = tmp_path / "InkomenBestedingen" / "SECMBUS"
    touch(folder / "SECMBUS2023V2.csv")
    touch(folder / "SECMBUS2023V2.sav")
    assert make(["sav", "csv"]).resolve("socio_economic")[0].format == "sav"
    assert make(["csv", "sav"]).resolve("socio_economic")[0].format == "csv"


def test_lookalikes_do_not_match(make, tmp_path):
    folder = tmp_path / "InkomenBestedingen" / "SECMBUS"
    touch(folder / "SECMBUS2023V1.sav.bak")
    touch(folder / "SECMBUS2023V1_test.sav")
    touch(folder / "OLD" / "SECMBUS2024V1.sav")
    touch(folder / "SECMBUS20231V1.sav")
    with pytest.raises(StageError, match="no file matches"):
        make(["sav"]).resolve("socio_economic")
    assert not make(["sav"]).available("socio_economic")


def test_year_in_folder_must_match_year_in_name(make, tmp_path):
    touch(tmp_path / "Bevolking" / "GBAPERSOONTAB" / "2024" / "GBAPERSOON2023TABV1.sav")
    touch(tmp_path / "Bevolking" / "GBAPERSOONTAB" / "2023" / "GBAPERSOON2023TABV1.sav")
    (resolved,) = make(["sav"]).resolve("gba_persons")
    assert resolved.path.parent.name == "2023"


def test_catalogue_overrides_from_config(tmp_path):
    touch(tmp_path / "SWI" / "basis_2024_v3.csv")
    config = {
        "data": {"catalogue": str(ROOT / "config" / "catalogue.yaml"), "root": str(tmp_path),
                 "formats": ["csv"]},
        "prepare": {"catalogue_overrides": {"tables": {"swi_basis": {
            "pattern": "SWI/basis_{year}_v{version}.{ext}",
            "columns": {"obligation_start": "ingangsdatum_plicht"}}}}},
    }  # fmt: skip
    catalogue = Catalogue.from_config(config)
    (resolved,) = catalogue.resolve("swi_basis")
    assert resolved.version == 3
    spec = catalogue.spec("swi_basis")
    assert spec.columns["obligation_start"] == "ingangsdatum_plicht"
    assert spec.columns["target_group"] == "DOELGROEP"  # untouched columns stay


def test_invalid_override_is_a_clear_error(tmp_path):
    config = {
        "data": {"catalogue": str(ROOT / "config" / "catalogue.yaml"), "root": str(tmp_path),
                 "formats": ["csv"]},
        "prepare": {"catalogue_overrides": {"tables": {"swi_basis": {"pattern": "x.sav"}}}},
    }  # fmt: skip
    with pytest.raises(StageError, match=r"tables\.swi_basis\.pattern"):
        Catalogue.from_config(config)
