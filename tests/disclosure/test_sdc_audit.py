"""The export audit (disclosure/audit.py): small exports with one planted leak of each kind,
which it must find with the right value, and clean ones it must pass; the three cross-table
leaks of the last session rebuilt with the pre-fix specs must be flagged, the current export
code must pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inburgering.contracts.tidy import tidy_frame
from inburgering.disclosure import DisclosureError, check_tables, load_rules, write_export
from inburgering.disclosure.assemble import (
    COMPOSITION,
    composition_item,
    descriptives_item,
    estimates_item,
    outcome_trends_item,
)
from inburgering.disclosure.audit import (
    ExportAuditError,
    assert_export_safe,
    audit_export,
    export_specs,
    findings_frame,
)
from inburgering.disclosure.spec import TableSpec
from inburgering.disclosure.summaries import tidy_estimates_spec
from inburgering.process.indicators import composition, outcome_trends

GRID = TableSpec(
    "grid",
    "frequency",
    count_columns=("n",),
    group_columns=("city", "cohort"),
    margins={"city": "all", "cohort": "all"},
)


def _write(folder: Path, name: str, rows: list[tuple], columns: list[str]) -> None:
    """A published table: None is a withheld count (empty and flagged, never 0)."""
    frame = pd.DataFrame(rows, columns=columns)
    frame["suppressed"] = frame["n"].isna()
    frame["n"] = frame["n"].astype("Int64")
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", index=False)


def _grid(folder: Path, cells: dict[tuple[str, str], int | None]) -> Path:
    rows = [(city, cohort, n) for (city, cohort), n in cells.items()]
    _write(folder, "grid", rows, ["city", "cohort", "n"])
    return folder


def _found(report) -> dict[tuple, tuple[float, float]]:
    return {
        (f.cell.table, tuple(sorted(dict(f.cell.coords).items()))): (f.low, f.high)
        for f in report.findings
    }


def test_a_total_minus_its_published_breakdown_recovers_the_withheld_cell(tmp_path, rules):
    folder = _grid(
        tmp_path / "export",
        {("rotterdam", "all"): 50, ("rotterdam", "2022"): 43, ("rotterdam", "2023"): None},
    )
    report = audit_export(folder, rules, specs={"grid": GRID})
    [finding] = report.findings
    assert finding.attack == "within_table" and finding.status == "recovered"
    assert (finding.low, finding.high) == (7, 7) and finding.exact and finding.small
    assert dict(finding.cell.coords) == {"city": "rotterdam", "cohort": "2023"}
    assert "50" in finding.arithmetic and "43" in finding.arithmetic
    with pytest.raises(ExportAuditError, match=r"grid.*rotterdam.*2023.* = 7, below 10"):
        assert_export_safe(folder, rules, specs={"grid": GRID})


def test_two_withheld_cells_of_a_large_remainder_pass(tmp_path, rules):
    folder = _grid(
        tmp_path / "export",
        {
            ("rotterdam", "all"): 70,
            ("rotterdam", "2022"): 43,
            ("rotterdam", "2023"): None,
            ("rotterdam", "2024"): None,
        },
    )
    report = assert_export_safe(folder, rules, specs={"grid": GRID})
    assert report.withheld == 2 and report.identities >= 1 and not report.findings


def test_withheld_cells_sharing_a_small_remainder_are_proven_small(tmp_path, rules):
    folder = _grid(
        tmp_path / "export",
        {
            ("rotterdam", "all"): 49,
            ("rotterdam", "2022"): 43,
            ("rotterdam", "2023"): None,
            ("rotterdam", "2024"): None,
        },
    )
    found = _found(audit_export(folder, rules, specs={"grid": GRID}))
    assert found == {
        ("grid", (("city", "rotterdam"), ("cohort", "2023"))): (0, 6),
        ("grid", (("city", "rotterdam"), ("cohort", "2024"))): (0, 6),
    }


def test_the_joint_linear_programme_pins_cells_no_single_sum_gives(tmp_path, rules):
    """Every row and column sum has two withheld cells; only together (and with counts >= 0)
    do they fix them: 2023 is 0 in both cities, so the 2022 cells are the city totals."""
    cells = {
        ("rotterdam", "2022"): None,
        ("rotterdam", "2023"): None,
        ("amsterdam", "2022"): None,
        ("amsterdam", "2023"): None,
        ("rotterdam", "all"): 15,
        ("amsterdam", "all"): 20,
        ("all", "2022"): 35,
        ("all", "2023"): 0,
        ("all", "all"): 35,
    }
    report = audit_export(_grid(tmp_path / "export", cells), rules, specs={"grid": GRID})
    frame = findings_frame(report.findings)
    joint = frame[frame["attack"] == "linear_programme"]
    assert {(k["city"], k["cohort"]) for k in joint["key"]} == {
        ("rotterdam", "2022"),
        ("amsterdam", "2022"),
    }
    assert sorted(joint["low"]) == [15, 20] and (joint["low"] == joint["high"]).all()
    single = frame[frame["attack"] == "within_table"]
    assert {k["cohort"] for k in single["key"]} == {"2023"} and (single["high"] == 0).all()


def test_a_row_labelled_all_that_is_not_the_sum_of_its_rows_is_not_used(tmp_path, rules):
    """Undeclared totals are hypotheses: a fully published instance that does not add up (the
    national row holds municipalities not listed) refutes them for the whole table."""
    spec = TableSpec("grid", "frequency", count_columns=("n",), group_columns=("city", "cohort"))
    cells = {
        ("all", "2022"): 500,
        ("rotterdam", "2022"): 40,
        ("amsterdam", "2022"): 60,
        ("all", "2023"): 480,
        ("rotterdam", "2023"): 30,
        ("amsterdam", "2023"): None,
    }
    report = audit_export(_grid(tmp_path / "export", cells), rules, specs={"grid": spec})
    assert not report.findings and report.rejected == 1


# -- across tables ------------------------------------------------------------------------------


def _counts(cells: dict[tuple[str, str, str], int]) -> pd.DataFrame:
    rows = [(city, cohort, group, n) for (city, cohort, group), n in cells.items()]
    return pd.DataFrame(rows, columns=["city", "cohort", "group", "n"])


YEARLY = TableSpec(
    "yearly",
    "share",
    count_columns=("n",),
    group_columns=("city", "cohort", "horizon"),
    value_columns=("share",),
)


def _cross_export(folder: Path) -> None:
    """Persons by city x quarter x group (Rotterdam 2020Q2 overig: 9, withheld) and a yearly
    table counting each city's 2020 cohort at 6 months."""
    quarters = {
        (city, f"2020Q{q}", group): 20 + q + len(city)
        for city in ("rotterdam", "amsterdam", "utrecht")
        for q in range(1, 5)
        for group in ("statushouder", "overig")
    }
    withheld = ("rotterdam", "2020Q2", "overig")
    quarters[withheld] = 9
    rows = [(*key, None if key == withheld else n) for key, n in quarters.items()]
    _write(folder, "composition", rows, ["city", "cohort", "group", "n"])
    yearly = [
        (city, "2020", 6, sum(n for k, n in quarters.items() if k[0] == city), 0.5)
        for city in ("rotterdam", "amsterdam", "utrecht")
    ]
    frame = pd.DataFrame(yearly, columns=["city", "cohort", "horizon", "n", "share"])
    frame.assign(suppressed=False).to_csv(folder / "yearly.csv", index=False)


