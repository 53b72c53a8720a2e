"""Configuration: every config file validates; a bad key or value stops with its name."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import inburgering
from inburgering.config import (
    SCHEMA_DIR,
    ConfigError,
    check_agreement,
    check_all,
    config_hash,
    deep_merge,
    fill_defaults,
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
    for overlay in ("small.yaml", "cbs_ra.yaml"):
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


def test_reform_date_must_agree_with_the_calendar(config, repo_root):
    broken = copy.deepcopy(config)
    broken["prepare"]["reform_date"] = "2021-07-01"
    with pytest.raises(ConfigError, match=r"key prepare.reform_date 2021-07-01 differs"):
        check_all(broken, base=repo_root)


def test_calendar_cities_must_be_the_contracts_g4(config, repo_root):
    policies = load_policies(repo_root / "config" / "policies.yaml")
    check_agreement(config, policies)  # the shipped calendar agrees with contracts.tidy
    reordered = copy.deepcopy(policies)
    reordered["municipalities"] = dict(reversed(list(policies["municipalities"].items())))
    with pytest.raises(ConfigError, match=r"cities \['utrecht'.*differ from the G4 cities"):
        check_agreement(config, reordered)
    missing = copy.deepcopy(policies)
    del missing["municipalities"]["utrecht"]
    with pytest.raises(ConfigError, match=r"differ from the G4 cities of the estimate contract"):
        check_agreement(config, missing)


@pytest.mark.parametrize(
    ("path", "named"),
    [(("estimate",), "estimate.horizons"), (("matching", "refute"), "matching.refute.horizons")],
)
def test_horizons_must_be_measured_by_prepare(config, repo_root, path, named):
    broken = copy.deepcopy(config)
    section = broken
    for key in path:
        section = section[key]
    section["horizons"] = [*section["horizons"], 48]
    with pytest.raises(ConfigError, match=rf"key {named}: horizons \[48\] are not in"):
        check_all(broken, base=repo_root)


def test_schema_defaults_are_filled_at_load(config, repo_root):
    path = repo_root / "config" / "config.yaml"
    assert "monte_carlo" not in read_yaml(path)["run"]
    assert config["run"]["monte_carlo"] is None
    given = load_config(path)
    given["run"].pop("monte_carlo")
    fill_defaults(given)
    assert given == config


def test_schemas_ship_inside_the_package():
    """Schemas are package data: found next to the installed module, not via the repository."""
    assert SCHEMA_DIR.parent == Path(inburgering.__file__).parent
    assert {path.name for path in SCHEMA_DIR.glob("*.schema.yaml")} == {
        "catalogue.schema.yaml",
        "config.schema.yaml",
        "disclosure.schema.yaml",
        "municipal_mergers.schema.yaml",
        "policies.schema.yaml",
    }
