"""Configuration: every config file validates; a bad key or value stops with its name."""

from __future__ import annotations

import copy

import pytest

from inburgering.config import (
    ConfigError,
    check_all,
    config_hash,
    deep_merge,
    load_catalogue,
    load_config,
    load_policies,
    read_yaml,
)


@pytest.fixture()
def config(repo_root):
    return load_config(repo_root / "config" / "config.yaml")


def test_shipped_configs_validate(repo_root, config):
    check_all(config, base=repo_root)
    for overlay in ("national.yaml", "cbs_ra.yaml"):
        merged = deep_merge(config, read_yaml(repo_root / "config" / overlay))
        check_all(merged, base=repo_root)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("synth", "format"), "sas", "synth.format"),
        (("synth", "persons"), "many", "synth.persons"),
        (("prepare", "horizons"), [6, 6], "prepare.horizons"),
        (("estimate", "alpha"), 0.7, "estimate.alpha"),
        (("report", "language"), "de", "report.language"),
        (("prepare", "reform_date"), "2022-13-01", "prepare.reform_date"),
    ],
)
def test_bad_value_names_the_key(config, path, value, named):
    broken = copy.deepcopy(config)
    broken[path[0]][path[1]] = value
    with pytest.raises(ConfigError, match=rf"key {named}"):
        check_all(broken)


def test_typo_in_key_is_rejected(config):
    broken = copy.deepcopy(config)
    broken["estimate"]["bootstarp"] = 99
    with pytest.raises(ConfigError, match="bootstarp"):
        check_all(broken)


def test_unquoted_yaml_date_is_rejected(tmp_path, repo_root):
    text = (repo_root / "config" / "policies.yaml").read_text()
    bad = tmp_path / "policies.yaml"
    bad.write_text(text.replace('date: "2022-01-01"', "date: 2022-01-01"))
    with pytest.raises(ConfigError, match=r"key reform\.date"):
        load_policies(bad)


def test_policy_end_before_start(tmp_path, repo_root):
    text = (repo_root / "config" / "policies.yaml").read_text()
    bad = tmp_path / "policies.yaml"
    bad.write_text(
        text.replace(
            'utrecht: {start: "2023-03-01"}', 'utrecht: {start: "2023-03-01", end: "2020-01-01"}'
        )
    )
    with pytest.raises(ConfigError, match=r"kansrijke_start\.adoption\.utrecht"):
        load_policies(bad)


def test_catalogue_pattern_needs_extension_placeholder(tmp_path, repo_root):
    text = (repo_root / "config" / "catalogue.yaml").read_text()
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(
        text.replace("GBAPERSOON{year}TABV{version}.{ext}", "GBAPERSOON{year}TABV{version}.sav")
    )
    with pytest.raises(ConfigError, match=r"tables\.gba_persons\.pattern"):
        load_catalogue(bad)


def test_overlay_merges_recursively(config):
    merged = deep_merge(config, {"synth": {"persons": 500}})
    assert merged["synth"]["persons"] == 500
    assert merged["synth"]["format"] == config["synth"]["format"]


def test_config_hash_ignores_key_order(config):
    reordered = dict(reversed(list(config.items())))
    assert config_hash(reordered) == config_hash(config)
    changed = deep_merge(config, {"run": {"seed": config["run"]["seed"] + 1}})
    assert config_hash(changed) != config_hash(config)


def test_disclosure_section_is_checked_through_its_own_schema(config):
    broken = copy.deepcopy(config)
    broken["disclosure"]["min_persns"] = 5
    with pytest.raises(ConfigError, match="min_persns"):
        check_all(broken)
    broken = copy.deepcopy(config)
    broken["disclosure"]["min_persons"] = "ten"
    with pytest.raises(ConfigError, match=r"key disclosure\.min_persons"):
        check_all(broken)
