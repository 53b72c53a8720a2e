"""Assemble the export tables from the stage outputs, each with its disclosure spec.

The designs write their side tables in the shape that suits them (one file per design, wide
sensitivity columns, refuter names); the reports read the export contract
(``inburgering.report.inputs``, docs/report-inputs.md). The columns, renames and counts of every
exported side table are declared in :mod:`inburgering.contracts.side_tables`; this module
reshapes the design files accordingly and attaches each table's disclosure spec, so the CBS
rules in :mod:`inburgering.disclosure` can check it. Counts that a side table lacks are joined
from the estimate rows it belongs to: a statistic is only as safe as the persons behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inburgering.contracts.side_tables import (
    COUNTS,
    DESCRIPTIVES,
    OVERLAP_ARMS,
    PRETREND_TESTS,
    RANDOMIZATION,
    SENSITIVITY_MEASURES,
    SIDE_TABLES,
    TOTAL_LEVEL,
    UNKNOWN_LEVEL,
    SideTable,
)
from inburgering.contracts.tidy import CELL_COLUMNS, KEY_COLUMNS, TIDY_COLUMNS, VALUE_COLUMNS
from inburgering.contracts.verdict import INTERNAL_COLUMNS as VERDICT_INTERNAL
from inburgering.designs.registry import DESCRIPTIVE
from inburgering.disclosure.files import read_table
from inburgering.disclosure.primary import primary_row_masks
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.spec import AUDIT_PREFIX, TableSpec
from inburgering.disclosure.summaries import tidy_estimates_spec
from inburgering.disclosure.tables import check_table
from inburgering.workflow import StageError

Item = tuple[pd.DataFrame, TableSpec]
LABELS = ("estimator", "headline", "inference")  # describe the row: never suppressed

# The specs of the tables assembled here (the export audit reads an export folder with them).
SAMPLE_FLOW = TableSpec(
    "sample_flow",
    "frequency",
    count_columns=("persons",),
    group_columns=("step", "city"),
    funnel="step",
    universe="persons",
    description="persons remaining after every selection step, by settlement city",
)
DATA_QUALITY = TableSpec(
    "data_quality",
    "frequency",
    count_columns=("count",),
    group_columns=("rule", "table", "column", "action"),
    value_columns=("rows_checked", "description"),
    description="rows found by every validation rule (fatal rules are always 0 in a run)",
)
COMPOSITION = TableSpec(
    "composition",
    "frequency",
    count_columns=("n",),
    group_columns=("city", "cohort", "group"),
    # Per-city totals are published in the sample flow: protect cells against subtraction.
    margins={"cohort": "all", "group": "all"},
    # The national row: Table 1's cities (G4 and the rest) add up to it, this table lists G4 only.
    partial_totals={"city": "all"},
    # A city's persons of a cohort quarter over all groups are published by the designs (each
    # process indicator per cohort: persons with and without the event; estimates over whole
    # cohorts, differenced across horizons and the uncertain slice).
    published_margins=("group",),
    universe="persons",
    description="persons by settlement city, cohort quarter and group",
)
ROUTE_MIX = TableSpec(
    "route_mix",
    "frequency",
    count_columns=("n",),
    group_columns=("city", "cohort", "route"),
    value_columns=("share", "n_total"),
    margins={"route": "all", "cohort": "all"},
    description="initial learning route of new-law persons with a known route",
)
OUTCOME_TRENDS = TableSpec(
    "outcome_trends",
    "share",
    count_columns=(f"{AUDIT_PREFIX}n",),
    group_columns=("city", "cohort", "outcome", "horizon"),
    value_columns=("share",),
    description="raw outcome shares by city, cohort quarter and horizon",
)
DESCRIPTIVES_SPEC = TableSpec(
    DESCRIPTIVES.name,
    "frequency",
    count_columns=DESCRIPTIVES.counts,
    group_columns=DESCRIPTIVES.keys,
    # Every person is in one of its cities (G4 and rest_nl): they add up to the national
    # totals of composition's national row, and each level to the city's total.
    margins={"level": TOTAL_LEVEL, "city": TOTAL_LEVEL},
    # Its city x group cells are composition's city x group totals over cohorts.
    universe="persons",
    stacked=("variable", "level"),
    description=DESCRIPTIVES.description,
)


def concat(paths: Iterable[str | Path]) -> pd.DataFrame:
    frames = [read_table(p) for p in paths]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def estimates_item(
    estimates: pd.DataFrame,
    rules: DisclosureRules,
    table_1: pd.DataFrame | None = None,
    slices: Mapping[str, int] | None = None,
) -> Item:
    """Every design's tidy rows; the descriptive rows per cohort are withheld first where their
    total over cohorts would give them away (:func:`withhold_cohort_rows`), subgroup rows
    where the level they leave out would follow by subtraction
    (:func:`withhold_partial_breakdowns`, against Table 1 when it is exported), and the rows
    that leave a small uncertain slice out (:func:`withhold_small_slices`)."""
    spec = tidy_estimates_spec("estimates", "tidy estimate rows of every design")
    return withhold_in_advance(estimates, rules, table_1, slices), spec


def withhold_in_advance(
    rows: pd.DataFrame,
    rules: DisclosureRules,
    table_1: pd.DataFrame | None,
    slices: Mapping[str, int] | None,
) -> pd.DataFrame:
    """Tidy rows with the counts that other published counts would give away removed (the
    estimates and the validation rows that repeat them withhold the same rows)."""
    rows = withhold_partial_breakdowns(withhold_cohort_rows(rows, rules), rules, table_1)
    return withhold_small_slices(rows, slices or {}, rules)


# The designs whose persons leave out the uncertain slice of the reform quarter (DUO's false
# start): reform_did's post period starts after it (designs.event_study).
SLICE_EXCLUDED = ("reform_did",)
UNCERTAIN_REGIME = "uncertain"  # prepare.persons' regime label of the slice


def uncertain_slices(persons: pd.DataFrame) -> dict[str, int]:
    """Persons of the uncertain slice per city (``rest_nl`` for the rest of the Netherlands)."""
    slice_ = persons[persons["regime"].astype(str).eq(UNCERTAIN_REGIME)]
    return {str(city): int(n) for city, n in slice_.groupby("city", observed=True).size().items()}


def withhold_small_slices(
    table: pd.DataFrame, slices: Mapping[str, int], rules: DisclosureRules
) -> pd.DataFrame:
    """A count that leaves a city's uncertain slice out, beside one of the same persons that
    includes it, gives the slice by subtraction: reform_did's post persons (cohorts from the
    quarter after the slice) against the route-start curve's persons at risk or Table 1's
    regimes (small run: Utrecht 233 - 226 = 7, its 2022Q1 quarter, found by the export audit
    once it cut runs at quarters). Where a city's slice is 1 to ``min_persons - 1`` persons,
    the rows of those designs counting that city's persons (treated: ``city``; control:
    ``comparison``) lose their counts here; the row check of the whole table then withholds
    them. Tables without a ``design`` column (the verdict) are the primary reform contrasts."""
    small = {city for city, n in slices.items() if 0 < n < rules.min_persons}
    if not small or not len(table):
        return table
    designs = table["design"].isin(SLICE_EXCLUDED) if "design" in table else True
    counting = table["city"].astype(str).isin(small) | table["comparison"].astype(str).isin(small)
    out = table.copy()
    out.loc[designs & counting, list(COUNTS)] = pd.NA
    return out


# Descriptive process rows count the same persons per cohort quarter (``cohort:<quarter>``) and
# over all cohorts (``all``, the total label of the subgroup column).
COHORT_SUBGROUP = "cohort:"


def withhold_cohort_rows(estimates: pd.DataFrame, rules: DisclosureRules) -> pd.DataFrame:
    """The descriptive designs' rows per cohort add up to their row over all cohorts, in both
    counts (persons with and without the indicator): checked with that margin, so that a
    withheld quarter does not follow from the total minus the published quarters (the export
    audit found it: 621 - 613 = 8 persons). Rows to withhold lose their counts here; the row
    check of the whole table then withholds them (a missing count cannot be verified)."""
    subgroup = estimates["subgroup"].astype(str)
    rows = estimates["design"].isin(DESCRIPTIVE) & (
        subgroup.eq(TOTAL_LEVEL) | subgroup.str.startswith(COHORT_SUBGROUP)
    )
    if not rows.any():
        return estimates
    keys = [c for c in (*KEY_COLUMNS, "estimator") if c != "subgroup"]
    table = estimates.loc[rows, [*keys, *COUNTS]].assign(
        cohort=subgroup[rows].str.removeprefix(COHORT_SUBGROUP)
    )
    spec = TableSpec(
        "estimates_by_cohort",
        "estimate",
        count_columns=COUNTS,
        group_columns=(*keys, "cohort"),
        margins={"cohort": TOTAL_LEVEL},
    )
    checked = check_table(table.reset_index(drop=True), spec, rules)
    withheld = table.index[checked.frame["suppressed"].to_numpy(dtype=bool)]
    out = estimates.copy()
    out.loc[withheld, list(COUNTS)] = pd.NA
    return out


# The cell of a subgroup row: its key without the subgroup (and, for the steps, the horizon).
_BREAKDOWN_CELL = ("design", "estimand", "treatment", "city", "comparison", "outcome", "event_time")
# Whose persons each count is: the row's city (treated) and its comparison (control).
_COUNT_CITY = {"n_treated": "city", "n_control": "comparison"}


def withhold_partial_breakdowns(
    estimates: pd.DataFrame, rules: DisclosureRules, table_1: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Subgroup rows (``variable:level``) that leave a level out (reform_did's
    group:statushouder and group:gezinsmigrant, no overig) give the persons of the levels left
    out by subtraction from the sample's total: the subgroup ``all`` row, else the largest sum
    of one variable's levels (a complete breakdown). A cell's samples are nested across
    horizons (measured at 24 months is measured at 12) and within its city's persons in Table
    1, so the difference of a level's persons between two of them is a count too (small run:
    Den Haag's overig, 59 in Table 1, 57 at 12 months, 52 at 24, gave 2 persons in the
    uncertain slice and 5 in the 2024 cohorts). Where a difference of a published or left-out
    level is below min_persons and not 0, the variable's rows of that cell lose their counts
    here; the row check of the whole table then withholds them."""
    subgroup = estimates["subgroup"].astype(str)
    split = subgroup.str.partition(":")
    parts = split[1].eq(":") & ~subgroup.str.startswith(COHORT_SUBGROUP)
    if not parts.any():
        return estimates
    cell = list(_BREAKDOWN_CELL)
    keyed = estimates[[*cell, "estimator", *COUNTS]].assign(
        horizon=pd.to_numeric(estimates["horizon"]), **{c: _key_text(estimates[c]) for c in cell}
    )
    rows = keyed[parts].assign(variable=split.loc[parts, 0], level=split.loc[parts, 2])
    totals = keyed[subgroup.eq(TOTAL_LEVEL)].set_index(cell)
    out = estimates.copy()
    for key, block in rows.groupby([*cell, "estimator"], sort=False):
        where = dict(zip(cell, key, strict=False))
        # The sample's total: the all row of any estimator of the cell (the attacker cannot
        # tell which shares the subgroups' sample, so each is tried), else a full breakdown.
        samples = totals.loc[[key[:-1]]] if key[:-1] in totals.index else totals.iloc[:0]
        candidates = [t for _, t in samples.groupby("estimator")] or [samples]
        for variable in sorted(block["variable"].unique()):
            if any(
                _unsafe_breakdown(block, variable, total, where, table_1, rules.min_persons)
                for total in candidates
            ):
                out.loc[block.index[block["variable"].eq(variable)], list(COUNTS)] = pd.NA
    return out


