"""The exported side tables, declared once: key, count and value columns, and the renames from
the columns the designs write (``results/estimates/``) to the exported ones (``results/export/``).

``disclosure.assemble`` builds each table's disclosure spec from here; ``report.inputs`` (the
columns the reports read) and docs/report-inputs.md are checked against it by the tests, so
the three cannot drift apart. Every side table joins its estimate rows on
``contracts.tidy.CELL_COLUMNS`` (its first columns, as the designs write them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from inburgering.contracts.tidy import CELL_COLUMNS

# Persons behind a side-table statistic: joined from the estimate rows it belongs to.
COUNTS = ("n_treated", "n_control")


@dataclass(frozen=True)
class SideTable:
    """One exported side table. ``keys`` are its group columns (``optional`` ones only where
    the design writes them), ``values`` its statistics; ``renames`` maps a column as the
    designs write it to its exported name."""

    name: str
    description: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    counts: tuple[str, ...] = COUNTS
    renames: Mapping[str, str] = field(default_factory=dict)
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the exported table that is always there."""
        present = (*self.keys, *self.values, *self.counts)
        return tuple(column for column in present if column not in self.optional)


# The pre-trend tests of an event study, each read from its own columns of the design's row.
PRETREND_TESTS: Mapping[str, Mapping[str, str]] = {
    "wald": {"wald_stat": "statistic", "wald_df": "df", "wald_p": "p_value"},
    "linear_slope": {"slope": "statistic", "slope_p": "p_value"},
}
# The sensitivity measures: the design's wide columns -> the ``measure`` values exported.
SENSITIVITY_MEASURES: Mapping[str, str] = {
    "evalue_point": "e_value",
    "evalue_ci": "e_value_ci",
    "rosenbaum_gamma": "rosenbaum_gamma",
}
# The arms of an overlap histogram: the design's count columns -> the ``arm`` values exported.
OVERLAP_ARMS: Mapping[str, str] = {"n_treated": "treated", "n_control": "control"}
# The one inference method the event-study designs write to ``inference``.
RANDOMIZATION = "randomization"

SIDE_TABLES: Mapping[str, SideTable] = {
    table.name: table
    for table in (
        SideTable(
            "pretrends",
            "joint Wald test of the event-study leads and a linear pre-trend slope",
            keys=(*CELL_COLUMNS, "test"),
            values=("statistic", "df", "p_value"),
        ),
        SideTable(
            "honestdid",
            "Rambachan-Roth robust intervals and breakdown values per city",
            keys=(*CELL_COLUMNS, "method", "m"),
            values=("lb", "ub", "ci_low", "ci_high", "breakdown", "fragile"),
            renames={"restriction": "method", "M": "m"},
        ),
        SideTable(
            "inference",
            "randomization inference for each city's headline reform effect",
            keys=(*CELL_COLUMNS, "method"),
            values=(
                "p_value",
                "p_floor",
                "ri_q",
                "t",
                "n_placebos",
                "n_clusters",
                "ci_low",
                "ci_high",
            ),
            renames={"ri_p": "p_value", "ri_floor": "p_floor", "ri_placebos": "n_placebos"},
        ),
        SideTable(
            "uniform_bands",
            "sup-t simultaneous confidence bands of each city's event study",
            keys=(*CELL_COLUMNS, "estimator", "event_time"),
            values=("band_low", "band_high", "critical_value"),
        ),
        SideTable(
            "balance",
            "covariate balance before and after matching or weighting (cobalt-style)",
            keys=(*CELL_COLUMNS, "estimator", "covariate"),
            # before/after statistics in the order matching.balance writes them
            values=(
                "binary",
                *(
                    f"{statistic}_{when}"
                    for when in ("before", "after")
                    for statistic in (
                        "mean_treated",
                        "mean_control",
                        "smd",
                        "var_ratio",
                        "ecdf_mean",
                        "ks",
                    )
                ),
            ),
            # The largest eCDF difference is the Kolmogorov-Smirnov statistic of the two
            # groups, not an individual's value: named as such so the no-extremes rule does
            # not mistake it for a maximum.
            renames={"ecdf_max_before": "ks_before", "ecdf_max_after": "ks_after"},
            optional=("estimator",),
        ),
        SideTable(
            "overlap",
            "propensity-score histogram per arm (bins pooled to at least the threshold)",
            keys=(*CELL_COLUMNS, "estimator", "arm", "bin_low", "bin_high"),
            values=(),
            counts=("n",),
            optional=("estimator",),
        ),
        SideTable(
            "sensitivity",
            "sensitivity to unobserved confounding (E-values, Rosenbaum critical Gamma)",
            keys=(*CELL_COLUMNS, "subgroup", "estimator", "measure"),
            values=("value", "fragile"),
            optional=("subgroup", "estimator"),
        ),
        SideTable(
            "refutations",
            "dowhy refutation checks (placebo treatment, random common cause, subset)",
            keys=(*CELL_COLUMNS, "check"),
            values=("original_estimate", "estimate", "ci_low", "ci_high", "p_value", "passed"),
            renames={"refuter": "check", "estimate": "original_estimate", "new_effect": "estimate"},
        ),
    )
}


# Table 1 of the reports: persons per settlement city and level of each configured
# characteristic at the obligation start (config ``descriptives``), computed from the prepared
# person table by the export rule. Level ``TOTAL_LEVEL`` is each city's total for the variable
# (persons, unknown values included): the margin the levels are protected against.
TOTAL_LEVEL = "all"
UNKNOWN_LEVEL = "missing"
DESCRIPTIVES = SideTable(
    "descriptives",
    "persons per settlement city and level of each characteristic at the obligation start",
    keys=("city", "variable", "level"),
    values=(),
    counts=("n",),
)
