"""Check exported tables against the rules: primary, then secondary suppression."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.primary import (
    as_counts,
    percentile_cell_masks,
    primary_row_masks,
)
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.secondary import (
    Equation,
    Key,
    MarginRegistry,
    protect,
    table_equations,
)
from inburgering.disclosure.spec import (
    AUDIT_PREFIX,
    SUPPRESSED_COLUMN,
    TABLE_KINDS,
    CheckedTable,
    CheckReport,
    TableSpec,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")


def _validate(frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules) -> None:
    if spec.kind not in TABLE_KINDS:
        raise DisclosureError(spec.name, "spec", f"kind must be one of {TABLE_KINDS}")
    if not _NAME.match(spec.name):
        raise DisclosureError(spec.name, "spec", "name may hold letters, digits, '_', '-', '.'")
    declared = [*spec.group_columns, *spec.count_columns, *spec.value_columns]
    if spec.df_column:
        declared.append(spec.df_column)
    missing = [c for c in declared if c not in frame.columns]
    if missing:
        raise DisclosureError(spec.name, "spec", f"declared columns {missing} are not in the table")
    public = [c for c in frame.columns if not str(c).startswith(AUDIT_PREFIX)]
    # Undeclared columns would be exported unchecked: refuse rather than guess.
    undeclared = [c for c in public if c not in declared and c != SUPPRESSED_COLUMN]
    if undeclared:
        raise DisclosureError(
            spec.name, "spec", f"columns {undeclared} are not declared as group/count/value columns"
        )
    if spec.kind != "frequency" and not spec.count_columns:
        raise DisclosureError(
            spec.name, "min_persons", "no count column: persons cannot be checked"
        )
    if spec.stacked is not None:
        _validate_stacked(frame, spec)
    if spec.funnel is not None and spec.funnel not in spec.group_columns:
        raise DisclosureError(spec.name, "spec", f"funnel '{spec.funnel}' is not a group column")
    bad_margin = [d for d in (*spec.margins, *spec.partial_totals) if d not in spec.group_columns]
    if bad_margin:
        raise DisclosureError(spec.name, "spec", f"margins {bad_margin} are not group columns")
    undeclared = [d for d in spec.published_margins if d not in spec.margins]
    if undeclared:
        raise DisclosureError(
            spec.name, "spec", f"published_margins {undeclared} are not declared margins"
        )
    for column in public:
        for pattern in rules.person_id_column_patterns:
            if re.search(pattern, str(column)):
                raise DisclosureError(
                    spec.name, "individual_values", f"column '{column}' is a person identifier"
                )
        if rules.forbid_extremes:
            for pattern in rules.extreme_column_patterns:
                if re.search(pattern, str(column)):
                    raise DisclosureError(
                        spec.name, "forbid_extremes", f"column '{column}' is a minimum/maximum"
                    )
    if spec.kind == "frequency" and not spec.count_columns:
        raise DisclosureError(spec.name, "spec", "a frequency table needs count_columns")


def _validate_stacked(frame: pd.DataFrame, spec: TableSpec) -> None:
    names, level = spec.stacked
    if names not in spec.group_columns or level not in spec.group_columns:
        raise DisclosureError(
            spec.name, "spec", f"stacked columns {spec.stacked} are not both group columns"
        )
    clash = sorted(set(frame[names].astype(str)) & set(spec.group_columns))
    if clash:
        raise DisclosureError(
            spec.name,
            "spec",
            f"stacked breakdowns {clash} have the name of a group column (row e.g. "
            f"{frame[frame[names].astype(str) == clash[0]].iloc[0].to_dict()})",
        )


def _row_keys(frame: pd.DataFrame, spec: TableSpec) -> list[dict[Key, float]]:
    """Cells of each row: one per count column, dimensions at their total label dropped (also
    a partial total's: the national row is the national cell of every table; a stacked table's
    level is named by its row's name column, see ``TableSpec.stacked``)."""
    names, level = spec.stacked or (None, None)
    columns = [c for c in spec.group_columns if c != names]
    groups = frame.loc[:, columns].astype(str).to_numpy()
    dimension_of = frame[names].astype(str).to_numpy() if names else None
    counts = {c: as_counts(frame, c) for c in spec.count_columns}
    rows: list[dict[Key, float]] = []
    for i in range(len(frame)):
        dims = tuple(
            sorted(
                (dimension_of[i] if d == level else d, groups[i, j])
                for j, d in enumerate(columns)
                if groups[i, j] not in (spec.margins.get(d), spec.partial_totals.get(d))
            )
        )
        rows.append({(f"{spec.universe_name}|{c}", dims): float(v[i]) for c, v in counts.items()})
    return rows


def _margin_dimensions(frame: pd.DataFrame, spec: TableSpec) -> list[str]:
    """The dimensions whose breakdowns add up to their total: the declared margins, with a
    stacked table's level column standing for every dimension its name column names."""
    if spec.stacked is None:
        return list(spec.margins)
    names, level = spec.stacked
    stacked = sorted(frame[names].astype(str).unique()) if level in spec.margins else []
    return [d for d in spec.margins if d != level] + stacked


def _publish_margin_totals(
    spec: TableSpec, rows: list[dict[Key, float]], registry: MarginRegistry, minimum: float
) -> None:
    """Totals over ``spec.published_margins`` are known to an attacker (other tables publish
    them, see TableSpec): registered as published so that protection withholds a second cell
    wherever one cell of such a total is withheld. A total below the minimum is no count a
    checked table can publish, so it stays unknown (declaring it would make it unprotectable)."""
    totals: dict[Key, float] = {}
    for row in rows:
        for (measure, dims), value in row.items():
            for dim in spec.published_margins:
                if any(d == dim for d, _ in dims):
                    total = (measure, tuple((d, v) for d, v in dims if d != dim))
                    totals[total] = totals.get(total, 0.0) + value
    for key, value in totals.items():
        if np.isnan(value) or value < minimum or key in registry.published:
            continue
        registry.values.setdefault(key, value)
        registry.owner.setdefault(key, f"{spec.name} (published elsewhere)")
        registry.published.add(key)
        registry.suppressed.discard(key)


def _with_copies(rows: list[dict[Key, float]], suppressed: set[int]) -> set[int]:
    """Suppressed rows plus every other row holding one of their cells: a stacked table repeats
    a total (each breakdown's ``all``), and suppression protects cells, not rows."""
    hidden = {k for i in suppressed for k in rows[i]}
    return suppressed | {i for i, row in enumerate(rows) if hidden & row.keys()}


def _equation_checks(
    spec: TableSpec, rows: list[dict[Key, float]], equations: set[Equation], rules: DisclosureRules
) -> np.ndarray:
    """Frequency tables: declared margins must add up; a cell equal to its margin is disclosive."""
    values = {k: v for row in rows for k, v in row.items()}
    position = {k: i for i, row in enumerate(rows) for k in row}
    group = np.zeros(len(rows), dtype=bool)
    for total, parts in sorted(equations):
        if total not in values:
            continue
        present = [p for p in parts if p in values]
        if np.isnan(values[total]) or any(np.isnan(values[p]) for p in present):
            continue
        if not np.isclose(sum(values[p] for p in present), values[total]):
            raise DisclosureError(
                spec.name,
                "margins",
                f"cells {present} do not add up to their margin {total} "
                f"({sum(values[p] for p in present):g} != {values[total]:g})",
            )
        if rules.group_disclosure and values[total] > 0 and len(parts) > 1:
            for part in present:
                if values[part] == values[total]:
                    group[position[part]] = True
    return group


def _suppress(frame: pd.DataFrame, columns: Iterable[str], mask: np.ndarray) -> None:
    if not mask.any():
        return
    for column in columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            series = series.astype(object)
        elif pd.api.types.is_integer_dtype(series):
            series = series.astype("Int64")
        frame[column] = series.mask(pd.Series(mask, index=frame.index))


def _finish_counts(frame: pd.DataFrame, spec: TableSpec, rules: DisclosureRules) -> None:
    for column in spec.count_columns:
        values = as_counts(frame, column)
        if rules.rounding_base:
            base = rules.rounding_base
            values = np.floor(values / base + 0.5) * base
        finite = values[~np.isnan(values)]
        if np.all(finite == np.round(finite)):
            frame[column] = pd.array(
                [pd.NA if np.isnan(v) else int(v) for v in values], dtype="Int64"
            )
        else:
            frame[column] = values


def check_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    rules: DisclosureRules,
    *,
    registry: MarginRegistry | None = None,
) -> CheckedTable:
    """Apply every rule to one table and return it with unsafe cells suppressed.

    Parameters
    ----------
    frame
        The table as computed inside RA, possibly with ``_sdc_*`` audit columns (dropped here).
    spec
        What the table is (see :class:`TableSpec`).
    rules
        From :func:`load_rules`.
    registry
        Margins published by tables checked earlier in the same export; updated in place so
        the next table cannot undo this one's suppression. ``None`` checks the table alone.

    Returns
    -------
    CheckedTable
        Suppressed cells are missing and flagged in the boolean ``suppressed`` column.

    Raises
    ------
    DisclosureError
        When the table cannot be made safe by suppression (identifiers, minima/maxima,
        missing audit columns, margins that do not add up).
    """
    _validate(frame, spec, rules)
    table = frame.reset_index(drop=True).copy()
    masks = primary_row_masks(table, spec, rules)
    cell_masks = percentile_cell_masks(table, spec, rules) if spec.kind == "percentile" else {}
    rows = _row_keys(table, spec)
    equations = table_equations([k for row in rows for k in row], _margin_dimensions(table, spec))
    if spec.kind == "frequency":
        masks["group_disclosure"] = _equation_checks(spec, rows, equations, rules)
    primary = np.zeros(len(table), dtype=bool)
    for mask in masks.values():
        primary |= mask
    primary_rows = set(np.flatnonzero(primary).tolist())
    registry = registry if registry is not None else MarginRegistry()
    small = {
        k for i in primary_rows for k, v in rows[i].items() if np.isnan(v) or v < rules.min_persons
    }
    registry.check_consistent(spec.name, {k: v for row in rows for k, v in row.items()})
    _publish_margin_totals(spec, rows, registry, rules.min_persons)
    suppressed_rows = set(primary_rows)
    notes: list[str] = []
    if rules.secondary_suppression and spec.count_columns:
        suppressed_rows = protect(
            spec.name, rows, primary_rows, small, equations, registry, threshold=rules.min_persons
        )
    elif spec.margins:
        notes.append("secondary suppression disabled by configuration")
    suppressed_rows = _with_copies(rows, suppressed_rows)
    registry.add(spec.name, rows, suppressed_rows, primary_rows, small, equations)
    row_mask = np.isin(np.arange(len(table)), sorted(suppressed_rows))
    _suppress(table, [*spec.value_columns, *spec.count_columns], row_mask)
    flagged = row_mask.copy()
    for (_, column), mask in cell_masks.items():
        _suppress(table, [column], mask & ~row_mask)
        flagged |= mask
    _finish_counts(table, spec, rules)
    table[SUPPRESSED_COLUMN] = flagged
    table = table.loc[:, [c for c in table.columns if not str(c).startswith(AUDIT_PREFIX)]]
    reasons = _reasons(masks, cell_masks, suppressed_rows - primary_rows)
    return CheckedTable(
        spec,
        table,
        _report(
            table,
            spec,
            rules,
            masks,
            cell_masks,
            reasons,
            len(primary_rows),
            suppressed_rows,
            notes,
        ),
    )