def _unsafe_breakdown(
    block: pd.DataFrame,
    variable: str,
    total: pd.DataFrame,
    where: Mapping[str, Any],
    table_1: pd.DataFrame | None,
    minimum: float,
) -> bool:
    """Does a level of ``variable`` (published or left out) differ between two nested samples
    of the cell by 1 to ``minimum - 1`` persons?"""
    for column in COUNTS:
        counts = block.pivot_table(
            index="horizon", columns=["variable", "level"], values=column, aggfunc="first"
        ).astype(float)
        if variable not in counts.columns.get_level_values("variable"):
            continue  # every level's count already withheld: no difference to take
        by_variable = counts.T.groupby(level="variable").sum(min_count=1).T
        published = total.set_index("horizon")[column].astype(float)
        whole = published.reindex(counts.index).fillna(by_variable.max(axis=1))
        levels = counts[variable].assign(**{"(rest)": whole - by_variable[variable]})
        population = _table_1_levels(table_1, where.get(_COUNT_CITY[column]), variable, levels)
        steps = levels.sort_index() if population is None else pd.concat([population, levels])
        dropped = -steps.diff().iloc[1:]
        if ((dropped > 0) & (dropped < minimum)).any().any():
            return True
    return False


def _table_1_levels(
    table_1: pd.DataFrame | None, city: Any, variable: str, levels: pd.DataFrame
) -> pd.DataFrame | None:
    """The city's persons in Table 1 at the breakdown's levels and the rest (one first step),
    or None where Table 1 lacks the city, the variable or a level."""
    if table_1 is None or city is None:
        return None
    rows = table_1[table_1["city"].eq(city) & table_1["variable"].eq(variable)]
    counts = rows.set_index("level")["n"].astype(float)
    named = [c for c in levels.columns if c != "(rest)"]
    if TOTAL_LEVEL not in counts.index or not set(named) <= set(counts.index):
        return None
    step = {**counts[named].to_dict(), "(rest)": counts[TOTAL_LEVEL] - counts[named].sum()}
    return pd.DataFrame([step], columns=levels.columns)


