"""The `persons` table: one row per obligated person, and the sample flow that led to it.

Definitions (shared with the synthetic generator, which computes its truth the same way):

- settlement municipality (``prepare.settlement.rule``): ``first_address`` — VSLGWB
  ``gem{YYYY}`` of the start year of the first address spell active on or after the obligation
  start (joined on SOORTOBJECTNUMMER + RINOBJECTNUMMER); ``first_address_after_housing`` — the
  same on or after the COA housing date when it is later (the first address after the azc);
  ``koppeling_municipality`` — the COA koppeling municipality where known, else
  ``first_address``. When the address tables are optional and absent, the SWI gemeente
  municipality is used. With ``prepare.municipalities.boundary_year`` every code is then mapped
  to the municipality it belongs to on 1 January of that year (merger table);
- regime: obligation start ≥ reform date → wi2021 (``uncertain`` up to the end of DUO's
  false start), else wi2013; ``wi2021`` keeps the plain split;
- cohort: quarter of the obligation start (``2022Q1``).

City and municipality are derived for everyone before any filter, so the sample flow counts
every dropped person by city.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection
from dataclasses import replace

import numpy as np
import pandas as pd

from inburgering.cbs.readers import LoadedTable
from inburgering.prepare import sources as s
from inburgering.prepare import validate as v
from inburgering.prepare.flow import STEPS, SampleFlow
from inburgering.prepare.municipalities import harmonise
from inburgering.prepare.settings import Settings

log = logging.getLogger(__name__)

KEY = s.KEY
DATE = "datetime64[us]"
# Output schema: column -> dtype (nullable types, so a missing source gives typed missing values).
PERSON_COLUMNS = {
    "person_id": "string", "group": "string", "regime": "string", "wi2021": "bool",
    "obligation_start": DATE, "cohort": "string", "municipality": "string", "city": "string",
    "g4": "bool", "female": "boolean", "age": "Int64", "age_band": "string",
    "origin_region": "string", "schooling_years": "Float64", "literacy": "boolean",
    "household_type": "string", "children": "Int64", "test_score": "Float64",
    "test_version": "string", "permit_date": DATE, "koppeling_date": DATE, "housing_date": DATE,
    "intake_date": DATE, "pip_date": DATE, "route_assigned_date": DATE, "route_start_date": DATE,
    "route_switch_date": DATE, "first_exam_date": DATE, "route": "string",
    "route_after_switch": "string",
}  # fmt: skip


def _labels(codes: dict[str, str], values: pd.Series) -> pd.Series:
    return values.map({code: name for name, code in codes.items()}).astype("string")


def regime(start: pd.Series, settings: Settings) -> tuple[pd.Series, pd.Series]:
    """Law regime from the obligation start, with the uncertain early-2022 slice flagged."""
    wi2021 = start >= settings.reform_date
    uncertain = wi2021 & (start <= settings.uncertain_until)
    label = np.where(uncertain, "uncertain", np.where(wi2021, "wi2021", "wi2013"))
    return pd.Series(label, index=start.index).where(start.notna()).astype("string"), wi2021


def age_bands(age: pd.Series, edges: list[int]) -> pd.Series:
    bounds = [-np.inf, *edges, np.inf]
    labels = [f"<{edges[0]}"]
    labels += [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"{edges[-1]}+")
    return pd.cut(age, bounds, right=False, labels=labels).astype("string")


def first_active_spell(
    spells: pd.DataFrame, people: pd.DataFrame, since: str = "obligation_start"
) -> pd.DataFrame:
    """Per person, the earliest-starting spell still running on or after the date `since`."""
    spells = spells.merge(people[[*KEY, since]], on=KEY)
    active = spells[spells["end"] >= spells[since]]
    return active.sort_values([*KEY, "start"], kind="mergesort").drop_duplicates(KEY)


def settlement_from_addresses(
    src: s.Sources, people: pd.DataFrame, since: str = "obligation_start"
) -> tuple[pd.DataFrame, set[str]]:
    """Municipality of each person's settlement address (see module docstring)."""
    addresses = s.address_spells(src, people["person_id"])
    first = first_active_spell(addresses.frame, people, since)
    wide, known = s.classification(src, first["object_id"].dropna().unique())
    merged = first.merge(wide.drop(columns=["_file", "_row"]), on=["object_type", "object_id"])
    years = sorted(int(c.removeprefix("municipality_")) for c in merged if "municipality_" in c)
    start_year = merged["start"].dt.year
    clamped = start_year.clip(years[0], years[-1]) if years else start_year
    src.dq.repaired(
        "classification_year", v.with_frame(addresses, merged), "start", start_year != clamped
    )
    table = merged[[f"municipality_{y}" for y in years]].to_numpy()
    column = np.searchsorted(years, clamped.to_numpy())
    merged["municipality"] = table[np.arange(len(merged)), column] if years else pd.NA
    return merged[[*KEY, "municipality"]], known