def _reasons(masks, cell_masks, secondary: set[int]) -> pd.DataFrame:
    records = [
        (int(i), "", rule, "primary") for rule, m in masks.items() for i in np.flatnonzero(m)
    ]
    records += [
        (int(i), column, rule, "primary")
        for (rule, column), m in cell_masks.items()
        for i in np.flatnonzero(m)
    ]
    records += [(i, "", "secondary_suppression", "secondary") for i in sorted(secondary)]
    frame = pd.DataFrame(records, columns=["row", "column", "rule", "stage"])
    return frame.sort_values(["row", "column", "rule"], kind="mergesort").reset_index(drop=True)


def _report(table, spec, rules, masks, cell_masks, reasons, n_primary, suppressed_rows, notes):
    applied = [*masks, *sorted({rule for rule, _ in cell_masks})]
    if rules.secondary_suppression and spec.margins:
        applied.append("secondary_suppression")
    if rules.forbid_extremes:
        applied.append("forbid_extremes")
    if rules.rounding_base:
        applied.append(f"rounding({rules.rounding_base})")
    underlying = {}
    # A count kept inside RA (an audit column) is not described in the manifest either.
    for column in (c for c in spec.count_columns if c in table.columns):
        values = as_counts(table, column)
        values = values[~np.isnan(values)]
        underlying[column] = (int(values.min()), int(values.max())) if len(values) else None
    # Cells suppressed on their own count once each; a suppressed row counts once.
    rows = np.isin(np.arange(len(table)), sorted(suppressed_rows))
    n_cells = sum(int((m & ~rows).sum()) for m in cell_masks.values())
    return CheckReport(
        rules_applied=tuple(dict.fromkeys(applied)),
        n_rows=len(table),
        n_primary=n_primary + n_cells,
        n_secondary=len(suppressed_rows) - n_primary,
        underlying_counts=underlying,
        reasons=reasons,
        notes=tuple(notes),
    )


def check_tables(
    items: Sequence[tuple[pd.DataFrame, TableSpec]], rules: DisclosureRules
) -> list[CheckedTable]:
    """Check tables in order with one shared margin registry (cross-table secondary suppression).

    Parameters
    ----------
    items
        ``(frame, spec)`` pairs; order matters: later tables protect earlier ones.
    rules
        From :func:`load_rules`.
    """
    registry = MarginRegistry()
    return [check_table(frame, spec, rules, registry=registry) for frame, spec in items]