def sample_flow_item(flow: pd.DataFrame) -> Item:
    """Long format (step, city, persons): the funnel rule checks persons dropped per step."""
    city_columns = [c for c in flow.columns if c.startswith("persons_") and c != "persons_dropped"]
    wide = flow[["step", "persons", *city_columns]].rename(columns={"persons": "persons_all"})
    long = wide.melt(id_vars=["step"], var_name="city", value_name="persons")
    long["city"] = long["city"].str.removeprefix("persons_")
    order = {step: i for i, step in enumerate(flow["step"])}
    long = long.sort_values(["city", "step"], key=lambda c: c.map(order) if c.name == "step" else c)
    return long.reset_index(drop=True), SAMPLE_FLOW


def data_quality_item(quality: pd.DataFrame) -> Item:
    return quality, DATA_QUALITY


def composition_item(composition: pd.DataFrame) -> Item:
    return composition, COMPOSITION


def route_mix_item(mix: pd.DataFrame) -> Item:
    return mix, ROUTE_MIX


def outcome_trends_item(trends: pd.DataFrame) -> Item:
    """Shares only: the persons behind each share stay inside RA (an audit column the share
    rules read). A city-year's count at a horizon everyone has reached is the city's cohort
    total, which would give a withheld quarter of the composition table by subtraction."""
    return trends.rename(columns={"n": f"{AUDIT_PREFIX}n"}), OUTCOME_TRENDS


