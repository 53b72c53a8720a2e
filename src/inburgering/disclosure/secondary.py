"""Secondary suppression: no suppressed cell may be recovered by subtraction from margins.

Model. A *cell* is a count of persons identified by a key ``(measure, ((dim, value), ...))``:
``measure`` is the universe plus count column, and dimensions at their total label are dropped, so
"Rotterdam, all cohorts" in a city x cohort table and "Rotterdam, both sexes" in a city x sex table
are the same cell. Each exhaustive breakdown gives an *equation* ``total = sum(components)``.
Every cell published anywhere (in this table or an earlier one in the registry) is known to an
attacker; the others (suppressed, or never published) are unknowns >= 0.

Heuristic (sound because it is audited):
1. group rule: an equation with exactly one unknown that is suppressed gets a complement, the
   smallest still-published cell of the current table in that equation (a lone unknown in a sum
   is recovered by subtraction);
2. audit: the attacker's linear programme (min and max of every suppressed cell subject to all
   equations, published values and non-negativity) must leave every suppressed cell a non-zero
   range, and every cell suppressed for being small must be able to reach the threshold (else the
   attacker proves it is small). A failing cell gets a complement as in 1, widening to its
   connected component;
3. repeat to a fixed point. Cells published by earlier tables are never re-suppressed (they are
   already out); if nothing can be suppressed, a DisclosureError stops the export.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from inburgering.disclosure.errors import DisclosureError

Key = tuple[str, tuple[tuple[str, str], ...]]
Equation = tuple[Key, tuple[Key, ...]]  # total, components
_TOL = 1e-6


@dataclass
class MarginRegistry:
    """Cells and equations of every table checked so far in one export (cross-table margins)."""

    values: dict[Key, float] = field(default_factory=dict)
    owner: dict[Key, str] = field(default_factory=dict)
    published: set[Key] = field(default_factory=set)
    suppressed: set[Key] = field(default_factory=set)
    small: set[Key] = field(default_factory=set)
    protected: set[Key] = field(default_factory=set)
    equations: set[Equation] = field(default_factory=set)

    def check_consistent(self, table: str, values: Mapping[Key, float]) -> None:
        """Same cell, different number: the universes are mislabelled (would break the audit)."""
        for key, value in values.items():
            old = self.values.get(key)
            if old is not None and not np.isclose(old, value):
                raise DisclosureError(
                    table,
                    "shared_margin",
                    f"cell {key} is {value:g} here but {old:g} in '{self.owner[key]}'; tables "
                    "sharing a universe must agree (give them different universes otherwise)",
                )

    def add(
        self,
        table: str,
        rows: Sequence[Mapping[Key, float]],
        suppressed: set[int],
        primary: set[int],
        small: set[Key],
        equations: Iterable[Equation],
    ) -> None:
        for index, row in enumerate(rows):
            for key, value in row.items():
                self.values.setdefault(key, value)
                self.owner.setdefault(key, table)
                if index in suppressed:
                    if key not in self.published:
                        self.suppressed.add(key)
                else:
                    self.published.add(key)
                    self.suppressed.discard(key)
        self.small |= small
        self.protected |= {k for i in primary for k in rows[i]}
        self.equations |= set(equations)


def table_equations(row_keys: Sequence[Key], margins: Iterable[str]) -> set[Equation]:
    """One equation per exhaustive breakdown: total key = sum of keys that add the dimension."""
    groups: dict[tuple[str, Key], list[Key]] = defaultdict(list)
    for key in row_keys:
        measure, dims = key
        for dim in margins:
            if any(d == dim for d, _ in dims):
                total = (measure, tuple((d, v) for d, v in dims if d != dim))
                groups[(dim, total)].append(key)
    return {(total, tuple(sorted(set(parts)))) for (_, total), parts in groups.items()}


class _State:
    """Known/unknown bookkeeping for one protection run."""

    def __init__(
        self,
        rows: Sequence[Mapping[Key, float]],
        suppressed: set[int],
        registry: MarginRegistry,
        equations: set[Equation],
    ) -> None:
        self.rows = rows
        self.suppressed = set(suppressed)
        self.registry = registry
        self.equations = sorted(registry.equations | equations)
        self.values = {**registry.values}
        for row in rows:
            self.values.update(row)
        self.row_of: dict[Key, int] = {k: i for i, row in enumerate(rows) for k in row}
        self.small: set[Key] = set()
        self.protected = registry.protected | {k for i in suppressed for k in rows[i]}
        self.by_key: dict[Key, list[Equation]] = defaultdict(list)
        for equation in self.equations:
            for key in (equation[0], *equation[1]):
                self.by_key[key].append(equation)

    def known(self, key: Key) -> bool:
        if key in self.registry.published:
            return True
        row = self.row_of.get(key)
        return row is not None and row not in self.suppressed

    def hidden(self, key: Key) -> bool:
        """Suppressed somewhere (not merely never published)."""
        if self.known(key):
            return False
        return key in self.registry.suppressed or key in self.row_of

    def candidate_rows(self, keys: Iterable[Key]) -> list[int]:
        """Rows of the current table that may still be suppressed, cheapest first."""
        found = {
            self.row_of[k]
            for k in keys
            if k in self.row_of and self.known(k) and k not in self.registry.published
        }
        # Prefer small cells (least information lost) and components over totals.
        return sorted(
            found,
            key=lambda i: (min(self.rows[i].values()), -max(len(k[1]) for k in self.rows[i]), i),
        )


def _group_rule(state: _State) -> bool:
    for total, parts in state.equations:
        members = (total, *parts)
        unknown = [k for k in members if not state.known(k)]
        if len(unknown) == 1 and state.hidden(unknown[0]):
            candidates = state.candidate_rows(members)
            if candidates:
                state.suppressed.add(candidates[0])
                return True
    return False


def _components(state: _State) -> list[tuple[list[Key], list[Equation]]]:
    parent: dict[Key, Key] = {}

    def find(key: Key) -> Key:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    active = []
    for equation in state.equations:
        unknown = [k for k in (equation[0], *equation[1]) if not state.known(k)]
        if unknown:
            active.append(equation)
            for key in unknown[1:]:
                parent[find(key)] = find(unknown[0])
            find(unknown[0])
    comps: dict[Key, tuple[list[Key], list[Equation]]] = {}
    for key in sorted(parent):
        comps.setdefault(find(key), ([], []))[0].append(key)
    for equation in active:
        first = next(k for k in (equation[0], *equation[1]) if not state.known(k))
        comps[find(first)][1].append(equation)
    return list(comps.values())


class _Programme:
    """The attacker's linear system for one connected component, built once, solved per cell."""

    def __init__(
        self,
        unknown: Sequence[Key],
        equations: Sequence[Equation],
        values: Mapping[Key, float],
        known: set[Key],
    ) -> None:
        self.index = {k: j for j, k in enumerate(unknown)}
        rows, cols, data, rhs = [], [], [], []
        for r, (total, parts) in enumerate(equations):
            constant = 0.0
            for key, sign in ((total, 1.0), *((p, -1.0) for p in parts)):
                if key in known:
                    constant += sign * values[key]
                else:
                    rows.append(r)
                    cols.append(self.index[key])
                    data.append(sign)
            rhs.append(-constant)
        self.matrix = csr_matrix((data, (rows, cols)), shape=(len(equations), len(unknown)))
        self.rhs = np.asarray(rhs)

    def extreme(self, key: Key, sign: float) -> float:
        """max (sign=1) or min (sign=-1) of a cell; inf if unbounded, nan if infeasible."""
        objective = np.zeros(len(self.index))
        objective[self.index[key]] = -sign
        result = linprog(
            objective, A_eq=self.matrix, b_eq=self.rhs, bounds=(0, None), method="highs"
        )
        if result.status == 3:
            return np.inf * sign
        return -sign * result.fun if result.status == 0 else np.nan


