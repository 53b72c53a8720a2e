"""What an exported table declares about itself, and what the check returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

TableKind = Literal["frequency", "share", "mean", "estimate", "percentile", "regression", "amount"]
TABLE_KINDS: tuple[str, ...] = (
    "frequency",
    "share",
    "mean",
    "estimate",
    "percentile",
    "regression",
    "amount",
)
# Columns with this prefix carry audit information computed inside RA (largest contributions,
# observations below/above a percentile). They are individual-level and never exported.
AUDIT_PREFIX = "_sdc_"
SUPPRESSED_COLUMN = "suppressed"


@dataclass(frozen=True)
class TableSpec:
    """Declaration of an exported table.

    Parameters
    ----------
    name
        File stem in the export (``{name}.csv``); letters, digits, ``_`` and ``-`` only.
    kind
        frequency (counts), share, mean, estimate (tidy estimate rows), percentile,
        regression (coefficient table) or amount (sums/means of money: dominance rules).
    count_columns
        Columns with the number of persons behind each row (e.g. ``n`` or
        ``n_treated, n_control``); every rule on persons uses them.
    group_columns
        Columns that identify a cell (breakdown variables / key columns).
    value_columns
        Published statistics that are suppressed together with their row.
    margins
        Breakdown columns that are exhaustive, mapped to the label of their total (e.g.
        ``{"city": "all", "cohort": "all"}``): the cells of each such column sum to the total
        cell, whether or not the total is a row of this table. Drives secondary suppression.
    universe
        Name of the population counted; tables with the same universe and matching cells share
        margins (cross-table secondary suppression). Defaults to ``name``.
    description
        Human-readable description for the manifest and the output request.
    df_column
        Residual degrees of freedom column (kind regression).
    share_scale
        1.0 if shares are fractions, 100.0 if percentages (kind share).
    funnel
        Group column whose rows (in table order) are nested subsets, e.g. the ``step`` of a
        sample-flow table: the persons dropped between consecutive steps are counts too, so
        each difference must be 0 or at least the threshold (checked within the other groups).
    stacked
        ``(name column, level column)`` of a long table that stacks several breakdowns (e.g.
        Table 1: ``variable`` = ``group``, ``level`` = ``statushouder``): a row's level is a
        value of the dimension its name column names, so its cells are the same cells as another
        table's breakdown by that dimension (a city's persons by group here and in a city x
        cohort x group table), and cross-table secondary suppression sees them. The level
        column's total label comes from ``margins``; each stacked breakdown is exhaustive.
    partial_totals
        Breakdown columns with a total row whose breakdown this table lists only in part,
        mapped to the total's label (composition: ``{"city": "all"}``, the national row beside
        the G4 cities only). The total shares its cell with other tables (Table 1's cities add
        up to it), so cross-table secondary suppression sees it; no equation within the table.
    published_margins
        Declared margins whose totals other tables publish without naming them as cells of
        this table: secondary suppression treats every total over these dimensions as known.
        Composition: ``("group",)``, a city's persons of one cohort quarter over all groups, are
        what a design counts (process indicators per cohort: persons with and without the
        event; an estimate's persons over whole cohorts, differenced across horizons and the
        uncertain slice); a withheld group of a quarter then needs a second withheld cell.
    """

    name: str
    kind: TableKind
    count_columns: tuple[str, ...] = ()
    group_columns: tuple[str, ...] = ()
    value_columns: tuple[str, ...] = ()
    margins: Mapping[str, str] = field(default_factory=dict)
    universe: str | None = None
    description: str = ""
    df_column: str | None = None
    share_scale: float = 1.0
    funnel: str | None = None
    stacked: tuple[str, str] | None = None
    partial_totals: Mapping[str, str] = field(default_factory=dict)
    published_margins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists from callers but keep the spec hashable and immutable.
        for attribute in ("count_columns", "group_columns", "value_columns", "published_margins"):
            object.__setattr__(self, attribute, tuple(getattr(self, attribute)))
        object.__setattr__(self, "margins", dict(self.margins))
        object.__setattr__(self, "partial_totals", dict(self.partial_totals))
        if self.stacked is not None:
            object.__setattr__(self, "stacked", tuple(self.stacked))

    @property
    def universe_name(self) -> str:
        return self.universe or self.name


@dataclass(frozen=True)
class CheckReport:
    """What the check did to one table or figure (goes into the manifest)."""

    rules_applied: tuple[str, ...]
    n_rows: int
    n_primary: int
    n_secondary: int
    underlying_counts: Mapping[str, tuple[int, int]]
    reasons: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def n_suppressed(self) -> int:
        return self.n_primary + self.n_secondary


@dataclass(frozen=True)
class CheckedTable:
    """A table that passed the rules: unsafe cells are missing, ``suppressed`` flags rows.

    ``frame`` is exactly what is exported; ``report.reasons`` (row, rule) is the internal audit
    log and stays inside RA because it says which cells were primary.
    """

    spec: TableSpec
    frame: pd.DataFrame
    report: CheckReport

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def description(self) -> str:
        return self.spec.description
