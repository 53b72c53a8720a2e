"""city_matching on simulated prepared tables: Rotterdam vs each other G4 city."""

from __future__ import annotations

import pandas as pd
import pytest
from designs_helpers import assert_person_free, design_config, joined, limited

from inburgering.contracts.tidy import read_tidy
from inburgering.designs import cells
from inburgering.designs.matching import city_matching_rows, run_city
from inburgering.designs.registry import design
from inburgering.workflow import RuleJob


@pytest.fixture(scope="module")
def city(sim, config):
    return limited(city_matching_rows, sim.persons, sim.outcomes, config)


def test_keys_and_headline(city):
    rows = city.estimates
    assert set(rows["treatment"]) == {
        "rotterdam_vs_amsterdam",
        "rotterdam_vs_den_haag",
        "rotterdam_vs_utrecht",
    }
    assert set(rows["city"]) == {"rotterdam"} and set(rows["comparison"]) == {"matched"}
    headline = rows[rows["headline"]]
    assert set(headline["estimator"]) == {"nearest_3to1_replace"}
    # Two fixed municipalities: person-level inference, no cluster count.
    assert headline["n_clusters"].isna().all()
    assert set(headline["inference"]) == {"HC1 sandwich (matched sample, with replacement)"}


def test_every_rotterdam_statushouder_is_matched_within_cohort(city, sim):
    persons = sim.persons
    rdam = persons[
        (persons["city"] == "rotterdam")
        & (persons["group"] == "statushouder")
        & (persons["regime"] == "wi2021")
    ]
    headline = city.estimates[city.estimates["headline"] & (city.estimates["horizon"] == 12)]
    # No caliper and 12 arrival quarters with controls in each: nobody is left unmatched.
    observed = sim.outcomes[(sim.outcomes["horizon"] == 12)].dropna()
    n_rdam = int(rdam["person_id"].isin(observed["person_id"]).sum())
    assert (headline["n_treated"] == n_rdam).all()
    unmatched = city.samples[
        (city.samples["step"] == "unmatched")
        & (city.samples["estimator"] == "nearest_3to1_replace")
    ]
    assert unmatched["rule"].str.contains("exact on \\['cohort'\\]").all()


def test_headline_covers_truth(city, sim):
    table = joined(city.estimates, sim.truth)
    headline = table[table["headline"]]
    z = (headline["estimate"] - headline["truth"]) / headline["se"]
    assert (z.abs() < 3).all(), headline[["treatment", "horizon", "estimate", "truth", "se"]]


def test_side_tables_are_person_free(city, sim):
    n = len(sim.persons)
    for name, columns in (
        ("balance", cells.BALANCE_COLUMNS),
        ("overlap", cells.OVERLAP_COLUMNS),
        ("sensitivity", cells.SENSITIVITY_COLUMNS),
        ("samples", cells.SAMPLE_COLUMNS),
    ):
        assert_person_free(getattr(city, name), columns, n)


def test_rule_entry_writes_every_output(tmp_path, sim):
    persons, outcomes = tmp_path / "persons.parquet", tmp_path / "outcomes.parquet"
    sim.persons.to_parquet(persons, index=False)
    sim.outcomes.to_parquet(outcomes, index=False)
    config = design_config()
    config["matching"]["city"]["comparisons"] = ["amsterdam"]
    config["matching"]["refute"]["outcomes"] = []
    names = ("balance", "overlap", "sensitivity", "refutations", "samples")
    output = {"estimates": tmp_path / "city_matching.csv"}
    output |= {name: tmp_path / f"city_matching_{name}.csv" for name in names}
    job = RuleJob(
        input={"persons": persons, "outcomes": outcomes},
        output=output,
        params=design("city_matching").params(config),  # what the workflow hands the rule
    )
    run_city(job)
    rows = read_tidy(output["estimates"])
    assert set(rows["treatment"]) == {"rotterdam_vs_amsterdam"}
    for name in names:
        frame = pd.read_csv(output[name])
        assert "person_id" not in frame.columns
    assert not list(tmp_path.glob(".*partial*"))