def test_a_yearly_count_minus_the_published_quarters_of_another_table(tmp_path, rules):
    """Rotterdam 2020 at 6 months counts the whole cohort (Amsterdam's and Utrecht's published
    quarters confirm that reading): minus Rotterdam's published quarters it gives the withheld
    one."""
    folder = tmp_path / "export"
    _cross_export(folder)
    specs = {"composition": COMPOSITION, "yearly": YEARLY}
    [finding] = audit_export(folder, rules, specs=specs).findings
    assert finding.attack == "across_tables" and finding.status == "possible"
    assert finding.cell.table == "composition" and (finding.low, finding.high) == (9, 9)
    assert "yearly" in finding.arithmetic and "2020" in finding.arithmetic


def test_a_cross_table_reading_no_published_instance_confirms_is_not_used(tmp_path, rules):
    folder = tmp_path / "export"
    _cross_export(folder)
    yearly = pd.read_csv(folder / "yearly.csv")
    yearly.loc[yearly["city"] == "amsterdam", "n"] -= 30  # not the cohort total
    yearly.to_csv(folder / "yearly.csv", index=False)
    specs = {"composition": COMPOSITION, "yearly": YEARLY}
    assert not audit_export(folder, rules, specs=specs).findings


# -- the historical leaks, rebuilt from the stage code -----------------------------------------


CITIES = ("rotterdam", "amsterdam", "den_haag")
SMALL = {("rotterdam", "2022Q2", "overig"): 3, ("den_haag", "2023Q1", "overig"): 4}


@pytest.fixture(scope="module")
def persons() -> pd.DataFrame:
    """Persons per city x quarter x group: 12-30 in each cell, two small overig cells; the rest
    of the Netherlands is in composition's national rows but not one of its cities."""
    rng = np.random.default_rng(11)
    quarters = [f"{y}Q{q}" for y in (2021, 2022, 2023) for q in range(1, 5)]
    records = []
    for city in (*CITIES, "rest_nl"):
        for cohort in quarters:
            for group in ("statushouder", "gezinsmigrant", "overig"):
                size = SMALL.get((city, cohort, group), int(rng.integers(12, 30)))
                records += [(city, cohort, group)] * size
    frame = pd.DataFrame(records, columns=["city", "cohort", "group"])
    frame["person_id"] = [f"{i:09d}" for i in range(len(frame))]
    frame["wi2021"] = frame["cohort"] >= "2022"
    return frame


@pytest.fixture(scope="module")
def outcomes(persons) -> pd.DataFrame:
    """Participation at 6 months for everyone (so a city-year's count is its cohort), at 24
    months for the cohorts before 2023 only."""
    rng = np.random.default_rng(12)
    early = persons[persons["cohort"] < "2023"]
    frames = [
        pd.DataFrame({"person_id": persons["person_id"], "horizon": 6}),
        pd.DataFrame({"person_id": early["person_id"], "horizon": 24}),
    ]
    frame = pd.concat(frames, ignore_index=True)
    frame["participation"] = (rng.random(len(frame)) < 0.5).astype(float)
    return frame


def _export(tmp_path: Path, items, rules, specs=None, truth=None) -> Path:
    """Check, write and audit as the export stage does; the audit gets the true counts."""
    checked = check_tables(items, rules)
    folder = tmp_path / "export"
    truth = {spec.name: frame.reset_index(drop=True) for frame, spec in items} | (truth or {})
    specs = {**export_specs(), **{c.name: c.spec for c in checked}, **(specs or {})}
    write_export(
        checked,
        folder,
        rules=rules,
        audit=lambda staging: assert_export_safe(staging, rules, specs=specs, truth=truth),
    )
    return folder


def _composition_before(persons: pd.DataFrame) -> tuple[pd.DataFrame, TableSpec]:
    """Composition as the historical leaks met it: before its quarter totals over groups were
    taken as published (since then it withholds more and those leaks have nothing to find)."""
    return composition(persons, CITIES), COMPOSITION_BEFORE_PUBLISHED_MARGINS


def _withheld_found(error: ExportAuditError) -> set[tuple]:
    return {
        (f.cell.table, dict(f.cell.coords).get("city"), dict(f.cell.coords).get("cohort"), f.low)
        for f in error.report.findings
        if f.exact
    }