def _levels(column: pd.Series, variable: Mapping[str, Any]) -> pd.Series:
    """A person's level of one characteristic: numeric columns cut at ``edges`` into left-closed
    bins named by ``labels`` (below the first edge: ``<edge``), other columns as they are
    (booleans as true/false), unknown values as their own level. The same convention as the
    heterogeneity subgroups (``designs.heterogeneity.subgroup_columns``), written out here so
    that the export does not import the learners that module needs."""
    if "edges" in variable:
        edges = np.asarray(variable["edges"], dtype=float)
        values = pd.to_numeric(column, errors="coerce").astype(float).to_numpy()
        position = np.searchsorted(edges, values, side="right") - 1
        named = np.asarray(variable["labels"], dtype=object)[position.clip(0)]
        levels = pd.Series(np.where(position < 0, f"<{edges[0]:g}", named), index=column.index)
    else:
        levels = column.astype("string").str.lower()
    return levels.where(column.notna(), UNKNOWN_LEVEL).astype(str)


def _check_variables(persons: pd.DataFrame, variables: Mapping[str, Mapping[str, Any]]) -> None:
    for name, variable in variables.items():
        key = f"config key descriptives.variables.{name}"
        if variable["column"] not in persons.columns:
            raise StageError(
                f"{key}: column {variable['column']!r} is not in the persons table "
                f"(columns: {', '.join(map(str, persons.columns))})"
            )
        edges = list(variable.get("edges", ()))
        if edges != sorted(set(edges)) or len(edges) != len(variable.get("labels", ())):
            raise StageError(
                f"{key}: edges must increase and have one label each "
                f"(edges {edges}, labels {variable.get('labels')})"
            )


