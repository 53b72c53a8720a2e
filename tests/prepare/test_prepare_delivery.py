"""What real CBS deliveries do that the synthetic data never do (issue 19).

Municipality code variants, repair caps per rule and table, stale or mixed deliveries, unknown
sex, messages that quote the file's text, truncated files, conflicting duplicates, the list of
files read, municipal mergers and the settlement rule.
"""

from __future__ import annotations

import pandas as pd
import pytest
from prepare_helpers import YEAR, job, table_path, world, write_world
from test_prepare_validation import LENIENT, Tables, append, corrupt, prepare

from inburgering.config import ConfigError
from inburgering.prepare.municipalities import boundary_map, harmonise, load_mergers
from inburgering.prepare.stage import run
from inburgering.workflow import StageError


def quality(out) -> pd.DataFrame:
    return pd.read_csv(out / "data_quality.csv", keep_default_na=False)


def persons(out) -> pd.DataFrame:
    return pd.read_parquet(out / "persons.parquet").set_index("person_id")


# --- municipality code variants and repair caps ------------------------------------------------


def _every_code_a_variant(tables: Tables) -> None:
    """Whole columns in CBS variants: GM prefix, lower case, 3 digits, numbers."""
    tables["swi_municipality"]["municipality"] = ["GM0599", "gm344", "14"]
    wide = tables["address_municipality"]
    for column in [c for c in wide if c.startswith("municipality_")]:
        wide[column] = wide[column].astype(int)  # stored as numbers: '0599' -> 599


def test_whole_files_of_code_variants_are_normalised_not_stopped(tmp_path):
    out = prepare(tmp_path, _every_code_a_variant)  # default caps (max_repair_share 0.05)
    found = quality(out).query("rule == 'municipality_code_format'")
    assert set(found["action"]) == {"normalised"}
    counts = found.groupby("table")["count"].sum()
    assert counts["swi_municipality"] == 3
    assert counts["address_municipality"] > 0
    assert persons(out)["city"].tolist() == ["rotterdam", "utrecht", "rest_nl"]


def test_a_code_that_is_no_variant_stops_quoting_the_file_text(tmp_path):
    with pytest.raises(StageError) as stopped:
        prepare(tmp_path, corrupt("swi_municipality", 0, "municipality", "GM05991"))
    message = str(stopped.value)
    assert "'unknown_municipality'" in message and "'GEMEENTECODE'" in message
    assert "SWI2025GEMEENTEV1.parquet row 0" in message
    assert "'GEMEENTECODE': 'GM05991'" in message


def _invert_secm(tables: Tables) -> None:
    tables["socio_economic"] = tables["socio_economic"].assign(start="20250101", end="20240101")


def test_repair_cap_per_rule_and_table(tmp_path):
    with pytest.raises(StageError, match=r"'spell_inverted'.*max_repair_share=0.05"):
        prepare(tmp_path / "a", _invert_secm)
    other_table = {**LENIENT, "max_repair_share": 0.05,
                   "repair_caps": {"spell_inverted": {"gba_addresses": 1.0}}}  # fmt: skip
    with pytest.raises(StageError, match=r"'spell_inverted'.*max_repair_share=0.05"):
        prepare(tmp_path / "b", _invert_secm, validation=other_table)
    this_table = {**other_table, "repair_caps": {"spell_inverted": {"socio_economic": 1.0}}}
    out = prepare(tmp_path / "c", _invert_secm, validation=this_table)
    assert quality(out).query("rule == 'spell_inverted'")["count"].sum() == 3
    per_rule = {**other_table, "repair_caps": {"spell_inverted": 0.5}}
    with pytest.raises(StageError, match=r"repair_caps.spell_inverted=0.5"):
        prepare(tmp_path / "d", _invert_secm, validation=per_rule)


def test_unknown_rule_in_repair_caps_is_named(tmp_path):
    caps = {**LENIENT, "repair_caps": {"spell_invertd": 0.5}}
    with pytest.raises(StageError, match=r"repair_caps: unknown rule\(s\) \['spell_invertd'\]"):
        prepare(tmp_path, lambda tables: None, validation=caps)


# --- stale and mixed deliveries ------------------------------------------------------------------


def _write_with_years(tmp_path, years: dict[str, int]):
    """The world with some tables written as another delivery year."""
    catalogue = write_world(tmp_path / "data")
    for table, year in years.items():
        path = table_path(catalogue, table, "parquet")
        moved = catalogue.root / catalogue.spec(table).pattern.format(
            year=year, version=1, ext="parquet"
        )
        moved.parent.mkdir(parents=True, exist_ok=True)
        path.rename(moved)
    return tmp_path / "data"


