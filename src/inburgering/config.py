"""Loading and validating configuration: the main config, the policy calendar, the catalogue.

Every config file has a JSON schema in ``inburgering/schemas/`` (package data, so an installed
package finds them); a bad value stops the run before any work, naming the file, the key and what
was expected (DESIGN.md, "Contracts").
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from inburgering.contracts.tidy import G4_CITIES

SCHEMA_DIR = Path(str(files("inburgering") / "schemas"))


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


# Top-level keys of an overlay file that edit the layers below instead of being merged into them:
# Snakemake (and deep_merge) merge mappings key by key, so without these an overlay could add or
# change an entry of config/config.yaml but never remove one (a placeholder code, a subgroup).
OVERLAY_DIRECTIVES = ("replace", "drop")


def _dotted_parent(document: dict[str, Any], key: str, *, source: str) -> tuple[dict, str]:
    """The mapping that holds the last part of a dotted key (``a.b.c`` -> document[a][b], c)."""
    *parents, last = key.split(".")
    node: Any = document
    for depth, part in enumerate(parents):
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            path = ".".join(parents[: depth + 1])
            raise ConfigError(f"{source}: key {key!r}: {path} is not a mapping in the config")
    return node, last


_ABSENT = object()


def _lookup(document: Mapping[str, Any], key: str) -> Any:
    node: Any = document
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _directive_keys(layer: Mapping[str, Any], name: str, *, source: str) -> list[str]:
    keys = layer.get(name, [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(f"{source}: key {name}: expected a list of dotted keys such as a.b.c")
    return keys


def apply_layer(
    base: Mapping[str, Any], layer: Mapping[str, Any], *, source: str
) -> dict[str, Any]:
    """Layer one overlay on base: merge it, then apply its ``replace`` and ``drop`` lists.

    ``replace: [a.b]`` makes the layer's value of ``a.b`` replace the base value wholesale (no
    key of the base value survives); ``drop: [a.b]`` removes ``a.b`` from the result. Keys are
    dotted paths from the top of the document. A layer without these lists merges exactly like
    Snakemake's ``--configfile``.
    """
    replace = _directive_keys(layer, "replace", source=source)
    drop = _directive_keys(layer, "drop", source=source)
    if both := sorted(set(replace) & set(drop)):
        raise ConfigError(f"{source}: keys {both} are listed under both replace and drop")
    content = {k: v for k, v in layer.items() if k not in OVERLAY_DIRECTIVES}
    merged = deep_merge(copy.deepcopy(dict(base)), content)
    for key in replace:
        value = _lookup(content, key)
        if value is _ABSENT:
            raise ConfigError(f"{source}: key replace lists {key!r}, which this file does not set")
        parent, last = _dotted_parent(merged, key, source=f"{source} (replace)")
        parent[last] = copy.deepcopy(value)
    for key in drop:
        parent, last = _dotted_parent(merged, key, source=f"{source} (drop)")
        if last not in parent:
            raise ConfigError(f"{source}: key drop lists {key!r}, which is not in the config")
        del parent[last]
    return merged


def layer_configs(layers: list[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Apply (source, content) layers in order, later ones over earlier ones (see apply_layer)."""
    merged: dict[str, Any] = {}
    for source, layer in layers:
        merged = apply_layer(merged, layer, source=source)
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
    """Read and layer config files (later ones over earlier ones, see apply_layer), validate,
    then fill the schema's defaults."""
    if not paths:
        raise ConfigError("no config file given")
    merged = layer_configs([(str(path), read_yaml(path)) for path in paths])
    validate(merged, "config", source=" + ".join(str(p) for p in paths))
    fill_defaults(merged)
    return merged


