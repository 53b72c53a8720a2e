"""A hidden confounder biases the route estimate; the sensitivity analysis flags it as fragile,
while a large real effect without hidden confounding is not flagged; and the flag's rule."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from designs_helpers import design_config, joined, limited, simulate

from inburgering.designs.cells import MethodSpec, is_fragile
from inburgering.designs.matching import route_matching_rows


def _run(sim):
    config = design_config()
    config["estimate"]["horizons"] = [12]
    matching = config["matching"]
    matching["route"]["contrasts"] = {"onderwijs_vs_b1": "onderwijs"}
    matching["route"]["methods"] = ["nearest", "aipw"]
    matching["refute"]["outcomes"] = []
    tables = limited(route_matching_rows, sim.persons, sim.outcomes, copy.deepcopy(config))
    sens = tables.sensitivity.set_index("estimator")
    return tables, sens


@pytest.fixture(scope="module")
def confounded():
    # No route effect at all; the hidden trait pushes people into onderwijs and into work.
    return simulate(n=6000, seed=3, hidden=1.5, onderwijs_effect=0.0, z_effect=0.0)


@pytest.fixture(scope="module")
def real_effect():
    # Participation about doubles (RR ~1.9): more than a confounder of E-value 2 can explain.
    return simulate(n=6000, seed=3, hidden=0.0, onderwijs_effect=0.3)


@pytest.fixture(scope="module")
def thresholds() -> dict:
    return design_config()["matching"]["sensitivity"]


def test_hidden_confounder_biases_and_is_flagged(confounded, thresholds):
    tables, sens = _run(confounded)
    table = joined(tables.estimates, confounded.truth)
    headline = table[table["headline"]].iloc[0]
    assert headline["estimate"] - headline["truth"] > 0.02  # biased away from zero
    assert headline["ci_low"] > 0  # a spurious, significant effect ...
    assert bool(sens.loc["aipw", "fragile"])  # ... that the analysis flags
    assert sens.loc["aipw", "evalue_ci"] < thresholds["evalue_min"]
    assert sens.loc["aipw", "rosenbaum_gamma"] < thresholds["gamma_min"]


def test_real_effect_is_not_flagged(real_effect, thresholds):
    _, sens = _run(real_effect)
    assert not bool(sens.loc["aipw", "fragile"])
    assert sens.loc["aipw", "evalue_ci"] > thresholds["evalue_min"]
    assert sens.loc["aipw", "rosenbaum_gamma"] > thresholds["gamma_min"]


def _spec(evalue_min: float = 2.0, gamma_min: float = 1.5) -> MethodSpec:
    section = {
        "headline": "aipw",
        "methods": ["aipw"],
        "nearest": {"ratio": 1, "caliper": None, "replace": False, "adjust": True},
    }
    matching = {
        "sensitivity": {"evalue_min": evalue_min, "gamma_min": gamma_min},
        "seed": 0,
        "min_treated": 20,
        "min_control": 20,
        "overlap_bins": 10,
    }
    return MethodSpec.from_config(section, matching, 0.05)


@pytest.mark.parametrize(
    ("ci", "evalue_ci", "gamma", "fragile"),
    [
        ((-0.01, 0.05), 1.0, 1.0, False),  # interval contains zero: nothing to explain away
        ((0.01, 0.05), 1.3, np.nan, True),  # significant, weak E-value, no matched pairs
        ((-0.09, -0.02), 2.5, 1.3, True),  # strong E-value, but pairs lose significance early
        ((-0.09, -0.02), 2.5, 1.0, True),  # pairs not significant at all
        ((0.02, 0.09), 2.5, 3.0, False),  # robust by both measures
        ((0.02, 0.09), np.nan, np.nan, True),  # undefined E-value of a significant estimate
        ((0.30, 0.45), np.inf, np.nan, False),  # limit at the edge of the risk scale
    ],
)
def test_fragile_means_significant_but_explainable(ci, evalue_ci, gamma, fragile):
    assert is_fragile(*ci, evalue_ci, gamma, _spec()) is fragile


def test_thresholds_come_from_the_config():
    assert is_fragile(0.01, 0.05, 1.8, np.nan, _spec(evalue_min=2.0))
    assert not is_fragile(0.01, 0.05, 1.8, np.nan, _spec(evalue_min=1.5))
