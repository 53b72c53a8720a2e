"""The matching section of config.yaml: it validates, and a bad value is rejected by its key."""

from __future__ import annotations

import copy

import pytest

from inburgering.config import ConfigError, check_all, load_config


@pytest.fixture()
def full_config(repo_root):
    return load_config(repo_root / "config" / "config.yaml")


def test_shipped_matching_section_validates(full_config, repo_root):
    check_all(full_config, base=repo_root)
    assert {"route", "city", "heterogeneity"} <= set(full_config["matching"])


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("route", "headline"), "psm", "matching.route.headline"),
        (("route", "methods"), ["nearest", "lasso"], "matching.route.methods.1"),
        (("route", "trim"), 0.7, "matching.route.trim"),
        (("route", "graph"), ["age => treatment"], "matching.route.graph.0"),
        (("route", "contrasts"), {"z_vs_b1": "zz"}, "matching.route.contrasts.z_vs_b1"),
        (("city", "treated"), "rome", "matching.city.treated"),
        (("city", "exact"), ["cohort", "cohort"], "matching.city.exact"),
        (("heterogeneity", "learner"), "lasso", "matching.heterogeneity.learner"),
        (("heterogeneity", "target"), "atc", "matching.heterogeneity.target"),
        (("sensitivity", "gamma_min"), 0.5, "matching.sensitivity.gamma_min"),
        (("refute", "num_simulations"), 1, "matching.refute.num_simulations"),
    ],
)
def test_bad_value_names_the_key(full_config, path, value, named):
    broken = copy.deepcopy(full_config)
    broken["matching"][path[0]][path[1]] = value
    with pytest.raises(ConfigError, match=rf"key {named}"):
        check_all(broken)


def test_bad_nested_values(full_config):
    broken = copy.deepcopy(full_config)
    broken["matching"]["route"]["nearest"]["ratio"] = 0
    with pytest.raises(ConfigError, match=r"key matching\.route\.nearest\.ratio"):
        check_all(broken)
    broken = copy.deepcopy(full_config)
    broken["matching"]["heterogeneity"]["subgroups"]["age"] = {"column": "age", "edges": [0, 27]}
    with pytest.raises(ConfigError, match=r"key matching\.heterogeneity\.subgroups\.age"):
        check_all(broken)


def test_typo_is_rejected(full_config):
    broken = copy.deepcopy(full_config)
    broken["matching"]["route"]["covarites"] = ["age"]
    with pytest.raises(ConfigError, match="covarites"):
        check_all(broken)
