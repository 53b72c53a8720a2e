"""Primary suppression: each rule on its own, row by row (or cell by cell for percentiles)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.spec import AUDIT_PREFIX, TableSpec

# rule name -> boolean mask of rows (row-level) or of cells in one value column (cell-level)
RowMasks = dict[str, np.ndarray]
CellMasks = dict[tuple[str, str], np.ndarray]


def as_counts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Count column as float array (missing -> NaN) so comparisons never raise on NA."""
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def small_count_mask(
    frame: pd.DataFrame,
    columns: tuple[str, ...],
    minimum: int,
    *,
    allow_zero: bool,
    separately: bool,
) -> np.ndarray:
    """Rows whose persons are fewer than `minimum` (a missing count cannot be verified: unsafe)."""
    if not columns:
        return np.zeros(len(frame), dtype=bool)
    counts = np.column_stack([as_counts(frame, c) for c in columns])
    if not separately:
        counts = counts.sum(axis=1, keepdims=True)
    too_small = counts < minimum
    if allow_zero:
        too_small &= counts != 0
    return (too_small | np.isnan(counts)).any(axis=1)


def _audit_column(frame: pd.DataFrame, spec: TableSpec, column: str, rule: str) -> np.ndarray:
    if column not in frame.columns:
        raise DisclosureError(
            spec.name,
            rule,
            f"audit column '{column}' is missing; compute the table with the summarise_* helpers "
            "of inburgering.disclosure so the rule can be checked",
        )
    return as_counts(frame, column)


def _share_masks(frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules) -> RowMasks:
    masks: RowMasks = {}
    denominator = as_counts(frame, spec.count_columns[0])
    m = rules.min_persons
    for column in spec.value_columns:
        share = as_counts(frame, column) / spec.share_scale
        # share x n is a count of persons: treat it as a frequency cell.
        with_attr = np.rint(share * denominator)
        without = denominator - with_attr
        known = ~np.isnan(with_attr)
        if rules.share_check_numerator:
            bad = known & (with_attr > 0) & (with_attr < m)
            masks["share_numerator"] = masks.get("share_numerator", bad) | bad
        if rules.share_check_complement:
            bad = known & (without > 0) & (without < m)
            masks["share_complement"] = masks.get("share_complement", bad) | bad
        if rules.group_disclosure:
            bad = known & (denominator > 0) & ((with_attr == 0) | (without == 0))
            masks["group_disclosure"] = masks.get("group_disclosure", bad) | bad
    return masks


def _dominance_masks(frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules) -> RowMasks:
    total = _audit_column(frame, spec, f"{AUDIT_PREFIX}abs_total", "dominance")
    masks: RowMasks = {}
    for rule in rules.dominance_rules:
        top = _audit_column(frame, spec, f"{AUDIT_PREFIX}top{rule.n}", "dominance")
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, top / total, 0.0)
        masks[f"dominance({rule.n},{rule.k:g})"] = (share > rule.k) | np.isnan(share)
    return masks


def percentile_cell_masks(
    frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules
) -> CellMasks:
    """Percentile cells with too few observations strictly below or above them."""
    masks: CellMasks = {}
    for column in spec.value_columns:
        below = _audit_column(frame, spec, f"{AUDIT_PREFIX}below_{column}", "percentile")
        above = _audit_column(frame, spec, f"{AUDIT_PREFIX}above_{column}", "percentile")
        minimum = rules.percentile_min_each_side
        bad = ~(below >= minimum) | ~(above >= minimum)
        masks[("percentile_min_each_side", column)] = bad
    return masks


def funnel_mask(frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules) -> np.ndarray:
    """Rows of a nested-steps table whose drop from the last published step is too small.

    Walks the steps in order and publishes a step only if the persons dropped since the last
    *published* step are 0 or at least min_persons, so every published difference is safe.
    """
    bad = np.zeros(len(frame), dtype=bool)
    others = [c for c in spec.group_columns if c != spec.funnel]
    groups = (
        frame.groupby(others, sort=False).indices.values() if others else [np.arange(len(frame))]
    )
    for positions in groups:
        for column in spec.count_columns:
            values = as_counts(frame.iloc[positions], column)
            last = np.nan
            for position, value in zip(positions, values, strict=True):
                dropped = last - value
                if np.isnan(value) or dropped < 0:
                    if dropped < 0:
                        raise DisclosureError(
                            spec.name,
                            "funnel",
                            f"step rows are not nested: {column} grows from {last:g} to {value:g}",
                        )
                    bad[position] = True
                elif np.isnan(last) or dropped == 0 or dropped >= rules.min_persons:
                    last = value
                else:
                    bad[position] = True
    return bad


def primary_row_masks(frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules) -> RowMasks:
    """Row-level primary suppression for every rule that applies to the table's kind."""
    separately = rules.count_groups_separately
    minimum = rules.dominance_min_persons if spec.kind == "amount" else rules.min_persons
    masks: RowMasks = {
        "min_persons": small_count_mask(
            frame,
            spec.count_columns,
            minimum,
            # Only a frequency cell of zero is publishable; a mean over nobody is not a figure.
            allow_zero=spec.kind == "frequency" and rules.allow_zero_counts,
            separately=separately,
        )
    }
    if spec.funnel is not None:
        masks["funnel_differencing"] = funnel_mask(frame, spec, rules)
    if spec.kind == "share":
        masks.update(_share_masks(frame, spec, rules))
    elif spec.kind == "amount":
        masks.update(_dominance_masks(frame, spec, rules))
    elif spec.kind == "regression":
        if spec.df_column is None or spec.df_column not in frame.columns:
            raise DisclosureError(
                spec.name, "residual_df", "a regression table needs df_column (residual df)"
            )
        df = as_counts(frame, spec.df_column)
        masks["residual_df"] = ~(df >= rules.min_residual_df)
    return masks
