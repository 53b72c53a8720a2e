"""Default profile: naive comparisons are biased, trends conditional on covariates are parallel."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from inburgering.synth.outcomes import old_law_world, probabilities
from inburgering.synth.params import SynthParameters

PRE, POST = (80, 87), (89, 95)  # cohort quarters 2020Q1-2021Q4 and 2022Q2-2023Q4


def _trend(values: np.ndarray, cohort: np.ndarray, mask: np.ndarray) -> float:
    pre = mask & (cohort >= PRE[0]) & (cohort <= PRE[1])
    post = mask & (cohort >= POST[0]) & (cohort <= POST[1])
    return values[post].mean() - values[pre].mean()


def test_unconditional_trends_differ_conditional_trends_parallel(population):
    persons, munis = population.persons, population.munis
    params = SynthParameters()
    world = old_law_world(persons)
    p0 = probabilities(persons, munis, world, np.array([[24]]), params, 88).employed[:, 0]
    # The municipal part of the untreated outcome: the same person in a fixed reference place.
    reference = replace(
        world,
        muni=np.full(len(persons), len(munis.table) - 1),
        instruments_off=tuple(munis.adoption),
    )
    base = probabilities(persons, munis, reference, np.array([[24]]), params, 88).employed[:, 0]
    cohort, city = persons["cohort_q"].to_numpy(), persons["city"].to_numpy()
    naive = {
        c: _trend(p0, cohort, city == c) - _trend(p0, cohort, city == "rest_nl")
        for c in ("rotterdam", "amsterdam", "den_haag")
    }
    assert max(abs(v) for v in naive.values()) > 0.005, naive
    municipal = p0 - base  # composition and calendar removed: what conditional trends compare
    for c in naive:
        gap = _trend(municipal, cohort, city == c) - _trend(municipal, cohort, city == "rest_nl")
        assert abs(gap) < 0.003, (c, gap)
