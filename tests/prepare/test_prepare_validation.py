"""Every validation rule, triggered by a deliberately corrupted file.

Fatal rules must stop with a message naming the file, the real column, the rule and an example
row; repairable rules must apply their repair and count it in data_quality.csv.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from prepare_helpers import job, world, write_world

from inburgering.prepare import RULES
from inburgering.prepare.stage import run
from inburgering.workflow import StageError

Tables = dict[str, pd.DataFrame]
LENIENT = {
    "person_id_digits": 9,
    "min_date": "1900-01-01",
    "max_date": "2099-12-31",
    "max_repair_share": 1.0,
    "repair_caps": {},
}


def corrupt(table: str, row: int, column: str, value: str) -> Callable[[Tables], None]:
    def apply(tables: Tables) -> None:
        tables[table].loc[row, column] = value

    return apply


def append(table: str, **values: str) -> Callable[[Tables], None]:
    def apply(tables: Tables) -> None:
        frame = tables[table]
        row = frame.iloc[[0]].assign(**values)
        tables[table] = pd.concat([frame, row], ignore_index=True)

    return apply


def prepare(tmp_path, change: Callable[[Tables], None], fmt: str = "parquet", **prepare_cfg):
    tables = world()
    change(tables)
    write_world(tmp_path / "data", fmt, tables)
    run(job(tmp_path / "data", tmp_path / "out", fmt, **prepare_cfg))
    return tmp_path / "out"


FATAL = [
    ("key_missing", corrupt("swi_basis", 1, "person_id", ""), "RINPERSOON", "SWI2025BASIS"),
    ("key_format", corrupt("swi_basis", 1, "person_id", "00000000X"), "RINPERSOON", "BASIS"),
    ("key_unique", append("gba_persons", sex="2"), "RINPERSOON", "GBAPERSOON2025TABV1"),
    (
        "date_format",
        corrupt("swi_basis", 0, "obligation_start", "2021-03-15"),
        "DATUMSTARTINBURGERINGSPLICHT",
        "BASISBESTAND",
    ),
    ("date_range", corrupt("socio_economic", 0, "start", "18000101"), "AANVSECM", "SECMBUS"),
    ("code_list", corrupt("swi_basis", 2, "target_group", "9"), "DOELGROEP", "BASIS"),
    ("code_list", corrupt("swi_municipality", 0, "route", "7"), "LEERROUTE", "GEMEENTEV1"),
    ("number_format", corrupt("swi_basis", 0, "schooling_years", "twelve"), "SCHOLINGJAREN", ""),
    (
        "unknown_municipality",
        corrupt("swi_municipality", 0, "municipality", "0999"),
        "GEMEENTECODE",
        "GEMEENTEV1",
    ),
    (
        "unknown_municipality",
        corrupt("address_municipality", 0, "municipality_2021", "ROTT"),
        "gem2021",
        "VSLGWB2025TAB03V1",
    ),
    ("spell_start_missing", corrupt("socio_economic", 2, "start", ""), "AANVSECM", "SECMBUS"),
    ("date_range", corrupt("gba_persons", 0, "birth_year", "1850"), "GBAGEBOORTEJAAR", "GBA"),
]


@pytest.mark.parametrize(("rule", "change", "column", "file"), FATAL)
def test_fatal_rule_names_file_column_rule_and_row(tmp_path, rule, change, column, file):
    assert RULES[rule][0] == "fatal"
    with pytest.raises(StageError) as stopped:
        prepare(tmp_path, change)
    message = str(stopped.value)
    assert f"validation rule {rule!r}" in message
    assert f"column {column!r}" in message
    assert file in message
    assert "example" in message and " row " in message


def test_fatal_rule_on_sav_names_the_sav_file(tmp_path):
    with pytest.raises(StageError, match=r"SWI2025BASISBESTANDV1\.sav.*'DOELGROEP'.*'code_list'"):
        prepare(tmp_path, corrupt("swi_basis", 2, "target_group", "9"), fmt="sav")


def test_repair_beyond_the_share_limit_is_fatal(tmp_path):
    def invert(tables: Tables) -> None:
        secm = tables["socio_economic"]
        tables["socio_economic"] = secm.assign(start="20250101", end="20240101")

    with pytest.raises(StageError, match=r"'spell_inverted'.*max_repair_share=0.05.*AANVSECM"):
        prepare(tmp_path, invert)


def _coa(tables: Tables) -> None:
    tables["swi_coa"] = pd.DataFrame(
        {
            "person_type": ["R", "R"],
            "person_id": ["000000001", "000000003"],
            "permit_date": ["20210101", "20230101"],
            "koppeling_date": ["20200101", "20230201"],  # person 1: koppeling before permit
            "koppeling_municipality": ["0599", "GM0014"],
            "housing_date": ["20201231", "20230630"],  # person 1: housing before permit
        }
    )


def _overlapping_addresses(tables: Tables) -> None:
    tables["gba_addresses"].loc[1, "end"] = "20220331"  # Amsterdam runs into the Utrecht move


REPAIRS = [
    ("duplicate_rows", "socio_economic", append("socio_economic"), 1),
    ("person_id_padding", "gba_persons", corrupt("gba_persons", 0, "person_id", "1"), 1),
    ("spell_inverted", "socio_economic", append("socio_economic", end="20200101"), 1),
    (
        "spell_overlap",
        "socio_economic",
        append("socio_economic", start="20210501", end="20210901"),
        1,
    ),
    ("spell_overlap", "gba_addresses", _overlapping_addresses, 1),
    ("classification_year", "gba_addresses", corrupt("gba_addresses", 0, "start", "20100101"), 1),
    (
        "multiple_reports",
        "swi_municipality",
        append("swi_municipality", person_id="000000002", route="3", route_start="20230101"),
        1,
    ),
    ("law_disagrees_with_date", "swi_basis", corrupt("swi_basis", 0, "law", "2021"), 1),
    ("koppeling_before_permit", "swi_coa", _coa, 1),
    ("housing_before_permit", "swi_coa", _coa, 1),
    (
        "pip_before_intake",
        "swi_municipality",
        corrupt("swi_municipality", 0, "pip_date", "20210601"),
        1,
    ),
    (
        "route_switch_before_start",
        "swi_municipality",
        corrupt("swi_municipality", 0, "route_switch", "20210901"),
        1,
    ),
]


@pytest.mark.parametrize(("rule", "table", "change", "count"), REPAIRS)
def test_repair_is_counted(tmp_path, rule, table, change, count):
    assert RULES[rule][0] == "repaired"
    out = prepare(tmp_path, change, validation=LENIENT)
    quality = pd.read_csv(out / "data_quality.csv")
    found = quality[(quality["rule"] == rule) & (quality["table"] == table)]
    assert found["count"].sum() == count


def test_repairs_have_their_documented_effect(tmp_path):
    def change(tables: Tables) -> None:
        _coa(tables)
        corrupt("gba_persons", 0, "person_id", "1")(tables)
        corrupt("swi_municipality", 0, "municipality", "GM0599")(tables)
        corrupt("swi_municipality", 0, "pip_date", "20210601")(tables)
        corrupt("swi_basis", 0, "law", "2021")(tables)
        append("swi_municipality", person_id="000000002", route="3", route_start="20230101")(tables)

    out = prepare(tmp_path, change, validation=LENIENT)
    persons = pd.read_parquet(out / "persons.parquet").set_index("person_id")
    assert persons.loc["000000001", "age"] == 30  # padded id still links to GBA
    assert pd.isna(persons.loc["000000001", "pip_date"])
    assert pd.isna(persons.loc["000000001", "housing_date"])
    assert persons.loc["000000001", "regime"] == "wi2013"  # from the date, not the law column
    assert persons.loc["000000002", "route"] == "z"  # latest route start wins
    # earliest date per step over both reports (the appended report copies person 1's dates)
    assert persons.loc["000000002", "intake_date"] == pd.Timestamp("2021-07-01")
    assert persons.loc["000000003", "housing_date"] == pd.Timestamp("2023-06-30")


@pytest.mark.parametrize("table", ["socio_economic", "gba_addresses"])
def test_required_table_absent_is_fatal(tmp_path, table):
    def drop(tables: Tables) -> None:
        del tables[table]

    with pytest.raises(StageError, match=rf"'{table}': no file matches"):
        prepare(tmp_path, drop)


def test_optional_tables_absent_are_logged(tmp_path):
    optional = ["gba_addresses", "address_municipality", "education_enrolment", "swi_coa",
                "swi_exams", "swi_household", "municipality_instruments"]  # fmt: skip

    def drop(tables: Tables) -> None:
        for name in optional[:3]:
            del tables[name]

    out = prepare(tmp_path, drop, optional_tables=optional)
    quality = pd.read_csv(out / "data_quality.csv")
    absent = set(quality.loc[quality["action"] == "absent", "table"])
    assert {"gba_addresses", "education_enrolment", "swi_coa"} <= absent
    persons = pd.read_parquet(out / "persons.parquet")
    # settlement falls back to the SWI gemeente municipality; person 6 now has one (none)
    assert persons["city"].tolist() == ["rotterdam", "utrecht", "rest_nl"]
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    assert outcomes["in_education"].isna().all()
    assert (outcomes["participation"].fillna(-1) == outcomes["employed"].fillna(-1)).all()