def test_newest_secmbus_year_missing_stops_naming_the_file(tmp_path):
    root = _write_with_years(tmp_path, {"socio_economic": YEAR - 1})
    with pytest.raises(StageError) as stopped:
        run(job(root, tmp_path / "out"))
    message = str(stopped.value)
    assert "'table_before_data_end'" in message and "socio_economic" in message
    assert "SECMBUS2024V1.parquet is from 2024, data.end is 2025-12" in message
    assert not (tmp_path / "out" / "persons.parquet").exists()


def test_stale_table_can_be_a_warning(tmp_path):
    root = _write_with_years(tmp_path, {"socio_economic": YEAR - 1})
    coverage = {"on_stale": "warn", "not_dated": [], "same_edition": []}
    run(job(root, tmp_path / "out", coverage=coverage))
    found = quality(tmp_path / "out").query("rule == 'table_before_data_end'")
    warned = found[found["action"] == "warned"]
    assert warned["table"].tolist() == ["socio_economic"]
    assert (found[found["action"] == "fatal"]["count"] == 0).all()


def test_swi_editions_must_agree(tmp_path):
    root = _write_with_years(tmp_path, {"swi_municipality": YEAR - 1})
    data_end = "2024-12"
    cfg = job(root, tmp_path / "out")
    cfg.params["data"]["end"] = data_end
    with pytest.raises(StageError) as stopped:
        run(cfg)
    message = str(stopped.value)
    assert "'editions_differ'" in message
    assert "SWI2024GEMEENTEV1.parquet is the 2024 edition" in message
    assert "SWI2025BASISBESTANDV1.parquet (swi_basis) is the 2025 edition" in message


# --- smaller defects ---------------------------------------------------------------------------


def test_unknown_sex_is_missing_not_male(tmp_path):
    out = prepare(tmp_path, corrupt("gba_persons", 0, "sex", "-"))
    female = persons(out)["female"]
    assert pd.isna(female["000000001"])
    assert bool(female["000000002"]) and not bool(female["000000003"])


def test_examples_quote_the_file_text_of_parsed_columns(tmp_path):
    """The code-list check runs after the dates were parsed: the example still shows them as
    the file holds them."""
    with pytest.raises(StageError) as stopped:
        prepare(tmp_path, corrupt("swi_basis", 2, "target_group", "9"))
    message = str(stopped.value)
    assert "'code_list'" in message and "'DOELGROEP': '9'" in message
    assert "'DATUMSTARTINBURGERINGSPLICHT': '20230630'" in message
    assert "'DATUMEINDETERMIJN': '20260630'" in message
    assert "00:00:00" not in message


def test_truncated_sav_says_the_file_is_incomplete(tmp_path):
    tables = world()
    tables["socio_economic"] = pd.concat([tables["socio_economic"]] * 400, ignore_index=True)
    catalogue = write_world(tmp_path / "data", "sav", tables)
    path = table_path(catalogue, "socio_economic", "sav")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(StageError) as stopped:
        run(job(tmp_path / "data", tmp_path / "out", "sav"))
    message = str(stopped.value)
    assert "SECMBUS2025V1.sav: the file is incomplete" in message
    assert "fewer than its header announces" in message


def test_conflicting_duplicates_show_every_row_and_the_fields_that_differ(tmp_path):
    with pytest.raises(StageError) as stopped:
        prepare(tmp_path, append("gba_persons", sex="2", birth_year="1991"))
    message = str(stopped.value)
    assert "'key_unique'" in message
    assert "the 2 rows of that key" in message
    assert "GBAPERSOON2025TABV1.parquet row 0" in message
    assert "GBAPERSOON2025TABV1.parquet row 6" in message
    assert "fields that differ: GBAGESLACHT ('1' vs '2'), GBAGEBOORTEJAAR ('1990' vs '1991')" in (
        message
    )


def test_files_read_lists_only_the_files_read(tmp_path):
    catalogue = write_world(tmp_path / "data")
    older = table_path(catalogue, "socio_economic", "parquet", version=1)
    newer = table_path(catalogue, "socio_economic", "parquet", version=2)
    newer.write_bytes(older.read_bytes())
    unread = catalogue.root / "Spolis" / "SPOLISBUS" / "2025" / "SPOLISBUS2025V1.parquet"
    unread.parent.mkdir(parents=True)
    unread.write_bytes(b"not read")
    run(job(tmp_path / "data", tmp_path / "out"))
    listed = pd.read_csv(tmp_path / "out" / "files_read.csv", dtype=str)
    files = set(listed["file"])
    assert "InkomenBestedingen/SECMBUS/SECMBUS2025V2.parquet" in files
    assert "InkomenBestedingen/SECMBUS/SECMBUS2025V1.parquet" not in files
    assert not any("SPOLISBUS" in f for f in files)
    assert set(listed["table"]) == set(world())
    assert listed.loc[listed["table"] == "socio_economic", "version"].tolist() == ["2"]


