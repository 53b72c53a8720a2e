"""Each matching design reads exactly the config keys the registry hands its rule, so a change
to another design's settings (``matching.heterogeneity.*``, ``matching.city.*``) reruns only
that design."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from designs_helpers import limited

from inburgering.designs.heterogeneity import heterogeneity_rows
from inburgering.designs.matching import city_matching_rows, route_matching_rows
from inburgering.designs.registry import design

ROWS = {
    "route_matching": route_matching_rows,
    "city_matching": city_matching_rows,
    "heterogeneity": heterogeneity_rows,
}


class RecordedSection(Mapping):
    """A config section that records every key read from it (``get`` and ``in`` included)."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        self._section = dict(section)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self._section[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._section)

    def __len__(self) -> int:
        return len(self._section)


@pytest.fixture(scope="module")
def quick_config(config) -> dict:
    """The design tests' config with one horizon, contrast and comparison, the headline
    estimators only and no refutation: the same keys are read, in a fraction of the time."""
    quick = copy.deepcopy(config)
    quick["estimate"]["horizons"] = [24]
    matching = quick["matching"]
    matching["refute"]["outcomes"] = []
    matching["route"]["contrasts"] = {"z_vs_b1": "z"}
    matching["route"]["methods"] = [matching["route"]["headline"]]
    matching["city"]["comparisons"] = ["amsterdam"]
    matching["city"]["methods"] = [matching["city"]["headline"]]
    matching["heterogeneity"]["subgroups"] = {
        "sex": {"column": "female", "edges": [0, 1], "labels": ["man", "vrouw"]}
    }
    return quick


@pytest.mark.parametrize("name", list(ROWS))
def test_each_design_reads_exactly_its_registered_keys(name, sim, quick_config):
    """Run on only the keys its rule receives: reading any other key fails (KeyError), and a
    registered key that is never read would rerun the rule for nothing."""
    params = design(name).params(quick_config)
    matching = RecordedSection(params["matching"])
    estimate = RecordedSection(params["estimate"])
    tables = limited(
        ROWS[name], sim.persons, sim.outcomes, {"matching": matching, "estimate": estimate}
    )
    assert len(tables.estimates) > 0
    assert matching.read == set(design(name).matching_keys)
    assert estimate.read == set(design(name).estimate_keys)


def _changed(config: dict, section: str, key: str, value: Any) -> dict:
    changed = copy.deepcopy(config)
    changed["matching"][section][key] = value
    return changed


def test_heterogeneity_settings_reach_only_the_heterogeneity_rule(config):
    changed = _changed(config, "heterogeneity", "target", "att")
    for name in ("route_matching", "city_matching"):
        assert design(name).params(changed) == design(name).params(config)
    assert design("heterogeneity").params(changed) != design("heterogeneity").params(config)


def test_city_settings_reach_only_the_city_rule(config):
    changed = _changed(config, "city", "comparisons", ["utrecht"])
    for name in ("route_matching", "heterogeneity"):
        assert design(name).params(changed) == design(name).params(config)
    assert design("city_matching").params(changed) != design("city_matching").params(config)


def test_route_settings_reach_the_route_and_heterogeneity_rules(config):
    """heterogeneity splits a route contrast into subgroups: it reads the route settings."""
    changed = _changed(config, "route", "trim", 0.01)
    assert design("city_matching").params(changed) == design("city_matching").params(config)
    for name in ("route_matching", "heterogeneity"):
        assert design(name).params(changed) != design(name).params(config)