def test_outcome_trends_with_its_counts_gives_a_withheld_quarter(
    tmp_path, persons, outcomes, rules
):
    """Before e0995a5 outcome_trends published n: at 6 months a city-year's cohort total."""
    trends = outcome_trends(persons, outcomes, CITIES)
    old = TableSpec(
        "outcome_trends",
        "share",
        count_columns=("n",),
        group_columns=("city", "cohort", "outcome", "horizon"),
        value_columns=("share",),
    )
    items = [_composition_before(persons), (trends, old)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path, items, rules)
    assert ("composition", "rotterdam", "2022Q2", 3) in _withheld_found(error.value)
    assert ("composition", "den_haag", "2023Q1", 4) in _withheld_found(error.value)
    assert "outcome_trends" in str(error.value) and "horizon" in str(error.value)
    assert not (tmp_path / "export").exists()  # nothing half-written survives


def test_outcome_trends_as_exported_now_passes(tmp_path, persons, outcomes, rules):
    trends = outcome_trends(persons, outcomes, CITIES)
    items = [composition_item(composition(persons, CITIES)), outcome_trends_item(trends)]
    assert (_export(tmp_path, items, rules) / "MANIFEST.csv").is_file()


def _verdict(persons: pd.DataFrame) -> pd.DataFrame:
    """Rotterdam against Den Haag and Amsterdam, with the control persons of the cohorts from
    2022 on (two comparisons: the reading holds in more than one instance, not by chance)."""
    comparisons = ["den_haag", "amsterdam"]
    post = [
        int(((persons["city"] == city) & (persons["cohort"] >= "2022")).sum())
        for city in comparisons
    ]
    return pd.DataFrame(
        {
            "city": "rotterdam",
            "comparison": comparisons,
            "outcome": "participation",
            "horizon": 6,
            "estimate": 0.01,
            "n_treated": 300,
            "n_control": [320, 410],
            "n_control_post": post,
        }
    )


VERDICT_BEFORE = TableSpec(
    "verdict",
    "estimate",
    count_columns=("n_treated", "n_control", "n_control_post"),
    group_columns=("city", "comparison", "outcome", "horizon"),
    value_columns=("estimate",),
)


def test_verdict_with_its_post_reform_control_count_gives_a_withheld_quarter(
    tmp_path, persons, rules
):
    """Before e0995a5 verdict.csv published n_control_post: Den Haag's persons of the cohorts
    from 2022 on, a run of composition's quarters with one withheld."""
    items = [_composition_before(persons), (_verdict(persons), VERDICT_BEFORE)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path, items, rules)
    assert _withheld_found(error.value) == {("composition", "den_haag", "2023Q1", 4)}
    assert "from 2022 on" in str(error.value)


def test_verdict_without_the_post_reform_count_passes(tmp_path, persons, rules):
    spec = TableSpec(**{**VERDICT_BEFORE.__dict__, "count_columns": ("n_treated", "n_control")})
    frame = _verdict(persons).drop(columns="n_control_post")
    items = [composition_item(composition(persons, CITIES)), (frame, spec)]
    assert (_export(tmp_path, items, rules) / "MANIFEST.csv").is_file()


DESCRIPTIVES_BEFORE = TableSpec(
    "descriptives",
    "frequency",
    count_columns=("n",),
    group_columns=("city", "variable", "level"),
    margins={"level": "all"},
)
VARIABLES = {"group": {"column": "group"}}
# Table 1 as exported before the national row was linked: stacked and in the persons universe
# (after ef4ef58), its city breakdown not declared.
DESCRIPTIVES_BEFORE_NATIONAL = TableSpec(
    **{**DESCRIPTIVES_BEFORE.__dict__, "universe": "persons", "stacked": ("variable", "level")}
)


def test_table_1_before_composition_protected_it_gives_a_withheld_quarter(tmp_path, persons, rules):
    """Before ef4ef58 Table 1 (own universe, not stacked, checked after composition) published
    each city's persons per group: composition's group total over quarters."""
    table_1, _ = descriptives_item(persons, VARIABLES, (*CITIES, "rest_nl"))
    items = [_composition_before(persons), (table_1, DESCRIPTIVES_BEFORE)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path, items, rules, specs={"descriptives": DESCRIPTIVES_BEFORE})
    found = _withheld_found(error.value)
    assert ("composition", "rotterdam", "2022Q2", 3) in found
    assert "descriptives" in str(error.value)


def test_table_1_and_composition_in_the_export_order_pass(tmp_path, persons, rules):
    items = [
        descriptives_item(persons, VARIABLES, (*CITIES, "rest_nl")),
        composition_item(composition(persons, CITIES)),
    ]
    assert (_export(tmp_path, items, rules) / "MANIFEST.csv").is_file()


def test_an_audit_failure_is_a_disclosure_error_naming_tables_and_arithmetic(tmp_path, rules):
    folder = _grid(
        tmp_path / "export",
        {("rotterdam", "all"): 50, ("rotterdam", "2022"): 43, ("rotterdam", "2023"): None},
    )
    with pytest.raises(DisclosureError) as error:
        assert_export_safe(folder, rules, specs={"grid": GRID})
    assert error.value.rule == "export_audit" and error.value.item == "grid"
    assert "- 1 published cell(s) of grid (43) = 7" in str(error.value)


def test_rounded_counts_give_intervals(tmp_path):
    """Counts rounded to 5: a remainder of 5 may be 0 to 10 (a publishable 10 is possible), a
    remainder of 0 is at most 5, below the threshold; no joint programme on rounded counts."""
    rules = load_rules({"rounding": {"base": 5}})
    wide = _grid(
        tmp_path / "wide",
        {("rotterdam", "all"): 50, ("rotterdam", "2022"): 45, ("rotterdam", "2023"): None},
    )
    report = audit_export(wide, rules, specs={"grid": GRID})
    assert not report.findings and any("rounded" in note for note in report.notes)
    narrow = _grid(
        tmp_path / "narrow",
        {("rotterdam", "all"): 50, ("rotterdam", "2022"): 50, ("rotterdam", "2023"): None},
    )
    [finding] = audit_export(narrow, rules, specs={"grid": GRID}).findings
    assert (finding.low, finding.high) == (0, 5) and not finding.exact


