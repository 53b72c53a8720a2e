"""Build the canonical analysis tables (DESIGN.md): persons, outcomes, sample flow.

Every filter is counted in the sample-flow table (persons remaining, by city), so no row ever
disappears silently; right-censored horizons are missing, never zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inburgering.cbs import Catalogue, read_table
from inburgering.workflow import StageError

log = logging.getLogger(__name__)


@dataclass
class SampleFlow:
    """Persons remaining after each step, overall and per G4 city."""

    steps: list[dict] = field(default_factory=list)

    def record(self, step: str, persons: pd.DataFrame) -> None:
        counts = persons["city"].value_counts() if "city" in persons else pd.Series(dtype=int)
        row = {"step": step, "persons": len(persons)}
        row.update({f"persons_{c}": int(counts.get(c, 0)) for c in CITY_ORDER})
        self.steps.append(row)
        log.info("sample flow: %s -> %d persons", step, len(persons))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.steps)


CITY_ORDER = ("rotterdam", "amsterdam", "den_haag", "utrecht")


def parse_dates(values: pd.Series, *, table: str, column: str) -> pd.Series:
    """YYYYMMDD text → dates; a malformed non-empty value stops with an example row."""
    text = values.fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(text.where(text != ""), format="%Y%m%d", errors="coerce")
    bad = parsed.isna() & (text != "")
    if bad.any():
        example = text[bad].iloc[0]
        raise StageError(
            f"table {table}, column {column}: rule 'date as YYYYMMDD' broken by "
            f"{int(bad.sum())} rows, e.g. {example!r} (row {int(bad.idxmax())})"
        )
    return parsed


def _unique_key(frame: pd.DataFrame, table: str) -> None:
    duplicated = frame.duplicated(["person_type", "person_id"], keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, ["person_type", "person_id"]].iloc[0].to_dict()
        raise StageError(
            f"table {table}: rule 'person key unique' broken by {int(duplicated.sum())} rows, "
            f"e.g. {example}"
        )


def build_persons(
    catalogue: Catalogue, cities: dict[str, str], reform_date: str, uncertain_until: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per obligated person with regime, cohort, settlement city and covariates."""
    flow = SampleFlow()
    resident = catalogue.codes["person_type_resident"]
    basis = read_table(catalogue, "swi_basis")
    _unique_key(basis, "swi_basis")
    flow.record("obligated persons in SWI basisbestand", basis)
    basis = basis[basis["person_type"] == resident]
    flow.record(f"person type {resident} (resident register)", basis)

    groups = {code: name for name, code in catalogue.codes["target_group"].items()}
    persons = pd.DataFrame(
        {
            "person_id": basis["person_id"].to_numpy(),
            "group": basis["target_group"].map(groups).to_numpy(),
            "obligation_start": parse_dates(
                basis["obligation_start"], table="swi_basis", column="obligation_start"
            ).to_numpy(),
            "schooling_years": pd.to_numeric(basis["schooling_years"], errors="coerce").to_numpy(),
        }
    )
    persons = persons[persons["obligation_start"].notna()]
    flow.record("obligation start known", persons)

    municipality = read_table(catalogue, "swi_municipality")[["person_id", "municipality"]]
    persons = persons.merge(municipality.drop_duplicates("person_id"), on="person_id", how="inner")
    code_to_city = {code: city for city, code in cities.items()}
    persons["city"] = persons["municipality"].map(code_to_city).fillna("rest_nl")
    persons["g4"] = persons["city"] != "rest_nl"
    flow.record("settlement municipality known", persons)

    gba = read_table(catalogue, "gba_persons")[["person_id", "sex", "birth_year"]]
    persons = persons.merge(gba, on="person_id", how="left")
    persons["female"] = persons["sex"] == catalogue.codes["sex"]["vrouw"]
    persons["age"] = persons["obligation_start"].dt.year - pd.to_numeric(persons["birth_year"])
    persons = persons.drop(columns=["sex", "birth_year"])

    reform = pd.Timestamp(reform_date)
    regime = np.where(persons["obligation_start"] >= reform, "wi2021", "wi2013")
    uncertain = (persons["obligation_start"] >= reform) & (
        persons["obligation_start"] <= pd.Timestamp(uncertain_until)
    )
    persons["regime"] = np.where(uncertain, "uncertain", regime)
    persons["wi2021"] = persons["obligation_start"] >= reform
    persons["cohort"] = persons["obligation_start"].dt.to_period("Q").astype(str)
    persons = persons.sort_values("person_id", kind="mergesort").reset_index(drop=True)
    flow.record("analysis persons", persons)
    return persons, flow.table()


def build_outcomes(
    catalogue: Catalogue, persons: pd.DataFrame, horizons: list[int], data_end: pd.Timestamp
) -> pd.DataFrame:
    """Person × horizon outcomes; horizons after the end of the data are missing."""
    secm = read_table(catalogue, "socio_economic")
    secm = secm[secm["person_id"].isin(persons["person_id"])].copy()
    secm["start"] = parse_dates(secm["start"], table="socio_economic", column="start")
    secm["end"] = parse_dates(secm["end"], table="socio_economic", column="end")
    employed_codes = set(catalogue.codes["secm_employed"])
    assistance_codes = set(catalogue.codes["secm_social_assistance"])
    frames = []
    for horizon in horizons:
        at = persons[["person_id", "obligation_start"]].copy()
        at["date"] = at["obligation_start"] + pd.DateOffset(months=horizon)
        spells = secm.merge(at[["person_id", "date"]], on="person_id")
        active = spells[(spells["start"] <= spells["date"]) & (spells["end"] >= spells["date"])]
        employed = set(active.loc[active["category"].isin(employed_codes), "person_id"])
        assisted = set(active.loc[active["category"].isin(assistance_codes), "person_id"])
        observed = at["date"] <= data_end
        out = pd.DataFrame({"person_id": at["person_id"], "horizon": horizon})
        out["employed"] = at["person_id"].isin(employed).astype(float).where(observed)
        out["social_assistance"] = at["person_id"].isin(assisted).astype(float).where(observed)
        out["in_education"] = np.where(observed, 0.0, np.nan)
        out["participation"] = np.fmax(out["employed"], out["in_education"]).where(observed)
        frames.append(out)
    return pd.concat(frames, ignore_index=True)
