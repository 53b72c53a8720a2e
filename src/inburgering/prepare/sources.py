"""Read every source table for the obligated population and validate it before use.

The SWI basisbestand defines the population; every other file is filtered to its persons (or
their address objects) while it is read, so national register files never enter memory whole.
Required tables stop the run when absent; tables listed in ``prepare.optional_tables`` are
logged in the data-quality table and their columns stay missing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from inburgering.cbs import Catalogue
from inburgering.cbs.catalogue import ResolvedFile
from inburgering.cbs.readers import LoadedTable, read_table
from inburgering.prepare import validate as v
from inburgering.prepare.quality import DataQuality
from inburgering.prepare.settings import Settings

log = logging.getLogger(__name__)

KEY = ["person_type", "person_id"]


@dataclass
class Sources:
    """Reads logical tables with the stage's settings and ledger.

    Every file read is kept in ``files_read`` (prepare writes it; the export's provenance hashes
    exactly these files). Each table read is checked to cover ``data.end`` and, for the
    ``same_edition`` tables, to come from the same delivery year as the first one read.
    """

    catalogue: Catalogue
    settings: Settings
    dq: DataQuality
    files_read: list[ResolvedFile] = field(default_factory=list)
    editions: dict[str, ResolvedFile] = field(default_factory=dict)

    def present(self, table: str) -> bool:
        """Whether to use a table: required ones must exist (resolve raises), optional may not."""
        if table in self.settings.optional_tables and not self.catalogue.available(table):
            self.dq.absent(table)
            return False
        return True

    def read(
        self,
        table: str,
        keep: tuple[str, Collection[str]] | None = None,
        wide: bool = False,
        distinct: Collection[str] = (),
    ) -> LoadedTable:
        # Checked before reading: a stale SPOLISBUS year is found without reading 60M rows.
        self.check_coverage(table, self.catalogue.resolve(table))
        loaded = read_table(
            self.catalogue,
            table,
            keep=keep,
            wide=wide,
            distinct=distinct,
            optional=self.settings.optional_columns.get(table, ()),
            chunk_rows=self.settings.chunk_rows,
            processes=self.settings.read_processes,
        )
        self.files_read += loaded.resolved
        return v.drop_duplicates(self.dq, loaded)

    def check_coverage(self, table: str, resolved: list[ResolvedFile]) -> None:
        """Stop (or warn) when the newest file predates data.end or the edition differs."""
        stop = self.settings.on_stale == "stop"
        dated = [f for f in resolved if f.year is not None]
        if not dated or table in self.settings.not_dated:
            return
        newest = max(dated, key=lambda f: f.year or 0)
        end_year = self.settings.data_end.year
        stale = None
        if newest.year < end_year:
            older = sorted({f.path.name for f in self.catalogue.candidates(table)})
            stale = (
                f"newest file {newest.path} is from {newest.year}, data.end is "
                f"{self.settings.data_end:%Y-%m} (files found: {older}); add the {end_year} "
                f"delivery, or set data.end to the last month every table covers"
            )
        self.dq.delivery("table_before_data_end", table, stale, stop)
        if table not in self.settings.same_edition:
            return
        first = next(iter(self.editions.values()), newest)
        self.editions[table] = newest
        differ = None
        if first.year != newest.year:
            differ = (
                f"{newest.path} is the {newest.year} edition but {first.path} ({first.table}) "
                f"is the {first.year} edition; use one edition of every "
                f"prepare.coverage.same_edition table"
            )
        self.dq.delivery("editions_differ", table, differ, stop)

    def persons_table(self, table: str, ids: Collection[str]) -> LoadedTable:
        """A person-keyed table filtered to `ids`, with a validated key.

        The filter also accepts ids without their leading zeros, so a file that stored the
        key as a number is still found and then repaired (rule person_id_padding).
        """
        ids = pd.Series(ids, dtype="string").reset_index(drop=True)
        loaded = self.read(table, keep=("person_id", pd.concat([ids, ids.str.lstrip("0")])))
        return v.person_key(self.dq, loaded, self.settings.limits)


def numbers(dq: DataQuality, loaded: LoadedTable, column: str) -> pd.Series:
    values = pd.to_numeric(loaded.frame[column], errors="coerce")
    dq.check("number_format", loaded, column, values.isna() & loaded.frame[column].notna())
    return values


def basis(src: Sources) -> LoadedTable:
    """SWI basisbestand: one row per obligated person."""
    codes = src.catalogue.codes
    loaded = src.read("swi_basis")
    loaded = v.person_key(src.dq, loaded, src.settings.limits)
    v.unique_key(src.dq, loaded, KEY)
    loaded = v.dates(src.dq, loaded, ["obligation_start", "deadline"], src.settings.limits)
    v.codes(src.dq, loaded, "target_group", list(codes["target_group"].values()))
    v.codes(src.dq, loaded, "law", list(codes["law"].values()))
    v.codes(src.dq, loaded, "literacy", list(codes["literacy"].values()))
    frame = loaded.frame.assign(
        schooling_years=numbers(src.dq, loaded, "schooling_years"),
        test_score=numbers(src.dq, loaded, "test_score"),
    )
    return v.with_frame(loaded, frame)


def gba(src: Sources, ids: Collection[str]) -> LoadedTable:
    """GBAPERSOONTAB for the population: sex, birth year/month, country of birth."""
    loaded = src.persons_table("gba_persons", ids)
    v.unique_key(src.dq, loaded, KEY)
    v.codes(src.dq, loaded, "sex", list(src.catalogue.codes["sex"].values()))
    year = numbers(src.dq, loaded, "birth_year")
    limits = src.settings.limits
    outside = (year < limits.min_date.year) | (year > limits.max_date.year)
    src.dq.check("date_range", loaded, "birth_year", outside, ": birth year")
    country = loaded.frame["birth_country"]
    # BRP Tabel 34 (landen) codes are four digits; anything else is a wrong file or mapping.
    src.dq.check(
        "code_list",
        loaded,
        "birth_country",
        country.notna() & ~country.str.fullmatch(r"\d{4}"),
        ": BRP country codes are four digits",
    )
    mapped = {
        code for codes in src.catalogue.codes.get("origin_region", {}).values() for code in codes
    }
    src.dq.repaired(
        "country_not_in_origin_map",
        loaded,
        "birth_country",
        country.notna() & ~country.isin(mapped),
    )
    month = pd.to_numeric(loaded.frame["birth_month"], errors="coerce")
    unknown = month.isna() | (month < 1) | (month > 12)
    src.dq.repaired("birth_month_unknown", loaded, "birth_month", unknown)
    return v.with_frame(
        loaded, loaded.frame.assign(birth_year=year, birth_month=month.mask(unknown))
    )


def municipal_reports(src: Sources, ids: Collection[str]) -> LoadedTable:
    """SWI gemeente: intake, PIP, route; one row per person after combining reports."""
    loaded = src.persons_table("swi_municipality", ids)
    loaded = v.municipality_format(src.dq, loaded, ["municipality"])
    steps = ["intake_date", "pip_date", "route_assigned", "route_start", "route_switch"]
    loaded = v.dates(src.dq, loaded, steps, src.settings.limits)
    for column in ("route", "new_route"):
        v.codes(src.dq, loaded, column, list(src.catalogue.codes["route"].values()))
    repeated = loaded.frame.duplicated(KEY, keep="first")
    src.dq.repaired("multiple_reports", loaded, "person_id", repeated)
    if repeated.any():
        frame = loaded.frame.sort_values(
            [*KEY, "route_start"], na_position="first", kind="mergesort"
        )
        combined = frame.groupby(KEY, sort=False).agg(
            {
                **{c: "min" for c in steps},
                "route": "last",
                "new_route": "last",
                "municipality": "last",
            }
        )
        firsts = frame.drop_duplicates(KEY)[[*KEY, "_file", "_row"]]
        loaded = v.with_frame(loaded, firsts.merge(combined.reset_index(), on=KEY))
    loaded = v.impossible_order(src.dq, loaded, "pip_before_intake", "pip_date", "intake_date")
    return v.impossible_order(
        src.dq, loaded, "route_switch_before_start", "route_switch", "route_start"
    )


def coa(src: Sources, ids: Collection[str]) -> LoadedTable | None:
    """SWI COA: permit, koppeling and housing dates."""
    if not src.present("swi_coa"):
        return None
    loaded = src.persons_table("swi_coa", ids)
    v.unique_key(src.dq, loaded, KEY)
    dated = ["permit_date", "koppeling_date", "housing_date"]
    loaded = v.dates(src.dq, loaded, dated, src.settings.limits)
    loaded = v.municipality_format(src.dq, loaded, ["koppeling_municipality"])
    for later in ("koppeling", "housing"):
        rule = f"{later}_before_permit"
        loaded = v.impossible_order(src.dq, loaded, rule, f"{later}_date", "permit_date")
    return loaded


def first_exams(src: Sources, ids: Collection[str]) -> pd.DataFrame | None:
    """SWI DUO aanvullend: the date of each person's first exam."""
    if not src.present("swi_exams"):
        return None
    loaded = src.persons_table("swi_exams", ids)
    loaded = v.dates(src.dq, loaded, ["date"], src.settings.limits)
    first = loaded.frame.groupby(KEY)["date"].min().rename("first_exam_date")
    return first.reset_index()


