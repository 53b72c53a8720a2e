"""The `disclosure:` config section: schema, defaults, sources, errors."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from disclosure_helpers import SCHEMA

from inburgering.config import load_config, read_yaml
from inburgering.disclosure import DisclosureConfigError, load_rules
from inburgering.disclosure.rules import default_section, rules_from_section


def _schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))


def _walk(schema: dict, path: str = "disclosure"):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{key}")


def test_defaults_validate_against_schema():
    jsonschema.Draft202012Validator.check_schema(_schema())
    jsonschema.Draft202012Validator(_schema()).validate(default_section())


def test_the_schema_is_the_one_source_of_defaults(tmp_path):
    """config/config.yaml holds no second copy; loading fills the section from the schema, and
    an overlay that sets one key keeps the schema's defaults for the others."""
    repo = Path(__file__).resolve().parents[2]
    assert read_yaml(repo / "config" / "config.yaml")["disclosure"] == {}
    assert load_config(repo / "config" / "config.yaml")["disclosure"] == default_section()
    assert default_section()["min_persons"] == _schema()["properties"]["min_persons"]["default"]
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("disclosure: {min_persons: 15, figures: {min_at_risk: 20}}\n")
    section = load_config(repo / "config" / "config.yaml", overlay)["disclosure"]
    assert section["min_persons"] == 15 and section["figures"]["min_at_risk"] == 20
    assert section["figures"]["min_events_per_step"] == 10
    assert section["leak_scan"] == default_section()["leak_scan"]
    assert rules_from_section(section) == load_rules(section)


def test_every_key_documents_type_default_source_and_verification():
    for path, node in _walk(_schema()):
        assert "description" in node, path
        if path == "disclosure":
            continue
        assert "type" in node and "default" in node, path
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, path
        if path.count(".") == 1:  # top-level keys name their source
            assert "verify against the current cbs output guidelines in ra" in (
                node["description"].lower()
            ), path
    assert _schema()["additionalProperties"] is False


def test_reference_numbers_are_the_defaults():
    rules = load_rules()
    assert rules.min_persons == 10 and rules.min_residual_df == 10
    assert rules.percentile_min_each_side == 10
    assert [(r.n, r.k) for r in rules.dominance_rules] == [(1, 0.30)]
    assert rules.rounding_base is None and rules.forbid_extremes


def test_researchers_change_numbers_not_code():
    rules = load_rules(
        {"min_persons": 5, "rounding": {"base": 5}, "dominance": {"rules": [{"n": 2, "k": 0.75}]}}
    )
    assert rules.min_persons == 5 and rules.rounding_base == 5
    assert rules.dominance_rules[0].n == 2 and rules.min_at_risk == 10


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"min_person": 10}, "disclosure.min_person"),
        ({"figures": {"bins": 3}}, "disclosure.figures.bins"),
        ({"min_persons": 0}, "min_persons"),
        ({"figures": {"on_violation": "warn"}}, "on_violation"),
    ],
)
def test_bad_config_names_the_key(section, message):
    with pytest.raises(DisclosureConfigError, match=message):
        load_rules(section)