@pytest.fixture(scope="module")
def utrecht_overig(persons) -> pd.DataFrame:
    """Utrecht with 5 overig persons in all (one quarter): Table 1 withholds its overig cell."""
    rng = np.random.default_rng(13)
    records = []
    for cohort in sorted(persons["cohort"].unique()):
        for group in ("statushouder", "gezinsmigrant"):
            records += [("utrecht", cohort, group)] * int(rng.integers(12, 30))
    records += [("utrecht", "2022Q1", "overig")] * 5
    extra = pd.DataFrame(records, columns=["city", "cohort", "group"])
    extra["person_id"] = [f"9{i:08d}" for i in range(len(extra))]
    return pd.concat([persons, extra], ignore_index=True)


G4 = (*CITIES, "utrecht")


def test_the_national_row_minus_table_1s_published_cities_is_protected(
    tmp_path, utrecht_overig, rules
):
    """Found by this audit: composition's national row summed over quarters is the national
    count of a group; minus Table 1's published cities (G4 and rest_nl) it gave Utrecht's
    withheld cells. Composition's national row is now the national cell of Table 1's city
    margin (TableSpec.partial_totals), so composition withholds a national quarter."""
    table_1, _ = descriptives_item(utrecht_overig, VARIABLES, (*G4, "rest_nl"))
    national = composition(utrecht_overig, G4)
    before = [
        (table_1, DESCRIPTIVES_BEFORE_NATIONAL),
        (national, TableSpec(**{**COMPOSITION.__dict__, "partial_totals": {}})),
    ]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path / "before", before, rules)
    found = {
        (f.cell.table, dict(f.cell.coords)["city"], f.low) for f in error.value.report.findings
    }
    assert ("descriptives", "utrecht", 5) in found
    assert "composition.n[group=overig] summed" in str(error.value)
    items = [
        descriptives_item(utrecht_overig, VARIABLES, (*G4, "rest_nl")),
        composition_item(national),
    ]
    checked = _export(tmp_path / "now", items, rules)
    shown = pd.read_csv(checked / "composition.csv")
    assert shown[(shown["city"] == "all") & (shown["group"] == "overig")]["suppressed"].any()


def test_a_count_withheld_in_one_table_and_published_in_another(tmp_path, rules):
    """A side table repeats its estimate row's persons: where the estimate row is withheld and
    the side table is not, the count is out (Amsterdam's and Utrecht's rows show they agree)."""
    folder = tmp_path / "export"
    estimates = [("did", "rotterdam", None), ("did", "amsterdam", 40), ("did", "utrecht", 35)]
    _write(folder, "est", estimates, ["design", "city", "n"])
    side = [("did", "rotterdam", "age", 7), ("did", "amsterdam", "age", 40)]
    side += [("did", "utrecht", "age", 35)]
    _write(folder, "side", side, ["design", "city", "covariate", "n"])
    specs = {
        "est": TableSpec("est", "estimate", count_columns=("n",), group_columns=("design", "city")),
        "side": TableSpec(
            "side", "estimate", count_columns=("n",), group_columns=("design", "city", "covariate")
        ),
    }
    [finding] = audit_export(folder, rules, specs=specs).findings
    assert finding.cell.table == "est" and finding.exact and finding.low == 7
    assert finding.status == "possible" and "covariate" in finding.arithmetic


@pytest.mark.parametrize(("amsterdam", "found"), [(33, False), (40, True)])
def test_inside_ra_a_reading_must_hold_in_more_than_one_instance(tmp_path, rules, amsterdam, found):
    """Rotterdam's estimate count equals its cohort total by chance (20 + withheld 6): one
    instance is a coincidence an attacker cannot tell from a rule; when Amsterdam's count is
    its cohort total too, the reading is a rule and the withheld 6 is out."""
    folder = tmp_path / "export"
    cells = [
        ("rotterdam", "2020Q1", "statushouder", 20),
        ("rotterdam", "2020Q2", "statushouder", 6),
        ("amsterdam", "2020Q1", "statushouder", 25),
        ("amsterdam", "2020Q2", "statushouder", 15),
    ]
    truth = pd.DataFrame(cells, columns=["city", "cohort", "group", "n"])
    published = [(*row[:3], None if row[3] == 6 else row[3]) for row in cells]
    _write(folder, "composition", published, ["city", "cohort", "group", "n"])
    _write(
        folder,
        "est",
        [("x", "rotterdam", 26), ("x", "amsterdam", amsterdam)],
        ["design", "city", "n"],
    )
    specs = {
        "composition": COMPOSITION,
        "est": TableSpec("est", "estimate", count_columns=("n",), group_columns=("design", "city")),
    }
    report = audit_export(folder, rules, specs=specs, truth={"composition": truth})
    assert bool(report.findings) is found
    if found:
        assert {(f.low, f.status) for f in report.findings} == {(6, "recovered")}


@pytest.mark.parametrize(("failing", "found"), [(3, False), (1, True)])
def test_inside_ra_a_reading_that_fails_in_most_instances_is_a_coincidence(
    tmp_path, rules, failing, found
):
    """Rotterdam's and Den Haag's estimate counts equal their cohort totals (each with a
    withheld quarter); in the other cities the same reading is false. False in three of five
    cities it is a coincidence no attacker can tell from the others (a 3,000-person run's
    18-26-year-olds against its cohorts up to 2020); false in one of three it is a rule."""
    folder = tmp_path / "export"
    holding = {"rotterdam": (20, 6), "den_haag": (18, 5)}
    others = {f"city_{i}": (25, 7) for i in range(failing)}
    cells = [
        (city, cohort, "statushouder", n)
        for city, sizes in {**holding, **others}.items()
        for cohort, n in zip(("2020Q1", "2020Q2"), sizes, strict=True)
    ]
    truth = pd.DataFrame(cells, columns=["city", "cohort", "group", "n"])
    published = [(*row[:3], None if row[3] < 10 else row[3]) for row in cells]
    _write(folder, "composition", published, ["city", "cohort", "group", "n"])
    counts = [("x", city, sum(sizes)) for city, sizes in holding.items()]
    counts += [("x", city, 40) for city in others]  # above the published quarter, not the total
    _write(folder, "est", counts, ["design", "city", "n"])
    specs = {
        "composition": COMPOSITION,
        "est": TableSpec("est", "estimate", count_columns=("n",), group_columns=("design", "city")),
    }
    report = audit_export(folder, rules, specs=specs, truth={"composition": truth})
    recovered = {(f.cell.coords, f.low) for f in report.findings}
    if found:
        assert {low for _, low in recovered} == {6, 5}
    else:
        assert not recovered


