"""CBS-style rehearsal files for a dress rehearsal of Remote Access, independent of
``inburgering.synth``.

The files follow the public RA conventions (shared/reference/cbs-microdata.md §1), not the
synthetic generator's: dates as YYYYMMDD text (open spells 20991231 or empty), 9-digit
RINPERSOON text with leading zeros, RINPERSOONS with SPSS value labels, several delivery years
and versions of each file (the newest must be picked) next to old file names, ``geconverteerde
data`` .dta copies and a truncated old version; a municipal merger (Weesp 0457 joins Amsterdam
0363 on 2022-03-24, so VSLGWB ``gem2021`` still says 0457); duplicate rows, overlapping and
inverted spells, repeated municipal reports; municipality codes as ``GM0599`` (SWI gemeente),
``599`` numbers (COA koppeling) and ``0599`` text (VSLGWB); unknown sex ``-``. The SWI files use
their own names, columns and codes, so only a catalogue-mapping overlay of config/cbs_ra.yaml
(``overlay``) makes the pipeline read them.

``write_rehearsal`` also returns what prepare must find (``Expected``), computed here from the
definitions in docs/codebook.md, not by calling the package. Command line::

    python tests/rehearsal/cbs_style.py OUT_DIR [--persons N] [--seed S]

writes the files below OUT_DIR/G and the overlay OUT_DIR/rehearsal.yaml.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import yaml

EDITION = 2024  # newest delivery year of every file; data.end is its December
G4 = {"0599": "rotterdam", "0363": "amsterdam", "0518": "den_haag", "0344": "utrecht"}
WEESP, AMSTERDAM = "0457", "0363"
OTHERS = ["0014", "0034", "0106", "0200", "0268", "0772"]
CLASSIFICATION_YEARS = range(2016, EDITION + 1)
GROUPS = {"statushouder": "A", "gezinsmigrant": "G", "overig": "O"}
ROUTES = {"b1": "B1", "onderwijs": "OND", "z": "Z", "b1_entree": "B1E"}
PERSON_LABELS = {"R": "RIN-persoon (GBA)", "S": "Sofinummer (niet in GBA)"}

SWI = "Maatwerk/SWI/SWI{year}"
PATTERNS = {
    "gba_persons": "Bevolking/GBAPERSOONTAB/{year}/GBAPERSOON{year}TABV{version}.{ext}",
    "gba_addresses": "Bevolking/GBAADRESOBJECTBUS/GBAADRESOBJECT{year}BUSV{version}.{ext}",
    "address_municipality": "BouwenWonen/VSLGWBTAB/VSLGWB{year}TAB03V{version}.{ext}",
    "socio_economic": "InkomenBestedingen/SECMBUS/SECMBUS{year}V{version}.{ext}",
    "swi_basis": SWI + "/SWI_basisbestand_{year}_V{version}.{ext}",
    "swi_municipality": SWI + "/SWI_gemeente_{year}_V{version}.{ext}",
    "swi_coa": SWI + "/SWI_COA_{year}_V{version}.{ext}",
}
# Logical column -> the rehearsal files' names (the catalogue mapping the overlay sets).
SWI_COLUMNS = {
    "swi_basis": {
        "person_type": "RINPERSOONS", "person_id": "RINPERSOON",
        "obligation_start": "INGANGSDATUMINBURGERINGSPLICHT", "deadline": "EINDDATUMTERMIJN",
        "target_group": "DOELGROEPINB", "law": "WETTELIJKKADER", "test_score": "LBTSCORE",
        "test_version": "LBTVERSIE", "schooling_years": "JARENSCHOLING",
        "literacy": "ALFABETISERING", "exemption": "VRIJSTELLING",
    },
    "swi_municipality": {
        "person_type": "RINPERSOONS", "person_id": "RINPERSOON", "municipality": "GEMEENTE",
        "intake_date": "DATUMINTAKE", "pip_date": "DATUMPIPVASTGESTELD", "route": "LEERROUTEPIP",
        "route_start": "DATUMSTARTROUTE", "route_switch": "DATUMROUTEWISSEL",
        "new_route": "LEERROUTENAWISSEL", "route_assigned": "DATUMROUTEVASTGESTELD",
    },
    "swi_coa": {
        "person_type": "RINPERSOONS", "person_id": "RINPERSOON",
        "permit_date": "DATUMVERBLIJFSVERGUNNING", "koppeling_date": "DATUMKOPPELINGGEMEENTE",
        "koppeling_municipality": "KOPPELINGGEMEENTE", "housing_date": "DATUMUITSTROOMCOA",
    },
}  # fmt: skip


@dataclass
class Expected:
    """What prepare must find: the kept persons' city and sex, and the newest files."""

    city: dict[str, str] = field(default_factory=dict)
    female: dict[str, bool | None] = field(default_factory=dict)
    weesp: list[str] = field(default_factory=list)
    newest: dict[str, str] = field(default_factory=dict)


