"""Loading and validating configuration: the main config, the policy calendar, the catalogue.

Every config file has a JSON schema in ``workflow/schemas/``; a bad value stops the run before
any work, naming the file, the key and what was expected (DESIGN.md, "Contracts").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"


class ConfigError(ValueError):
    """A configuration file breaks its schema or refers to something that does not exist."""


def schema_path(name: str) -> Path:
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    if not path.exists():
        raise ConfigError(f"schema {name!r} not found at {path}")
    return path


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return content


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge overlay into base the way Snakemake layers --configfile files (dicts recursively)."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _schema_registry() -> Registry:
    """Every schema file, addressable by its file name (for "$ref": "disclosure.schema.yaml")."""
    resources = [
        (path.name, Resource.from_contents(read_yaml(path), default_specification=DRAFT202012))
        for path in sorted(SCHEMA_DIR.glob("*.schema.yaml"))
    ]
    return Registry().with_resources(resources)


def validate(document: Mapping[str, Any], schema: str, *, source: str) -> None:
    """Validate against a named schema; raise ConfigError listing every violation by key."""
    schema_doc = read_yaml(schema_path(schema))
    validator = jsonschema.Draft202012Validator(
        schema_doc,
        registry=_schema_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - key {_key_path(e)}: {e.message}" for e in errors]
        raise ConfigError(f"{source} does not match {schema}.schema.yaml:\n" + "\n".join(lines))


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Read and merge config files (later ones override earlier ones), then validate."""
    if not paths:
        raise ConfigError("no config file given")
    merged: dict[str, Any] = {}
    for path in paths:
        merged = deep_merge(merged, read_yaml(path))
    validate(merged, "config", source=" + ".join(str(p) for p in paths))
    return merged


def load_policies(path: str | Path) -> dict[str, Any]:
    policies = read_yaml(path)
    validate(policies, "policies", source=str(path))
    cities = set(policies["municipalities"])
    for name, instrument in policies["instruments"].items():
        for city, spell in instrument["adoption"].items():
            if city not in cities:
                raise ConfigError(f"{path}: key instruments.{name}.adoption.{city}: unknown city")
            if "end" in spell and spell["end"] <= spell["start"]:
                raise ConfigError(
                    f"{path}: key instruments.{name}.adoption.{city}: end {spell['end']} "
                    f"is not after start {spell['start']}"
                )
    return policies


def load_catalogue(path: str | Path) -> dict[str, Any]:
    catalogue = read_yaml(path)
    validate(catalogue, "catalogue", source=str(path))
    return catalogue


def check_all(config: Mapping[str, Any], *, base: str | Path = ".") -> None:
    """Validate the main config and every config file it points to (used at workflow start)."""
    validate(config, "config", source="configuration")
    base = Path(base)
    for key in ("policies", "catalogue"):
        if not (base / config["data"][key]).exists():
            raise ConfigError(
                f"configuration: key data.{key}: file {config['data'][key]} does not exist"
            )
    load_policies(base / config["data"]["policies"])
    load_catalogue(base / config["data"]["catalogue"])
    check_primary(config["primary"], config["estimate"])
    synth = config.get("synth")
    if config["data"]["source"] == "synthetic" and synth is None:
        raise ConfigError("configuration: key synth is required when data.source is synthetic")
    if synth and synth["first_cohort"] > synth["last_cohort"]:
        raise ConfigError(
            f"configuration: key synth.first_cohort {synth['first_cohort']} is after "
            f"synth.last_cohort {synth['last_cohort']}"
        )


def check_primary(primary: Mapping[str, Any], estimate: Mapping[str, Any]) -> None:
    """The primary family must be estimated: its city, outcomes and horizons among the reform
    design's (``estimate``); its comparisons (rest_nl or G4 cities, by the schema) exclude it."""
    wanted = {
        "city": ([primary["city"]], estimate["cities"], "estimate.cities"),
        "outcomes": (list(primary["outcomes"]), estimate["outcomes"], "estimate.outcomes"),
        "horizons": (primary["horizons"], estimate["horizons"], "estimate.horizons"),
    }
    for key, (values, allowed, where) in wanted.items():
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ConfigError(
                f"configuration: key primary.{key}: {unknown} not in {where} ({list(allowed)})"
            )
    if primary["city"] in primary["comparisons"]:
        raise ConfigError(
            f"configuration: key primary.comparisons: contains the focal city {primary['city']}"
        )


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable hash of a configuration (key order does not matter)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
