"""The design registry: every entry resolves, and what the workflow derives from it holds."""

from __future__ import annotations

import importlib

import pytest

from inburgering.config import read_yaml, schema_path
from inburgering.contracts.tidy import DESIGNS
from inburgering.designs.event_study import TABLES
from inburgering.designs.registry import (
    DESCRIPTIVE,
    EVENT_STUDY_SIDES,
    REGISTRY,
    design,
    exported_side_tables,
    side_table_designs,
)


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda entry: entry.name)
def test_entry_points_resolve(entry):
    module, _, function = entry.entry.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda entry: entry.name)
def test_params_name_only_configured_keys(entry):
    """Narrow params name keys the schema knows (a typo would silently drop a setting)."""
    schema = read_yaml(schema_path("config"))["properties"]
    assert set(entry.estimate_keys) <= set(schema["estimate"]["properties"])
    assert set(entry.matching_keys) <= set(schema["matching"]["properties"])
    for scatter in entry.scatter:
        assert scatter.config.split(".")[0] in schema


def test_tidy_contract_accepts_exactly_the_registered_designs():
    assert {entry.rows for entry in REGISTRY} | set(DESCRIPTIVE) == DESIGNS


def test_matching_designs_do_not_read_the_did_settings():
    """Changing a HonestDiD grid (estimate.honestdid) must not rerun the matching designs."""
    for name in ("route_matching", "city_matching", "heterogeneity"):
        assert "honestdid" not in design(name).estimate_keys
    for name in ("reform_did", "instrument_did", "city_instrument_did"):
        assert "honestdid" in design(name).estimate_keys


def test_side_tables_of_the_event_study_designs():
    assert (*EVENT_STUDY_SIDES,) == TABLES[1:]
    assert [d.name for d in side_table_designs("pretrends")] == [
        "reform_did",
        "city_instrument_did",
    ]
    assert design("reform_did").file("pretrends") == "pretrends.csv"
    assert design("city_instrument_did").file("pretrends") == "city_instrument_did_pretrends.csv"
    assert design("route_matching").file("estimates") == "route_matching.csv"


def test_exported_side_tables_in_order_of_first_appearance():
    assert exported_side_tables() == [
        *EVENT_STUDY_SIDES,
        "balance",
        "overlap",
        "sensitivity",
        "refutations",
    ]
    assert "samples" not in exported_side_tables()


def test_unknown_design_names_the_registry():
    with pytest.raises(KeyError, match="reform_did"):
        design("no_such_design")
