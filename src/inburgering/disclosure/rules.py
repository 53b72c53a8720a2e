"""The configured disclosure rules (`disclosure:` config section) as a typed, immutable object."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")


class DisclosureConfigError(ValueError):
    """The `disclosure:` configuration section is invalid (names the key and what was expected)."""


@dataclass(frozen=True)
class DominanceRule:
    """Suppress when the `n` largest absolute contributions exceed share `k` of the total."""

    n: int
    k: float


@dataclass(frozen=True)
class DisclosureRules:
    """All disclosure thresholds; build with :func:`load_rules` (never hard-code numbers)."""

    min_persons: int
    count_groups_separately: bool
    allow_zero_counts: bool
    min_residual_df: int
    percentile_min_each_side: int
    forbid_extremes: bool
    extreme_column_patterns: tuple[str, ...]
    group_disclosure: bool
    share_check_numerator: bool
    share_check_complement: bool
    dominance_min_persons: int
    dominance_rules: tuple[DominanceRule, ...]
    rounding_base: int | None
    secondary_suppression: bool
    min_persons_per_bin: int
    min_at_risk: int
    min_events_per_step: int
    figure_on_violation: str
    person_id_column_patterns: tuple[str, ...]
    count_column_patterns: tuple[str, ...]
    min_id_digits: int
    min_amount_digits: int
    rare_value_max_persons: int
    output_request: Mapping[str, Any]
    section: Mapping[str, Any]

    def describe(self) -> dict[str, str]:
        """One human-readable statement per rule, for the manifest and the output request form."""
        dominance = ", ".join(f"({r.n}, {r.k:g})" for r in self.dominance_rules)
        rounding = f"to multiples of {self.rounding_base}" if self.rounding_base else "not rounded"
        groups = "each group separately" if self.count_groups_separately else "groups summed"
        return {
            "min_persons": f"every published cell, share, mean and estimate rests on at least "
            f"{self.min_persons} persons ({groups})",
            "group_disclosure": "no share of 0% or 100% and no cell equal to its margin"
            if self.group_disclosure
            else "not applied",
            "shares": "persons with and without the attribute are each 0 or at least "
            f"{self.min_persons}",
            "dominance": f"sums/means of amounts: at least {self.dominance_min_persons} "
            f"persons and no (n, k) dominance for {dominance}",
            "percentiles": f"at least {self.percentile_min_each_side} observations strictly below "
            "and above every percentile",
            "residual_df": f"regressions have at least {self.min_residual_df} residual degrees of "
            "freedom",
            "extremes": "no minima, maxima or individual values"
            if self.forbid_extremes
            else "extremes allowed",
            "secondary_suppression": "complementary cells suppressed so that no suppressed cell "
            "can be recovered from published margins (audited by linear programming)"
            if self.secondary_suppression
            else "not applied",
            "rounding": f"counts {rounding}",
            "figures": f"every bin/bar/point >= {self.min_persons_per_bin} persons, survival risk "
            f"sets >= {self.min_at_risk}, steps >= {self.min_events_per_step} events; no scatter "
            "plots of individuals",
        }


@cache
def default_section() -> dict[str, Any]:
    """The default `disclosure:` section as shipped in defaults.yaml."""
    with open(DEFAULTS_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if key not in defaults:
            raise DisclosureConfigError(
                f"config key '{where}{key}' is unknown; expected one of {sorted(defaults)}"
            )
        if isinstance(defaults[key], Mapping) and defaults[key]:
            if not isinstance(value, Mapping):
                raise DisclosureConfigError(f"config key '{where}{key}' must be a mapping")
            merged[key] = _merge(defaults[key], value, f"{where}{key}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _validate(section: Mapping[str, Any], schema_path: str | os.PathLike[str]) -> None:
    import jsonschema

    with open(schema_path, encoding="utf-8") as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(section), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        key = ".".join(str(p) for p in first.path) or "disclosure"
        raise DisclosureConfigError(f"config key 'disclosure.{key}': {first.message}")


def _positive_int(section: Mapping[str, Any], key: str, minimum: int = 0) -> int:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DisclosureConfigError(
            f"config key 'disclosure.{key}' must be an integer >= {minimum}"
        )
    return value


def load_rules(
    section: Mapping[str, Any] | None = None,
    *,
    schema_path: str | os.PathLike[str] | None = None,
) -> DisclosureRules:
    """Build the rules from a `disclosure:` config section merged over the shipped defaults.

    Parameters
    ----------
    section
        The `disclosure:` mapping from the configuration (missing keys take the defaults).
    schema_path
        Optional path of ``src/inburgering/schemas/disclosure.schema.yaml``; when given, the merged
        section is validated against it (JSON Schema draft 2020-12).

    Returns
    -------
    DisclosureRules
    """
    merged = _merge(default_section(), section or {}, "disclosure.")
    if schema_path is not None:
        _validate(merged, schema_path)
    min_persons = _positive_int(merged, "min_persons", 1)
    figures, scan, dominance = merged["figures"], merged["leak_scan"], merged["dominance"]
    if figures["on_violation"] not in ("raise", "suppress"):
        raise DisclosureConfigError(
            "config key 'disclosure.figures.on_violation' must be 'raise' or 'suppress'"
        )
    rules = tuple(DominanceRule(int(r["n"]), float(r["k"])) for r in dominance["rules"])
    if any(r.n < 1 or not 0 < r.k <= 1 for r in rules):
        raise DisclosureConfigError(
            "config key 'disclosure.dominance.rules': need n >= 1 and 0 < k <= 1"
        )
    return DisclosureRules(
        min_persons=min_persons,
        count_groups_separately=bool(merged["count_groups_separately"]),
        allow_zero_counts=bool(merged["allow_zero_counts"]),
        min_residual_df=_positive_int(merged, "min_residual_df"),
        percentile_min_each_side=_positive_int(merged, "percentile_min_each_side", 1),
        forbid_extremes=bool(merged["forbid_extremes"]),
        extreme_column_patterns=tuple(merged["extreme_column_patterns"]),
        group_disclosure=bool(merged["group_disclosure"]),
        share_check_numerator=bool(merged["shares"]["check_numerator"]),
        share_check_complement=bool(merged["shares"]["check_complement"]),
        dominance_min_persons=int(dominance["min_persons"] or min_persons),
        dominance_rules=rules,
        rounding_base=merged["rounding"]["base"],
        secondary_suppression=bool(merged["secondary_suppression"]),
        min_persons_per_bin=int(figures["min_persons_per_bin"]),
        min_at_risk=int(figures["min_at_risk"]),
        min_events_per_step=int(figures["min_events_per_step"]),
        figure_on_violation=str(figures["on_violation"]),
        person_id_column_patterns=tuple(scan["person_id_column_patterns"]),
        count_column_patterns=tuple(scan["count_column_patterns"]),
        min_id_digits=int(scan["min_id_digits"]),
        min_amount_digits=int(scan["min_amount_digits"]),
        rare_value_max_persons=int(scan["rare_value_max_persons"] or min_persons),
        output_request=dict(merged["output_request"]),
        section=merged,
    )
