"""Table 1 (descriptives.csv) and the verdict's new columns through the disclosure rules: counts
per city and level from the person table, small cells withheld (never 0), the total protected by
secondary suppression, no person-level value in the export (leak scan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.contracts.side_tables import DESCRIPTIVES
from inburgering.contracts.verdict import COLUMNS as VERDICT_COLUMNS
from inburgering.disclosure import assert_no_leaks, check_tables, write_export
from inburgering.disclosure.assemble import (
    composition_item,
    descriptives_item,
    descriptives_table,
    outcome_trends_item,
    verdict_item,
)
from inburgering.workflow import StageError

CITIES = ("rotterdam", "amsterdam", "rest_nl")
VARIABLES = {
    "female": {"column": "female"},
    "age": {"column": "age", "edges": [18, 27, 45], "labels": ["18-26", "27-44", "45+"]},
    "group": {"column": "group"},
}


@pytest.fixture(scope="module")
def persons() -> pd.DataFrame:
    """Rotterdam has 3 persons aged 45+ (a small cell) and Amsterdam no gezinsmigrant (a 0)."""
    rng = np.random.default_rng(3)
    sizes = {"rotterdam": 120, "amsterdam": 90, "rest_nl": 400}
    city = np.repeat(list(sizes), list(sizes.values()))
    n = len(city)
    age = rng.integers(18, 45, n).astype(float)
    age[:3] = [50, 61, 47]  # Rotterdam's only persons of 45+
    age[3:5] = np.nan  # unknown age: a level of its own
    group = np.where(rng.random(n) < 0.6, "statushouder", "gezinsmigrant")
    group[city == "amsterdam"] = "statushouder"
    return pd.DataFrame(
        {
            "person_id": [f"{i:09d}" for i in rng.choice(10**9, n, replace=False)],
            "city": city,
            "female": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "age": pd.array(age, dtype="Float64").round().astype("Int64"),
            "group": group,
            "obligation_start": pd.Timestamp("2022-03-14") + pd.to_timedelta(np.arange(n), "D"),
        }
    )


def _cell(table: pd.DataFrame, city: str, variable: str, level: str):
    row = table[(table["city"] == city) & (table["variable"] == variable)]
    return row.set_index("level").loc[level]


def test_counts_per_city_and_level_with_each_total(persons):
    table = descriptives_table(persons, VARIABLES, CITIES)
    assert list(table.columns) == list(DESCRIPTIVES.columns)
    rotterdam = persons[persons["city"] == "rotterdam"]
    assert _cell(table, "rotterdam", "female", "true")["n"] == rotterdam["female"].sum()
    assert _cell(table, "rotterdam", "age", "45+")["n"] == 3
    assert _cell(table, "rotterdam", "age", "missing")["n"] == 2
    assert _cell(table, "amsterdam", "group", "gezinsmigrant")["n"] == 0
    for (_, _), rows in table.groupby(["city", "variable"]):
        levels = rows[rows["level"] != "all"]
        assert rows.set_index("level").loc["all", "n"] == levels["n"].sum()
    # Bands in their configured order, unknown last, the total at the end.
    ages = table[(table["city"] == "rest_nl") & (table["variable"] == "age")]["level"].tolist()
    assert ages == ["18-26", "27-44", "45+", "missing", "all"]
    assert _cell(table, "rest_nl", "age", "45+")["n"] == 0  # a level of another city: a 0


def test_small_cells_are_withheld_and_protected_never_zero(persons, rules):
    [checked] = check_tables([descriptives_item(persons, VARIABLES, CITIES)], rules)
    frame = checked.frame
    small = _cell(frame, "rotterdam", "age", "45+")
    assert small["suppressed"] and pd.isna(small["n"])
    # Rotterdam's age total is published: a second age cell is withheld so the 3 cannot be
    # recovered by subtraction (secondary suppression on the declared margin).
    ages = frame[(frame["city"] == "rotterdam") & (frame["variable"] == "age")]
    assert ages["suppressed"].sum() >= 2
    assert not pd.isna(_cell(frame, "rotterdam", "age", "all")["n"])
    # A real zero is publishable; a level holding all of a city's persons is not, nor is the
    # 0 beside it that would reveal it.
    assert _cell(frame, "rest_nl", "age", "45+")["n"] == 0
    assert _cell(frame, "amsterdam", "group", "statushouder")["suppressed"]
    assert _cell(frame, "amsterdam", "group", "gezinsmigrant")["suppressed"]
    assert set(frame.columns) == {*DESCRIPTIVES.columns, "suppressed"}


def _composition(persons: pd.DataFrame) -> pd.DataFrame:
    """Rotterdam's persons by cohort quarter and group, as the process stage counts them: its
    gezinsmigrant cells of one quarter hold 4 persons (withheld), the rest are large."""
    quarters = np.where(np.arange(len(persons)) % 2 == 0, "2022Q1", "2022Q2")
    frame = persons.assign(cohort=quarters)
    rotterdam_gm = frame.index[(frame["city"] == "rotterdam") & (frame["group"] == "gezinsmigrant")]
    frame.loc[rotterdam_gm, "cohort"] = "2022Q2"
    frame.loc[rotterdam_gm[:4], "cohort"] = "2022Q1"
    counts = frame[frame["city"] == "rotterdam"].groupby(["city", "cohort", "group"]).size()
    return counts.rename("n").reset_index()


def test_table_1_cannot_reveal_a_cell_the_composition_table_withholds(persons, rules):
    """Table 1's city x group count is composition's total over cohorts: published beside a
    composition with one withheld quarter it would give that quarter by subtraction."""
    composition = _composition(persons)
    small = composition[composition["n"] < rules.min_persons]
    assert small[["city", "group"]].drop_duplicates().values.tolist() == [
        ["rotterdam", "gezinsmigrant"]
    ]
    checked = check_tables(
        [composition_item(composition), descriptives_item(persons, VARIABLES, CITIES)], rules
    )
    withheld = checked[0].frame
    rotterdam = withheld[(withheld["city"] == "rotterdam") & (withheld["group"] == "gezinsmigrant")]
    assert rotterdam["suppressed"].sum() == 1  # the other quarter stays published
    table_1 = checked[1].frame
    assert _cell(table_1, "rotterdam", "group", "gezinsmigrant")["suppressed"]
    # The city total is repeated once per variable: it is one cell, published or withheld alike.
    totals = table_1[(table_1["city"] == "rotterdam") & (table_1["level"] == "all")]
    assert totals["suppressed"].nunique() == 1


def test_composition_checked_after_table_1_protects_its_small_quarter(persons, rules):
    """The export's order: Table 1 first, so its city x group totals stay published and the
    composition table withholds a second quarter of the group beside the small one."""
    checked = check_tables(
        [descriptives_item(persons, VARIABLES, CITIES), composition_item(_composition(persons))],
        rules,
    )
    assert not _cell(checked[0].frame, "rotterdam", "group", "gezinsmigrant")["suppressed"]
    composition = checked[1].frame
    rotterdam = composition[(composition["group"] == "gezinsmigrant")]
    assert rotterdam["suppressed"].all()


def test_descriptives_export_passes_the_leak_scan(persons, rules, tmp_path):
    checked = check_tables([descriptives_item(persons, VARIABLES, CITIES)], rules)
    export = tmp_path / "export"
    values = {"obligation_start": persons["obligation_start"]}
    write_export(
        checked, export, rules=rules, person_keys=persons["person_id"], person_values=values
    )
    written = pd.read_csv(export / "descriptives.csv", dtype=str)
    assert list(written.columns) == [*DESCRIPTIVES.columns, "suppressed"]
    assert_no_leaks([export], person_keys=persons["person_id"], person_values=values, rules=rules)


def test_a_variable_the_person_table_lacks_stops_naming_the_key(persons):
    with pytest.raises(StageError, match=r"descriptives\.variables\.origin.*origin_region"):
        descriptives_table(persons, {"origin": {"column": "origin_region"}}, CITIES)
    bad = {"age": {"column": "age", "edges": [27, 18], "labels": ["a", "b"]}}
    with pytest.raises(StageError, match=r"descriptives\.variables\.age: edges must increase"):
        descriptives_table(persons, bad, CITIES)


def test_verdict_control_mean_is_withheld_when_it_reveals_a_small_group(rules):
    """The control mean is a share of its own persons: too few of them, or a share that leaves
    fewer than the minimum with or without the outcome, withholds it; the row stays."""
    base = dict.fromkeys(VERDICT_COLUMNS, np.nan) | {
        "city": "rotterdam", "outcome": "participation", "horizon": 24,
        "direction": "higher_is_better", "inference": "variance_component",
        "estimate": 0.01, "se": 0.02, "n_treated": 900, "n_control": 800,
        "clusters_treated": 1, "clusters_control": 1, "verdict": "no_distinguishable_difference",
        "reason": "adjusted p not below alpha",
    }  # fmt: skip
    rows = pd.DataFrame(
        [
            base | {"comparison": "amsterdam", "control_mean": 0.40, "n_control_post": 500},
            base | {"comparison": "den_haag", "control_mean": 0.5, "n_control_post": 6},
            base | {"comparison": "utrecht", "control_mean": 0.99, "n_control_post": 500},
        ]
    )[list(VERDICT_COLUMNS)]
    [checked] = check_tables([verdict_item(rows, rules)], rules)
    frame = checked.frame.set_index("comparison")
    assert frame.loc["amsterdam", "control_mean"] == 0.40
    assert pd.isna(frame.loc["den_haag", "control_mean"])  # 6 persons
    assert pd.isna(frame.loc["utrecht", "control_mean"])  # 5 persons without the outcome
    assert "n_control_post" not in frame.columns  # a cohort sum: it stays inside RA
    assert not frame["suppressed"].any()
    assert (frame["estimate"] == 0.01).all()
    assert (frame["clusters_control"] == 1).all()


def test_outcome_trends_export_shares_without_the_persons_behind_them(persons, rules):
    """A city-year's measured persons at a horizon everyone has reached is its cohort total:
    published, it would give composition's withheld quarter by subtraction. The share rules
    still see the count inside RA (a share of 2 persons is withheld)."""
    trends = pd.DataFrame(
        {
            "city": ["rotterdam", "rotterdam", "amsterdam"],
            "cohort": ["2022", "2023", "2022"],
            "outcome": "participation",
            "horizon": 6,
            "n": [120, 2, 90],
            "share": [0.25, 0.5, 0.3],
        }
    )
    [checked] = check_tables([outcome_trends_item(trends)], rules)
    frame = checked.frame
    assert "n" not in frame.columns and not any(c.startswith("_sdc") for c in frame.columns)
    assert frame["suppressed"].tolist() == [False, True, False]
    assert frame["share"].iloc[0] == 0.25 and pd.isna(frame["share"].iloc[1])
