"""On synthetic data, preparation reproduces the generator's own person-level facts exactly.

The generator writes truth/persons.parquet (person_id, municipality, city, regime, cohort, group,
obligation_start, route and ``{outcome}_{h}``); prepare must reproduce every value from the
CBS-style files alone, including missing (censored) horizons.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prepare_helpers import ROOT, job

from inburgering.config import load_config
from inburgering.prepare.stage import run
from inburgering.workflow import RuleJob

FACTS = ["municipality", "city", "regime", "cohort", "group", "obligation_start", "route"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    from inburgering.synth.stage import run as synthesize

    base = tmp_path_factory.mktemp("synthetic")
    config = load_config(ROOT / "config" / "config.yaml")
    synth = {**config["synth"], "persons": 1500, "format": "sav"}
    synthesize(
        RuleJob(
            input={
                "catalogue": ROOT / "config" / "catalogue.yaml",
                "policies": ROOT / "config" / "policies.yaml",
            },
            output={"microdata": base / "microdata", "truth": base / "truth" / "estimands.csv"},
            params={
                "synth": synth,
                "data_end": config["data"]["end"],
                "prepare": config["prepare"],
                "city_matching": config["matching"]["city"],
            },
            rule="synth",
        )
    )
    truth = base / "truth" / "persons.parquet"
    if not truth.exists():
        pytest.skip("generator writes no truth/persons.parquet yet")
    run(job(base / "microdata", base / "prepared", "sav"))
    return truth, base / "prepared"


def _same(left: pd.Series, right: pd.Series) -> pd.Series:
    return ((left == right) | (left.isna() & right.isna())).fillna(False).astype(bool)


def test_every_obligated_person_is_prepared(generated):
    truth_path, out = generated
    truth = pd.read_parquet(truth_path)
    persons = pd.read_parquet(out / "persons.parquet")
    assert sorted(truth["person_id"]) == persons["person_id"].tolist()
    flow = pd.read_csv(out / "sample_flow.csv")
    assert flow["persons_dropped"].sum() == 0


@pytest.mark.parametrize("column", FACTS)
def test_person_facts_match(generated, column):
    truth_path, out = generated
    truth = pd.read_parquet(truth_path).set_index("person_id")
    persons = pd.read_parquet(out / "persons.parquet").set_index("person_id")
    want = truth[column]
    got = persons[column].reindex(want.index)
    if column == "obligation_start":
        want, got = pd.to_datetime(want), pd.to_datetime(got)
    else:
        want, got = want.astype("string"), got.astype("string")
    same = _same(want, got)
    assert same.all(), pd.DataFrame({"truth": want[~same], "prepared": got[~same]}).head()


def test_outcomes_match_at_every_horizon(generated):
    truth_path, out = generated
    truth = pd.read_parquet(truth_path).set_index("person_id")
    outcomes = pd.read_parquet(out / "outcomes.parquet").pivot(index="person_id", columns="horizon")
    checked = 0
    for column in truth.columns:
        outcome, _, horizon = column.rpartition("_")
        if not horizon.isdigit():
            continue
        want = truth[column].astype("Float64")
        got = outcomes[(outcome, int(horizon))].reindex(want.index).astype("Float64")
        same = _same(want, got)
        assert same.all(), (column, int((~same).sum()))
        checked += 1
    assert checked >= 4 * 5
    assert outcomes.isna().any().any()  # some horizons are censored, and stay missing