def _process_rows() -> pd.DataFrame:
    """A process indicator per cohort quarter and over all cohorts, as process.indicators
    writes it (persons with and without the indicator): Rotterdam's 2022Q2 has 8 with it."""
    counts = {
        "rotterdam": {
            "2022Q1": (40, 20),
            "2022Q2": (8, 25),
            "2022Q3": (35, 22),
            "2022Q4": (30, 18),
        },
        "amsterdam": {
            "2022Q1": (31, 20),
            "2022Q2": (28, 15),
            "2022Q3": (33, 12),
            "2022Q4": (29, 19),
        },
    }
    rows = []
    for city, quarters in counts.items():
        rows += [{"city": city, "subgroup": f"cohort:{q}", "n": n} for q, n in quarters.items()]
        totals = tuple(map(sum, zip(*quarters.values(), strict=True)))
        rows.append({"city": city, "subgroup": "all", "n": totals})
    common = {
        "design": "process",
        "estimand": "route_started_26w",
        "estimator": "share",
        "headline": True,
        "inference": "wilson",
        "estimate": 0.5,
    }
    return tidy_frame(
        [
            {
                **common,
                "city": r["city"],
                "subgroup": r["subgroup"],
                "n_treated": r["n"][0],
                "n_control": r["n"][1],
            }
            for r in rows
        ]
    )


def test_process_rows_per_cohort_minus_their_total_gave_a_withheld_quarter(tmp_path, rules):
    """Found by this audit on the default run: the process rows over all cohorts minus the
    published quarters gave a withheld quarter (621 - 613 = 8)."""
    estimates = _process_rows()
    before = [(estimates, tidy_estimates_spec("estimates"))]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path / "before", before, rules)
    values = {f.cell.column: f.low for f in error.value.report.findings}
    assert values == {"n_treated": 8, "n_control": 25}
    item = estimates_item(estimates, rules)
    folder = _export(tmp_path / "now", [item], rules, truth={"estimates": estimates})
    shown = pd.read_csv(folder / "estimates.csv")
    assert shown["suppressed"].sum() == 2  # Rotterdam's small quarter and one more beside it
    assert not shown.loc[shown["subgroup"] == "all", "suppressed"].any()


# -- the small configuration's leak: estimates over whole cohorts vs Table 1 ---------------------

# Composition as exported before its quarter totals over groups were declared published.
COMPOSITION_BEFORE_PUBLISHED_MARGINS = TableSpec(
    **{**COMPOSITION.__dict__, "published_margins": ()}
)
SAMPLE = TableSpec(
    "sample", "estimate", count_columns=("n_treated",), group_columns=("design", "city")
)
QUARTERLY = TableSpec(
    "quarterly", "estimate", count_columns=("n",), group_columns=("indicator", "city", "cohort")
)


@pytest.fixture(scope="module")
def late_overig() -> pd.DataFrame:
    """Persons per city x quarter x group (2021-2023): 12-30 statushouders and family migrants
    in every quarter, 12-30 overig before 2023 and 1-3 in each 2023 quarter (8 in the year)."""
    rng = np.random.default_rng(14)
    quarters = [f"{y}Q{q}" for y in (2021, 2022, 2023) for q in range(1, 5)]
    records = []
    for city in (*CITIES, "rest_nl"):
        for cohort in quarters:
            for group in ("statushouder", "gezinsmigrant", "overig"):
                late = group == "overig" and cohort >= "2023"
                size = int(rng.integers(1, 4) if late else rng.integers(12, 30))
                records += [(city, cohort, group)] * size
    frame = pd.DataFrame(records, columns=["city", "cohort", "group"])
    frame["person_id"] = [f"{i:09d}" for i in range(len(frame))]
    return frame


def _sample_rows(persons: pd.DataFrame) -> pd.DataFrame:
    """An estimate's treated persons at a horizon the 2023 cohorts have not reached: every
    person of the city's cohorts up to 2022 (reform_did's 24-month rows in the small run)."""
    early = persons[(persons["cohort"] < "2023") & persons["city"].isin(CITIES)]
    counts = early.groupby("city").size().rename("n_treated").reset_index()
    return counts.assign(design="reform_did")[["design", "city", "n_treated"]]


def test_an_estimate_over_cohorts_up_to_a_year_and_table_1_prove_the_years_overig_small(
    tmp_path, late_overig, rules
):
    """The small configuration's leak: Table 1's city total minus an estimate row's persons of
    the cohorts up to 2023 is the 2024 cohorts' total; minus composition's published 2024
    statushouders and family migrants it left the withheld overig quarters 8 persons at most.
    Composition now protects its quarters as if each quarter's total over groups were
    published, so a second cell of such a quarter is withheld."""
    table_1 = descriptives_item(late_overig, VARIABLES, (*CITIES, "rest_nl"))
    table = composition(late_overig, CITIES)
    sample = (_sample_rows(late_overig), SAMPLE)
    before = [sample, table_1, (table, COMPOSITION_BEFORE_PUBLISHED_MARGINS)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path / "before", before, rules, specs={"sample": SAMPLE})
    small = {
        (dict(f.cell.coords)["city"], dict(f.cell.coords)["cohort"])
        for f in error.value.report.findings
        if f.small and dict(f.cell.coords).get("group") == "overig"
    }
    assert small and {c for _, c in small} <= {"2023Q1", "2023Q2", "2023Q3", "2023Q4"}
    assert len({city for city, _ in small}) >= 2 and "sample" in str(error.value)
    items = [sample, table_1, composition_item(table)]
    folder = _export(tmp_path / "now", items, rules, specs={"sample": SAMPLE})
    shown = pd.read_csv(folder / "composition.csv", dtype={"n": "Int64"})
    late = shown[(shown["cohort"] >= "2023") & (shown["city"] != "all")]
    # every such quarter withholds its overig cell and one more, shown as withheld, never 0
    assert (late.groupby(["city", "cohort"])["suppressed"].sum() == 2).all()
    assert late.loc[late["suppressed"], "n"].isna().all()


