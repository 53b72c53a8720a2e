"""A small hand-made CBS-style world whose every prepared value is known in advance.

Persons (RINPERSOON), what each one tests:
- 000000001 statushouder, start 2021-03-15 (wi2013, 2021Q1), lives in Rotterdam from 2021-06-01;
  social assistance 2021-04-15..2022-01-31, works from 2022-02-01.
- 000000002 gezinsmigrant, start 2022-02-10 (uncertain), Amsterdam address ended before the
  start, so the settlement is the next address (Utrecht, from 2022-03-01); in education
  2022-09-01..2023-06-30.
- 000000003 statushouder, start 2023-06-30 (wi2021), rest of NL (0014); horizon 36 is after the
  data end (2025-12) and must be missing; works 2024-01-01..2024-12-31.
- 000000004 person type B (not resident) -> dropped at the resident step.
- 000000005 no obligation start -> dropped.
- 000000006 no address on or after the start -> dropped at the settlement step.
- 000000007 not in GBAPERSOONTAB -> dropped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from inburgering.cbs import Catalogue
from inburgering.config import load_catalogue, load_config
from inburgering.prepare import DataQuality, Settings, Sources
from inburgering.prepare.stage import OUTPUT_FILES
from inburgering.workflow import RuleJob

ROOT = Path(__file__).resolve().parents[2]
YEAR = 2025


def _key(ids: list[str], types: list[str] | None = None) -> dict[str, list[str]]:
    return {"person_type": types or ["R"] * len(ids), "person_id": ids}


def world() -> dict[str, pd.DataFrame]:
    """Logical tables of the hand-made world (logical column names, text values)."""
    ids = [f"{i:09d}" for i in range(1, 8)]
    basis = pd.DataFrame(
        {
            **_key(ids, ["R", "R", "R", "B", "R", "R", "R"]),
            "obligation_start": [
                "20210315", "20220210", "20230630", "20210101", "", "20210101", "20210101",
            ],
            "deadline": ["20240315", "20250210", "20260630", "", "", "", ""],
            "target_group": ["1", "2", "1", "1", "1", "2", "3"],
            "law": ["2013", "2021", "2021", "2013", "", "2013", "2013"],
            "test_score": ["35", "", "20", "", "", "", ""],
            "test_version": ["2", "", "2", "", "", "", ""],
            "schooling_years": ["12", "8", "4", "", "", "", ""],
            "literacy": ["1", "1", "0", "", "", "", ""],
            "exemption": ["0"] * 7,
        }
    )  # fmt: skip
    gba = pd.DataFrame(
        {
            **_key(ids[:6], ["R", "R", "R", "B", "R", "R"]),
            "sex": ["1", "2", "1", "2", "1", "2"],
            "birth_year": ["1990", "1995", "1960", "1980", "1980", "1980"],
            "birth_month": ["06", "01", "--", "01", "01", "01"],
            "birth_country": ["5009"] * 6,
            "generation": ["1"] * 6,
        }
    )
    municipal = pd.DataFrame(
        {
            **_key(ids[:3]),
            "municipality": ["0599", "0344", "0014"],
            "intake_date": ["20210701", "20220401", ""],
            "pip_date": ["20210901", "20220501", ""],
            "route": ["1", "2", ""],
            "route_start": ["20211001", "20220901", ""],
            "route_switch": ["", "", ""],
            "route_assigned": ["20210915", "20220515", ""],
            "new_route": ["1", "2", ""],
        }
    )
    secm = pd.DataFrame(
        {
            **_key(["000000001", "000000001", "000000003"]),
            "start": ["20210415", "20220201", "20240101"],
            "end": ["20220131", "", "20241231"],
            "category": ["22", "11", "11"],
        }
    )
    addresses = pd.DataFrame(
        {
            **_key(["000000001", "000000002", "000000002", "000000003", "000000006"]),
            "object_type": ["1"] * 5,
            "object_id": ["A1", "B1", "C1", "D1", "E1"],
            "start": ["20210601", "20190101", "20220301", "20230101", "20150101"],
            "end": ["", "20220131", "", "", "20200101"],
        }
    )
    classification = pd.DataFrame(
        {
            "object_type": ["1"] * 5,
            "object_id": ["A1", "B1", "C1", "D1", "E1"],
            **{
                f"municipality_{year}": ["0599", "0363", "0344", "0014", "0014"]
                for year in range(2015, YEAR + 1)
            },
        }
    )
    education = pd.DataFrame(
        {**_key(["000000002"]), "start": ["20220901"], "end": ["20230630"], "level": ["3"]}
    )
    return {
        "swi_basis": basis,
        "gba_persons": gba,
        "swi_municipality": municipal,
        "socio_economic": secm,
        "gba_addresses": addresses,
        "address_municipality": classification,
        "education_enrolment": education,
    }


def real_names(catalogue: Catalogue, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Logical → real column names (wide ``municipality_2021`` → ``gem2021``)."""
    spec = catalogue.spec(table)
    names = {}
    for column in frame.columns:
        if column in spec.columns:
            names[column] = spec.columns[column]
        else:
            logical, _, year = column.rpartition("_")
            names[column] = spec.wide_columns[logical].format(year=year)
    return frame.rename(columns=names)


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame of text columns in the format its suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "sav":
        pyreadstat.write_sav(frame, str(path))
    elif fmt == "dta":
        pyreadstat.write_dta(frame, str(path))
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def table_path(catalogue: Catalogue, table: str, fmt: str, version: int = 1) -> Path:
    pattern = catalogue.spec(table).pattern
    return catalogue.root / pattern.format(year=YEAR, version=version, ext=fmt)


def write_world(
    root: Path, fmt: str = "parquet", tables: dict[str, pd.DataFrame] | None = None
) -> Catalogue:
    """Write the world (or the given tables) below root; return a catalogue on it."""
    catalogue = Catalogue(load_catalogue(ROOT / "config" / "catalogue.yaml"), root, [fmt])
    for table, frame in (tables or world()).items():
        write(real_names(catalogue, table, frame), table_path(catalogue, table, fmt))
    return catalogue


def config() -> dict:
    return load_config(ROOT / "config" / "config.yaml")


def sources(catalogue: Catalogue, **validation: float) -> Sources:
    cfg = config()
    cfg["prepare"]["validation"].update(validation)
    cities = {"rotterdam": "0599", "amsterdam": "0363", "den_haag": "0518", "utrecht": "0344"}
    settings = Settings.from_config(cfg["prepare"], cfg["data"], cities)
    quality = DataQuality(settings.max_repair_share, "prepare", settings.repair_caps)
    return Sources(catalogue, settings, quality)


def job(root: Path, out: Path, fmt: str = "parquet", **prepare: object) -> RuleJob:
    """A prepare RuleJob on the files below root."""
    cfg = config()
    cfg["data"].update(root=str(root), formats=[fmt])
    cfg["prepare"].update(prepare)
    return RuleJob(
        input={
            "catalogue": ROOT / "config" / "catalogue.yaml",
            "policies": ROOT / "config" / "policies.yaml",
            "mergers": ROOT / "config" / "municipal_mergers.csv",
        },
        output={name: out / file for name, file in OUTPUT_FILES.items()},
        params={"data": cfg["data"], "prepare": cfg["prepare"]},
        threads=1,
        rule="prepare",
    )
