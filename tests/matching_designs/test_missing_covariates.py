"""Planted missing covariates (schooling unknown; no test taken: score and version missing
together) never stop route_matching, city_matching or heterogeneity."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from designs_helpers import design_config, limited

from inburgering.designs.heterogeneity import heterogeneity_rows
from inburgering.designs.matching import city_matching_rows, route_matching_rows
from inburgering.workflow import StageError


@pytest.fixture(scope="module")
def planted(sim) -> pd.DataFrame:
    """5 % without schooling, 8 % without any test (score and version), independent of route."""
    rng = np.random.default_rng(7)
    persons = sim.persons.copy()
    persons["schooling_years"] = persons["schooling_years"].astype(float)
    persons.loc[rng.random(len(persons)) < 0.05, "schooling_years"] = np.nan
    untested = rng.random(len(persons)) < 0.08
    persons["test_score"] = persons["test_score"].where(~untested)
    persons["test_version"] = persons["test_version"].where(~untested, None)
    return persons


def _not_estimated(samples: pd.DataFrame) -> pd.DataFrame:
    return samples[samples["step"] == "not estimated"]


def test_route_matching_estimates_every_cell(planted, sim, config):
    tables = limited(route_matching_rows, planted, sim.outcomes, config)
    assert _not_estimated(tables.samples).empty, _not_estimated(tables.samples)["rule"].tolist()
    headline = tables.estimates[tables.estimates["headline"]]
    assert len(headline) == 2 * 2  # two contrasts x two horizons
    assert headline["estimate"].notna().all() and headline["se"].gt(0).all()


def test_city_matching_estimates_every_cell(planted, sim, config):
    tables = limited(city_matching_rows, planted, sim.outcomes, config)
    assert _not_estimated(tables.samples).empty, _not_estimated(tables.samples)["rule"].tolist()
    headline = tables.estimates[tables.estimates["headline"]]
    assert len(headline) == 3 * 2  # three comparisons x two horizons
    assert headline["estimate"].notna().all()


def test_heterogeneity_does_not_crash(planted, sim, config):
    narrowed = copy.deepcopy(config)
    narrowed["estimate"]["horizons"] = [24]
    tables = limited(heterogeneity_rows, planted, sim.outcomes, narrowed)
    headline = tables.estimates[tables.estimates["headline"]]
    assert {"age:18-26", "schooling:9+", "group:statushouder"} <= set(headline["subgroup"])
    assert headline["estimate"].notna().all()


def test_a_covariate_list_still_stops_on_others(planted, sim):
    strict = design_config(missing_indicator=["test_score", "test_version"])
    with pytest.raises(StageError, match=r"covariate 'schooling_years' has .* missing"):
        route_matching_rows(planted, sim.outcomes, strict)