def _yyyymmdd(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y%m%d").fillna("")


def _write(frame: pd.DataFrame, path: Path, labels: bool = True) -> Path:
    """A .sav (or .dta) as CBS delivers it: text columns, RINPERSOONS value labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".dta":
        pyreadstat.write_dta(frame, str(path))
        return path
    value_labels = {"RINPERSOONS": PERSON_LABELS} if labels and "RINPERSOONS" in frame else None
    pyreadstat.write_sav(frame, str(path), variable_value_labels=value_labels)
    return path


def _at(root: Path, table: str, year: int, version: int, ext: str = "sav") -> Path:
    return root / PATTERNS[table].format(year=year, version=version, ext=ext)


def _population(rng: np.random.Generator, n: int, unknown_sex: float) -> pd.DataFrame:
    ids = pd.Series(rng.choice(np.arange(1, 999_999_999), n, replace=False)).map("{:09d}".format)
    start = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 + 150, n), "D")
    places = [*G4, WEESP, *OTHERS]
    weights = np.array([0.14, 0.14, 0.1, 0.07, 0.05] + [0.5 / len(OTHERS)] * len(OTHERS))
    return pd.DataFrame(
        {
            "id": ids.sort_values().to_numpy(),
            "type": np.where(rng.random(n) < 0.03, "S", "R"),
            "start": start,
            "group": rng.choice(list(GROUPS), n, p=[0.6, 0.3, 0.1]),
            "place": rng.choice(places, n, p=weights / weights.sum()),
            "sex": rng.choice(["1", "2", "-"], n, p=[0.56 - unknown_sex, 0.44, unknown_sex]),
            "birth_year": rng.integers(1960, 2004, n),
            "in_gba": rng.random(n) > 0.01,
            "dated": rng.random(n) > 0.01,  # a few obligated persons without a start date
            "employed_after": rng.integers(3, 48, n),
            "works": rng.random(n) < 0.45,
            "assisted": rng.random(n) < 0.4,
        }
    )


def _object_of(people: pd.DataFrame) -> pd.Series:
    return "A" + people["id"]


def _gba(people: pd.DataFrame, root: Path) -> None:
    in_gba = people[people["in_gba"]]
    frame = pd.DataFrame(
        {
            "RINPERSOONS": in_gba["type"],
            "RINPERSOON": in_gba["id"],
            "GBAGESLACHT": in_gba["sex"],
            "GBAGEBOORTEJAAR": in_gba["birth_year"].astype(str),
            "GBAGEBOORTEMAAND": "--",
            "GBAGEBOORTELAND": "5095",
            "GBAGENERATIE": "1",
        }
    )
    frame = pd.concat([frame, frame.iloc[:3]], ignore_index=True)  # identical duplicates
    _write(frame.iloc[: len(frame) // 2], _at(root, "gba_persons", EDITION - 1, 2))
    _write(frame.assign(GBAGESLACHT="1"), _at(root, "gba_persons", EDITION, 1))  # superseded
    _write(frame, _at(root, "gba_persons", EDITION, 2))
    converted = root / "Bevolking/GBAPERSOONTAB" / str(EDITION) / "geconverteerde data"
    _write(frame, converted / f"GBAPERSOON{EDITION}TABV2.dta")
    old_name = root / "Bevolking/GBAPERSOONTAB/2016/GBAPERSOONTAB2016V1.sav"  # pre-2018 naming
    _write(frame.iloc[:10], old_name)


def _addresses(people: pd.DataFrame, root: Path) -> None:
    """A former address ending before the obligation start, then the settlement address."""
    moved_in = people["start"] - pd.to_timedelta(30, "D")
    earlier = pd.DataFrame(
        {
            "RINPERSOONS": people["type"],
            "RINPERSOON": people["id"],
            "SOORTOBJECTNUMMER": "1",
            "RINOBJECTNUMMER": "X" + people["id"],
            "GBADATUMAANVANGADRESHOUDING": _yyyymmdd(moved_in - pd.to_timedelta(400, "D")),
            "GBADATUMEINDEADRESHOUDING": _yyyymmdd(moved_in - pd.to_timedelta(1, "D")),
        }
    )
    current = earlier.assign(
        RINOBJECTNUMMER=_object_of(people),
        GBADATUMAANVANGADRESHOUDING=_yyyymmdd(moved_in),
        GBADATUMEINDEADRESHOUDING=np.where(people.index % 2 == 0, "20991231", ""),
    )
    frame = pd.concat([earlier, current, current.iloc[:2]], ignore_index=True)
    _write(frame.iloc[: len(frame) // 3], _at(root, "gba_addresses", EDITION - 1, 1))
    _write(frame, _at(root, "gba_addresses", EDITION, 1))


def _classification(people: pd.DataFrame, root: Path) -> None:
    """VSLGWB: gem{year} per object; Weesp objects are Amsterdam from 2022 on."""
    objects = pd.concat(
        [
            pd.DataFrame({"object": _object_of(people), "place": people["place"]}),
            pd.DataFrame({"object": "X" + people["id"], "place": "0014"}),
        ],
        ignore_index=True,
    )
    frame = pd.DataFrame({"SOORTOBJECTNUMMER": "1", "RINOBJECTNUMMER": objects["object"]})
    for year in CLASSIFICATION_YEARS:
        weesp_then = objects["place"].eq(WEESP) & (year >= 2022)
        frame[f"gem{year}"] = objects["place"].mask(weesp_then, AMSTERDAM)
    _write(frame, _at(root, "address_municipality", EDITION, 1))
    _write(frame.drop(columns=f"gem{EDITION}"), _at(root, "address_municipality", EDITION - 1, 1))


def _secm(people: pd.DataFrame, root: Path) -> None:
    """Work (11) and social assistance (22) spells, with overlaps, duplicates and inversions."""
    rows = []
    for person in people.itertuples():
        work = person.start + pd.DateOffset(months=int(person.employed_after))
        if person.assisted:
            rows.append((person, person.start + pd.DateOffset(days=20), work, "22"))
        if person.works:
            rows.append((person, work, None, "11"))
            # a shorter work spell inside the first: overlapping records of one job
            inside = work + pd.DateOffset(months=1)
            rows.append((person, inside, inside + pd.DateOffset(months=1), "11"))
    frame = pd.DataFrame(
        {
            "RINPERSOONS": [r[0].type for r in rows],
            "RINPERSOON": [r[0].id for r in rows],
            "AANVSECM": [r[1].strftime("%Y%m%d") for r in rows],
            "EINDSECM": [r[2].strftime("%Y%m%d") if r[2] is not None else "20991231" for r in rows],
            "SECM": [r[3] for r in rows],
        }
    )
    inverted = frame.iloc[:2].assign(AANVSECM="20230101", EINDSECM="20220101")
    frame = pd.concat([frame, frame.iloc[:4], inverted], ignore_index=True)
    earlier = frame[frame["AANVSECM"] < f"{EDITION}0101"]
    _write(earlier, _at(root, "socio_economic", EDITION - 1, 1))
    _write(frame.iloc[: len(frame) // 2], _at(root, "socio_economic", EDITION, 1))
    _write(frame, _at(root, "socio_economic", EDITION, 2))
    converted = root / "InkomenBestedingen/SECMBUS/geconverteerde data"
    _write(frame, converted / f"SECMBUS{EDITION}V2.dta")


def _swi(people: pd.DataFrame, root: Path, rng: np.random.Generator, edition: int) -> None:
    n = len(people)
    obligation = people["start"].where(people["dated"])
    basis = pd.DataFrame(
        {
            "RINPERSOONS": people["type"],
            "RINPERSOON": people["id"],
            "INGANGSDATUMINBURGERINGSPLICHT": _yyyymmdd(obligation),
            "EINDDATUMTERMIJN": _yyyymmdd(obligation + pd.DateOffset(years=3)),
            "DOELGROEPINB": people["group"].map(GROUPS),
            "WETTELIJKKADER": np.where(people["start"] >= "2022-01-01", "WI21", "WI13"),
            "LBTSCORE": rng.integers(10, 60, n).astype(str),
            "LBTVERSIE": "2",
            "JARENSCHOLING": rng.integers(0, 16, n).astype(str),
            "ALFABETISERING": rng.choice(["J", "N"], n, p=[0.8, 0.2]),
            "VRIJSTELLING": "0",
        }
    )
    _write(basis, root / PATTERNS["swi_basis"].format(year=edition, version=1, ext="sav"))
    intake = people["start"] + pd.DateOffset(months=2)
    # Municipal codes as GM0599; a few reports without the prefix and zero ("599").
    code = "GM" + people["place"]
    code = code.mask(people.index % 17 == 0, people["place"].str.lstrip("0"))
    reports = pd.DataFrame(
        {
            "RINPERSOONS": people["type"],
            "RINPERSOON": people["id"],
            "GEMEENTE": code,
            "DATUMINTAKE": _yyyymmdd(intake),
            "DATUMPIPVASTGESTELD": _yyyymmdd(intake + pd.DateOffset(months=1)),
            "LEERROUTEPIP": rng.choice(list(ROUTES.values()), n, p=[0.6, 0.1, 0.25, 0.05]),
            "DATUMSTARTROUTE": _yyyymmdd(intake + pd.DateOffset(months=3)),
            "DATUMROUTEWISSEL": "",
            "LEERROUTENAWISSEL": "",
            "DATUMROUTEVASTGESTELD": _yyyymmdd(intake + pd.DateOffset(months=1)),
        }
    )
    # A later quarterly report of the first five persons: a route switch to Z.
    switch = _yyyymmdd(intake.iloc[:5] + pd.DateOffset(months=9))
    repeated = reports.iloc[:5].assign(DATUMROUTEWISSEL=switch, LEERROUTENAWISSEL="Z")
    reports = pd.concat([reports, repeated], ignore_index=True)
    _write(reports, root / PATTERNS["swi_municipality"].format(year=edition, version=1, ext="sav"))
    status = people[people["group"] == "statushouder"]
    permit = status["start"] - pd.DateOffset(months=4)
    coa = pd.DataFrame(
        {
            "RINPERSOONS": status["type"],
            "RINPERSOON": status["id"],
            "DATUMVERBLIJFSVERGUNNING": _yyyymmdd(permit),
            "DATUMKOPPELINGGEMEENTE": _yyyymmdd(permit + pd.DateOffset(days=20)),
            "KOPPELINGGEMEENTE": status["place"].astype(int).astype(float),  # stored as numbers
            "DATUMUITSTROOMCOA": _yyyymmdd(status["start"] - pd.DateOffset(days=30)),
        }
    )
    _write(coa, root / PATTERNS["swi_coa"].format(year=edition, version=1, ext="sav"))


def _expected(people: pd.DataFrame, root: Path) -> Expected:
    kept = people[(people["type"] == "R") & people["in_gba"] & people["dated"]]
    expected = Expected()
    for person in kept.itertuples():
        place = AMSTERDAM if person.place == WEESP else person.place
        expected.city[person.id] = G4.get(place, "rest_nl")
        expected.female[person.id] = {"1": False, "2": True}.get(person.sex)
        if person.place == WEESP:
            expected.weesp.append(person.id)
    expected.newest = {
        "gba_persons": f"GBAPERSOON{EDITION}TABV2.sav",
        "gba_addresses": f"GBAADRESOBJECT{EDITION}BUSV1.sav",
        "address_municipality": f"VSLGWB{EDITION}TAB03V1.sav",
        "socio_economic": f"SECMBUS{EDITION}V2.sav",
        "swi_basis": f"SWI_basisbestand_{EDITION}_V1.sav",
        "swi_municipality": f"SWI_gemeente_{EDITION}_V1.sav",
        "swi_coa": f"SWI_COA_{EDITION}_V1.sav",
    }
    return expected


def truncate(path: Path, keep: float = 0.6) -> None:
    """Cut a file short, as an interrupted copy does."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def write_rehearsal(
    root: Path, persons: int = 400, seed: int = 19, unknown_sex: float = 0.02
) -> Expected:
    """Write the rehearsal files below `root` (the stand-in for G:) and return the truth.

    ``unknown_sex`` is the share of persons whose GBAGESLACHT is "-" (missing sex).
    """
    rng = np.random.default_rng(seed)
    people = _population(rng, persons, unknown_sex)
    _gba(people, root)
    _addresses(people, root)
    _classification(people, root)
    _secm(people, root)
    _swi(people, root, rng, EDITION)
    _swi(people.iloc[: persons // 2], root, rng, EDITION - 1)  # last year's SWI edition
    truncate(_at(root, "socio_economic", EDITION, 1))  # a broken older version, never read
    return _expected(people, root)


def overlay(root: Path) -> dict:
    """The overlay of config/cbs_ra.yaml: data.root and the catalogue mapping, nothing else."""
    tables = {name: {"pattern": pattern} for name, pattern in PATTERNS.items()}
    for table, columns in SWI_COLUMNS.items():
        tables[table]["columns"] = columns
    codes = {
        "target_group": GROUPS,
        "law": {"wi2013": "WI13", "wi2021": "WI21"},
        "route": ROUTES,
        "literacy": {"literate": "J", "illiterate": "N"},
    }
    return {
        "data": {"root": root.as_posix()},
        "prepare": {"catalogue_overrides": {"tables": tables, "codes": codes}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--persons", type=int, default=400)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--unknown-sex", type=float, default=0.02, help="share with sex '-'")
    args = parser.parse_args(argv)
    root = args.out / "G"
    expected = write_rehearsal(root, args.persons, args.seed, args.unknown_sex)
    path = args.out / "rehearsal.yaml"
    path.write_text(yaml.safe_dump(overlay(root.resolve()), sort_keys=False), encoding="utf-8")
    print(f"wrote {root} ({len(expected.city)} persons to keep) and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
