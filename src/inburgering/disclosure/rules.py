"""The configured disclosure rules (`disclosure:` config section) as a typed, immutable object."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from inburgering.config import fill_defaults, read_yaml, schema_path

SCHEMA = "disclosure"  # schemas/disclosure.schema.yaml: the one source of keys and defaults


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


def default_section() -> dict[str, Any]:
    """The default `disclosure:` section: every ``default`` of disclosure.schema.yaml."""
    section: dict[str, Any] = {}
    fill_defaults(section, SCHEMA)
    return section


def _unexpected(error: jsonschema.ValidationError) -> list[str]:
    """The unknown keys an ``additionalProperties`` error is about (named in the message)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, Mapping):
        return []
    return sorted(set(error.instance) - set(error.schema.get("properties", {})))


def _validate(section: Mapping[str, Any]) -> None:
    schema = read_yaml(schema_path(SCHEMA))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(section), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        path = ["disclosure", *(str(p) for p in first.path)]
        key = ".".join(path + _unexpected(first)[:1])
        raise DisclosureConfigError(f"config key '{key}': {first.message}")


def load_rules(section: Mapping[str, Any] | None = None) -> DisclosureRules:
    """Build the rules from a `disclosure:` config section, validated against
    ``src/inburgering/schemas/disclosure.schema.yaml`` and filled with its defaults.

    The workflow validates and fills the section once at start-up (``config.check_all``,
    ``config.fill_defaults``) and its stage calls :func:`rules_from_section`; this is the entry
    for a section from anywhere else (a script in RA, the tests).

    Parameters
    ----------
    section
        The `disclosure:` mapping (missing keys take the schema's defaults).

    Returns
    -------
    DisclosureRules
    """
    merged = copy.deepcopy(dict(section or {}))
    _validate(merged)
    fill_defaults(merged, SCHEMA)
    return rules_from_section(merged)


def rules_from_section(merged: Mapping[str, Any]) -> DisclosureRules:
    """The rules of a complete, validated `disclosure:` section (every key present)."""
    min_persons = int(merged["min_persons"])
    figures, scan, dominance = merged["figures"], merged["leak_scan"], merged["dominance"]
    rules = tuple(DominanceRule(int(r["n"]), float(r["k"])) for r in dominance["rules"])
    return DisclosureRules(
        min_persons=min_persons,
        count_groups_separately=bool(merged["count_groups_separately"]),
        allow_zero_counts=bool(merged["allow_zero_counts"]),
        min_residual_df=int(merged["min_residual_df"]),
        percentile_min_each_side=int(merged["percentile_min_each_side"]),
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
        section=dict(merged),
    )
