"""Export audit: the differencing attacks of a CBS output checker, run on the published files.

Secondary suppression (:mod:`inburgering.disclosure.secondary`) protects the cells its own model
links; this audit reads what is actually written (every CSV of the export) and tries to undo the
suppression without that model, as an attacker would:

(a) **within a table**: a total minus the published cells of its breakdown (declared margins,
    and any row labelled ``all``, which a reader takes for a total);
(b) **across tables**: a count of table A (e.g. persons per city and cohort year) taken as the sum
    of a finer breakdown in a frequency table B (cities x quarters x groups) over the rows that
    match on the shared key columns (quarters summed to A's year); columns of A that B lacks
    (outcome, horizon, design ...) make A a subset of B's block, so the identity is a hypothesis;
    runs of years are tried too (the cohorts from the reform year on), and a declared total that
    is no row of its table (composition's national count of a group) is summed from its cells;
    tables whose counts do not add up (estimates) are compared key for key;
(c) the recovered value or range: exact, or proven below ``min_persons``; and the attacker's
    linear programme over every identity at once (min and max of each withheld cell).

Identities are checked before they are used. Inside RA the true counts of the withheld cells are
known (``truth``): an identity counts when it holds for them, so every finding is a real
disclosure and no coincidence stops the run. Without them (an export folder alone) declared
margins are used as they are, and an undeclared identity only where instances with every cell
published confirm it and none contradicts it; its findings are marked ``possible``.

What the audit cannot see, said in :attr:`AuditReport.notes`: shares published without their
counts (share x n cannot be inverted without n), counts kept inside RA, counts in value columns
(not declared as counts), files without a declared layout, and rounded counts (the joint linear
programme needs exact counts; single identities then give intervals).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.contracts.side_tables import SIDE_TABLES, TOTAL_LEVEL
from inburgering.contracts.tidy import KEY_COLUMNS
from inburgering.contracts.verdict import COUNT_CITY as VERDICT_COUNT_CITY
from inburgering.contracts.verdict import EXPORT_COLUMNS as VERDICT_COLUMNS
from inburgering.disclosure.assemble import (
    COMPOSITION,
    DATA_QUALITY,
    DESCRIPTIVES_SPEC,
    LABELS,
    OUTCOME_TRENDS,
    ROUTE_MIX,
    SAMPLE_FLOW,
)
from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.secondary import attacker_bounds
from inburgering.disclosure.spec import SUPPRESSED_COLUMN, TableSpec

_TOL = 1e-6
_YEAR = re.compile(r"^\d{4}$")
_QUARTER = re.compile(r"^\d{4}Q[1-4]$")
_PERIOD_OF_YEAR = re.compile(r"^(\d{4})(?:Q[1-4]|-\d{2}|M\d{2})$")  # quarters or months

Coords = tuple[tuple[str, str], ...]
# Cells that are no row of their table: a declared total summed from its cells, and the level a
# partial breakdown leaves out (its total minus the published levels). Never a finding's cell.
VIRTUAL_ROW = -1
IMPLIED_ROW = -2
# Count pairs whose sum is a count of its own: an estimate row's treated and control persons are
# disjoint, so together they count both arms (a process indicator per cohort: the quarter's
# persons with and without the event; the naive before/after rows: the city's measured cohorts).
# The tables that repeat the estimates' counts (validation, side tables) add no other sum.
UNION_COUNTS: Mapping[str, tuple[str, str]] = {"estimates": ("n_treated", "n_control")}
# Tables whose counts are persons of another key column's municipality: table -> count column
# -> the column naming the municipality (the verdict's control persons are the comparison's).
COUNT_CITIES: Mapping[str, Mapping[str, str]] = {"verdict": VERDICT_COUNT_CITY}


@dataclass(frozen=True)
class Cell:
    """One published or withheld count: file, count column, data row (0-based), its key."""

    table: str
    column: str
    row: int
    coords: Coords  # dimensions at a non-total value, sorted
    value: float | None  # None: withheld (empty and flagged suppressed)

    def __str__(self) -> str:
        key = ", ".join(f"{d}={v}" for d, v in self.coords) or "total"
        shown = "withheld" if self.value is None else f"{self.value:g}"
        how = {VIRTUAL_ROW: " summed", IMPLIED_ROW: " left out"}.get(self.row, "")
        return f"{self.table}.{self.column}[{key}]{how} ({shown})"


@dataclass(frozen=True)
class Identity:
    """``total = sum(parts)`` as an attacker would assume it; ``families`` name the hypotheses
    it is an instance of (each tested on its instances whose every cell is published)."""

    total: Cell
    parts: tuple[Cell, ...]
    source: str
    declared: bool
    families: frozenset = frozenset()

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)

    @property
    def withheld(self) -> bool:
        return any(c.value is None for c in self.cells)


class _Evidence:
    """Per hypothesis, its fully published instances that hold and that fail: an attacker trusts
    a hypothesis that published instances confirm (``SYSTEMATIC`` of them) and none contradicts."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.holds: Counter = Counter()
        self.fails: Counter = Counter()

    def observe(self, family, total: float, parts: Iterable[float], n_parts: int) -> None:
        agree = abs(total - sum(parts)) <= self.tolerance * (n_parts + 1)
        (self.holds if agree else self.fails)[family] += 1

    def trusted(self, identity: Identity) -> bool:
        return identity.declared or any(
            _is_rule(self.holds[f], self.fails[f], inside_ra=False) for f in identity.families
        )