def descriptives_table(
    persons: pd.DataFrame, variables: Mapping[str, Mapping[str, Any]], cities: Sequence[str]
) -> pd.DataFrame:
    """Persons per city and level of every configured characteristic, with each city's total
    for the variable as level ``all``. Levels keep the configured band order, other levels go
    by their frequency in the population; zero cells are kept (a publishable frequency)."""
    _check_variables(persons, variables)
    people = persons[persons["city"].isin(cities)]
    frames = []
    for name, variable in variables.items():
        levels = _levels(people[variable["column"]], variable)
        counts = pd.crosstab(levels, people["city"]).reindex(columns=list(cities), fill_value=0)
        edges = variable.get("edges")
        order = [f"<{edges[0]:g}", *variable["labels"]] if edges else []
        ranked = counts.sum(axis=1).sort_index().sort_values(ascending=False, kind="stable")
        order = [v for v in order if v in counts.index] + [
            v for v in ranked.index if v not in order and v != UNKNOWN_LEVEL
        ]
        order += [UNKNOWN_LEVEL] if UNKNOWN_LEVEL in counts.index else []
        counts = counts.loc[order]
        counts.loc[TOTAL_LEVEL] = counts.sum()
        long = counts.rename_axis(index="level", columns="city").stack().rename("n")
        frames.append(long.reset_index().assign(variable=name))
    columns = list(DESCRIPTIVES.columns)
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    table["city"] = pd.Categorical(table["city"], categories=list(cities))
    table = table.sort_values("city", kind="stable").astype({"city": str, "n": "int64"})
    return table[columns].reset_index(drop=True)


def descriptives_item(
    persons: pd.DataFrame, variables: Mapping[str, Mapping[str, Any]], cities: Sequence[str]
) -> Item:
    """Table 1 as a frequency table: every level and each city's total are counts of persons,
    checked for the minimum, group disclosure (a level holding a city's every person) and,
    with the total as margin, secondary suppression so no withheld level can be recovered by
    subtraction. Shares are computed in the report from the published counts only."""
    return descriptives_table(persons, variables, cities), DESCRIPTIVES_SPEC


def pool_bins(frame: pd.DataFrame, by: Sequence[str], counts: Sequence[str], minimum: int):
    """Merge adjacent histogram bins until every bin holds `minimum` persons in each count.

    Overlap plots need the shape, not fine bins; pooling keeps every bin publishable instead of
    suppressing the sparse tails (which would hide exactly the lack of overlap a reader needs).
    """
    pooled = []
    for _, group in frame.sort_values([*by, "bin_low"]).groupby(list(by), sort=True):
        current = None
        for row in group.to_dict("records"):
            if current is None:
                current = dict(row)
            else:
                current["bin_high"] = row["bin_high"]
                for column in counts:
                    current[column] += row[column]
            if all(current[c] >= minimum for c in counts):
                pooled.append(current)
                current = None
        if current is not None:
            if pooled and all(pooled[-1][k] == current[k] for k in by):
                for column in counts:
                    pooled[-1][column] += current[column]
                pooled[-1]["bin_high"] = current["bin_high"]
            else:
                pooled.append(current)  # too small as a whole: primary suppression handles it
    return pd.DataFrame(pooled, columns=frame.columns)


def _present(columns: Sequence[str], table: pd.DataFrame) -> tuple[str, ...]:
    return tuple(c for c in columns if c in table.columns)


def _spec(contract: SideTable, table: pd.DataFrame, kind: str = "estimate") -> TableSpec:
    """The disclosure spec of a side table: its contract's columns that the table has."""
    return TableSpec(
        contract.name,
        kind,
        count_columns=contract.counts,
        group_columns=_present(contract.keys, table),
        value_columns=_present(contract.values, table),
        description=contract.description,
    )


def overlap_item(overlap: pd.DataFrame, minimum: int) -> Item:
    contract = SIDE_TABLES["overlap"]
    by = list(_present((*CELL_COLUMNS, "estimator"), overlap))
    pooled = pool_bins(overlap, by, list(OVERLAP_ARMS), minimum)
    long = pooled.melt(
        id_vars=[*by, "bin_low", "bin_high"],
        value_vars=list(OVERLAP_ARMS),
        var_name="arm",
        value_name="n",
    )
    long["arm"] = long["arm"].map(OVERLAP_ARMS)
    spec = _spec(contract, long, "frequency")
    return long.sort_values([*by, "arm", "bin_low"]).reset_index(drop=True), spec


