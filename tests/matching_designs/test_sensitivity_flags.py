"""A hidden confounder biases the route estimate; the sensitivity analysis flags it as fragile,
while a large real effect without hidden confounding is not flagged."""

from __future__ import annotations

import copy

import pytest
from designs_helpers import design_config, joined, limited, simulate

from inburgering.matching.designs import route_matching_rows


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
    return simulate(n=6000, seed=3, hidden=0.0, onderwijs_effect=0.2)


def test_hidden_confounder_biases_and_is_flagged(confounded):
    tables, sens = _run(confounded)
    table = joined(tables.estimates, confounded.truth)
    headline = table[table["headline"]].iloc[0]
    assert headline["estimate"] - headline["truth"] > 0.02  # biased away from zero
    assert bool(sens.loc["aipw", "fragile"])
    assert sens.loc["aipw", "evalue_ci"] < 1.5
    assert sens.loc["aipw", "rosenbaum_gamma"] < 1.2


def test_real_effect_is_not_flagged(real_effect):
    _, sens = _run(real_effect)
    assert not bool(sens.loc["aipw", "fragile"])
    assert sens.loc["aipw", "evalue_ci"] > 1.5
    assert sens.loc["aipw", "rosenbaum_gamma"] > 1.2