# Among the many readings tried, a sum of counts can equal another count by chance in one
# instance; an attacker cannot tell such a coincidence from a rule, so a reading counts once it
# holds in this many instances (a rule such as "6 months covers the whole cohort" holds for most
# cities and years). On the national export one reading of Table 1's households against
# composition's cohorts held once by chance in the published cells.
SYSTEMATIC = 2


def _is_rule(holds: int, fails: int, *, inside_ra: bool) -> bool:
    """Whether a reading is one an attacker can apply: it holds in ``SYSTEMATIC`` instances and,
    read from the published cells alone, none contradicts it; with the true counts (inside RA,
    the withheld instances counted too) it fails in fewer instances than it holds: one that
    fails in most is a coincidence where it holds, since no attacker can tell those instances
    from the others (two cities' 18-26-year-olds happened to number their cohorts up to 2020 in
    a 3,000-person run)."""
    return holds >= SYSTEMATIC and (fails < holds if inside_ra else fails == 0)


@dataclass(frozen=True)
class AuditFinding:
    """A withheld cell recovered exactly or proven small; ``status`` is ``recovered`` (confirmed
    by the true counts or by a declared margin) or ``possible`` (an unconfirmed hypothesis)."""

    attack: str
    status: str
    cell: Cell
    low: float
    high: float
    arithmetic: str
    min_persons: int  # the threshold: a cell proven below it is a small cell disclosed

    @property
    def exact(self) -> bool:
        return self.high - self.low < 0.5

    @property
    def small(self) -> bool:
        return self.high < self.min_persons

    def __str__(self) -> str:
        value = f"= {self.low:g}" if self.exact else f"in [{self.low:g}, {self.high:g}]"
        small = f", below {self.min_persons}" if self.small else ""
        return f"{self.attack} ({self.status}): {self.cell} {value}{small}: {self.arithmetic}"


@dataclass
class AuditReport:
    findings: list[AuditFinding] = field(default_factory=list)
    identities: int = 0
    rejected: int = 0
    withheld: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"export audit: {self.withheld} withheld cells, {self.identities} identities used, "
            f"{self.rejected} rejected, {len(self.findings)} finding(s)"
        )


class ExportAuditError(DisclosureError):
    """The published export lets an attacker recover a withheld cell; carries the findings."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        tables = sorted({f.cell.table for f in report.findings})
        shown = "; ".join(str(f) for f in report.findings[:10])
        more = f" (and {len(report.findings) - 10} more)" if len(report.findings) > 10 else ""
        super().__init__(", ".join(tables), "export_audit", f"{shown}{more}")


def export_specs() -> dict[str, TableSpec]:
    """The layout (keys, counts, margins) of every table the export writes, from the contracts
    (:mod:`inburgering.contracts`) and the specs of the tables ``disclosure.assemble`` builds."""
    specs = {
        spec.name: spec
        for spec in (COMPOSITION, ROUTE_MIX, SAMPLE_FLOW, DATA_QUALITY, OUTCOME_TRENDS)
    }
    specs["descriptives"] = DESCRIPTIVES_SPEC
    for name, side in SIDE_TABLES.items():
        kind = "frequency" if name == "overlap" else "estimate"
        specs[name] = TableSpec(name, kind, count_columns=side.counts, group_columns=side.keys)
    for name in ("estimates", "validation"):
        specs[name] = TableSpec(
            name,
            "estimate",
            count_columns=("n_treated", "n_control"),
            group_columns=(*KEY_COLUMNS, *LABELS),
        )
    verdict_keys = ("city", "comparison", "outcome", "horizon")
    specs["verdict"] = TableSpec(
        "verdict",
        "estimate",
        count_columns=tuple(c for c in VERDICT_COLUMNS if c.startswith("n_")),
        group_columns=verdict_keys,
    )
    specs["route_start_survival"] = TableSpec(
        "route_start_survival",
        "estimate",
        count_columns=("n_at_risk", "n_events"),
        group_columns=("city", "cohort", "weeks"),
    )
    return specs


@dataclass
class _Table:
    spec: TableSpec
    cells: list[Cell]
    declared_dims: set[str]
    total_dims: set[str]  # dimensions with a total row (declared or labelled "all")
    # dimensions whose total is the sum of its levels by construction: declared margins and
    # partial totals, and the variables of subgroup rows (each a subset of its all row's sample)
    partitioned_dims: set[str] = field(default_factory=set)
    virtual: dict[Cell, tuple[Cell, ...]] = field(default_factory=dict)
    implied: dict[Cell, tuple[Cell, tuple[Cell, ...]]] = field(default_factory=dict)


def _add_unions(table: _Table, columns: tuple[str, str]) -> None:
    """Each row's pair of counts as one count of their union (a virtual cell, never a
    finding's): withheld when either is, not formed where the two count different places."""
    by_row: dict[int, dict[str, Cell]] = defaultdict(dict)
    for cell in table.cells:
        if cell.row >= 0 and cell.column in columns:
            by_row[cell.row][cell.column] = cell
    for cells in by_row.values():
        if len(cells) != len(columns):
            continue
        parts = tuple(cells[c] for c in columns)
        if len({p.coords for p in parts}) > 1:
            continue
        known = all(p.value is not None for p in parts)
        value = sum(p.value for p in parts) if known else None
        union = Cell(table.spec.name, "+".join(columns), VIRTUAL_ROW, parts[0].coords, value)
        table.cells.append(union)
        table.virtual[union] = parts