def test_a_quarters_total_over_groups_published_elsewhere_gives_its_overig_cell(
    tmp_path, late_overig, rules
):
    """A process indicator per cohort publishes persons with and without the event: together
    a city's quarter over all groups (the small run's route_started_26w rows equal
    composition's quarter totals). Minus the published groups it gave the withheld one."""
    table = composition(late_overig, CITIES)
    totals = table[table["city"] != "all"].groupby(["city", "cohort"])["n"].sum().reset_index()
    quarterly = (totals.assign(indicator="route_started_26w"), QUARTERLY)
    specs = {"quarterly": QUARTERLY}
    before = [quarterly, (table, COMPOSITION_BEFORE_PUBLISHED_MARGINS)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path / "before", before, rules, specs=specs)
    exact = _withheld_found(error.value)
    truth = table.set_index(["city", "cohort", "group"])["n"]
    assert ("composition", "den_haag", "2023Q3", truth["den_haag", "2023Q3", "overig"]) in exact
    assert (
        _export(tmp_path / "now", [quarterly, composition_item(table)], rules, specs=specs)
        / "composition.csv"
    ).is_file()


# -- subgroup rows that leave a level out ---------------------------------------------------------


def _did_rows(sizes: dict[tuple[int, str], int]) -> pd.DataFrame:
    """reform_did rows of Den Haag vs the rest: the sample's persons at 12 and 24 months over
    all groups and for two of the three groups (the configured subgroups; no overig row)."""
    common = {
        "design": "reform_did",
        "estimand": "att_overall",
        "treatment": "wi2021",
        "city": "den_haag",
        "comparison": "rest_nl",
        "outcome": "employed",
        "estimator": "cs_reg",
        "headline": False,
        "inference": "analytic",
        "estimate": 0.01,
    }
    return tidy_frame(
        [
            {**common, "horizon": h, "subgroup": s, "n_treated": n, "n_control": CONTROLS[h, s]}
            for (h, s), n in sizes.items()
        ]
    )


# Den Haag in the small run: 1010 = 587 + 366 + 57 overig at 12 months (all cohorts but the
# uncertain slice), 831 = 474 + 305 + 52 at 24 months (the 2024 cohorts not yet measured).
DEN_HAAG = {
    (12, "all"): 1010,
    (12, "group:gezinsmigrant"): 587,
    (12, "group:statushouder"): 366,
    (24, "all"): 831,
    (24, "group:gezinsmigrant"): 474,
    (24, "group:statushouder"): 305,
}


# The rest of the Netherlands (not in these tests' Table 1): 615 and 552 overig persons.
CONTROLS = {
    (12, "all"): 15408,
    (12, "group:gezinsmigrant"): 4738,
    (12, "group:statushouder"): 10055,
    (24, "all"): 13103,
    (24, "group:gezinsmigrant"): 3965,
    (24, "group:statushouder"): 8586,
}


def test_a_left_out_subgroup_differenced_across_horizons_and_table_1_is_withheld(rules):
    """Table 1 publishes Den Haag's 59 overig persons; the 12-month rows leave 57 and the
    24-month rows 52: 2 overig persons in the uncertain slice, 5 in the 2024 cohorts. The
    group rows lose their counts (the row check withholds them), the all rows keep them."""
    rows = _did_rows(DEN_HAAG)
    table_1 = pd.DataFrame(
        {
            "city": ["den_haag"] * 4,
            "variable": ["group"] * 4,
            "level": ["statushouder", "gezinsmigrant", "overig", "all"],
            "n": [376, 608, 59, 1043],
        }
    )
    published, _ = estimates_item(rows, rules, table_1)
    grouped = published["subgroup"].str.startswith("group:")
    assert published.loc[grouped, ["n_treated", "n_control"]].isna().all().all()
    assert published.loc[~grouped, "n_treated"].tolist() == [1010, 831]
    # Against Table 1 alone: 24 months leaves 57 overig too (no 2024 difference), the slice's
    # 2 persons still follow from Table 1's 59.
    level = {**DEN_HAAG, (24, "all"): 836}
    published, _ = estimates_item(_did_rows(level), rules, table_1)
    assert published.loc[grouped, "n_treated"].isna().all()


def test_a_left_out_subgroup_with_large_differences_keeps_its_rows(rules):
    """The same rows with 20 overig persons between the horizons and 15 in the slice pass."""
    sizes = {**DEN_HAAG, (24, "all"): 816}
    table_1 = pd.DataFrame(
        {
            "city": ["den_haag"] * 4,
            "variable": ["group"] * 4,
            "level": ["statushouder", "gezinsmigrant", "overig", "all"],
            "n": [376, 608, 72, 1056],
        }
    )
    published, _ = estimates_item(_did_rows(sizes), rules, table_1)
    assert published[["n_treated", "n_control"]].notna().all().all()
    without_table_1, _ = estimates_item(_did_rows(DEN_HAAG), rules)
    grouped = without_table_1["subgroup"].str.startswith("group:")
    assert without_table_1.loc[grouped, "n_treated"].isna().all()  # 57 - 52 = 5 still found


# -- blind spots closed: subgroup rows as dimensions, left-out levels, quarter runs --------------