def attacker_bounds(
    unknown: Sequence[Key],
    equations: Sequence[Equation],
    values: Mapping[Key, float],
    known: set[Key],
    targets: Iterable[Key] | None = None,
) -> dict[Key, tuple[float, float]]:
    """Min and max of unknown cells an attacker can derive from published cells.

    Parameters
    ----------
    unknown
        Cells not published anywhere (suppressed or never published), all >= 0.
    equations
        ``(total, components)`` sums linking the cells.
    values, known
        Published values and the set of published cells.
    targets
        Cells to bound (default: all unknown cells).

    Returns
    -------
    dict
        ``{cell: (low, high)}`` solved with HiGHS; ``inf`` when unbounded, ``nan`` when the
        published numbers are not additive (infeasible system).
    """
    programme = _Programme(unknown, equations, values, known)
    return {
        k: (programme.extreme(k, -1.0), programme.extreme(k, 1.0))
        for k in (unknown if targets is None else targets)
    }


def _programmes(state: _State) -> Iterator[tuple[list[Key], Callable[[], _Programme]]]:
    """Connected components of unknown cells with a lazily built programme each."""
    for keys, equations in _components(state):
        known = {k for eq in equations for k in (eq[0], *eq[1]) if state.known(k)}

        def build(keys=keys, equations=equations, known=known) -> _Programme:
            return _Programme(keys, equations, state.values, known)

        yield keys, build


