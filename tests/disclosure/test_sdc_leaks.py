"""The leak scanner finds planted identifiers, dates, amounts and small counts."""

from __future__ import annotations

import base64
import time

import numpy as np
import pandas as pd
import pytest

from inburgering.disclosure import LeakError, assert_no_leaks, scan_for_leaks


@pytest.fixture
def persons() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2000
    return pd.DataFrame(
        {
            "rinpersoon": [f"{i:09d}" for i in rng.choice(10**8, n, replace=False) + 10**7],
            "start": pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D"),
            "wage": np.round(rng.uniform(1500, 4000, n), 2),
        }
    )


def _scan(path, persons, rules):
    return scan_for_leaks(
        [path],
        person_keys=persons["rinpersoon"],
        person_values={"start": persons["start"], "wage": persons["wage"]},
        rules=rules,
    )


def test_clean_export_passes(tmp_path, persons, rules):
    table = pd.DataFrame(
        {
            "city": ["rotterdam", "amsterdam"],
            "cohort": ["2022Q1", "2022Q2"],
            "n": [120, 0],
            "mean_wage": [2345.6789123, 2800.5],
            "share": [0.25, 0.5],
            "n_clusters": [4, 4],
        }
    )
    table.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "r.md").write_text("Reform date 2022-01-01; 316 persons; p = 0.04.\n")
    assert_no_leaks(
        [tmp_path],
        person_keys=persons["rinpersoon"],
        person_values={"start": persons["start"], "wage": persons["wage"]},
        rules=rules,
        allow=["2022-01-01"],
    )  # the reform date is public
    with pytest.raises(LeakError, match="2022-01-01"):
        assert_no_leaks([tmp_path], person_values={"start": persons["start"]}, rules=rules)


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p["rinpersoon"].iloc[5],  # zero-padded id
        lambda p: str(int(p["rinpersoon"].iloc[5])),  # id without its leading zeros
        lambda p: f"RINPERSOON:{p['rinpersoon'].iloc[5]}",
    ],
)
def test_person_ids_found(tmp_path, persons, rules, write):
    (tmp_path / "report.html").write_text(f"<p>see {write(persons)}</p>")
    kinds = {f.kind for f in _scan(tmp_path / "report.html", persons, rules)}
    assert kinds == {"person_id"}


def test_individual_dates_and_amounts_found(tmp_path, persons, rules):
    counts = persons["start"].value_counts()
    rare = counts[counts < rules.min_persons].index[0]
    wage = persons["wage"].iloc[3]
    (tmp_path / "a.json").write_text(f'{{"first": "{rare:%Y-%m-%d}", "x": {wage}}}')
    (tmp_path / "b.txt").write_text(f"start {rare:%Y%m%d}\n")
    found = scan_for_leaks(
        [tmp_path],
        person_keys=[],
        rules=rules,
        person_values={"start": persons["start"], "wage": persons["wage"]},
    )
    assert {(f.kind, f.path.rsplit("/", 1)[-1]) for f in found} == {
        ("individual_date", "a.json"),
        ("individual_amount", "a.json"),
        ("individual_date", "b.txt"),
    }


def test_common_dates_are_not_individual(tmp_path, rules):
    persons = pd.DataFrame({"start": pd.to_datetime(["2022-01-01"] * 50 + ["2022-03-07"])})
    (tmp_path / "a.md").write_text("cohorts from 2022-01-01\n")
    assert scan_for_leaks([tmp_path], person_values={"start": persons["start"]}, rules=rules) == []
    (tmp_path / "b.md").write_text("one person started 2022-03-07\n")
    assert (
        len(scan_for_leaks([tmp_path], person_values={"start": persons["start"]}, rules=rules)) == 1
    )


@pytest.mark.parametrize(("value", "leak"), [(9, True), (10, False), (11, False), (0, False)])
def test_small_counts_in_count_columns(tmp_path, rules, value, leak):
    # Municipality counts (clusters, randomization-inference placebos, donors) are not persons.
    municipalities = {"n_clusters": [3], "n_placebos": [9], "n_donors": [4]}
    pd.DataFrame({"city": ["a"], "n_treated": [value], **municipalities}).to_csv(
        tmp_path / "e.csv", index=False
    )
    findings = scan_for_leaks([tmp_path / "e.csv"], rules=rules)
    assert [f.kind for f in findings] == (["small_count"] if leak else [])


def test_embedded_images_are_skipped_and_error_lists_findings(tmp_path, persons, rules):
    blob = base64.b64encode(persons["rinpersoon"].iloc[0].encode() * 50).decode()
    (tmp_path / "r.html").write_text(f'<img src="data:image/png;base64,{blob}">')
    assert _scan(tmp_path / "r.html", persons, rules) == []
    (tmp_path / "r.html").write_text(f"{persons['rinpersoon'].iloc[0]}")
    with pytest.raises(LeakError, match="person_id") as error:
        assert_no_leaks([tmp_path], person_keys=persons["rinpersoon"], rules=rules)
    assert len(error.value.findings) == 1


def test_scan_is_linear(tmp_path, rules):
    keys = [f"{i:09d}" for i in range(1, 200_001)]
    rows = "\n".join(f"row{i},{i * 7 % 1000},{i / 3:.6f}" for i in range(200_000))
    (tmp_path / "big.csv").write_text("label,n,value\n" + rows)
    start = time.perf_counter()
    scan_for_leaks([tmp_path], person_keys=keys, rules=rules)
    assert time.perf_counter() - start < 10
