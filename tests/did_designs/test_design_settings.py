"""Event-study settings: one object per scope (shared, reform_did's, the G4 bundles'), read from
the configuration as the schema filled it at load, with no second copy of a default."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from inburgering.config import load_config
from inburgering.designs.city_instrument_did import CityBundleSettings
from inburgering.designs.event_study import EventStudySettings
from inburgering.designs.reform_did import ReformDidSettings
from inburgering.designs.registry import design


@pytest.fixture(scope="module")
def sparse_config(repo_root, tmp_path_factory):
    """config/config.yaml without any key whose value the schema can supply."""
    overlay = tmp_path_factory.mktemp("settings") / "sparse.yaml"
    dropped = [
        "estimate.seed",
        "estimate.covariates",
        "estimate.reform_did",
        "estimate.inference",
        "estimate.honestdid",
        "estimate.instrument_did.city_bundles",
    ]
    overlay.write_text(yaml.safe_dump({"drop": dropped}), encoding="utf-8")
    return load_config(repo_root / "config" / "config.yaml", overlay)


def test_omitted_keys_take_the_schema_defaults(sparse_config):
    estimate = sparse_config["estimate"]
    shared = EventStudySettings.from_config(estimate)
    assert (shared.seed, shared.covariates) == (0, ["female", "age", "schooling_years"])
    assert (shared.ri_pool, shared.wild_draws, shared.band_draws) == (39, 999, 9999)
    assert (shared.min_treated_clusters, shared.shock_variance) == (5, True)
    assert (shared.shock_max_lag, shared.shock_min_cell) == (8, 5)
    assert (shared.honest_pre, shared.honest_post, shared.honest_bin) == (5, 3, 4)
    assert shared.honest_grids == {
        "relative_magnitude": [0.0, 0.5, 1.0, 1.5, 2.0],
        "smoothness": [0.0, 0.01, 0.02, 0.04],
    }
    assert ReformDidSettings.from_config(estimate) == ReformDidSettings(
        subgroups=["group:statushouder", "group:gezinsmigrant"],
        base_quarters=4,
        covariate_interactions=[],
        pretrend_settle_quarters=4,
    )
    assert CityBundleSettings.from_config(estimate) == CityBundleSettings(
        settle_quarters=4, min_pre_quarters=4, base_quarters=4
    )


def test_schema_defaults_for_scripts_equal_a_filled_config(sparse_config):
    """``from_schema_defaults`` (tests, benchmarks) gives what a config without the keys gives."""
    estimate = sparse_config["estimate"]
    loaded = EventStudySettings.from_config(estimate)
    built = EventStudySettings.from_schema_defaults(
        horizons=estimate["horizons"], cities=estimate["cities"], alpha=estimate["alpha"]
    )
    assert built == loaded
    assert ReformDidSettings.from_schema_defaults() == ReformDidSettings.from_config(estimate)
    assert CityBundleSettings.from_schema_defaults() == CityBundleSettings.from_config(estimate)
    assert EventStudySettings.from_schema_defaults(
        horizons=[12], cities=[], alpha=0.1, wild_draws=99
    ) == replace(loaded, horizons=[12], cities=[], alpha=0.1, wild_draws=99)


def test_each_design_reads_only_its_own_section(repo_root):
    """Changing a reform_did key changes nothing an instrument design reads, and vice versa."""
    config = load_config(repo_root / "config" / "config.yaml")
    estimate = config["estimate"]
    changed = {
        **estimate,
        "reform_did": {**estimate["reform_did"], "base_quarters": 2, "subgroups": []},
        "instrument_did": {
            **estimate["instrument_did"],
            "city_bundles": {**estimate["instrument_did"]["city_bundles"], "base_quarters": 6},
        },
    }
    assert EventStudySettings.from_config(changed) == EventStudySettings.from_config(estimate)
    assert ReformDidSettings.from_config(changed).base_quarters == 2
    assert CityBundleSettings.from_config(changed).base_quarters == 6
    # The workflow hands each design only its own section (a reform_did change reruns no
    # instrument design, and the other way round).
    for name in ("instrument_did", "city_instrument_did"):
        assert "reform_did" not in design(name).estimate_keys
        assert "instrument_did" in design(name).estimate_keys
    assert "instrument_did" not in design("reform_did").estimate_keys
    assert "reform_did" in design("reform_did").estimate_keys


def test_settings_need_the_filled_configuration(repo_root):
    """A section the schema did not fill is an error, not a silent second default."""
    raw = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    estimate = {k: v for k, v in raw["estimate"].items() if k != "inference"}
    with pytest.raises(KeyError, match="inference"):
        EventStudySettings.from_config(estimate)