def _add_virtual_totals(table: _Table) -> None:
    """The totals of declared margins that are no row of the table (composition publishes no
    city total): an attacker adds the published cells up, or treats the sum as one unknown. They
    join the cells (row -1, never a finding) so sums of other tables can be matched to them."""
    existing = {(c.column, c.coords) for c in table.cells}
    margins = sorted(table.spec.margins) if table.spec.stacked is None else []
    fine = list(table.cells)
    for size in range(1, len(margins) + 1):
        for summed in itertools.combinations(margins, size):
            groups: dict[tuple[str, Coords], list[Cell]] = defaultdict(list)
            for cell in fine:
                dims = {d for d, _ in cell.coords}
                if dims >= set(summed):
                    rest = tuple(c for c in cell.coords if c[0] not in summed)
                    groups[(cell.column, rest)].append(cell)
            for (column, rest), parts in groups.items():
                if (column, rest) in existing:
                    continue
                complete = all(c.value is not None for c in parts)
                value = sum(c.value for c in parts) if complete else None
                total = Cell(table.spec.name, column, VIRTUAL_ROW, rest, value)
                table.cells.append(total)
                table.virtual[total] = tuple(parts)
                existing.add((column, rest))


def _file(export_dir: Path, name: str) -> Path | None:
    for candidate in (export_dir / f"{name}.csv", export_dir / f"{name}.data.csv"):
        if candidate.is_file():
            return candidate
    return None


def _city_of(coords: list[tuple[str, str]], column: str | None) -> Coords:
    """A count's key with ``city`` naming the municipality its persons live in (the row's
    own city becomes ``of_city``, a qualifier)."""
    if column is None or column == "city":
        return tuple(sorted(coords))
    values = dict(coords)
    moved = {d: v for d, v in values.items() if d not in ("city", column)}
    if column in values:
        moved["city"] = values[column]
    if "city" in values:
        moved["of_city"] = values["city"]
    return tuple(sorted(moved.items()))


# Estimate rows name a subgroup ``variable:value`` (``group:statushouder``, ``cohort:2022Q1``,
# ``age:18-26``): read as that dimension at that value, so that a subgroup row's persons meet the
# cells of Table 1 (city x variable x level) and composition (city x cohort x group) and a
# variable's rows meet their ``all`` row.
SUBGROUP = "subgroup"


def _subgroup_dimensions(frame: pd.DataFrame, groups: Sequence[str]) -> set[str]:
    """The variables a ``subgroup`` column names (those that are no other key column)."""
    if SUBGROUP not in groups:
        return set()
    named = frame[SUBGROUP].str.partition(":")
    variables = named.loc[named[1].eq(":") & named[0].ne(""), 0]
    return set(variables) - set(groups)


def _subgroup_coordinate(value: str, dimensions: set[str]) -> tuple[str, str]:
    variable, _, level = value.partition(":")
    return (variable, level) if variable in dimensions else (SUBGROUP, value)


