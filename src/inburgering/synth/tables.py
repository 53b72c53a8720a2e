"""Persons, process and spells rendered as the catalogue's logical tables (logical names).

Codes come from the catalogue's code lists, so a changed code there changes the files.
Spells are right-censored at the data end (their end date is then the data end's last day).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from inburgering.synth.dates import DAY, add_months, yyyymmdd
from inburgering.synth.municipalities import NEVER, Municipalities
from inburgering.synth.process import ROUTES
from inburgering.synth.spells import calendar_months
from inburgering.synth.writers import as_text_ids

SECM_OF_STATE = {0: "31", 1: "11", 2: "26", 3: "22"}
SELF_EMPLOYED = "13"
HOUSEHOLD = {
    "alleen": "single",
    "paar": "couple",
    "paar_kinderen": "couple_with_children",
    "eenouder": "single_parent",
}


def _key(ids: np.ndarray) -> dict[str, Any]:
    return {"person_type": "R", "person_id": ids}


def _route_text(codes: dict, route_code: np.ndarray) -> np.ndarray:
    names = ROUTES[route_code]
    return np.array([codes["route"].get(r, "") for r in names], dtype=object)


def person_tables(
    persons: pd.DataFrame, munis: Municipalities, codes: dict
) -> dict[str, pd.DataFrame]:
    ids = persons["person_id"].to_numpy()
    start = persons["obligation_start"].to_numpy().astype(DAY)
    birth_month = persons["birth_month"].to_numpy()
    new_law = persons["new_law"].to_numpy()
    statushouder = persons["group"].to_numpy() == "statushouder"
    gba = pd.DataFrame(
        {
            **_key(ids),
            "sex": np.where(persons["female"], codes["sex"]["vrouw"], codes["sex"]["man"]),
            "birth_year": persons["birth_year"].astype(str).to_numpy(),
            "birth_month": np.char.zfill(birth_month.astype(str), 2),
            "birth_country": persons["country"].to_numpy(),
            "generation": "1",
        }
    )
    tested = persons["test_version"].to_numpy() > 0
    basis = pd.DataFrame(
        {
            **_key(ids),
            "obligation_start": yyyymmdd(start),
            "deadline": yyyymmdd(persons["deadline"].to_numpy().astype(DAY)),
            "target_group": persons["group"].map(codes["target_group"]).to_numpy(),
            "law": np.where(new_law, codes["law"]["wi2021"], codes["law"]["wi2013"]),
            "test_score": persons["test_score"].to_numpy(),
            "test_version": np.where(tested, persons["test_version"].astype(str), ""),
            "schooling_years": persons["schooling_years"].to_numpy(),
            "literacy": np.where(
                persons["literate"], codes["literacy"]["literate"], codes["literacy"]["illiterate"]
            ),
            "exemption": np.where(persons["exempt"], codes["yes_no"]["yes"], codes["yes_no"]["no"]),
        }
    )
    municipal = pd.DataFrame(
        {
            **_key(ids),
            "municipality": persons["muni_code"].to_numpy(),
            "intake_date": yyyymmdd(persons["intake_date"].to_numpy().astype(DAY)),
            "pip_date": yyyymmdd(persons["pip_date"].to_numpy().astype(DAY)),
            "route": _route_text(codes, persons["route_code"].to_numpy()),
            "route_start": yyyymmdd(persons["route_start"].to_numpy().astype(DAY)),
            "route_switch": yyyymmdd(persons["route_switch"].to_numpy().astype(DAY)),
            "new_route": np.where(
                persons["route_switch"].notna(),
                _route_text(codes, persons["route_after_switch"].to_numpy()),
                "",
            ),
            "route_assigned": yyyymmdd(
                np.where(
                    persons["route_code"] > 0, persons["pip_date"].to_numpy(), np.datetime64("NaT")
                ).astype(DAY)
            ),
        }
    )
    coa = pd.DataFrame(
        {
            **_key(ids),
            "permit_date": yyyymmdd(persons["permit_date"].to_numpy().astype(DAY)),
            "koppeling_date": yyyymmdd(persons["koppeling_date"].to_numpy().astype(DAY)),
            "koppeling_municipality": persons["muni_code"].to_numpy(),
            "housing_date": yyyymmdd(persons["housing_date"].to_numpy().astype(DAY)),
        }
    )[statushouder]
    household = pd.DataFrame(
        {
            **_key(ids),
            "month": np.char.replace(start.astype("datetime64[M]").astype(str), "-", ""),
            "household_type": persons["household"]
            .map(HOUSEHOLD)
            .map(codes["household_type"])
            .to_numpy(),
            "children": persons["children"].to_numpy(),
        }
    )
    motive = np.where(
        statushouder,
        codes["migration_motive"]["asiel"],
        np.where(
            persons["group"] == "gezinsmigrant",
            codes["migration_motive"]["gezin"],
            codes["migration_motive"]["overig"],
        ),
    )
    migration = pd.DataFrame(
        {
            **_key(ids),
            "motive": motive,
            "immigration_date": yyyymmdd(persons["arrival_date"].to_numpy().astype(DAY)),
        }
    )
    level = codes["highest_education_level"]
    schooling = persons["schooling_years"].to_numpy()
    # Foreign diplomas are poorly covered: only a valued diploma (about half of 12+ years) shows.
    valued = (schooling >= 12) & (persons["diploma_draw"].to_numpy() < 0.5)
    highest = pd.DataFrame(
        {
            **_key(ids),
            "level": np.where(
                schooling >= 16,
                level["master_doctor"],
                np.where(schooling >= 14, level["hbo_wo_bachelor"], level["havo_vwo_mbo24"]),
            ),
        }
    )[valued]
    return {
        "gba_persons": gba,
        "swi_basis": basis,
        "swi_municipality": municipal,
        "swi_coa": coa,
        "swi_household": household,
        "migration_motive": migration,
        "highest_education": highest,
    }


def address_tables(
    persons: pd.DataFrame, munis: Municipalities, data_end: np.datetime64, first_year: int
) -> dict[str, pd.DataFrame]:
    """Address spells (azc before housing, settlement, an occasional later move) and VSLGWB."""
    n = len(persons)
    start = persons["obligation_start"].to_numpy().astype(DAY)
    arrival = persons["arrival_date"].to_numpy().astype(DAY)
    statushouder = persons["group"].to_numpy() == "statushouder"
    move = persons["move_month"].to_numpy()
    move_date = add_months(start, np.where(move > 0, move, 0))
    moves = (move > 0) & (move_date <= data_end)
    settle_from = np.where(statushouder, start, arrival)
    settle_to = np.where(moves, move_date - np.timedelta64(1, "D"), data_end)
    n_codes = len(munis.table)
    # Object ids: azc objects are shared (one per municipality), homes are unique.
    person = np.concatenate([np.flatnonzero(statushouder), np.arange(n), np.flatnonzero(moves)])
    begin = np.concatenate([arrival[statushouder], settle_from, move_date[moves]])
    end = np.concatenate(
        [
            start[statushouder] - np.timedelta64(1, "D"),
            settle_to,
            np.full(int(moves.sum()), data_end),
        ]
    )
    muni = np.concatenate(
        [
            persons["azc_muni"].to_numpy()[statushouder],
            persons["muni"].to_numpy(),
            persons["move_muni"].to_numpy()[moves],
        ]
    )
    home = np.concatenate(
        [np.zeros(int(statushouder.sum()), bool), np.ones(n + int(moves.sum()), bool)]
    )
    object_number = np.where(home, n_codes + np.arange(len(person)), muni)
    spells = pd.DataFrame(
        {
            **_key(persons["person_id"].to_numpy()[person]),
            "object_type": "A",
            "object_id": as_text_ids(object_number + 100_000_000, 12),
            "start": yyyymmdd(begin),
            "end": yyyymmdd(end),
        }
    ).sort_values(["person_id", "start"], kind="mergesort")
    objects = pd.DataFrame({"object_id": object_number, "muni": muni}).drop_duplicates("object_id")
    objects = objects.sort_values("object_id", kind="mergesort")
    codes = munis.table["code"].to_numpy()[objects["muni"].to_numpy()]
    vslgwb = pd.DataFrame(
        {
            "object_type": "A",
            "object_id": as_text_ids(objects["object_id"].to_numpy() + 100_000_000, 12),
            **{f"municipality_{y}": codes for y in range(first_year, int(str(data_end)[:4]) + 1)},
        }
    )
    return {"gba_addresses": spells, "address_municipality": vslgwb}


def spell_tables(
    persons: pd.DataFrame, spells: pd.DataFrame, codes: dict, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """SECM spells (every month has a category), enrolment spells and SPOLIS job periods."""
    ids = persons["person_id"].to_numpy()[spells["person"].to_numpy()]
    state = spells["state"].to_numpy()
    self_employed = persons["self_employed"].to_numpy()[spells["person"].to_numpy()]
    category = np.array([SECM_OF_STATE[s] for s in range(4)])[state]
    category = np.where((state == 1) & self_employed, SELF_EMPLOYED, category)
    begin, end = spells["begin"].to_numpy().astype(DAY), spells["end"].to_numpy().astype(DAY)
    secm = pd.DataFrame(
        {**_key(ids), "start": yyyymmdd(begin), "end": yyyymmdd(end), "category": category}
    )
    school = state == 2
    onderwijs = persons["route_code"].to_numpy()[spells["person"].to_numpy()] == 2
    level = np.where(
        onderwijs, codes["education_level"]["schakeltraject"], codes["education_level"]["mbo"]
    )
    enrolment = pd.DataFrame(
        {
            **_key(ids[school]),
            "start": yyyymmdd(begin[school]),
            "end": yyyymmdd(end[school]),
            "level": level[school],
        }
    )
    job = (state == 1) & ~self_employed
    job_index = np.flatnonzero(job)
    spell, period_from, period_to = calendar_months(begin[job], end[job])
    n_jobs = len(job_index)
    hourly = rng.lognormal(np.log(14.0), 0.2, n_jobs)
    weekly = rng.choice(
        [12.0, 20.0, 24.0, 32.0, 36.0, 38.0], n_jobs, p=[0.15, 0.2, 0.2, 0.2, 0.15, 0.1]
    )
    contract = rng.choice(list(codes["contract"].values()), n_jobs, p=[0.25, 0.7, 0.05])
    employer = rng.integers(1, 400_000, n_jobs)
    days = (period_to - period_from).astype(np.int64) + 1
    hours = np.round(weekly[spell] * days / 7.0, 1)
    jobs = pd.DataFrame(
        {
            **_key(ids[job_index][spell]),
            "job_id": as_text_ids(job_index[spell] + 1, 10),
            "employer_id": as_text_ids(employer[spell], 9),
            "start": yyyymmdd(period_from),
            "end": yyyymmdd(period_to),
            "base_wage": np.round(hours * hourly[spell], 2),
            "base_hours": hours,
            "contract": contract[spell],
        }
    )
    jobs["year"] = period_from.astype("datetime64[Y]").astype(np.int64) + 1970
    return {"socio_economic": secm, "education_enrolment": enrolment, "jobs": jobs}


def instrument_table(munis: Municipalities) -> pd.DataFrame:
    """Non-G4 instrument adoptions (G4 adoptions live in config/policies.yaml)."""
    rows = []
    codes = munis.table["code"].to_numpy()
    other = (munis.table["city"] == "rest_nl").to_numpy()
    for key, quarter in munis.adoption.items():
        adopted = other & (quarter != NEVER)
        first_month = (quarter[adopted] + 120) * 3  # quarter index since 2000 → months since 1970
        start = np.asarray(first_month, dtype="datetime64[M]").astype(DAY)
        rows.append(
            pd.DataFrame(
                {
                    "municipality": codes[adopted],
                    "instrument": key,
                    "start": yyyymmdd(start),
                    "end": "",
                }
            )
        )
    return pd.concat(rows, ignore_index=True).sort_values(
        ["municipality", "instrument"], kind="mergesort"
    )


def exam_table(persons: pd.DataFrame, exams: pd.DataFrame, codes: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **_key(persons["person_id"].to_numpy()[exams["person"].to_numpy()]),
            "component": exams["component"].map(codes["exam_component"]).to_numpy(),
            "level": exams["level"].to_numpy(),
            "date": yyyymmdd(exams["date"].to_numpy().astype(DAY)),
            "passed": np.where(exams["passed"], codes["yes_no"]["yes"], codes["yes_no"]["no"]),
        }
    )


def value_labels(codes: dict) -> dict[str, dict[str, dict[str, str]]]:
    """SPSS value labels per logical table and column, from the catalogue's code lists."""

    def invert(mapping: dict[str, str]) -> dict[str, str]:
        return {str(code): name for name, code in mapping.items()}

    yes_no = invert(codes["yes_no"])
    return {
        "gba_persons": {"sex": invert(codes["sex"])},
        "swi_basis": {
            "target_group": invert(codes["target_group"]),
            "law": invert(codes["law"]),
            "test_version": invert(codes["test_version"]),
            "literacy": invert(codes["literacy"]),
            "exemption": yes_no,
        },
        "swi_municipality": {"route": invert(codes["route"]), "new_route": invert(codes["route"])},
        "swi_exams": {"component": invert(codes["exam_component"]), "passed": yes_no},
        "swi_household": {"household_type": invert(codes["household_type"])},
        "socio_economic": {"category": {str(k): v for k, v in codes["secm_labels"].items()}},
        "jobs": {"contract": invert(codes["contract"])},
        "education_enrolment": {"level": invert(codes["education_level"])},
        "highest_education": {"level": invert(codes["highest_education_level"])},
        "migration_motive": {"motive": invert(codes["migration_motive"])},
    }
