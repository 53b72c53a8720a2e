"""route_matching on simulated prepared tables with known route effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from designs_helpers import assert_person_free, joined, limited

from inburgering.contracts.tidy import KEY_COLUMNS, TIDY_COLUMNS
from inburgering.designs import cells
from inburgering.designs.matching import route_matching_rows
from inburgering.workflow import StageError


@pytest.fixture(scope="module")
def route(sim, config):
    return limited(route_matching_rows, sim.persons, sim.outcomes, config)


def test_rows_follow_the_contract(route):
    rows = route.estimates
    assert list(rows.columns) == list(TIDY_COLUMNS)
    assert set(rows["design"]) == {"route_matching"}
    assert set(rows["treatment"]) == {"z_vs_b1", "onderwijs_vs_b1"}
    assert set(rows["city"]) == {"all"} and set(rows["comparison"]) == {"matched"}
    headline = rows[rows["headline"]]
    assert set(headline["estimator"]) == {"aipw"}
    assert not headline.duplicated(list(KEY_COLUMNS)).any()
    assert len(headline) == 4  # 2 contrasts x 2 horizons x 1 outcome
    assert {"naive", "nearest_1to1_caliper", "ipw"} <= set(rows["estimator"])
    assert (headline["n_clusters"] == 40).all()


def test_headline_recovers_truth_and_naive_does_not(route, sim):
    table = joined(route.estimates, sim.truth)
    table["z"] = (table["estimate"] - table["truth"]) / table["se"]
    headline = table[table["headline"]]
    assert (headline["z"].abs() < 3).all(), headline[["treatment", "horizon", "estimate", "truth"]]
    naive = table[table["estimator"] == "naive"]
    # Selection into Z (older, less schooling) and onderwijs (young, educated) is strong.
    assert (naive["z"].abs() > 3).all(), naive[["treatment", "horizon", "estimate", "truth"]]


def test_sensitivity_has_a_row_per_estimate(route):
    sens = route.sensitivity
    assert len(sens) == len(route.estimates)
    assert (sens["evalue_ci"] >= 1).all() and (sens["evalue_point"] >= sens["evalue_ci"]).all()
    gamma = sens.loc[sens["estimator"] == "aipw", "rosenbaum_gamma"]
    assert gamma.notna().all() and (gamma >= 1).all()
    assert sens["fragile"].dtype == bool


def test_side_tables_are_person_free(route, sim):
    n = len(sim.persons)
    assert_person_free(route.balance, cells.BALANCE_COLUMNS, n)
    assert_person_free(route.overlap, cells.OVERLAP_COLUMNS, n)
    assert_person_free(route.sensitivity, cells.SENSITIVITY_COLUMNS, n)
    assert_person_free(route.refutations, cells.REFUTATION_COLUMNS, n)
    assert_person_free(route.samples, cells.SAMPLE_COLUMNS, n)
    # Overlap is counts only, and they add up to the headline's analysed persons.
    counts = route.overlap.groupby(["treatment", "horizon"])[["n_treated", "n_control"]].sum()
    headline = route.estimates[route.estimates["headline"]]
    headline = headline.assign(horizon=headline["horizon"].astype(int))
    expected = headline.set_index(["treatment", "horizon"])["n_treated"].astype(int)
    assert counts["n_treated"].astype(int).sort_index().equals(expected.sort_index())


def test_balance_improves_after_weighting(route):
    aipw = route.balance[route.balance["estimator"] == "aipw"]
    for _, cell in aipw.groupby(["treatment", "horizon"]):
        before, after = cell["smd_before"].abs().max(), cell["smd_after"].abs().max()
        assert after < 0.15 and after < before / 3, (before, after)


def test_refutations_are_rows_per_refuter(route):
    ref = route.refutations
    assert set(ref["refuter"]) == {
        "placebo_treatment_refuter",
        "random_common_cause",
        "data_subset_refuter",
    }
    assert set(ref["horizon"]) == {24} and set(ref["outcome"]) == {"participation"}
    placebo = ref[ref["refuter"] == "placebo_treatment_refuter"]
    assert (placebo["new_effect"].abs() < placebo["estimate"].abs()).all()


def test_controls_without_treated_peers_are_dropped_not_the_treated():
    data = pd.DataFrame(
        {"t": [1, 1, 0, 0, 0], "band": ["a", "b", "a", "c", "c"], "x": [1.0, 2, 3, 4, 5]}
    )
    kept, removed = cells.att_support(data, "t", ["band", "x"])
    assert removed == 2 and list(kept.index) == [0, 1, 2]


def test_nested_covariate_is_dropped():
    rng = np.random.default_rng(0)
    cohort = rng.choice(["q1", "q2", "q3", "q4"], 200)
    frame = pd.DataFrame(
        {"cohort": cohort, "version": np.where(np.isin(cohort, ["q1", "q2"]), "v1", "v2")}
    )
    frame["x"] = rng.normal(size=200)
    assert cells.usable_covariates(frame, ["version", "x", "cohort"]) == ["x", "cohort"]


def test_missing_route_column_is_named(sim, config):
    persons = sim.persons.drop(columns="route")
    with pytest.raises(StageError, match=r"\['route'\].*route_matching|route"):
        route_matching_rows(persons, sim.outcomes, config)


def test_a_refutation_dowhy_cannot_compute_is_recorded_not_raised(monkeypatch, caplog):
    """dowhy failing on one cell (seen on the rehearsal files: a dropped effect modifier) leaves
    the cell's estimate alone: no refutation rows, a not-estimated record in the log."""
    import inburgering.matching.refute as refute_module
    from inburgering.not_estimated import MARKER

    def broken(*args, **kwargs):
        raise KeyError("None of [Index(['female'])] are in the [columns]")

    monkeypatch.setattr(refute_module, "refute", broken)
    cell = cells.Cell("route_matching", "z_vs_b1", "all", "matched", "participation", 24)
    data = pd.DataFrame({"t": [1, 0, 1, 0], "participation": [1.0, 0, 1, 0], "x": [1.0, 2, 3, 4]})
    rows = cells.refutation_rows(
        data, cell, "t", ["x"], {"num_simulations": 2}, ["x"], "route_matching", seed=1
    )
    assert rows.empty and list(rows.columns) == list(cells.REFUTATION_COLUMNS)
    assert any(MARKER in r.getMessage() and "refutation not estimable" in r.getMessage()
               for r in caplog.records)  # fmt: skip