def _read_table(
    path: Path,
    spec: TableSpec,
    notes: list[str],
    city_of: Mapping[str, str],
    rules: DisclosureRules,
) -> _Table:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    groups = [c for c in spec.group_columns if c in frame.columns]
    counts = [c for c in spec.count_columns if c in frame.columns]
    kept = sorted(set(spec.count_columns) - set(counts))
    if kept:
        notes.append(f"{path.name}: count column(s) {kept} not published (kept inside RA)")
    undeclared = [
        c
        for c in frame.columns
        if c not in (*counts, *groups) and any(re.search(p, c) for p in rules.count_column_patterns)
    ]
    if undeclared:
        notes.append(f"{path.name}: {undeclared} look like counts but are not declared: not used")
    withheld = (
        frame[SUPPRESSED_COLUMN].str.lower().eq("true").to_numpy()
        if SUPPRESSED_COLUMN in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    names, level = spec.stacked or (None, None)
    declared = {d for d in spec.margins if d != level}
    if level in spec.margins:
        declared |= set(frame[names])
    totals: set[str] = set()
    cells = []
    values = frame[groups].to_numpy(dtype=object)
    dims = frame[names].to_numpy(dtype=object) if names else None
    subgroup_dims = _subgroup_dimensions(frame, groups)
    texts = {column: frame[column].to_numpy(dtype=object) for column in counts}
    for i in range(len(frame)):
        coords = []
        for j, column in enumerate(groups):
            dim = dims[i] if column == level else column
            if column == names:
                continue
            if values[i, j] in (spec.margins.get(column), TOTAL_LEVEL):
                totals.add(dim)
                if column == SUBGROUP:
                    totals |= subgroup_dims  # the all row is the total of every breakdown
                continue
            coords.append(
                _subgroup_coordinate(values[i, j], subgroup_dims)
                if column == SUBGROUP
                else (dim, values[i, j])
            )
        for column in counts:
            text = texts[column][i]
            if text == "" and not withheld[i]:
                continue  # nothing published and nothing withheld (not a count here)
            value = None if text == "" else float(text)
            key = _city_of(coords, city_of.get(column))
            cells.append(Cell(spec.name, column, i, key, value))
    partitioned = declared | set(spec.partial_totals) | subgroup_dims
    return _Table(spec, cells, declared, totals | declared, partitioned & (totals | declared))


def _within_identities(table: _Table) -> list[Identity]:
    """Each total row = the sum of its breakdown; rows with the same key hold the same count."""
    by_key: dict[tuple[str, Coords], list[Cell]] = defaultdict(list)
    for cell in table.cells:
        by_key[(cell.column, cell.coords)].append(cell)
    identities = []
    # A stacked table repeats each total once per breakdown; elsewhere a repeated key is a
    # reading to be confirmed (rows may differ in a column that is not a key).
    stacked = table.spec.stacked is not None
    for (column, _), copies in by_key.items():
        family = frozenset({(table.spec.name, column, "repeated key")})
        for copy in copies[1:]:
            identities.append(Identity(copies[0], (copy,), "the same key", stacked, family))
    groups: dict[tuple[str, str, Coords], list[Cell]] = defaultdict(list)
    for (column, coords), copies in by_key.items():
        for dim, _ in coords:
            rest = tuple(c for c in coords if c[0] != dim)
            groups[(column, dim, rest)].append(copies[0])
    for (column, dim, rest), parts in groups.items():
        totals = by_key.get((column, rest))
        if totals and dim in table.total_dims:
            declared = dim in table.declared_dims
            kind = "declared margin" if declared else "row labelled total"
            family = frozenset({(table.spec.name, column, dim)})
            source = f"{kind} over {dim} of {table.spec.name}"
            identities.append(Identity(totals[0], tuple(parts), source, declared, family))
    return identities


def _add_left_out_levels(
    table: _Table, levels: Mapping[str, set[str]], evidence: _Evidence
) -> list[Identity]:
    """The level a partial breakdown leaves out, as a cell of its own: a total row minus its
    published levels, where exactly one level the export names elsewhere is missing
    (reform_did's subgroup rows give statushouders and family migrants beside all: the overig
    persons follow; composition's national row minus the G4 cities gives the rest of the
    Netherlands). Withheld when any of its cells is; it joins the cells that other tables'
    sums are matched to. Returns the definitions ``total = levels + left out`` of the withheld
    ones (the linear programme needs them); a published one is evidence for the reading
    (a count cannot be negative)."""
    first: dict[tuple[str, Coords], Cell] = {}
    for cell in table.cells:
        first.setdefault((cell.column, cell.coords), cell)
    breakdowns: dict[tuple[str, str, Coords], list[Cell]] = defaultdict(list)
    for (column, coords), cell in first.items():
        for dim, _ in coords:
            if cell.row >= 0 and dim in table.partitioned_dims:
                rest = tuple(c for c in coords if c[0] != dim)
                breakdowns[(column, dim, rest)].append(cell)
    definitions = []
    for (column, dim, rest), parts in breakdowns.items():
        total = first.get((column, rest))
        missing = levels[dim] - {dict(p.coords)[dim] for p in parts}
        if total is None or total.row < 0 or len(missing) != 1:
            continue
        cells = (total, *parts)
        value = None
        if all(c.value is not None for c in cells):
            value = total.value - sum(p.value for p in parts)
        coords = tuple(sorted((*rest, (dim, *missing))))
        left_out = Cell(table.spec.name, column, IMPLIED_ROW, coords, value)
        table.cells.append(left_out)
        table.implied[left_out] = (total, tuple(parts))
        family = (table.spec.name, column, dim, "left-out level")
        if value is not None:
            held = value >= -evidence.tolerance * len(cells)
            (evidence.holds if held else evidence.fails)[family] += 1
        else:
            source = f"{total} minus its published levels of {dim} leaves out {dim}={missing}"
            identity = Identity(total, (*parts, left_out), source, False, frozenset({family}))
            definitions.append(identity)
    return definitions


def _levels(tables: Mapping[str, _Table]) -> dict[str, set[str]]:
    """Every value each dimension takes anywhere in the export (what a reader knows exists)."""
    levels: dict[str, set[str]] = defaultdict(set)
    for table in tables.values():
        for cell in table.cells:
            for dim, value in cell.coords:
                levels[dim].add(value)
    return levels


def _coarse(fine: str) -> str | None:
    match = _PERIOD_OF_YEAR.match(fine)
    return match.group(1) if match else None


class _Breakdowns:
    """A frequency table's cells indexed for lookups by a coarser key of another table."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.dims = {d for cell in table.cells for d, _ in cell.coords}
        self.classes: dict[tuple[str, frozenset[str]], list[Cell]] = defaultdict(list)
        for cell in table.cells:
            self.classes[(cell.column, frozenset(d for d, _ in cell.coords))].append(cell)
        self._index: dict[tuple, dict[tuple, list[Cell]]] = {}

    def parts(
        self, column: str, dims: frozenset[str], key: Coords
    ) -> tuple[list[Cell], tuple[str, ...]]:
        """Cells of class ``dims`` matching ``key`` (a B value matches A's year if it is a
        quarter or month of it); also the dimensions summed from periods to years."""
        coarse = tuple(d for d, v in key if _YEAR.match(v))
        index_key = (column, dims, tuple(d for d, _ in key), coarse)
        if index_key not in self._index:
            index: dict[tuple, list[Cell]] = defaultdict(list)
            for cell in self.classes[(column, dims)]:
                values = dict(cell.coords)
                projected = tuple(
                    (_coarse(values[d]) or values[d]) if d in coarse else values[d] for d, _ in key
                )
                index[projected].append(cell)
            self._index[index_key] = index
        found = self._index[index_key].get(tuple(v for _, v in key), [])
        summed = tuple(d for d in coarse if any(dict(c.coords)[d] != dict(key)[d] for c in found))
        return found, summed


@dataclass(frozen=True)
class _Block:
    """Cells of a breakdown that a coarser key sums over, with their published sum."""

    parts: tuple[Cell, ...]
    label: str  # how they are summed, for the message
    family: tuple  # the hypothesis, without the qualifiers of the coarser count
    published: float
    complete: bool  # every cell published


def _block(parts: Sequence[Cell], label: str, family: tuple) -> _Block:
    published = sum(c.value for c in parts if c.value is not None)
    complete = all(c.value is not None for c in parts)
    return _Block(tuple(parts), label, family, published, complete)


def _cross_identities(tables: Mapping[str, _Table], evidence: _Evidence) -> list[Identity]:
    """A count of one table as the sum of a matching breakdown of a frequency table: over all
    of a breakdown's values, or over a run of its periods (cohorts from or up to a year).
    Instances with every cell published only feed ``evidence``; the same arithmetic from
    several published counts (a sample size repeated on many estimate rows) is one identity."""
    breakdowns = [_Breakdowns(t) for t in tables.values()]
    blocks: dict[tuple[int, Coords], list[_Block]] = {}
    found: dict[tuple[float, int], tuple[Identity, set]] = {}
    splits: dict[tuple[tuple[str, ...], int], tuple[bool, ...]] = {}  # which dims B shares
    for table in tables.values():
        for total in table.cells:
            if total.value is None:
                continue
            names = tuple(d for d, _ in total.coords)
            for number, other in enumerate(breakdowns):
                if other.table is table:
                    continue
                if (names, number) not in splits:
                    splits[(names, number)] = tuple(d in other.dims for d in names)
                inside = splits[(names, number)]
                shared = tuple(c for c, keep in zip(total.coords, inside, strict=True) if keep)
                qualifiers = tuple(
                    c for c, keep in zip(total.coords, inside, strict=True) if not keep
                )
                if not shared and total.coords:
                    continue
                if (number, shared) not in blocks:
                    blocks[(number, shared)] = list(_blocks(other, shared))
                head = (total.table, total.column)
                for block in blocks[(number, shared)]:
                    # the hot loop (totals x blocks): the block's sum and slack are computed once
                    family = (head, block.family, qualifiers)
                    slack = evidence.tolerance * (len(block.parts) + block.complete)
                    if block.complete:
                        agree = abs(total.value - block.published) <= slack
                        (evidence.holds if agree else evidence.fails)[family] += 1
                    elif block.published > total.value + slack:
                        evidence.fails[family] += 1  # contradicted by the published cells
                    else:
                        key = (total.value, id(block))
                        if key not in found:
                            source = f"{total.table} vs {block.label}"
                            if qualifiers:
                                source += f" (if it counts all of them at {dict(qualifiers)})"
                            found[key] = (Identity(total, block.parts, source, False), set())
                        found[key][1].add(family)
    return [
        Identity(i.total, i.parts, i.source, False, frozenset(families))
        for i, families in found.values()
    ]


def _blocks(other: _Breakdowns, shared: Coords) -> Iterable[_Block]:
    """Every breakdown of ``other`` that sums to the key ``shared``, and its runs of years; of
    a table whose counts do not add up (estimates), only the count with that very key."""
    shared_dims = {d for d, _ in shared}
    name = other.table.spec.name
    additive = other.table.spec.kind == "frequency"
    for column, dims in other.classes:
        extra = dims - shared_dims
        if not shared_dims <= dims or (extra and not additive):
            continue
        parts, summed = other.parts(column, dims, shared)
        if not parts or (not additive and (summed or len(parts) > 1)):
            continue
        how = [f"summed over {', '.join(sorted(extra))}"] if extra else []
        how += [f"periods summed to years in {', '.join(summed)}"] if summed else []
        label = f"{name}.{column}" + (f" {'; '.join(how)}" if how else "")
        family = (name, column, dims)
        yield _block(parts, label, family)
        for run_label, run in _period_runs(parts, extra) if additive else ():
            yield _block(run, f"{label}, {run_label}", (*family, run_label))


def _period_runs(parts: Sequence[Cell], extra: Iterable[str]) -> list[tuple[str, tuple[Cell, ...]]]:
    """The parts of each run of periods of a dimension summed over, cut at a year (the cohorts
    from the reform year on) or, where the parts are quarters, at any quarter (a city's policy
    bundle starting mid-year; the cohorts a horizon has reached by the data's end): a count
    over such a run is a sum an attacker can try. A quarter cut that selects the same cells as
    a year cut is that run, tried once."""
    runs: dict[tuple[bool, ...], str] = {}
    for dim in sorted(extra):
        values = [dict(c.coords)[dim] for c in parts]
        years = [v if _YEAR.match(v) else _coarse(v) for v in values]
        if any(y is None for y in years):
            continue
        cuts = [(years, sorted(set(years)))]
        if all(_QUARTER.match(v) for v in values):
            cuts.append((values, sorted(set(values))))
        for periods, distinct in cuts:
            for cut in distinct[1:]:
                runs.setdefault(tuple(p >= cut for p in periods), f"{dim} from {cut} on")
            for cut in distinct[:-1]:
                runs.setdefault(tuple(p <= cut for p in periods), f"{dim} up to {cut}")
    return [
        (label, tuple(c for c, keep in zip(parts, mask, strict=True) if keep))
        for mask, label in runs.items()
    ]


class _Truth:
    """The true count of a cell (inside RA): the table as computed (a published count may be
    rounded), else the published value; NaN for a withheld cell of a table without its true
    counts (a figure pooled rather than suppressed): an identity through it is not confirmed."""

    def __init__(
        self,
        truth: Mapping[str, pd.DataFrame],
        virtual: Mapping[Cell, tuple[Cell, ...]],
        implied: Mapping[Cell, tuple[Cell, tuple[Cell, ...]]],
    ) -> None:
        self.truth = truth
        self.virtual = virtual
        self.implied = implied
        self.arrays: dict[tuple[str, str], np.ndarray] = {}
        self.known: dict[Cell, float] = {}

    def __call__(self, cell: Cell) -> float:
        if cell not in self.known:
            self.known[cell] = self._value(cell)
        return self.known[cell]

    def _value(self, cell: Cell) -> float:
        if cell in self.virtual:
            return sum(self(part) for part in self.virtual[cell])
        if cell in self.implied:
            total, parts = self.implied[cell]
            left_out = self(total) - sum(map(self, parts))
            # below zero the levels are no partition of their total: the reading is false
            return left_out if left_out >= -_TOL else np.nan
        key = (cell.table, cell.column)
        if key not in self.arrays:
            frame = self.truth.get(cell.table)
            column = frame[cell.column] if frame is not None and cell.column in frame else None
            self.arrays[key] = (
                pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
                if column is not None
                else np.array([])
            )
        values = self.arrays[key]
        if cell.row < len(values):
            return float(values[cell.row])
        return np.nan if cell.value is None else cell.value


def _accepted(
    identities: Sequence[Identity],
    truth: Mapping[str, pd.DataFrame] | None,
    evidence: _Evidence,
    virtual: Mapping[Cell, tuple[Cell, ...]],
    implied: Mapping[Cell, tuple[Cell, tuple[Cell, ...]]],
) -> tuple[list[Identity], int]:
    """Identities an attacker may use: the true ones (truth known), else the declared ones
    and the hypotheses that the published cells confirm and do not contradict."""
    for identity in identities:
        if not identity.declared and not identity.withheld:
            values = [c.value for c in identity.parts]
            for family in identity.families:
                evidence.observe(family, identity.total.value, values, len(values))
    involved = [i for i in identities if i.withheld]
    if truth is not None:
        true = _Truth(truth, virtual, implied)
        holds = {i: abs(true(i.total) - sum(map(true, i.parts))) <= _TOL for i in involved}
        instances = Counter(evidence.holds)
        for identity, held in holds.items():
            if held:
                instances.update(identity.families)
        # Failures matter only for the readings some true identity is an instance of (tens of
        # thousands of false identities carry millions of family memberships).
        candidates = frozenset(f for i, held in holds.items() if held for f in i.families)
        failures = Counter({f: evidence.fails[f] for f in candidates if f in evidence.fails})
        for identity, held in holds.items():
            if not held:
                failures.update(identity.families & candidates)
        kept = [
            i
            for i, held in holds.items()
            if held
            and (
                i.declared
                or any(_is_rule(instances[f], failures[f], inside_ra=True) for f in i.families)
            )
        ]
    else:
        kept = [i for i in involved if evidence.trusted(i)]
    return kept, len(involved) - len(kept)


def _left_out_findings(
    implied: Mapping[Cell, tuple[Cell, tuple[Cell, ...]]],
    evidence: _Evidence,
    truth: Mapping[str, pd.DataFrame] | None,
    rules: DisclosureRules,
) -> list[AuditFinding]:
    """A left-out level that its published total and levels put at 1 to ``min_persons - 1``
    persons, where the reading holds (never negative) in most of its instances."""
    findings = []
    for cell, (total, parts) in implied.items():
        if cell.value is None or not 0.5 <= cell.value < rules.min_persons:
            continue
        dim = next(d for d, _ in cell.coords if d not in dict(total.coords))
        family = (cell.table, cell.column, dim, "left-out level")
        holds, fails = evidence.holds[family], evidence.fails[family]
        if not _is_rule(holds, fails, inside_ra=truth is not None):
            continue
        text = (
            f"{total} - {len(parts)} published level(s) of {dim} "
            f"({sum(p.value for p in parts):g}) = {cell.value:g}"
        )
        status = "recovered" if truth is not None else "possible"
        findings.append(
            AuditFinding(
                "left_out_level", status, cell, cell.value, cell.value, text, rules.min_persons
            )
        )
    return findings


def _single_findings(
    identity: Identity, rules: DisclosureRules, status: str, rounding: float
) -> list[AuditFinding]:
    """One identity on its own: a lone withheld cell is its value; several withheld parts of
    a published total share what is left, each at most that."""
    unknown = [c for c in (identity.total, *identity.parts) if c.value is None]
    known = [c for c in identity.parts if c.value is not None]
    published = sum(c.value for c in known)
    spread = rounding * (len(known) + 1)
    if identity.total.value is None:
        if len(unknown) > 1:
            return []
        low, high = published - spread, published + spread
        text = f"{identity.total.table} total = sum of its published parts {published:g}"
    else:
        rest = identity.total.value - published
        if rest + spread < -0.5:
            return []
        low, high = max(rest - spread, 0.0), rest + spread
        text = (
            f"{identity.total} - {len(known)} published cell(s) of "
            f"{identity.parts[0].table} ({published:g}) = {rest:g}"
        )
        if len(unknown) > 1:
            if high >= rules.min_persons:
                return []
            text += f" shared by {len(unknown)} withheld cells"
            low = 0.0
    if len(unknown) == 1 and high - low >= 0.5 and high >= rules.min_persons:
        return []
    attack = "across_tables" if identity.total.table != identity.parts[0].table else "within_table"
    text = f"{text} [{identity.source}]"
    return [
        AuditFinding(attack, status, cell, low, high, text, rules.min_persons)
        for cell in unknown
        if cell.row >= 0
    ]


def _joint_findings(
    identities: Sequence[Identity], rules: DisclosureRules, already: set[Cell]
) -> list[AuditFinding]:
    """The attacker's linear programme over every accepted identity (counts >= 0)."""
    equations = [(i.total, i.parts) for i in identities]
    unknown = sorted(
        {c for total, parts in equations for c in (total, *parts) if c.value is None},
        key=lambda c: (c.table, c.column, c.row, c.coords),
    )
    values = {
        c: c.value for total, parts in equations for c in (total, *parts) if c.value is not None
    }
    known = {c for total, parts in equations for c in (total, *parts) if c.value is not None}
    findings = []
    for cells, component in _components(unknown, equations):
        targets = [c for c in cells if c not in already and c.row >= 0]
        if not targets:
            continue
        bounds = attacker_bounds(cells, component, values, known, targets)
        for cell, (low, high) in bounds.items():
            if np.isnan(low) or np.isnan(high):
                continue
            if high - low < _TOL or high < rules.min_persons - _TOL:
                text = f"linear programme over {len(component)} identities of " + ", ".join(
                    sorted({c.table for eq in component for c in (eq[0], *eq[1])})
                )
                finding = AuditFinding(
                    "linear_programme", "recovered", cell, low, high, text, rules.min_persons
                )
                findings.append(finding)
    return findings


def _components(unknown: Sequence[Cell], equations: Sequence[tuple[Cell, tuple[Cell, ...]]]):
    parent = {c: c for c in unknown}

    def find(cell: Cell) -> Cell:
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    for total, parts in equations:
        hidden = [c for c in (total, *parts) if c.value is None]
        for cell in hidden[1:]:
            parent[find(cell)] = find(hidden[0])
    groups: dict[Cell, tuple[list[Cell], list]] = {}
    for cell in unknown:
        groups.setdefault(find(cell), ([], []))[0].append(cell)
    for total, parts in equations:
        hidden = [c for c in (total, *parts) if c.value is None]
        if hidden:
            groups[find(hidden[0])][1].append((total, parts))
    return list(groups.values())


def audit_export(
    export_dir: str | Path,
    rules: DisclosureRules,
    *,
    specs: Mapping[str, TableSpec] | None = None,
    truth: Mapping[str, pd.DataFrame] | None = None,
    count_cities: Mapping[str, Mapping[str, str]] = COUNT_CITIES,
    union_counts: Mapping[str, tuple[str, str]] = UNION_COUNTS,
) -> AuditReport:
    """Try every differencing attack on the CSVs of an export folder.

    Parameters
    ----------
    export_dir
        The export (or its staging folder before it is published).
    rules
        From :func:`inburgering.disclosure.load_rules` (``min_persons``, ``rounding``).
    specs
        Layout of each table by name (default :func:`export_specs`, from the contracts).
    truth
        Inside RA: each table as computed before suppression, row for row as exported (the
        withheld counts). With it an identity is used only where it is true, so every finding
        is a real disclosure; without it unconfirmed identities give ``possible`` findings.
    count_cities
        Count columns whose persons live in the municipality another key column names.
    union_counts
        Per table, two count columns of disjoint persons whose sum an attacker also reads.

    Returns
    -------
    AuditReport
        Findings (empty when the export is safe), counts and what the audit cannot see.
    """
    export_dir = Path(export_dir)
    specs = dict(specs or export_specs())
    report = AuditReport()
    tables: dict[str, _Table] = {}
    for name, spec in sorted(specs.items()):
        path = _file(export_dir, name)
        if path is not None:
            cities = count_cities.get(name, {})
            tables[name] = _read_table(path, spec, report.notes, cities, rules)
    unknown_files = sorted(
        p.name
        for p in export_dir.glob("*.csv")
        if p.name.removesuffix(".csv").removesuffix(".data") not in specs
    )
    if unknown_files:
        report.notes.append(f"no declared layout, not audited: {', '.join(unknown_files)}")
    report.notes += [
        f"{t.spec.name}.csv: shares without their counts are not inverted"
        for t in tables.values()
        if t.spec.kind == "share"
    ]
    rounding = (rules.rounding_base or 0) / 2
    evidence = _Evidence(max(rounding, 0.5))
    report.withheld = sum(c.value is None for t in tables.values() for c in t.cells)
    virtual: dict[Cell, tuple[Cell, ...]] = {}
    for table in tables.values():
        if table.spec.name in union_counts:
            _add_unions(table, union_counts[table.spec.name])
        _add_virtual_totals(table)
        virtual.update(table.virtual)
    identities = [i for t in tables.values() for i in _within_identities(t)]
    levels = _levels(tables)
    implied: dict[Cell, tuple[Cell, tuple[Cell, ...]]] = {}
    for table in tables.values():
        identities += _add_left_out_levels(table, levels, evidence)
        implied.update(table.implied)
    identities += _cross_identities(tables, evidence)
    accepted, report.rejected = _accepted(identities, truth, evidence, virtual, implied)
    report.findings += _left_out_findings(implied, evidence, truth, rules)
    report.identities = len(accepted)
    for identity in accepted:
        status = "recovered" if truth is not None or identity.declared else "possible"
        report.findings += _single_findings(identity, rules, status, rounding)
    if rounding:
        report.notes.append("counts are rounded: no joint linear programme, identities one by one")
    else:
        joint = accepted if truth is not None else [i for i in accepted if i.declared]
        found = {f.cell for f in report.findings}
        report.findings += _joint_findings(joint, rules, found)
    return report


def assert_export_safe(
    export_dir: str | Path,
    rules: DisclosureRules,
    *,
    specs: Mapping[str, TableSpec] | None = None,
    truth: Mapping[str, pd.DataFrame] | None = None,
) -> AuditReport:
    """Like :func:`audit_export`; raise :class:`ExportAuditError` on any finding."""
    report = audit_export(export_dir, rules, specs=specs, truth=truth)
    if report.findings:
        raise ExportAuditError(report)
    return report


def findings_frame(findings: Iterable[AuditFinding]) -> pd.DataFrame:
    """Findings as rows (for logs and tests): table, column, key, attack, status, range."""
    return pd.DataFrame(
        [
            {
                "table": f.cell.table,
                "column": f.cell.column,
                "key": dict(f.cell.coords),
                "attack": f.attack,
                "status": f.status,
                "low": f.low,
                "high": f.high,
                "small": f.small,
                "arithmetic": f.arithmetic,
            }
            for f in findings
        ],
        columns=[
            "table",
            "column",
            "key",
            "attack",
            "status",
            "low",
            "high",
            "small",
            "arithmetic",
        ],
    )
