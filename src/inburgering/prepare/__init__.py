"""Validation, linkage and the canonical analysis tables (persons, outcomes, sample flow)."""

from inburgering.prepare.tables import SampleFlow, build_outcomes, build_persons, parse_dates

__all__ = ["SampleFlow", "build_outcomes", "build_persons", "parse_dates"]
