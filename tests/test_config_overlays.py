"""Overlays can replace an entry wholesale or drop it (`replace:` / `drop:`), not only merge."""

from __future__ import annotations

import re

import pytest
import yaml
from workflow_helpers import run_snakemake, write_overlay

from inburgering.cbs.catalogue import Catalogue
from inburgering.config import ConfigError, apply_layer, check_all, load_config


def test_plain_overlay_merges_like_snakemake():
    base = {"a": {"x": 1, "y": 2}, "b": [1, 2]}
    assert apply_layer(base, {"a": {"y": 3}, "b": [3]}, source="o") == {
        "a": {"x": 1, "y": 3},
        "b": [3],
    }


def test_replace_takes_the_overlay_value_wholesale_and_drop_removes():
    base = {"codes": {"route": {"b1": "1", "b1_entree": "4"}}, "sub": {"age": 1, "school": 2}}
    layer = {
        "replace": ["codes.route"],
        "drop": ["sub.school"],
        "codes": {"route": {"b1": "10"}},
    }
    merged = apply_layer(base, layer, source="o")
    assert merged == {"codes": {"route": {"b1": "10"}}, "sub": {"age": 1}}
    assert base["sub"] == {"age": 1, "school": 2}, "the base document is left unchanged"


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"replace": ["codes.route"]}, "replace lists 'codes.route', which this file does not set"),
        ({"drop": ["codes.typo"]}, "drop lists 'codes.typo', which is not in the config"),
        ({"drop": ["codes.route.b1.x"]}, "codes.route.b1 is not a mapping"),
        ({"drop": "codes.route"}, "key drop: expected a list of dotted keys"),
        ({"drop": ["codes"], "replace": ["codes"], "codes": {}}, "under both replace and drop"),
    ],
)
def test_bad_directives_name_the_file_and_key(layer, message):
    base = {"codes": {"route": {"b1": "1"}}}
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        apply_layer(base, layer, source="my_overlay.yaml")
    assert "my_overlay.yaml" in str(raised.value)


def _ra_overlay(path, results):
    """An RA mapping overlay: drop the schooling subgroup and a route contrast, replace codes."""
    return write_overlay(
        path,
        results,
        replace=["prepare.catalogue_overrides"],
        drop=[
            "matching.heterogeneity.subgroups.schooling",
            "matching.route.contrasts.onderwijs_vs_b1",
        ],
        prepare={
            "catalogue_overrides": {
                "replace": ["codes.route"],
                "codes": {"route": {"b1": "B1", "onderwijs": "OND", "z": "Z"}},
            }
        },
    )


def test_overlay_result_validates_and_reaches_the_catalogue(tmp_path, repo_root):
    overlay = _ra_overlay(tmp_path / "ra.yaml", tmp_path / "results")
    config = load_config(repo_root / "config" / "config.yaml", overlay)
    check_all(config, base=repo_root)
    assert "schooling" not in config["matching"]["heterogeneity"]["subgroups"]
    assert set(config["matching"]["heterogeneity"]["subgroups"]) == {"age", "sex", "group"}
    assert list(config["matching"]["route"]["contrasts"]) == ["z_vs_b1"]
    assert "replace" not in config and "drop" not in config
    catalogue = Catalogue.from_config(config, base=repo_root)
    assert catalogue.codes["route"] == {"b1": "B1", "onderwijs": "OND", "z": "Z"}


def test_workflow_applies_overlay_directives_before_building_the_dag(tmp_path):
    overlay = _ra_overlay(tmp_path / "ra.yaml", tmp_path / "results")
    completed = run_snakemake("--dry-run", "--configfile", str(overlay), timeout=600)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    counts = dict(re.findall(r"^(route_matching_part)\s+(\d+)$", completed.stdout, re.M))
    assert counts == {"route_matching_part": "1"}, completed.stdout


def test_workflow_names_a_bad_directive_before_any_work(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(yaml.safe_dump({"drop": ["matching.heterogeneity.subgroups.schoolin"]}))
    completed = run_snakemake("--dry-run", "--configfile", str(overlay), timeout=600)
    assert completed.returncode != 0
    assert "matching.heterogeneity.subgroups.schoolin" in completed.stderr + completed.stdout
    assert str(overlay) in completed.stderr + completed.stdout