def _pinned(programme: _Programme, key: Key, true: float) -> bool:
    # The true value is feasible: a maximum above it already proves a non-zero range.
    return programme.extreme(key, 1.0) - true < _TOL and true - programme.extreme(key, -1.0) < _TOL


def _failures(state: _State, threshold: float) -> list[Key]:
    """Protected cells the attacker pins down or proves to be below the threshold."""
    failing = []
    for keys, build in _programmes(state):
        watched = [k for k in keys if k in state.protected and state.hidden(k)]
        if not watched:
            continue
        programme = build()
        for key in watched:
            high, true = programme.extreme(key, 1.0), state.values[key]
            small = key in state.registry.small or key in state.small
            unsafe = np.isnan(high) or (small and high < threshold - _TOL)
            if unsafe or (high - true < _TOL and true - programme.extreme(key, -1.0) < _TOL):
                failing.append(key)
    return failing


def _release_determined(state: _State, primary: set[int]) -> set[int]:
    """Publish complements the attacker can compute anyway (they protect nothing).

    A cell whose value is fixed by the equations adds no uncertainty; publishing it leaves the
    feasible region, hence every protected cell's bounds, unchanged. So all such rows can be
    released at once, and no suppressed complement remains recoverable by subtraction.
    """
    candidates = state.suppressed - primary
    determined: set[Key] = set()
    for keys, build in _programmes(state):
        secondary = [k for k in keys if state.row_of.get(k, -1) in candidates]
        if secondary:
            programme = build()
            determined |= {k for k in secondary if _pinned(programme, k, state.values[k])}
    # A row is released only if every one of its cells is determined (or published elsewhere).
    release = {
        row
        for row in candidates
        if all(k in determined or k in state.registry.published for k in state.rows[row])
    }
    return state.suppressed - release


def _complement(state: _State, failing: Key) -> int | None:
    """The cheapest row whose suppression adds uncertainty next to a failing cell."""
    neighbours = {k for eq in state.by_key[failing] for k in (eq[0], *eq[1])}
    candidates = state.candidate_rows(neighbours)
    if not candidates:
        component = next((keys for keys, _ in _components(state) if failing in keys), [failing])
        reach = {k for c in component for eq in state.by_key[c] for k in (eq[0], *eq[1])}
        candidates = state.candidate_rows(reach)
    return candidates[0] if candidates else None


def protect(
    table: str,
    rows: Sequence[Mapping[Key, float]],
    primary: set[int],
    small: set[Key],
    equations: set[Equation],
    registry: MarginRegistry,
    *,
    threshold: float,
) -> set[int]:
    """Return the rows to suppress (primary plus complements) so that the audit passes.

    Parameters
    ----------
    table
        Table name for error messages.
    rows
        Per row of the current table, its cells ``{key: count}``.
    primary
        Row positions suppressed by the primary rules.
    small
        Keys suppressed for being below the threshold (their upper bound must reach it).
    equations
        Additive equations of the current table (see :func:`table_equations`).
    registry
        Cells and equations of tables checked before; not modified here.
    threshold
        The minimum number of persons.
    """
    state = _State(rows, primary, registry, equations)
    state.small = small
    # Cells hidden by an earlier table must stay hidden (else that table's protection is undone).
    for key, row in state.row_of.items():
        if key in registry.suppressed and key not in registry.published:
            state.suppressed.add(row)
    while True:
        if _group_rule(state):
            continue
        failing = _failures(state, threshold)
        if not failing:
            return _release_determined(state, primary)
        # One complement per failing cell per round: far fewer rounds than one at a time.
        added = {_complement(state, key) for key in failing} - {None}
        if not added:
            raise DisclosureError(
                table,
                "secondary_suppression",
                f"cell {failing[0]} can be recovered from cells already published by earlier "
                "tables and nothing in this table can protect it; export the tables in another "
                "order or coarsen the breakdown",
            )
        state.suppressed |= added
