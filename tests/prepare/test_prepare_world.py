"""Preparation of the hand-made world reproduces every known fact (see prepare_helpers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prepare_helpers import job, write_world

from inburgering.prepare.stage import run


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("world")
    write_world(base / "data", "parquet")
    run(job(base / "data", base / "out"))
    out = base / "out"
    return {
        "persons": pd.read_parquet(out / "persons.parquet"),
        "outcomes": pd.read_parquet(out / "outcomes.parquet"),
        "months": pd.read_parquet(out / "person_months.parquet"),
        "flow": pd.read_csv(out / "sample_flow.csv"),
        "quality": pd.read_csv(out / "data_quality.csv"),
        "policies": pd.read_parquet(out / "municipality_policies.parquet"),
    }


def test_person_facts(prepared):
    persons = prepared["persons"].set_index("person_id")
    assert list(persons.index) == ["000000001", "000000002", "000000003"]
    assert persons["city"].tolist() == ["rotterdam", "utrecht", "rest_nl"]
    assert persons["municipality"].tolist() == ["0599", "0344", "0014"]
    assert persons["regime"].tolist() == ["wi2013", "uncertain", "wi2021"]
    assert persons["wi2021"].tolist() == [False, True, True]
    assert persons["cohort"].tolist() == ["2021Q1", "2022Q1", "2023Q2"]
    assert persons["group"].tolist() == ["statushouder", "gezinsmigrant", "statushouder"]
    assert persons["g4"].tolist() == [True, True, False]
    # born June 1990, start March 2021 -> 30; month unknown -> year difference only.
    assert persons["age"].tolist() == [30, 27, 63]
    assert persons["age_band"].tolist() == ["30-44", "27-29", "60+"]
    assert persons["female"].tolist() == [False, True, False]
    assert persons["literacy"].tolist() == [True, True, False]
    assert persons["route"].tolist()[:2] == ["b1", "onderwijs"]
    assert persons.loc["000000001", "pip_date"] == pd.Timestamp("2021-09-01")
    assert persons.loc["000000002", "route_assigned_date"] == pd.Timestamp("2022-05-15")


def test_outcomes_at_each_horizon(prepared):
    outcomes = prepared["outcomes"].set_index(["person_id", "horizon"])
    expected = {
        # person 1: start 2021-03-15; benefits until 2022-01-31, work from 2022-02-01.
        ("000000001", 6): (0, 0, 0, 1),
        ("000000001", 12): (1, 0, 1, 0),
        ("000000001", 36): (1, 0, 1, 0),
        # person 2: start 2022-02-10; in education 2022-09-01..2023-06-30.
        ("000000002", 6): (0, 0, 0, 0),
        ("000000002", 12): (0, 1, 1, 0),
        ("000000002", 18): (0, 0, 0, 0),
        # person 3: start 2023-06-30; works 2024-01-01..2024-12-31 (2023-12-30 is before).
        ("000000003", 6): (0, 0, 0, 0),
        ("000000003", 12): (1, 0, 1, 0),
        ("000000003", 18): (1, 0, 1, 0),  # 2024-12-30: last days of the job
        ("000000003", 24): (0, 0, 0, 0),
    }
    columns = ["employed", "in_education", "participation", "social_assistance"]
    for key, values in expected.items():
        assert outcomes.loc[key, columns].tolist() == list(values), key
    assert len(outcomes) == 3 * 5


def test_censored_horizons_are_missing_not_zero(prepared):
    outcomes = prepared["outcomes"].set_index(["person_id", "horizon"])
    # 2023-06-30 + 36 months = 2026-06-30, after data.end 2025-12.
    assert outcomes.loc[("000000003", 36)].isna().all()
    assert outcomes.loc[("000000003", 24)].notna().all()


def test_sample_flow_accounts_for_every_person(prepared):
    flow = prepared["flow"]
    assert flow["persons"].tolist() == [7, 6, 5, 4, 3]
    assert flow["persons_dropped"].tolist() == [0, 1, 1, 1, 1]
    assert (flow["persons"].shift() - flow["persons"]).iloc[1:].tolist() == flow[
        "persons_dropped"
    ].iloc[1:].tolist()
    cities = [c for c in flow if c.startswith("persons_") and c != "persons_dropped"]
    assert (flow[cities].sum(axis=1) == flow["persons"]).all()
    last = flow.iloc[-1]
    assert (last["persons_rotterdam"], last["persons_utrecht"], last["persons_rest_nl"]) == (
        1,
        1,
        1,
    )


def test_person_months_match_outcomes(prepared):
    months = prepared["months"]
    one = months[months["person_id"] == "000000001"].set_index("month")
    assert one.index[0] == pd.Timestamp("2021-03-01").date()
    assert one.index[-1] == pd.Timestamp("2025-12-01").date()
    # state at month end: benefits in April 2021, work from February 2022.
    assert one.loc[pd.Timestamp("2021-04-01").date(), "social_assistance"]
    assert not one.loc[pd.Timestamp("2022-01-01").date(), "employed"]
    assert one.loc[pd.Timestamp("2022-02-01").date(), "participation"]
    assert months["months_since_start"].min() == 0


def test_policies_and_quality_tables(prepared):
    policies = prepared["policies"]
    assert set(policies["source"]) == {"policies.yaml"}
    assert {"rotterdam", "amsterdam", "den_haag", "utrecht"} == set(policies["city"])
    quality = prepared["quality"]
    assert set(quality["action"]) <= {"fatal", "repaired", "normalised", "absent"}
    assert (quality.loc[quality["action"] == "fatal", "count"] == 0).all()
    # the clean world's only repairs: person 3's birth month "--", open spells, and birth
    # countries the catalogue's origin map does not list (origin "other")
    repaired = quality[(quality["action"] == "repaired") & (quality["count"] > 0)]
    assert sorted(map(tuple, repaired[["rule", "table", "count"]].values.tolist())) == [
        ("birth_month_unknown", "gba_persons", 1),
        ("country_not_in_origin_map", "gba_persons", 6),
        ("spell_open_end", "gba_addresses", 3),
        ("spell_open_end", "socio_economic", 1),
    ]
    assert np.isin(["swi_coa", "swi_exams"], quality["table"]).all()