ESTIMATES = tidy_estimates_spec("estimates")


def _write_estimates(folder: Path, rows: list[dict]) -> None:
    """Published tidy estimate rows (reform_did, one cell per city), every count shown."""
    common = {
        "design": "reform_did",
        "estimand": "att_overall",
        "treatment": "wi2021",
        "comparison": "rest_nl",
        "outcome": "employed",
        "horizon": 12,
        "estimator": "cs_reg",
        "headline": True,
        "inference": "analytic",
        "estimate": 0.01,
        "n_control": 900,
    }
    folder.mkdir(exist_ok=True)
    frame = tidy_frame([{**common, **row} for row in rows])
    frame.assign(suppressed=False).to_csv(folder / "estimates.csv", index=False)


def _write_composition(folder: Path, truth: pd.DataFrame) -> None:
    """Composition as computed (the truth), written with the cells below 10 withheld."""
    rows = [(*row[:3], None if row[3] < 10 else row[3]) for row in truth.itertuples(index=False)]
    _write(folder, "composition", rows, ["city", "cohort", "group", "n"])


def test_a_subgroup_row_is_read_as_the_dimension_it_names(tmp_path, rules):
    """Each city's group:overig row counts its overig persons of every cohort: read as
    group=overig it meets composition's overig quarters and gives Rotterdam's withheld 6 (as
    an opaque subgroup key it was a qualifier and the row met all groups' quarters)."""
    folder = tmp_path / "export"
    sizes = {"rotterdam": (20, 6), "amsterdam": (25, 15)}
    truth = _counts(
        {
            (city, cohort, group): n if group == "overig" else 40
            for city, overig in sizes.items()
            for cohort, n in zip(("2020Q1", "2020Q2"), overig, strict=True)
            for group in ("statushouder", "overig")
        }
    )
    _write_composition(folder, truth)
    rows = [{"city": c, "subgroup": "group:overig", "n_treated": sum(s)} for c, s in sizes.items()]
    _write_estimates(folder, rows)
    specs = {"composition": COMPOSITION, "estimates": ESTIMATES}
    report = audit_export(folder, rules, specs=specs, truth={"composition": truth})
    assert _found(report) == {
        ("composition", (("city", "rotterdam"), ("cohort", "2020Q2"), ("group", "overig"))): (6, 6)
    }
    assert "estimates" in report.findings[0].arithmetic


@pytest.mark.parametrize("refuted", [False, True])
def test_the_level_a_subgroup_breakdown_leaves_out_is_checked(tmp_path, rules, refuted):
    """reform_did publishes all, group:statushouder and group:gezinsmigrant (no overig row):
    Rotterdam's 60 - 30 - 25 leaves 5 overig persons in the sample (Amsterdam's and Den Haag's
    rows confirm the reading: their remainders are counts too). Where the other cities' rows
    leave negative remainders (not subsets of their all row), the reading is refuted."""
    folder = tmp_path / "export"
    cells = {(city, "2022Q1", group): 40 for city in CITIES for group in ("statushouder", "overig")}
    _write_composition(folder, _counts(cells))  # names the level overig
    others = 40 if refuted else 15
    counts = {
        "rotterdam": (60, 30, 25),
        "amsterdam": (70, 40, others),
        "den_haag": (50, 20, others),
    }
    rows = [
        {"city": city, "subgroup": subgroup, "n_treated": n}
        for city, sizes in counts.items()
        for subgroup, n in zip(
            ("all", "group:statushouder", "group:gezinsmigrant"), sizes, strict=True
        )
    ]
    _write_estimates(folder, rows)
    specs = {"composition": COMPOSITION, "estimates": ESTIMATES}
    estimates = pd.read_csv(folder / "estimates.csv")
    for truth in ({"composition": _counts(cells), "estimates": estimates}, None):
        report = audit_export(folder, rules, specs=specs, truth=truth)
        left_out = [f for f in report.findings if f.attack == "left_out_level"]
        assert bool(left_out) is not refuted
        if not refuted:
            [finding] = left_out
            assert dict(finding.cell.coords)["group"] == "overig"
            assert dict(finding.cell.coords)["city"] == "rotterdam"
            assert (finding.low, finding.high) == (5, 5) and finding.small
            assert "left out" in str(finding) and "60" in finding.arithmetic
            assert finding.status == ("recovered" if truth else "possible")


def test_a_count_of_the_cohorts_from_a_quarter_on_meets_composition(tmp_path, rules):
    """reform_did's post-reform persons leave the uncertain 2022Q1 slice out: each city's count
    is its cohorts from 2022Q2 on. A cut at a quarter, not a year: minus the published quarters
    it gives Rotterdam's withheld 2022Q3 (7)."""
    folder = tmp_path / "export"
    sizes = {
        "rotterdam": (30, 22, 7, 25),
        "amsterdam": (31, 28, 33, 29),
        "den_haag": (5, 20, 21, 22),
    }
    quarters = [f"2022Q{q}" for q in range(1, 5)]
    cells = {
        (city, quarter, "statushouder"): n
        for city, counts in sizes.items()
        for quarter, n in zip(quarters, counts, strict=True)
    }
    truth = _counts(cells)
    _write_composition(folder, truth)
    rows = [{"city": c, "n_treated": sum(s[1:])} for c, s in sizes.items()]
    rows += [{"city": c, "n_treated": 200} for c in ("utrecht",)]  # no composition rows
    _write_estimates(folder, rows)
    specs = {"composition": COMPOSITION, "estimates": ESTIMATES}
    report = audit_export(folder, rules, specs=specs, truth={"composition": truth})
    found = _found(report)
    rotterdam = (
        "composition",
        (("city", "rotterdam"), ("cohort", "2022Q3"), ("group", "statushouder")),
    )
    assert found[rotterdam] == (7, 7)
    assert any("cohort from 2022Q2 on" in f.arithmetic for f in report.findings)


# -- the uncertain slice: found by the quarter runs on the small run -----------------------------