def _resolved(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """A property's schema with a reference to another schema file (``$ref:
    disclosure.schema.yaml``) replaced by that file, so its defaults are filled too."""
    ref = spec.get("$ref", "")
    if not ref or ref.startswith("#"):
        return spec
    return {**read_yaml(SCHEMA_DIR / ref), **{k: v for k, v in spec.items() if k != "$ref"}}


def _fill(document: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for key, spec in schema.get("properties", {}).items():
        spec = _resolved(spec)
        if key not in document and "default" in spec:
            document[key] = copy.deepcopy(spec["default"])
        if isinstance(document.get(key), dict):
            _fill(document[key], spec)


def fill_defaults(config: dict[str, Any], schema: str = "config") -> None:
    """Add every absent key that has a ``default`` in the schema, in place, so the stages read
    one complete configuration (the schema is the one place for defaults)."""
    _fill(config, read_yaml(schema_path(schema)))


def section_defaults(section: str) -> dict[str, Any]:
    """The schema's defaults of one top-level config section: what ``fill_defaults`` gives an
    empty section (for scripts and tests that build settings without a config file)."""
    document: dict[str, Any] = {section: {}}
    fill_defaults(document)
    return document[section]


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


def resolve_data_root(root: str, base: str | PurePath, flavour: type[PurePath] = Path) -> PurePath:
    """``data.root`` as a folder: absolute as written, or relative to the workflow folder.

    ``flavour`` is the path type of the machine (``Path``; tests pass ``PureWindowsPath`` to
    check RA's Windows paths on any machine). ``G:/Bevolking`` and ``G:\\Bevolking`` are the
    same absolute folder on Windows; ``G:`` or ``G:Bevolking`` (no slash after the drive) mean
    "the current folder of drive G", which differs between sessions, so they are refused.
    """
    path = flavour(root)
    if path.drive and not path.root and isinstance(path, PureWindowsPath):
        raise ConfigError(
            f"configuration: key data.root: {root!r} has no slash after the drive, so it is "
            f"relative to the current folder of drive {path.drive}; write {path.drive + '/'!r} "
            "for the drive's top folder"
        )
    return path if path.is_absolute() else flavour(base) / path


def check_all(config: Mapping[str, Any], *, base: str | Path = ".") -> None:
    """Validate the main config and every config file it points to (used at workflow start)."""
    validate(config, "config", source="configuration")
    base = Path(base)
    for key in ("policies", "catalogue"):
        if not (base / config["data"][key]).exists():
            raise ConfigError(
                f"configuration: key data.{key}: file {config['data'][key]} does not exist"
            )
    check_agreement(config, load_policies(base / config["data"]["policies"]))
    load_catalogue(base / config["data"]["catalogue"])
    resolve_data_root(config["data"]["root"], base, PureWindowsPath)  # RA is Windows
    check_primary(config["primary"], config["estimate"])
    synth = config.get("synth")
    if config["data"]["source"] == "synthetic" and synth is None:
        raise ConfigError("configuration: key synth is required when data.source is synthetic")
    if synth and synth["first_cohort"] > synth["last_cohort"]:
        raise ConfigError(
            f"configuration: key synth.first_cohort {synth['first_cohort']} is after "
            f"synth.last_cohort {synth['last_cohort']}"
        )


def check_agreement(config: Mapping[str, Any], policies: Mapping[str, Any]) -> None:
    """Facts stated in more than one place must agree: the reform date of the policy calendar
    and of prepare (which splits the cohorts by law), the calendar's G4 cities and the estimate
    contract's, and the horizons each stage uses must be
    horizons that prepare measures."""
    calendar_date = str(policies["reform"]["date"])
    if str(config["prepare"]["reform_date"]) != calendar_date:
        raise ConfigError(
            f"configuration: key prepare.reform_date {config['prepare']['reform_date']} differs "
            f"from reform.date {calendar_date} of {config['data']['policies']}"
        )
    cities = list(policies["municipalities"])
    if cities != list(G4_CITIES):
        raise ConfigError(
            f"configuration: key municipalities of {config['data']['policies']}: cities {cities} "
            f"differ from the G4 cities of the estimate contract {list(G4_CITIES)} "
            "(inburgering.contracts.tidy.G4_CITIES; same keys, same order)"
        )
    measured = set(config["prepare"]["horizons"])
    used = {
        "estimate.horizons": config["estimate"]["horizons"],
        "matching.refute.horizons": config["matching"]["refute"]["horizons"],
    }
    for key, horizons in used.items():
        missing = sorted(set(horizons) - measured)
        if missing:
            raise ConfigError(
                f"configuration: key {key}: horizons {missing} are not in prepare.horizons "
                f"{sorted(measured)} (outcomes are only measured there)"
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