def settlement(
    src: s.Sources, people: pd.DataFrame, reports: LoadedTable, coa: LoadedTable | None
) -> tuple[pd.DataFrame, set[str] | None]:
    """Settlement municipality per person (``prepare.settlement.rule``), and the known
    municipality codes (if any)."""
    rule = src.settings.settlement_rule
    if not (src.present("gba_addresses") and src.present("address_municipality")):
        log.warning("settlement municipality from SWI gemeente (address tables absent)")
        return reports.frame[[*KEY, "municipality"]], None
    if coa is None and rule != "first_address":
        log.warning("settlement rule %s needs swi_coa, which is absent: first_address used", rule)
    coa_frame = coa.frame if coa is not None else pd.DataFrame(columns=[*KEY])
    if rule == "first_address_after_housing" and "housing_date" in coa_frame:
        housed = people.merge(coa_frame[[*KEY, "housing_date"]], on=KEY, how="left")
        since = housed[["obligation_start", "housing_date"]].max(axis=1)
        return settlement_from_addresses(src, housed.assign(_since=since), "_since")
    places, known = settlement_from_addresses(src, people)
    if rule == "koppeling_municipality" and "koppeling_municipality" in coa_frame:
        linked = coa_frame[[*KEY, "koppeling_municipality"]].dropna()
        places = places.merge(linked, on=KEY, how="outer")
        places["municipality"] = places["koppeling_municipality"].fillna(places["municipality"])
        places = places[places[KEY[1]].isin(people[KEY[1]])][[*KEY, "municipality"]]
    return places, known


def harmonised(src: s.Sources, basis: LoadedTable, places: pd.DataFrame) -> pd.DataFrame:
    """Settlement codes mapped to ``prepare.municipalities.boundary_year`` (merger table)."""
    if not src.settings.boundary_map:
        return places
    codes = places["municipality"].astype("string")
    mapped = harmonise(codes, src.settings.boundary_map)
    recoded = (mapped != codes).fillna(False)
    named = replace(basis, name="settlement", frame=places)
    src.dq.repaired("municipality_boundary", named, "municipality", recoded)
    return places.assign(municipality=mapped)


def household_at_start(households: LoadedTable, people: pd.DataFrame) -> pd.DataFrame:
    """The household month of the obligation start, else the nearest month after, else before."""
    frame = households.frame.merge(people[[*KEY, "obligation_start"]], on=KEY)
    distance = frame["month"].dt.to_period("M").astype("int64") - frame[
        "obligation_start"
    ].dt.to_period("M").astype("int64")
    frame = frame.assign(_before=distance < 0, _distance=distance.abs())
    frame = frame.sort_values([*KEY, "_before", "_distance"], kind="mergesort")
    return frame.drop_duplicates(KEY)[[*KEY, "household_type", "children"]]


def _origin(codes: dict, country: pd.Series) -> pd.Series:
    regions = codes.get("origin_region")
    if not regions:
        return pd.Series(pd.NA, index=country.index, dtype="string")
    lookup = {code: region for region, listed in regions.items() for code in listed}
    return country.map(lookup).fillna("other").where(country.notna()).astype("string")


def female(sex: pd.Series, codes: dict[str, str]) -> pd.Series:
    """True for the woman code, False for the man code, missing otherwise (unknown "-")."""
    known = sex.isin([codes["vrouw"], codes["man"]])
    return (sex == codes["vrouw"]).astype("boolean").where(known)


def covariates(src: s.Sources, people: pd.DataFrame, ids: Collection[str]) -> pd.DataFrame:
    """Sex, age, origin (GBA) and household at start (SWI), keyed by person."""
    codes = src.catalogue.codes
    gba = s.gba(src, ids).frame
    start = people.set_index(KEY)["obligation_start"].reindex(pd.MultiIndex.from_frame(gba[KEY]))
    start = pd.Series(start.to_numpy(), index=gba.index)
    before_birthday = (start.dt.month < gba["birth_month"]).fillna(False)
    out = pd.DataFrame(
        {
            "person_type": gba["person_type"],
            "person_id": gba["person_id"],
            "female": female(gba["sex"], codes["sex"]),
            "age": (start.dt.year - gba["birth_year"] - before_birthday).astype("Int64"),
            "origin_region": _origin(codes, gba["birth_country"]),
            "_in_gba": True,
        }
    )
    households = s.households(src, ids)
    if households is not None:
        at_start = household_at_start(households, people)
        at_start["household_type"] = _labels(codes["household_type"], at_start["household_type"])
        out = out.merge(at_start, on=KEY, how="left")
    return out