# --- municipal mergers and the settlement rule -------------------------------------------------


def test_merger_table_harmonises_to_the_boundary_year(tmp_path):
    def weesp(tables: Tables) -> None:
        wide = tables["address_municipality"]
        wide.loc[0, [c for c in wide if c.startswith("municipality_")]] = "0457"  # person 1
        tables["swi_municipality"].loc[0, "municipality"] = "0457"

    before = prepare(tmp_path / "a", weesp)
    assert persons(before).loc["000000001", "municipality"] == "0457"
    merged = {"boundary_year": 2023, "mergers": "config/municipal_mergers.csv"}
    out = prepare(tmp_path / "b", weesp, municipalities=merged)
    person = persons(out).loc["000000001"]
    assert (person["municipality"], person["city"]) == ("0363", "amsterdam")
    found = quality(out).query("rule == 'municipality_boundary'")
    assert found["count"].sum() == 1


def test_mergers_before_the_boundary_year_only(tmp_path):
    path = tmp_path / "mergers.csv"
    path.write_text(
        "old_code,old_name,new_code,new_name,date\n"
        "0457,Weesp,0363,Amsterdam,2022-03-24\n"
        "0001,A,0002,B,2019-01-01\n"
        "0002,B,0003,C,2021-01-01\n"
    )
    mergers = load_mergers(path)
    assert boundary_map(mergers, 2022) == {"0001": "0003", "0002": "0003"}
    mapping = boundary_map(mergers, 2023)
    assert mapping["0457"] == "0363"
    codes = pd.Series(["0457", "0599", None], dtype="string")
    assert harmonise(codes, mapping).tolist() == ["0363", "0599", pd.NA]


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ("GM0457,Weesp,0363,Amsterdam,2022-03-24\n", r"key mergers\.0\.old_code"),
        ("0457,Weesp,0363,Amsterdam,24-03-2022\n", r"key mergers\.0\.date"),
        ("0001,A,0002,B,2019-01-01\n0002,B,0001,A,2020-01-01\n", "cycle: 0001 -> 0002 -> 0001"),
        ("0001,A,0002,B,2019-01-01\n0001,A,0003,C,2020-01-01\n", "merged more than once"),
    ],
)
def test_merger_table_is_checked(tmp_path, rows, error):
    path = tmp_path / "mergers.csv"
    path.write_text("old_code,old_name,new_code,new_name,date\n" + rows)
    with pytest.raises(ConfigError, match=error):
        load_mergers(path)


def _coa(tables: Tables) -> None:
    tables["swi_coa"] = pd.DataFrame(
        {
            "person_type": ["R", "R"],
            "person_id": ["000000001", "000000002"],
            "permit_date": ["20210101", "20210601"],
            "koppeling_date": ["20210201", "20210701"],
            "koppeling_municipality": ["GM0363", "0344"],
            "housing_date": ["20210301", "20220401"],
        }
    )


def test_settlement_rule_koppeling_municipality(tmp_path):
    out = prepare(tmp_path, _coa, settlement={"rule": "koppeling_municipality"})
    assert persons(out)["city"].tolist() == ["amsterdam", "utrecht", "rest_nl"]


def test_settlement_rule_first_address_after_housing(tmp_path):
    def azc_first(tables: Tables) -> None:
        _coa(tables)
        # person 2 lives in an Amsterdam azc (B1) until housed 2022-04-01, then Utrecht (C1)
        addresses = tables["gba_addresses"]
        addresses.loc[1, "end"] = "20220331"
        addresses.loc[2, "start"] = "20220401"

    first = prepare(tmp_path / "a", azc_first)
    assert persons(first).loc["000000002", "city"] == "amsterdam"
    out = prepare(tmp_path / "b", azc_first, settlement={"rule": "first_address_after_housing"})
    assert persons(out).loc["000000002", "city"] == "utrecht"
    assert persons(out).loc["000000001", "city"] == "rotterdam"


def test_settlement_rule_without_coa_says_it_falls_back(tmp_path, caplog):
    out = prepare(tmp_path, lambda tables: None, settlement={"rule": "koppeling_municipality"})
    assert "needs swi_coa, which is absent: first_address used" in caplog.text
    assert persons(out)["city"].tolist() == ["rotterdam", "utrecht", "rest_nl"]