def _key_text(values: pd.Series) -> pd.Series:
    """Join keys as text: 12, 12.0 and Int64 12 all become "12"; missing becomes ""."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    return values.astype("string").fillna("")


def _with_counts(table: pd.DataFrame, estimates: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Join the treated/control counts of the estimate row each side-table row belongs to.

    Where several estimate rows share the key (estimators on different samples), the smallest
    counts are taken: the most conservative reading of who stands behind the statistic.
    """
    keys = [k for k in keys if k in table.columns]
    counts = estimates[[*keys, *COUNTS]].assign(**{k: _key_text(estimates[k]) for k in keys})
    counts = counts.groupby(keys, sort=False)[list(COUNTS)].min().reset_index()
    joined = table.drop(columns=[c for c in COUNTS if c in table.columns])
    joined = joined.assign(**{f"_{k}": _key_text(joined[k]) for k in keys})
    counts = counts.rename(columns={k: f"_{k}" for k in keys})
    merged = joined.merge(counts, on=[f"_{k}" for k in keys], how="left")
    return merged.drop(columns=[f"_{k}" for k in keys])


def balance_item(balance: pd.DataFrame, estimates: pd.DataFrame) -> Item:
    contract = SIDE_TABLES["balance"]
    balance = balance.rename(columns=contract.renames)
    table = _with_counts(balance, estimates, [*CELL_COLUMNS, "estimator"])
    return table, _spec(contract, table)


def sensitivity_item(sensitivity: pd.DataFrame, estimates: pd.DataFrame) -> Item:
    contract = SIDE_TABLES["sensitivity"]
    keys = list(_present((*CELL_COLUMNS, "subgroup", "estimator"), sensitivity))
    long = sensitivity.melt(
        id_vars=[*keys, "fragile"],
        value_vars=list(SENSITIVITY_MEASURES),
        var_name="measure",
        value_name="value",
    )
    long["measure"] = long["measure"].map(SENSITIVITY_MEASURES)
    long = long.dropna(subset=["value"])
    table = _with_counts(long, estimates, keys)
    return table, _spec(contract, table)


def refutations_item(refutations: pd.DataFrame, estimates: pd.DataFrame, alpha: float) -> Item:
    contract = SIDE_TABLES["refutations"]
    table = refutations.rename(columns=contract.renames)
    # dowhy's p-value tests the refuted effect against the original one: a refutation is
    # passed when the data give no reason to reject that they agree.
    table["passed"] = table["p_value"] >= alpha
    table["ci_low"] = np.nan
    table["ci_high"] = np.nan
    headline = estimates[estimates["headline"]]
    table = _with_counts(table, headline, CELL_COLUMNS)
    return table, _spec(contract, table)


# The comparison's outcome mean after the reform is a share of its own persons: checked as one.
CONTROL_MEAN = TableSpec(
    "verdict_control_mean",
    "share",
    count_columns=("n_control_post",),
    value_columns=("control_mean",),
)


def verdict_item(
    verdict: pd.DataFrame, rules: DisclosureRules, slices: Mapping[str, int] | None = None
) -> Item:
    """The primary analysis' verdict rows: estimates with their persons (``primary.verdict``);
    the verdict and its reason describe the row and are never suppressed, nor are the
    municipalities on each side (public facts). The control mean rests on its own persons
    (``n_control_post``): where they are too few, or the share would reveal a small group
    (numerator, complement, 0 or 100 %), the mean is withheld before the row check, which then
    suppresses whole rows on the treated and control persons. The count itself stays inside
    (``contracts.verdict.INTERNAL_COLUMNS``)."""
    labels = ("direction", "inference", "verdict", "reason", "clusters_treated", "clusters_control")
    keys = ("city", "comparison", "outcome", "horizon")
    verdict = withhold_small_slices(verdict.copy(), slices or {}, rules)
    if len(verdict):
        masks = primary_row_masks(
            verdict[list(CONTROL_MEAN.value_columns + CONTROL_MEAN.count_columns)],
            CONTROL_MEAN,
            rules,
        )
        unsafe = np.logical_or.reduce(list(masks.values()))
        verdict[["control_mean", "n_control_post"]] = verdict[
            ["control_mean", "n_control_post"]
        ].astype(float)
        verdict.loc[unsafe, ["control_mean", "n_control_post"]] = np.nan
    verdict = verdict.drop(columns=list(VERDICT_INTERNAL))
    spec = TableSpec(
        "verdict",
        "estimate",
        count_columns=COUNTS,
        group_columns=(*keys, *labels),
        value_columns=tuple(c for c in verdict.columns if c not in (*keys, *labels, *COUNTS)),
        description="the primary analysis: the verdict per comparison, outcome and horizon",
    )
    return verdict, spec


