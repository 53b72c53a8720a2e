"""The codebook: every derived variable of the analysis tables and every process indicator.

``CODEBOOK`` maps table → column → :class:`Entry` (definition, logical sources, missing and
censoring rule, design choice, source-report pointer). :func:`render` turns it into
``docs/codebook.md``, looking up the real CBS column names in the catalogue and the parameters
(horizons, reform date, data end, indicator windows) in the configuration and in
``inburgering.process.indicators.INDICATORS``, so the page cannot drift from the code.
``tests/docs/test_codebook.py`` fails when a column that prepare writes, or an indicator, has
no entry, or when ``docs/codebook.md`` differs from a fresh rendering. Rewrite the page with::

    python -m inburgering.codebook            # writes docs/codebook.md
    python -m inburgering.codebook --check    # exit 1 if docs/codebook.md is stale

Source-report pointers cite ``shared/reference/seed-notes-1-policy-design.md`` (notes 1) and
``seed-notes-2-process-routes.md`` (notes 2); their ``Lnnnn`` numbers are lines of the source
report (EUR + OBI Rotterdam 2023) as the notes give them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inburgering.config import load_catalogue, load_config
from inburgering.prepare.persons import PERSON_COLUMNS
from inburgering.process.indicators import INDICATORS

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "config" / "catalogue.yaml"
CONFIG = ROOT / "config" / "config.yaml"
OUTPUT = ROOT / "docs" / "codebook.md"


@dataclass(frozen=True)
class Entry:
    """One variable. ``sources`` are logical ``table.column`` names of config/catalogue.yaml,
    or ``config:key.path`` / ``table:name`` for configuration values and derived tables."""

    definition: str
    sources: tuple[str, ...]
    missing: str
    design: str = ""
    reference: str = ""


_SETTLE = (
    "gba_addresses.start",
    "gba_addresses.end",
    "gba_addresses.object_type",
    "gba_addresses.object_id",
    "address_municipality.municipality",
)
_NOT_CENSORED = "Not censored (fixed at the obligation start)."
_HORIZON_DATE = (
    "State on the horizon date = obligation_start + h calendar months (DuckDB month "
    "arithmetic, clipped to the month end as pandas DateOffset does)."
)
_CENSORED = (
    "Missing when the horizon date is after the last day of `data.end` (right-censored: "
    "missing, never 0). Not missing otherwise: no running spell means 0."
)

PERSONS: dict[str, Entry] = {
    "person_id": Entry(
        "RINPERSOON of the obligated person (9 digits, leading zeros kept). Only persons with "
        "RINPERSOONS = the resident code (`codes.person_type_resident`) are kept.",
        ("swi_basis.person_id", "swi_basis.person_type"),
        "Never missing: a missing or malformed key stops prepare (rules key_missing, "
        "key_format); a numeric id that lost its leading zeros is padded (person_id_padding).",
        "The SWI basisbestand defines the population; every other file is filtered to its "
        "persons while read.",
    ),
    "group": Entry(
        "Target group: statushouder, gezinsmigrant or overig, the label of the SWI code "
        "(`codes.target_group`).",
        ("swi_basis.target_group",),
        "Missing when the SWI value is missing; a value outside the code list stops prepare "
        "(code_list).",
        "Statushouders and gezinsmigranten have different municipal trajectories under Wi2021; "
        "designs restrict or split on it (city_matching: statushouders only).",
        "notes 1 §2.2 (L2495-2509); notes 2 §3",
    ),
    "regime": Entry(
        "Law regime from the obligation start: `wi2013` before `prepare.reform_date`, "
        "`uncertain` from the reform date up to and including `prepare.uncertain_regime_until`, "
        "`wi2021` after that.",
        (
            "swi_basis.obligation_start",
            "config:prepare.reform_date",
            "config:prepare.uncertain_regime_until",
        ),
        "Missing only without an obligation start (such persons are dropped by the sample flow).",
        "The date decides the law (DUO), not SWI's law column: when the law column disagrees with "
        "the date, the date wins and the row is counted (law_disagrees_with_date). The uncertain "
        "slice is DUO's 'false start' of early 2022 (misclassification, new-law inflow only from "
        "April 2022); reform_did excludes it from the headline and includes it as a sensitivity "
        "row (`cs_dr_incl_uncertain`).",
        "notes 1 §2.1 (L2479-2482); notes 2 §4.2 (L4799-4803, L4821-4829), §1.2 G0 (L9635-9650)",
    ),
    "wi2021": Entry(
        "True when the obligation start is on or after `prepare.reform_date` (includes the "
        "uncertain slice); the plain cohort split.",
        ("swi_basis.obligation_start", "config:prepare.reform_date"),
        "False when the obligation start is missing (persons without it are dropped).",
        "Kept next to `regime` for the plain legal split: the process indicators, route mix "
        "and route-start survival use it (uncertain slice included); reform_did and the "
        "matching and heterogeneity samples select on `regime` instead (uncertain excluded).",
        "notes 1 §2.1 (L2479-2482)",
    ),
    "obligation_start": Entry(
        "Start date of the inburgeringsplicht as set by DUO.",
        ("swi_basis.obligation_start",),
        "Persons without it are dropped (sample-flow step 'obligation start known'). A malformed "
        "or out-of-range date stops prepare (date_format, date_range).",
        "The anchor of cohorts, regimes and outcome horizons.",
        "notes 1 §1.4 (L2458-2461, L2638-2642)",
    ),
    "cohort": Entry(
        "Calendar quarter of the obligation start, written `2022Q1`.",
        ("swi_basis.obligation_start",),
        "Always present for kept persons.",
        "Quarter is the time unit of the DiD designs (time = cohort quarter) and the exact-match "
        "cell of city_matching (arrival timing).",
    ),
    "municipality": Entry(
        "Settlement municipality (4-digit code, no GM prefix), by `prepare.settlement.rule`: "
        "`first_address` (default) — the VSLGWB `gem{year}` of the start year of the first GBA "
        "address spell still running on or after the obligation start (earliest such spell; "
        "joined on SOORTOBJECTNUMMER + RINOBJECTNUMMER); `first_address_after_housing` — the "
        "same on or after the COA housing date when that is later (the first address after the "
        "azc); `koppeling_municipality` — the COA koppeling municipality where known, else "
        "`first_address`. With `prepare.municipalities.boundary_year` set, the code is then "
        "mapped to the municipality it belongs to on 1 January of that year, following the "
        "merger table `prepare.municipalities.mergers` (Weesp 0457 → Amsterdam 0363 from "
        "2022-03-24; rule municipality_boundary counts the recoded persons).",
        (
            *_SETTLE,
            "swi_coa.housing_date",
            "swi_coa.koppeling_municipality",
            "config:prepare.settlement.rule",
            "config:prepare.municipalities.boundary_year",
        ),
        "Persons without a spell on or after the start, or whose address object is not in "
        "VSLGWB, are dropped (sample-flow step 'settlement municipality known'). A spell start "
        "outside the VSLGWB years takes the nearest year (classification_year). Only when "
        "gba_addresses and address_municipality are both listed in `prepare.optional_tables` "
        "and absent does the SWI gemeente municipality (swi_municipality.municipality) stand in; "
        "config/cbs_ra.yaml makes the address tables required.",
        "Where the person lives after the obligation starts, not the municipality that reports "
        "them: for statushouders this is the COA placement (dispersal), which city_matching "
        "treats as as good as random given arrival quarter. The address at the start can be an "
        "azc; `first_address_after_housing` counts the municipality that houses the person, "
        "`koppeling_municipality` the one COA linked them to. CBS variants 'GM0599', '599' and "
        "numbers are normalised to '0599' (municipality_code_format, never capped).",
        "notes 1 §2.3 (L2614-2627)",
    ),
    "city": Entry(
        "G4 city key of `municipality` (rotterdam, amsterdam, den_haag, utrecht; codes from "
        "config/policies.yaml), else `rest_nl`.",
        ("table:persons.municipality", "config:policies.municipalities"),
        "Missing when municipality is missing (dropped).",
        "The treated unit of reform_did and city_matching; rest_nl is the comparison pool.",
    ),
    "g4": Entry(
        "True when `city` is one of the four G4 cities.",
        ("table:persons.city",),
        "Not missing for kept persons.",
    ),
    "female": Entry(
        "True when GBA sex is the `codes.sex.vrouw` code.",
        ("gba_persons.sex",),
        "Missing when the person has no GBAPERSOONTAB row (dropped by the sample flow) or the "
        "sex is unknown (`codes.sex.onbekend`, GBA '-'): never counted as male. A code outside "
        "the list stops prepare.",
    ),
    "age": Entry(
        "Age in completed years at the obligation start: start year − birth year, minus 1 if "
        "the start month is before the birth month (the birthday is taken as the 1st of the "
        "birth month).",
        ("gba_persons.birth_year", "gba_persons.birth_month", "swi_basis.obligation_start"),
        "Unknown birth month: age is start year − birth year (birth_month_unknown, counted). "
        "Missing without a GBA row.",
        "GBA gives birth year and month only.",
    ),
    "age_band": Entry(
        "Age band with lower edges `prepare.age_bands`, left-closed (e.g. `18-26`, `60+`, `<18`).",
        ("table:persons.age", "config:prepare.age_bands"),
        "Missing when age is missing.",
        "Edges 27 and 30 follow Rotterdam's youth-desk split (Jongerenloket under 27) and the "
        "student-finance limit of the onderwijsroute (under 30).",
        "notes 1 §2.2 (L450, L3227-3237)",
    ),
    "origin_region": Entry(
        "Region of the GBA country of birth via `codes.origin_region`; a listed code gives its "
        "region, any other code `other`.",
        ("gba_persons.birth_country", "config:codes.origin_region"),
        "Missing when the country is missing. Unlisted countries become `other` "
        "(country_not_in_origin_map, counted, uncapped). A code that is not four digits stops "
        "prepare.",
        "The region map in the catalogue is UNVERIFIED against the RA country list.",
    ),
    "schooling_years": Entry(
        "Years of schooling as recorded in the SWI basisbestand.",
        ("swi_basis.schooling_years",),
        "Missing when not recorded; a non-numeric value stops prepare (number_format). The "
        "designs impute it with a missing indicator (`matching.missing_indicator`).",
        "Used for route selection (schooling > 8 years → B1, < 6 → not).",
        "notes 2 §4.1",
    ),
    "literacy": Entry(
        "True when literate in the Latin script (`codes.literacy.literate`), False for the "
        "illiterate code.",
        ("swi_basis.literacy",),
        "Missing when the SWI value is missing.",
    ),
    "household_type": Entry(
        "Household type label (`codes.household_type`) in the household month of the obligation "
        "start; if that month is absent, the nearest month after it, else the nearest before.",
        ("swi_household.household_type", "swi_household.month"),
        "Missing when swi_household is absent (optional table) or the person has no month.",
        "Measured at the start, before any route assignment.",
    ),
    "children": Entry(
        "Number of children in the household, same month rule as household_type.",
        ("swi_household.children", "swi_household.month"),
        "As household_type.",
    ),
    "test_score": Entry(
        "Leerbaarheidstoets score (0-40).",
        ("swi_basis.test_score",),
        "Missing when not taken or not recorded (many gezinsmigranten and wi2013 persons); "
        "route designs use a missing indicator (`matching.missing_indicator`).",
        "Score above 31 suggests B1 is feasible; the test does not decide the route alone.",
        "notes 2 §1.1 S12 (L5748-5753), §0.1 item 3, §4.1",
    ),
    "test_version": Entry(
        "Version of the leerbaarheidstoets as the SWI code (`codes.test_version`: pilot binary, "
        "score, score with lower cut-off), kept as the raw code.",
        ("swi_basis.test_version",),
        "Missing when not recorded.",
        "The test was recalibrated during 2022 (binary → score), so the version interacts with "
        "cohort; it is a route-matching covariate.",
        "notes 2 §1.2 G4 (L10311-10317), §6.4 I8 (L10360-10363)",
    ),
    "permit_date": Entry(
        "Date the asylum residence permit was granted.",
        ("swi_coa.permit_date",),
        "Missing when swi_coa is absent (optional) or the person is not in it (gezinsmigranten).",
    ),
    "koppeling_date": Entry(
        "Date COA linked (koppelde) the statushouder to a municipality.",
        ("swi_coa.koppeling_date",),
        "As permit_date; set missing when before the permit (koppeling_before_permit).",
        "",
        "notes 1 §2.3 (L2614-2627)",
    ),
    "housing_date": Entry(
        "Date of housing in the municipality (= BRP registration for COA-placed statushouders).",
        ("swi_coa.housing_date",),
        "As permit_date; set missing when before the permit (housing_before_permit).",
        "The anchor of the process indicators for statushouders.",
        "notes 2 §1.3; §0.1 item 1",
    ),
    "intake_date": Entry(
        "Date of the brede intake.",
        ("swi_municipality.intake_date",),
        "Missing when not (yet) reported. Several municipal reports for one person: earliest "
        "date per step (multiple_reports).",
    ),
    "pip_date": Entry(
        "Date the PIP was set.",
        ("swi_municipality.pip_date",),
        "Missing when not (yet) reported; set missing when before the intake "
        "(pip_before_intake). Earliest date over multiple reports.",
        "Event of the `pip_within_10w` indicator.",
        "notes 2 §0.1 item 1 (L5218-5219, L5901-5902, L10615-10617)",
    ),
    "route_assigned_date": Entry(
        "Date the learning route was set (vastgesteld).",
        ("swi_municipality.route_assigned",),
        "Missing when the file lacks the column (it is in `prepare.optional_columns`) or the "
        "date is not reported. Earliest date over multiple reports.",
    ),
    "route_start_date": Entry(
        "Date the learning route started.",
        ("swi_municipality.route_start",),
        "Missing when not (yet) started or not reported. Earliest date over multiple reports.",
        "Event of `route_started_26w`, window start of `route_switch_18m`.",
    ),
    "route_switch_date": Entry(
        "Date of a change of learning route.",
        ("swi_municipality.route_switch",),
        "Missing when there was no switch; set missing when before the route start "
        "(route_switch_before_start). Earliest date over multiple reports.",
        "One switch date per person (the earliest over the municipal reports); later switches "
        "are not in the table.",
        "notes 2 §0.1 item 2 (L5913-5914, L10776-10778)",
    ),
    "first_exam_date": Entry(
        "Date of the person's first exam in DUO aanvullend (any component, passed or not).",
        ("swi_exams.date",),
        "Missing when swi_exams is absent (optional) or the person took no exam.",
        "Exam outcomes are not comparable across the laws (A2 vs B1 targets), so no exam "
        "outcome is derived.",
        "notes 1 §2.1 (L1101-1106)",
    ),
    "route": Entry(
        "Learning route in the PIP: b1, onderwijs, z or b1_entree (`codes.route`). With several "
        "municipal reports, the route of the report with the latest route start.",
        ("swi_municipality.route",),
        "Missing when no route is reported (wi2013 persons, new-law persons before their PIP).",
        "The treatment of route_matching and heterogeneity; route mix of the process design.",
        "notes 2 §2.1-2.4",
    ),
    "route_after_switch": Entry(
        "Learning route after the switch (`codes.route` label), latest report.",
        ("swi_municipality.new_route",),
        "Missing without a switch or when the file lacks the column (optional column).",
    ),
}

OUTCOMES: dict[str, Entry] = {
    "person_id": Entry("Person key, as in persons.", ("table:persons.person_id",), "Never."),
    "horizon": Entry(
        "Months since the obligation start at which the outcomes are measured.",
        ("config:prepare.horizons",),
        "Never: every person has one row per horizon.",
        "A fixed horizon since obligation start makes old- and new-law cohorts comparable.",
    ),
    "employed": Entry(
        "1 when a SECMBUS spell with an employed code (`codes.secm_employed`) runs on the "
        "horizon date (start ≤ date ≤ end), else 0. " + _HORIZON_DATE,
        (
            "socio_economic.category",
            "socio_economic.start",
            "socio_economic.end",
            "socio_economic.person_type",
        ),
        _CENSORED + " Only SECM rows with the resident person type are used; spells without an "
        "end run to 2099-12-31 (spell_open_end).",
        "SECM (not SPOLISBUS) because it gives one monthly state for everyone, including the "
        "self-employed (11-14 = employee, DGA, self-employed, other self-employed).",
    ),
    "in_education": Entry(
        "1 when an education enrolment spell runs on the horizon date, else 0. " + _HORIZON_DATE,
        ("education_enrolment.start", "education_enrolment.end"),
        _CENSORED + " Missing throughout when education_enrolment is absent (optional table).",
        "Enrolment in regular education (mbo/hbo/wo, bridging); the onderwijsroute's own "
        "language phase is not enrolment.",
    ),
    "participation": Entry(
        "1 when employed or in education on the horizon date, else 0. Without an education "
        "source it equals employed (logged).",
        ("table:outcomes.employed", "table:outcomes.in_education"),
        _CENSORED,
        "The city's own main outcome indicator: participation 'preferably through paid work or "
        "education'.",
        "notes 1 §1.2 (L1905-1911, L1935-1937)",
    ),
    "social_assistance": Entry(
        "1 when a SECMBUS spell with a social-assistance code (`codes.secm_social_assistance`, "
        "bijstand) runs on the horizon date, else 0. " + _HORIZON_DATE,
        ("socio_economic.category", "socio_economic.start", "socio_economic.end"),
        _CENSORED,
        "Benefit dependence is 85-90% in the first 1.5 years for statushouders; exit from "
        "bijstand is the second register outcome.",
    ),
}

PERSON_MONTHS: dict[str, Entry] = {
    "person_id": Entry("Person key, as in persons.", ("table:persons.person_id",), "Never."),
    "month": Entry(
        "First day of the calendar month, from the month of the obligation start to `data.end`.",
        ("swi_basis.obligation_start", "config:data.end"),
        "Never; months after data.end are not written (censoring by absence of rows).",
    ),
    "months_since_start": Entry(
        "Calendar months between the obligation-start month and `month` (0 in the start month).",
        ("table:person_months.month",),
        "Never.",
    ),
    "employed": Entry(
        "As outcomes.employed, on the last day of the month.",
        ("socio_economic.category", "socio_economic.start", "socio_economic.end"),
        "Not missing (rows exist only up to data.end).",
    ),
    "in_education": Entry(
        "As outcomes.in_education, on the last day of the month.",
        ("education_enrolment.start", "education_enrolment.end"),
        "Missing throughout when education_enrolment is absent.",
    ),
    "participation": Entry(
        "employed or in_education on the last day of the month (employed without an education "
        "source).",
        ("table:person_months.employed", "table:person_months.in_education"),
        "Not missing.",
    ),
    "social_assistance": Entry(
        "As outcomes.social_assistance, on the last day of the month.",
        ("socio_economic.category", "socio_economic.start", "socio_economic.end"),
        "Not missing.",
    ),
}

MUNICIPALITY_POLICIES: dict[str, Entry] = {
    "municipality": Entry(
        "4-digit municipality code.",
        ("config:policies.municipalities", "municipality_instruments.municipality"),
        "Never.",
    ),
    "city": Entry(
        "G4 city key, or `rest_nl` for rows from the data.",
        ("config:policies.municipalities",),
        "Never.",
    ),
    "instrument": Entry(
        "Instrument key of config/policies.yaml (the `treatment` of instrument_did rows).",
        ("config:policies.instruments", "municipality_instruments.instrument"),
        "Never; an unknown key in the data stops prepare (code_list).",
    ),
    "start": Entry(
        "First day the instrument applied to new inflow.",
        ("config:policies.instruments", "municipality_instruments.start"),
        "Never.",
        "For the G4 the policy calendar wins over the data (G4 rows of the data are ignored).",
        "notes 1 §3.5",
    ),
    "end": Entry(
        "Day the instrument stopped (paused), if it did.",
        ("config:policies.instruments", "municipality_instruments.end"),
        "Missing while the instrument is in force.",
    ),
    "source": Entry(
        "`policies.yaml` for calendar rows, the file name for rows from the data.",
        ("config:data.policies", "municipality_instruments"),
        "Never.",
    ),
}

_ANCHOR = (
    "Anchor = housing_date (BRP registration) for statushouders, obligation_start for everyone "
    "else."
)
PROCESS: dict[str, Entry] = {
    "pip_within_10w": Entry(
        "Share of Wi2021 persons (wi2021 = true, so the uncertain slice is included) whose PIP "
        "date is at most {days} days after the anchor. " + _ANCHOR,
        (
            "table:persons.pip_date",
            "table:persons.housing_date",
            "table:persons.obligation_start",
            "table:persons.group",
        ),
        "A person is in the denominator only when the anchor is known and anchor + {days} days "
        "≤ the last day of data.end (no right-censoring); statushouders without a housing date "
        "are left out (logged). A missing PIP date counts as 'no PIP in time'; a PIP dated before "
        "the anchor counts as in time.",
        "The report gives three start points for the 10-week PIP norm (BRP registration, start "
        "of the brede intake, obligation start for gezinsmigranten); BRP registration is the one "
        "cited most often, and for gezinsmigranten the obligation start is the legal equivalent.",
        "notes 2 §0.1 item 1 (L5218-5219, L5901-5902, L6025-6029, L10615-10617), §6.4 I3",
    ),
    "route_started_26w": Entry(
        "Share of Wi2021 persons whose learning route started at most {days} days "
        "({weeks} weeks) after the anchor. " + _ANCHOR,
        (
            "table:persons.route_start_date",
            "table:persons.housing_date",
            "table:persons.obligation_start",
            "table:persons.group",
        ),
        "Denominator as pip_within_10w (window {days} days inside the data).",
        "Half a year after settlement: the report has no legal norm for the route start; "
        "waiting times for provider intakes and childcare are the bottleneck it describes.",
        "notes 2 §6.4 I4-I5 (L7849-7860, L6983-6985)",
    ),
    "route_switch_18m": Entry(
        "Share of Wi2021 persons with a route start whose route switched within {days} days "
        "of the route start.",
        ("table:persons.route_switch_date", "table:persons.route_start_date"),
        "Denominator: persons with a route start date and route start + {days} days inside "
        "the data.",
        "18 months after the route start is the period in which a statushouder may switch "
        "(gezinsmigranten: once, 18 months after the start of the termijn; the code uses the "
        "route start for both).",
        "notes 2 §0.1 item 2 (L5913-5914, L10776-10778), §6.4 I10",
    ),
}

CODEBOOK: dict[str, dict[str, Entry]] = {
    "persons": PERSONS,
    "outcomes": OUTCOMES,
    "person_months": PERSON_MONTHS,
    "municipality_policies": MUNICIPALITY_POLICIES,
    "process": PROCESS,
}

TABLE_INTRO = {
    "persons": "One row per obligated person kept by the sample flow "
    "(`results/data/persons.parquet`; `inburgering.prepare.persons`).",
    "outcomes": "Person × horizon register outcomes as 1/0 floats "
    "(`results/data/outcomes.parquet`; `inburgering.prepare.outcomes`).",
    "person_months": "Person × calendar month states, for durations and event studies in "
    "calendar time (`results/data/person_months.parquet`).",
    "municipality_policies": "Municipality × instrument adoption spells "
    "(`results/data/municipality_policies.parquet`; `inburgering.prepare.policies`).",
    "process": "Process indicators of design `process` (`inburgering.process.indicators`): "
    "tidy rows with `estimand` = the indicator, per G4 city and `all`, pooled (`subgroup=all`) "
    "and per cohort quarter (`subgroup=cohort:2022Q1`); estimate = share, Wilson interval, "
    "`n_treated` = persons with the event, `n_control` = persons without it. Descriptive, "
    "not causal.",
}


def _lookup(path: str, config: Mapping[str, Any]) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value[part]
    return value


def _source(source: str, catalogue: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """One source as text: logical name plus the real column (or the configured value)."""
    if source.startswith("table:"):
        return f"`{source.removeprefix('table:')}`"
    if source.startswith("config:"):
        key = source.removeprefix("config:")
        root, _, rest = key.partition(".")
        if root == "codes":
            return f"catalogue `codes.{rest}`"
        if root == "policies":
            return f"`config/policies.yaml` {rest}"
        return f"config `{key}` = `{_lookup(key, config)}`"
    table, _, column = source.partition(".")
    spec = catalogue["tables"][table]
    if not column:
        return f"`{table}`"
    real = spec.get("columns", {}).get(column)
    if real is None:
        real = spec.get("wide_columns", {}).get(column)
    if real is None:
        raise KeyError(f"codebook source {source!r}: no such column in the catalogue")
    return f"`{table}.{column}` ({real})"


def _files(catalogue: Mapping[str, Any]) -> list[str]:
    lines = ["| logical table | file pattern (below `data.root`) | description |", "|---|---|---|"]
    for name, spec in catalogue["tables"].items():
        lines.append(f"| `{name}` | `{spec['pattern']}` | {spec['description']} |")
    return lines


def _fill(text: str, name: str) -> str:
    indicator = {i.name: i for i in INDICATORS}.get(name)
    if indicator is None:
        return text
    return text.format(days=indicator.days, weeks=round(indicator.days / 7))


def render(catalogue_path: Path = CATALOGUE, config_path: Path = CONFIG) -> str:
    """The Markdown text of docs/codebook.md."""
    catalogue = load_catalogue(catalogue_path)
    config = load_config(config_path)
    prepare = config["prepare"]
    lines = [
        "# Codebook of the derived variables",
        "",
        "<!-- Generated by `python -m inburgering.codebook` from "
        "src/inburgering/codebook.py, config/catalogue.yaml and config/config.yaml. "
        "Do not edit by hand: tests/docs/test_codebook.py fails when this file is stale. -->",
        "",
        "Every column that `prepare` writes to `results/data/` and every process indicator, with",
        "its definition, its sources (logical `table.column` with the real CBS column name from",
        "`config/catalogue.yaml` in brackets; on real data `prepare.catalogue_overrides` in",
        "`config/cbs_ra.yaml` may rename them), the rule for missing and censored values, the",
        "design choice behind it and, where the definition comes from policy, a pointer to the",
        "source report. `notes 1` / `notes 2` are `shared/reference/seed-notes-1-policy-design.md`",
        "and `seed-notes-2-process-routes.md`; their `L` numbers are lines of the source report",
        "(EUR + OBI Rotterdam, 2023). Rule names (e.g. `multiple_reports`) are the data-quality",
        "rules of `inburgering.prepare.quality.RULES`, counted in `results/data/data_quality.csv`.",
        "",
        "Parameters in the default configuration: horizons "
        f"`{prepare['horizons']}` months, reform date `{prepare['reform_date']}`, uncertain "
        f"regime up to `{prepare['uncertain_regime_until']}`, data end `{config['data']['end']}` "
        f"(`data.end`), age-band edges `{prepare['age_bands']}`.",
        "",
    ]
    for table, entries in CODEBOOK.items():
        title = "process indicators" if table == "process" else f"`{table}`"
        lines += [f"## {title}", "", TABLE_INTRO[table], ""]
        for name, entry in entries.items():
            sources = "; ".join(_source(s, catalogue, config) for s in entry.sources)
            lines += [f"### `{table}.{name}`" if table != "process" else f"### `{name}`", ""]
            if table == "persons":
                lines.append(f"- **Type.** `{PERSON_COLUMNS[name]}`")
            lines.append(f"- **Definition.** {_fill(entry.definition, name)}")
            lines.append(f"- **Sources.** {sources}")
            lines.append(f"- **Missing / censored.** {_fill(entry.missing, name)}")
            if entry.design:
                lines.append(f"- **Design choice.** {_fill(entry.design, name)}")
            if entry.reference:
                lines.append(f"- **Source report.** {entry.reference}")
            lines.append("")
    lines += [
        "## Source files",
        "",
        "The logical tables and their default file patterns (`config/catalogue.yaml`).",
        "",
        *_files(catalogue),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/codebook.md from the codebook.")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python -m inburgering.codebook")
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