def process_dates(
    src: s.Sources,
    reports: LoadedTable,
    ids: Collection[str],
    known: set[str] | None,
    coa: LoadedTable | None,
) -> pd.DataFrame:
    """Koppeling, housing (COA), intake, PIP, route steps (SWI gemeente), first exam (DUO)."""
    frame = reports.frame.rename(
        columns={
            "route_assigned": "route_assigned_date",
            "route_start": "route_start_date",
            "route_switch": "route_switch_date",
        }
    )
    for column in ("route", "new_route"):
        frame[column] = _labels(src.catalogue.codes["route"], frame[column])
    frame = frame.rename(columns={"new_route": "route_after_switch"})[
        [*KEY, "intake_date", "pip_date", "route_assigned_date", "route_start_date",
         "route_switch_date", "route", "route_after_switch"]
    ]  # fmt: skip
    if coa is not None:
        v.known_municipalities(src.dq, coa, "koppeling_municipality", known)
        dates = ["permit_date", "koppeling_date", "housing_date"]
        frame = frame.merge(coa.frame[[*KEY, *dates]], on=KEY, how="outer")
    exams = s.first_exams(src, ids)
    if exams is not None:
        frame = frame.merge(exams, on=KEY, how="outer")
    return frame


def build_persons(src: s.Sources) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The persons table and the sample flow (persons left after each filter, by city).

    Parameters
    ----------
    src
        Sources bound to the catalogue, settings and data-quality ledger.

    Returns
    -------
    persons, sample_flow
        Persons sorted by person_id with the columns in ``PERSON_COLUMNS``; the flow table.
    """
    settings, codes = src.settings, src.catalogue.codes
    basis = s.basis(src)
    people = basis.frame.copy()
    people["regime"], people["wi2021"] = regime(people["obligation_start"], settings)
    law_2021 = people["law"] == codes["law"]["wi2021"]
    src.dq.repaired(
        "law_disagrees_with_date",
        basis,
        "law",
        people["law"].notna() & people["obligation_start"].notna() & (law_2021 != people["wi2021"]),
    )
    ids = people["person_id"]
    reports = s.municipal_reports(src, ids)
    dated = people[people["obligation_start"].notna()]
    coa = s.coa(src, ids)
    places, known = settlement(src, dated, reports, coa)
    v.known_municipalities(src.dq, reports, "municipality", known)
    people = people.merge(harmonised(src, basis, places), on=KEY, how="left")
    code_to_city = {code: city for city, code in settings.cities.items()}
    people["city"] = (
        people["municipality"]
        .map(code_to_city)
        .fillna("rest_nl")
        .where(people["municipality"].notna())
        .astype("string")
    )
    people = people.merge(covariates(src, people, ids), on=KEY, how="left")
    people = people.merge(process_dates(src, reports, ids, known, coa), on=KEY, how="left")

    flow = SampleFlow()
    flow.record(STEPS["obligated"], people)
    people = flow.keep(
        people,
        people["person_type"] == codes["person_type_resident"],
        STEPS["resident"].format(resident=codes["person_type_resident"]),
    )
    people = flow.keep(people, people["obligation_start"].notna(), STEPS["start_known"])
    people = flow.keep(people, people["_in_gba"].fillna(False), STEPS["in_gba"])
    people = flow.keep(people, people["municipality"].notna(), STEPS["municipality_known"])
    return _finish(people, settings, codes), flow.table()


def _finish(people: pd.DataFrame, settings: Settings, codes: dict) -> pd.DataFrame:
    people = people.assign(
        group=_labels(codes["target_group"], people["target_group"]),
        cohort=people["obligation_start"].dt.to_period("Q").astype(str).astype("string"),
        g4=people["city"] != "rest_nl",
        age_band=age_bands(people["age"], settings.age_bands),
        literacy=(people["literacy"] == codes["literacy"]["literate"])
        .astype("boolean")
        .where(people["literacy"].notna()),
    )
    for column in PERSON_COLUMNS:
        if column not in people:
            people[column] = pd.Series(pd.NA, index=people.index, dtype="object")
    people = people.sort_values("person_id", kind="mergesort").reset_index(drop=True)
    return people[list(PERSON_COLUMNS)].astype(PERSON_COLUMNS)
