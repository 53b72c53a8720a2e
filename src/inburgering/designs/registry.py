"""Every estimating rule of the workflow, declared once.

The Snakemake rules (``workflow/rules/estimate.smk``), the gather of every design's estimate rows,
the export's side-table inputs, the benchmark names behind ``RUNTIMES.csv`` and the ``design``
values the tidy contract accepts (``contracts.tidy.DESIGNS``) are all derived from
:data:`REGISTRY`; adding a design means adding its entry here, its module with ``run(job)``, its
truth (``synth.truth``) and its report section (docs/extending.md).

This module imports nothing of the package, so the workflow and the contracts can read it
without loading any estimator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The ``estimate`` keys ``designs.event_study.EventStudySettings`` reads (every DiD design);
# each design adds its own section (``reform_did``, ``instrument_did``).
EVENT_STUDY_KEYS = (
    "horizons",
    "cities",
    "alpha",
    "covariates",
    "seed",
    "honestdid",
    "inference",
)
# The ``estimate`` keys the matching designs read; heterogeneity takes its outcomes from its own
# section (``matching.heterogeneity.outcomes``).
MATCHING_ESTIMATE_KEYS = ("outcomes", "horizons", "alpha")
HETEROGENEITY_ESTIMATE_KEYS = ("horizons", "alpha")
# The ``matching`` keys every matching design reads: ``designs.cells.MethodSpec`` (seed, minimum
# group sizes, sensitivity thresholds, overlap bins) and the missing-value indicators.
METHOD_KEYS = (
    "seed",
    "min_treated",
    "min_control",
    "overlap_bins",
    "sensitivity",
    "missing_indicator",
)
# ... and those the two matching designs add: level pooling, the covariate budget, refutations.
SAMPLE_KEYS = ("min_level", "events_per_variable", "refute")
# The policy calendar (config data.policies) and prepare's adoption table of every municipality.
POLICY_INPUTS = ("policies", "policies_table")

# The side tables of a single-city event study (designs.event_study.TABLES without estimates).
EVENT_STUDY_SIDES = ("pretrends", "honestdid", "inference", "uniform_bands")
# The side tables of a matching design that the export carries ...
MATCHING_SIDES = ("balance", "overlap", "sensitivity", "refutations")
# ... and those it only writes for the record (sample sizes per cell before/after matching).
MATCHING_RECORDS = ("samples",)


@dataclass(frozen=True)
class Scatter:
    """One wildcard of a scattered design: its values are the list at ``config`` (a dotted
    path into the configuration; a mapping gives its keys), each matching ``pattern``."""

    wildcard: str
    config: str
    pattern: str


@dataclass(frozen=True)
class Design:
    """One estimating rule.

    ``name`` is the rule and output-file name, ``rows`` the ``design`` value of its tidy
    rows (the G4 bundles of ``city_instrument_did`` are ``instrument_did`` rows), ``entry`` the
    "module:function" the rule runs. A scattered design runs ``entry`` once per combination of
    its ``scatter`` wildcards (``part`` names one such job, e.g. ``{outcome}_h{horizon}``; the
    wildcard values reach the job as params) and a gather job concatenates the parts.
    ``exported`` side tables go to the export; ``records`` are written for the record only.
    ``side_prefix`` is the file-name prefix of the side tables (reform_did's, the first design,
    carry none). Besides persons and outcomes the job reads the ``inputs`` named (see
    ``POLICY_INPUTS``), and as params only the ``estimate`` keys in ``estimate_keys`` and the
    ``matching`` keys in ``matching_keys`` (:meth:`params`): a rule reruns only when what it
    reads changes.
    """

    name: str
    entry: str
    rows: str
    estimate_keys: tuple[str, ...]
    matching_keys: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    exported: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    part: str | None = None
    scatter: tuple[Scatter, ...] = ()
    side_prefix: str | None = None

    @property
    def side_tables(self) -> tuple[str, ...]:
        return (*self.exported, *self.records)

    @property
    def tables(self) -> tuple[str, ...]:
        return ("estimates", *self.side_tables)

    def params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration a job of this design receives: its keys of ``estimate`` (keys the
        configuration lacks are left out) and, for a matching design, of ``matching``."""
        params = {"estimate": _subset(config["estimate"], self.estimate_keys)}
        if self.matching_keys:
            params["matching"] = _subset(config["matching"], self.matching_keys)
        return params

    def file(self, table: str) -> str:
        """The output file name (below ``estimates/``) of one of its tables."""
        if table == "estimates":
            return f"{self.name}.csv"
        prefix = f"{self.name}_" if self.side_prefix is None else self.side_prefix
        return f"{prefix}{table}.csv"


