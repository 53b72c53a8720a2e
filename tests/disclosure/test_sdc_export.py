"""The export package: files, manifest, checksums, request form, atomicity."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pandas as pd
import pytest
from disclosure_helpers import two_way

from inburgering.disclosure import (
    DisclosureError,
    TableSpec,
    check_figure_data,
    check_table,
    write_export,
)
from inburgering.disclosure.assemble import withhold_partial_breakdowns

SPEC = TableSpec(
    "city_cohort",
    "frequency",
    count_columns=["n"],
    group_columns=["city", "cohort"],
    margins={"city": "all", "cohort": "all"},
    description="Obligated persons by city and cohort",
)


@pytest.fixture
def items(rules, tmp_path):
    table = check_table(
        two_way(
            {
                ("a", "x"): 5,
                ("a", "y"): 40,
                ("b", "x"): 30,
                ("b", "y"): 31,
                ("c", "x"): 25,
                ("c", "y"): 26,
            }
        ),
        SPEC,
        rules,
    )
    image = tmp_path / "es.png"
    image.write_bytes(b"\x89PNG fake image")
    figure = check_figure_data(
        pd.DataFrame(
            {
                "event_time": [-1, 0],
                "estimate": [0.0, 0.1],
                "n_treated": [50, 50],
                "n_control": [300, 300],
            }
        ),
        "event_study",
        name="event_study",
        rules=rules,
        image=image,
        description="Event study, Rotterdam",
    )
    return [table, figure]


def test_export_package(items, rules, tmp_path):
    export = tmp_path / "results" / "export"
    manifest_path = write_export(items, export, rules=rules, provenance={"config": "abc123"})
    assert sorted(p.name for p in export.iterdir()) == [
        "MANIFEST.csv",
        "city_cohort.csv",
        "event_study.data.csv",
        "event_study.png",
        "manifest.json",
        "output_request.md",
    ]
    manifest = pd.read_csv(manifest_path)
    for row in manifest.itertuples():
        assert hashlib.sha256((export / row.file).read_bytes()).hexdigest() == row.sha256
    table = manifest.set_index("file").loc["city_cohort.csv"]
    assert table["cells_suppressed"] == 4 and "min_persons" in table["rules_applied"]
    assert table["underlying_counts"].startswith("n: ")
    document = json.loads((export / "manifest.json").read_text())
    assert document["provenance"] == {"config": "abc123"} and len(document["files"]) == 3
    form = (export / "output_request.md").read_text()
    assert "PROJECTNUMMER" in form and "city_cohort.csv" in form and "min_persons" in form
    exported = pd.read_csv(export / "city_cohort.csv")
    assert exported["n"].isna().sum() == 4 and exported["suppressed"].sum() == 4


def test_export_is_deterministic(items, rules, tmp_path):
    first = write_export(items, tmp_path / "one", rules=rules).read_bytes()
    second = write_export(items, tmp_path / "two", rules=rules).read_bytes()
    assert first == second


def test_unsafe_item_refused_and_nothing_written(items, rules, tmp_path):
    export = tmp_path / "export"
    write_export(items, export, rules=rules)
    before = {p.name: p.read_bytes() for p in export.iterdir()}
    table = items[0]
    tampered = dataclasses.replace(table, frame=table.frame.fillna({"n": 3}))
    with pytest.raises(DisclosureError, match="min_persons"):
        write_export([tampered, items[1]], export, rules=rules)
    assert {p.name: p.read_bytes() for p in export.iterdir()} == before
    with pytest.raises(DisclosureError, match="unchecked"):
        write_export([two_way({("a", "x"): 50})], tmp_path / "raw", rules=rules)
    assert not (tmp_path / "raw").exists()


def test_leak_found_late_leaves_no_partial_export(items, rules, tmp_path):
    export = tmp_path / "export"
    leaky = dataclasses.replace(
        items[0],
        spec=dataclasses.replace(
            items[0].spec, description="checked with person 001234567 in mind"
        ),
    )
    with pytest.raises(DisclosureError, match="person_id"):
        write_export([leaky], export, rules=rules, person_keys=["001234567"])
    assert not export.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export")]


def test_duplicate_names_refused(items, rules, tmp_path):
    with pytest.raises(DisclosureError, match="unique"):
        write_export([items[0], items[0]], tmp_path / "e", rules=rules)


def _breakdown_rows(treated: float, control: dict[int, dict[str, int]]) -> pd.DataFrame:
    """reform_did rows of one cell: the sample's total and two of three group levels."""
    cell = {"design": "reform_did", "estimand": "att_overall", "treatment": "wi2021",
            "city": "utrecht", "comparison": "rest_nl", "outcome": "participation",
            "event_time": "", "estimator": "cs_dr"}  # fmt: skip
    rows = []
    for horizon, levels in control.items():
        rows.append({**cell, "horizon": horizon, "subgroup": "all", "n_treated": 500,
                     "n_control": levels.pop("all")})  # fmt: skip
        rows += [{**cell, "horizon": horizon, "subgroup": f"group:{level}", "n_treated": treated,
                  "n_control": n} for level, n in levels.items()]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_breakdown_whose_treated_counts_are_all_withheld_is_checked_on_its_control_counts(rules):
    """Every group row's treated count already withheld left no such count to pivot (KeyError);
    the control counts are still checked: statushouder's 5,400 persons at 12 months and 5,397
    at 24 are two nested samples 3 persons apart."""
    safe = {12: {"all": 9000, "statushouder": 5400, "gezinsmigrant": 2700},
            24: {"all": 8000, "statushouder": 4800, "gezinsmigrant": 2400}}  # fmt: skip
    out = withhold_partial_breakdowns(_breakdown_rows(float("nan"), safe), rules)
    assert out["n_control"].notna().all()
    close = {12: {"all": 9000, "statushouder": 5400, "gezinsmigrant": 2700},
             24: {"all": 8000, "statushouder": 5397, "gezinsmigrant": 2400}}  # fmt: skip
    out = withhold_partial_breakdowns(_breakdown_rows(float("nan"), close), rules)
    groups = out["subgroup"].str.startswith("group:")
    assert out.loc[groups, "n_control"].isna().all() and out.loc[~groups, "n_control"].notna().all()