AT_RISK = TableSpec(
    "at_risk", "estimate", count_columns=("n_at_risk",), group_columns=("city", "weeks")
)


@pytest.fixture(scope="module")
def small_slice() -> pd.DataFrame:
    """Persons per city x quarter x group (2021-2023), 12-30 per cell; Den Haag's uncertain
    2022Q1 slice has 3 statushouders and 4 family migrants (Utrecht's 7 in the small run), and
    its 2023Q2 has 5 statushouders (more withheld cells in its new-law cohorts, as in the
    small run: the cohorts from 2022 on minus the published cells leave more than 10)."""
    rng = np.random.default_rng(15)
    quarters = [f"{y}Q{q}" for y in (2021, 2022, 2023) for q in range(1, 5)]
    small = {
        ("den_haag", "2022Q1", "statushouder"): 3,
        ("den_haag", "2022Q1", "gezinsmigrant"): 4,
        ("den_haag", "2023Q2", "statushouder"): 5,
    }
    records = []
    for city in (*CITIES, "rest_nl"):
        for cohort in quarters:
            for group in ("statushouder", "gezinsmigrant"):
                size = small.get((city, cohort, group)) or int(rng.integers(12, 30))
                records += [(city, cohort, group)] * size
    frame = pd.DataFrame(records, columns=["city", "cohort", "group"])
    frame["regime"] = np.select(
        [frame["cohort"] < "2022", frame["cohort"] == "2022Q1"], ["wi2013", "uncertain"], "wi2021"
    )
    return frame


def _slice_rows(persons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """reform_did's naive rows (treated: the city's post persons from 2022Q2 on; control: its
    persons before 2022) and a route-start curve's persons at risk (every cohort from 2022)."""
    cities = persons[persons["city"].isin(CITIES)]
    post = cities[cities["regime"].eq("wi2021")].groupby("city").size()
    pre = cities[cities["regime"].eq("wi2013")].groupby("city").size()
    common = {
        "design": "reform_did",
        "estimand": "att_overall",
        "treatment": "wi2021",
        "comparison": "rest_nl",
        "outcome": "employed",
        "horizon": 12,
        "estimator": "naive",
        "headline": False,
        "inference": "two-sample SE",
        "estimate": 0.01,
        "subgroup": "all",
    }
    rows = tidy_frame(
        [{**common, "city": c, "n_treated": post[c], "n_control": pre[c]} for c in CITIES]
    )
    new_law = cities[cities["cohort"] >= "2022"].groupby("city").size()
    at_risk = new_law.rename("n_at_risk").reset_index().assign(weeks=0)
    return rows, at_risk


def test_a_small_uncertain_slice_between_reform_did_and_the_new_law_counts_is_withheld(
    tmp_path, small_slice, rules
):
    """The small run's leak: the route-start curve's persons at risk (every new-law cohort)
    minus reform_did's post persons (from 2022Q2 on) gave Utrecht's uncertain slice, 7, and
    with composition's published groups its withheld 2022Q1 cells. A city whose slice is 1-9
    persons now loses the reform_did rows that count its persons."""
    from inburgering.disclosure.assemble import uncertain_slices

    rows, at_risk = _slice_rows(small_slice)
    table = composition(small_slice, CITIES)
    specs = {"at_risk": AT_RISK}
    before = [estimates_item(rows, rules), (at_risk, AT_RISK), composition_item(table)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path / "before", before, rules, specs=specs, truth={"estimates": rows})
    small = {
        (dict(f.cell.coords)["city"], dict(f.cell.coords)["cohort"], f.high)
        for f in error.value.report.findings
        if f.small and f.cell.table == "composition"
    }
    assert small == {("den_haag", "2022Q1", 7)}  # each of its two cells, 7 at most
    slices = uncertain_slices(small_slice)
    assert slices["den_haag"] == 7 and slices["rotterdam"] >= 24
    now = [estimates_item(rows, rules, slices=slices), (at_risk, AT_RISK), composition_item(table)]
    folder = _export(tmp_path / "now", now, rules, specs=specs, truth={"estimates": rows})
    shown = pd.read_csv(folder / "estimates.csv")
    assert shown.set_index("city")["suppressed"].to_dict() == {
        "rotterdam": False,
        "amsterdam": False,
        "den_haag": True,
    }


def test_a_rows_treated_and_control_persons_together_count_their_union(
    tmp_path, late_overig, rules
):
    """A process indicator per cohort quarter publishes the persons with the event (treated)
    and without it (control): together a city's quarter over all groups. Composition as it
    was before its quarter totals were taken as published then gave its withheld overig cell
    (the leak cce2da6 closed: Den Haag 2024Q2, 46 = 31 + 14 + 1); the audit reads the sum."""
    table = composition(late_overig, CITIES)
    totals = table[table["city"] != "all"].groupby(["city", "cohort"])["n"].sum()
    rows = tidy_frame(
        [
            {
                "design": "process",
                "estimand": "route_started_26w",
                "city": city,
                "subgroup": f"cohort:{cohort}",
                "estimator": "share",
                "headline": True,
                "inference": "wilson",
                "estimate": 0.5,
                "n_treated": n // 2,
                "n_control": n - n // 2,
            }
            for (city, cohort), n in totals.items()
        ]
    )
    items = [(rows, ESTIMATES), (table, COMPOSITION_BEFORE_PUBLISHED_MARGINS)]
    with pytest.raises(ExportAuditError) as error:
        _export(tmp_path / "before", items, rules)
    exact = _withheld_found(error.value)
    truth = table.set_index(["city", "cohort", "group"])["n"]
    assert ("composition", "den_haag", "2023Q3", truth["den_haag", "2023Q3", "overig"]) in exact
    assert "n_treated+n_control" in str(error.value)
    folder = tmp_path / "export"
    write_export(check_tables(items, rules), folder, rules=rules)
    without = audit_export(folder, rules, union_counts={})
    assert not any(f.cell.table == "composition" for f in without.findings)