def _subset(section: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: section[key] for key in keys if key in section}


REGISTRY: tuple[Design, ...] = (
    Design(
        name="reform_did",
        entry="inburgering.designs.reform_did:run_part",
        rows="reform_did",
        estimate_keys=(*EVENT_STUDY_KEYS, "reform_did"),
        inputs=("policies",),
        exported=EVENT_STUDY_SIDES,
        part="{outcome}_h{horizon}",
        scatter=(
            Scatter("outcome", "estimate.outcomes", "[a-z_]+"),
            Scatter("horizon", "estimate.horizons", "[0-9]+"),
        ),
        side_prefix="",
    ),
    Design(
        name="instrument_did",
        entry="inburgering.designs.instrument_did:run",
        rows="instrument_did",
        estimate_keys=(*EVENT_STUDY_KEYS, "outcomes", "instrument_did"),
        inputs=POLICY_INPUTS,
    ),
    Design(
        name="city_instrument_did",
        entry="inburgering.designs.city_instrument_did:run",
        rows="instrument_did",
        estimate_keys=(*EVENT_STUDY_KEYS, "outcomes", "instrument_did"),
        inputs=POLICY_INPUTS,
        exported=EVENT_STUDY_SIDES,
    ),
    Design(
        name="route_matching",
        entry="inburgering.designs.matching:run_route",
        rows="route_matching",
        estimate_keys=MATCHING_ESTIMATE_KEYS,
        matching_keys=(*METHOD_KEYS, *SAMPLE_KEYS, "route"),
        exported=MATCHING_SIDES,
        records=MATCHING_RECORDS,
        part="{contrast}",
        scatter=(Scatter("contrast", "matching.route.contrasts", "[a-z0-9_]+"),),
    ),
    Design(
        name="city_matching",
        entry="inburgering.designs.matching:run_city",
        rows="city_matching",
        estimate_keys=MATCHING_ESTIMATE_KEYS,
        matching_keys=(*METHOD_KEYS, *SAMPLE_KEYS, "city"),
        exported=MATCHING_SIDES,
        records=MATCHING_RECORDS,
    ),
    Design(
        name="heterogeneity",
        entry="inburgering.designs.heterogeneity:run",
        rows="heterogeneity",
        estimate_keys=HETEROGENEITY_ESTIMATE_KEYS,
        # The route contrasts' settings: heterogeneity splits one of them into subgroups.
        matching_keys=(*METHOD_KEYS, "route", "heterogeneity"),
        exported=("sensitivity",),
        records=("samples", "cate_summary"),
    ),
)
# Descriptive estimate rows (not compared with a truth): the process indicators.
DESCRIPTIVE = ("process",)
# Every ``design`` value a tidy estimate row may carry.
ROW_DESIGNS = frozenset({design.rows for design in REGISTRY} | set(DESCRIPTIVE))


def design(name: str) -> Design:
    for entry in REGISTRY:
        if entry.name == name:
            return entry
    raise KeyError(f"no design {name!r} in the registry ({[d.name for d in REGISTRY]})")


def side_table_designs(table: str) -> list[Design]:
    """The designs that export a side table of this name, in registry order."""
    return [entry for entry in REGISTRY if table in entry.exported]


def exported_side_tables() -> list[str]:
    """Every exported side-table name, in order of first appearance."""
    return list(dict.fromkeys(table for entry in REGISTRY for table in entry.exported))