def validation_item(
    validation: pd.DataFrame,
    rules: DisclosureRules,
    table_1: pd.DataFrame | None = None,
    slices: Mapping[str, int] | None = None,
) -> Item:
    """Synthetic runs: the estimate rows with their planted truth; the rows the estimates
    withhold in advance are withheld here too (the same rows and counts)."""
    validation = withhold_in_advance(validation, rules, table_1, slices)
    extra = tuple(c for c in validation.columns if c not in TIDY_COLUMNS)
    spec = TableSpec(
        "validation",
        "estimate",
        count_columns=COUNTS,
        group_columns=(*KEY_COLUMNS, *LABELS),
        value_columns=(*[c for c in VALUE_COLUMNS if c not in (*COUNTS, *LABELS)], *extra),
        description="synthetic runs: every estimate against the planted truth",
    )
    return validation, spec


def monte_carlo_item(table: pd.DataFrame) -> Item:
    """Monte Carlo summaries are statistics over synthetic replications: no person behind them,
    but they are still exported through the rules (as a table of estimates over seeds)."""
    groups = tuple(c for c in table.columns if table[c].dtype == object)
    values = tuple(c for c in table.columns if c not in groups)
    spec = TableSpec(
        "monte_carlo",
        "frequency",
        count_columns=("n_reps",),
        group_columns=groups,
        value_columns=tuple(v for v in values if v != "n_reps"),
        description="synthetic runs: bias, RMSE and coverage over repeated synthetic samples",
    )
    return table, spec


def monte_carlo_primary_item(table: pd.DataFrame) -> Item:
    """The primary analysis' Monte Carlo summary (benchmarks/mc_primary.py): statistics over
    synthetic seeds per engine, size, world, shock scale and primary row; like the other Monte
    Carlo table it passes the rules with the seeds as its count."""
    groups = ("engine", "persons", "world", "scale", "comparison", "outcome", "horizon")
    spec = TableSpec(
        "monte_carlo_primary",
        "frequency",
        count_columns=("seeds",),
        group_columns=groups,
        value_columns=tuple(c for c in table.columns if c not in (*groups, "seeds")),
        description="synthetic runs: the primary analysis' coverage, bias and false verdicts "
        "over seeds",
    )
    return table, spec


def _headline_counts(table: pd.DataFrame, estimates: pd.DataFrame) -> pd.DataFrame:
    overall = estimates[estimates["headline"] & (estimates["estimand"] == "att_overall")]
    overall = overall[overall["subgroup"].isin(["all", ""])]
    return _with_counts(table, overall, CELL_COLUMNS)


def pretrends_item(pretrends: pd.DataFrame, estimates: pd.DataFrame) -> Item:
    """One row per pre-trend test (``PRETREND_TESTS``) of each event study."""
    contract = SIDE_TABLES["pretrends"]
    columns = [*contract.keys, *contract.values]
    tests = []
    for test, renames in PRETREND_TESTS.items():
        rows = pretrends.rename(columns=renames).assign(test=test)
        if "df" not in renames.values():  # a slope test has one degree of freedom
            rows = rows.assign(df=1)
        tests.append(rows[columns])
    long = _headline_counts(pd.concat(tests, ignore_index=True), estimates)
    return long, _spec(contract, long)


def honestdid_item(honest: pd.DataFrame, estimates: pd.DataFrame) -> Item:
    contract = SIDE_TABLES["honestdid"]
    table = _headline_counts(honest.rename(columns=contract.renames), estimates)
    return table, _spec(contract, table)


def inference_item(inference: pd.DataFrame, estimates: pd.DataFrame) -> Item:
    contract = SIDE_TABLES["inference"]
    table = inference.rename(columns=contract.renames)
    table = table.assign(method=RANDOMIZATION, ci_low=np.nan, ci_high=np.nan)
    table = _headline_counts(table, estimates)
    table["n_clusters"] = table["n_placebos"] + 1
    return table, _spec(contract, table)


def uniform_bands_item(bands: pd.DataFrame, estimates: pd.DataFrame) -> Item:
    contract = SIDE_TABLES["uniform_bands"]
    table = _headline_counts(bands, estimates)
    return table, _spec(contract, table)


def did_items(job, estimates: pd.DataFrame) -> list[Item]:
    makers = {
        "pretrends": pretrends_item,
        "honestdid": honestdid_item,
        "inference": inference_item,
        "uniform_bands": uniform_bands_item,
    }
    items = []
    for name, make in makers.items():
        table = concat(job.inputs(name))
        if len(table):
            items.append(make(table, estimates))
    return items
