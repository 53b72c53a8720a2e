"""Validation, linkage and the canonical analysis tables (DESIGN.md "Canonical analysis tables").

``build_persons`` (persons + sample flow), ``build_outcomes`` / ``write_person_months``
(register outcomes), ``build_policies`` (municipality_policies) and the ``DataQuality`` ledger;
``inburgering.prepare.stage:run`` is the Snakemake entry point.
"""

from inburgering.prepare.flow import SampleFlow
from inburgering.prepare.outcomes import build_outcomes, write_person_months
from inburgering.prepare.persons import build_persons
from inburgering.prepare.policies import build_policies
from inburgering.prepare.quality import RULES, DataQuality
from inburgering.prepare.settings import Settings
from inburgering.prepare.sources import Sources

__all__ = [
    "RULES",
    "DataQuality",
    "SampleFlow",
    "Settings",
    "Sources",
    "build_outcomes",
    "build_persons",
    "build_policies",
    "write_person_months",
]