def households(src: Sources, ids: Collection[str]) -> LoadedTable | None:
    """SWI huishouden_en_wonen: monthly household type and number of children."""
    if not src.present("swi_household"):
        return None
    loaded = src.persons_table("swi_household", ids)
    loaded = v.dates(src.dq, loaded, ["month"], src.settings.limits, fmt="%Y%m")
    v.codes(src.dq, loaded, "household_type", list(src.catalogue.codes["household_type"].values()))
    frame = loaded.frame.assign(children=numbers(src.dq, loaded, "children"))
    return v.with_frame(loaded, frame)


def state_spells(src: Sources, table: str, ids: Collection[str], by: list[str]) -> pd.DataFrame:
    """Validated, repaired state spells (SECM categories, education enrolment)."""
    loaded = src.persons_table(table, ids)
    loaded = v.spells(src.dq, loaded, [*KEY, *by], src.settings.limits, truncate=False)
    return loaded.frame[[*KEY, *by, "start", "end"]]


def address_spells(src: Sources, ids: Collection[str]) -> LoadedTable:
    """GBA address spells of the population, overlaps cut so one address holds at a time."""
    loaded = src.persons_table("gba_addresses", ids)
    return v.spells(src.dq, loaded, KEY, src.settings.limits, truncate=True)


def classification(src: Sources, objects: Collection[str]) -> tuple[pd.DataFrame, set[str]]:
    """VSLGWB for the population's address objects (wide ``municipality_{year}`` columns) and
    every municipality code the classification knows (all objects, all years)."""
    loaded = src.read(
        "address_municipality", keep=("object_id", objects), wide=True, distinct=["municipality"]
    )
    for column in ("object_type", "object_id"):
        src.dq.check("key_missing", loaded, column, loaded.frame[column].isna())
    v.unique_key(src.dq, loaded, ["object_type", "object_id"])
    wide = [c for c in loaded.frame.columns if c.startswith("municipality_")]
    loaded = v.municipality_format(src.dq, loaded, wide)
    known = {code.removeprefix("GM").zfill(4) for code in loaded.distinct["municipality"]}
    return loaded.frame, known
