"""Secondary suppression: no suppressed cell can be recovered from published margins.

The attacker here is written independently of the engine: it reads only the *exported* table,
writes the row/column/grand-total equations itself and bounds every suppressed cell by linear
programming (non-negative counts).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from disclosure_helpers import two_way
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from inburgering.disclosure import DisclosureError, MarginRegistry, TableSpec, check_table

SPEC = TableSpec(
    "city_cohort",
    "frequency",
    count_columns=["n"],
    group_columns=["city", "cohort"],
    margins={"city": "all", "cohort": "all"},
    universe="obligated_persons",
)


def attack(published: list[pd.DataFrame], dims_list: list[tuple[str, str]]):
    """Bounds of every suppressed cell from several exported two-way tables with totals.

    Cells are identified by their dims with the total label dropped, as a reader would match
    "Rotterdam, all cohorts" with "Rotterdam, both sexes".
    """
    values: dict[frozenset, float] = {}
    hidden: set[frozenset] = set()
    equations: list[tuple[frozenset, list[frozenset]]] = []

    def key(a: str, b: str, dims: tuple[str, str]) -> frozenset:
        return frozenset((d, v) for d, v in zip(dims, (a, b), strict=True) if v != "all")

    for frame, dims in zip(published, dims_list, strict=True):
        for row in frame.to_dict(orient="records"):
            cell = key(row[dims[0]], row[dims[1]], dims)
            if pd.isna(row["n"]):
                hidden.add(cell)
            else:
                values[cell] = float(row["n"])
        # Breakdowns are exhaustive (declared in the export's description), totals or not.
        firsts = sorted(set(frame[dims[0]]) - {"all"})
        seconds = sorted(set(frame[dims[1]]) - {"all"})
        for a in [*firsts, "all"]:
            equations.append((key(a, "all", dims), [key(a, b, dims) for b in seconds]))
        for b in [*seconds, "all"]:
            equations.append((key("all", b, dims), [key(a, b, dims) for a in firsts]))
    free = {k for t, parts in equations for k in (t, *parts)} - set(values) - hidden
    hidden -= set(values)
    order = sorted(hidden | free, key=sorted)
    index = {k: i for i, k in enumerate(order)}
    a_eq, b_eq = [], []
    for total, parts in equations:
        row, rhs = np.zeros(len(order)), 0.0
        for cell, sign in ((total, 1.0), *((p, -1.0) for p in parts)):
            if cell in index:
                row[index[cell]] += sign
            else:
                rhs -= sign * values[cell]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    bounds = {}
    for cell, i in index.items():
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(order))
            c[i] = sign
            res = linprog(
                c,
                A_eq=np.array(a_eq) if a_eq else None,
                b_eq=b_eq or None,
                bounds=(0, None),
                method="highs",
            )
            ends.append(np.inf if res.status == 3 else sign * res.fun)
        if cell in hidden:
            bounds[cell] = tuple(ends)
    return bounds


def assert_protected(bounds, truth, threshold=10, protect=None):
    """No hidden cell is pinned down; no small cell can be proven small.

    ``protect`` restricts the first check to the cells that must be protected (across tables a
    complement hidden earlier may become computable, which reveals a count >= threshold only).
    """
    for key, (low, high) in bounds.items():
        true = truth[key]
        assert low - 1e-6 <= true <= high + 1e-6
        if protect is None or key in protect:
            assert high - low > 1e-6, f"{sorted(key)} recovered exactly ({low})"
        if 0 < true < threshold:
            assert high >= threshold - 1e-6, f"{sorted(key)}: attacker proves it is <= {high}"


def truth_of(frame, dims):
    return {
        frozenset((d, r[d]) for d in dims if r[d] != "all"): r["n"]
        for r in frame.to_dict(orient="records")
    }


def test_worked_city_by_cohort_example(rules):
    cells = {
        ("rotterdam", "2021"): 5,
        ("rotterdam", "2022"): 40,
        ("rotterdam", "2023"): 50,
        ("amsterdam", "2021"): 30,
        ("amsterdam", "2022"): 31,
        ("amsterdam", "2023"): 45,
        ("den_haag", "2021"): 12,
        ("den_haag", "2022"): 3,
        ("den_haag", "2023"): 22,
    }
    frame = two_way(cells)
    checked = check_table(frame, SPEC, rules)
    assert checked.report.n_primary == 2 and checked.report.n_secondary >= 2
    bounds = attack([checked.frame], [("city", "cohort")])
    assert_protected(bounds, truth_of(frame, ("city", "cohort")))


def test_single_small_cell_in_a_row_gets_a_complement(rules):
    # Without secondary suppression, 7 = 100 - 93 would be read off the margin.
    frame = two_way({("a", "x"): 7, ("a", "y"): 93, ("b", "x"): 50, ("b", "y"): 60})
    checked = check_table(frame, SPEC, rules)
    assert checked.frame["suppressed"].sum() >= 4  # a 2x2 needs a full rectangle
    assert_protected(
        attack([checked.frame], [("city", "cohort")]), truth_of(frame, ("city", "cohort"))
    )


def test_group_disclosure_cell_equal_to_its_margin(rules):
    frame = two_way({("a", "x"): 0, ("a", "y"): 40, ("b", "x"): 50, ("b", "y"): 60})
    checked = check_table(frame, SPEC, rules)
    assert "group_disclosure" in set(checked.report.reasons["rule"])
    assert_protected(
        attack([checked.frame], [("city", "cohort")]), truth_of(frame, ("city", "cohort"))
    )


cell_values = st.sampled_from([0, 1, 2, 3, 5, 8, 9, 10, 11, 12, 15, 25, 40, 90])


@st.composite
def tables(draw):
    n_rows = draw(st.integers(2, 4))
    n_cols = draw(st.integers(2, 4))
    return {
        (f"r{i}", f"c{j}"): draw(cell_values)
        for i, j in itertools.product(range(n_rows), range(n_cols))
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=tables())
def test_property_no_suppressed_cell_recoverable(rules, cells):
    frame = two_way(cells)
    checked = check_table(frame, SPEC, rules)
    published = checked.frame
    # every cell that breaks the threshold rule is hidden ...
    small = (frame["n"] > 0) & (frame["n"] < rules.min_persons)
    assert published.loc[small, "n"].isna().all()
    # ... and the attacker cannot pin down any hidden cell nor prove a small one small.
    assert_protected(attack([published], [("city", "cohort")]), truth_of(frame, ("city", "cohort")))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=tables(), extra=st.lists(cell_values, min_size=4, max_size=4))
def test_property_two_tables_sharing_a_margin(rules, first, extra):
    # Table 1: city x cohort; table 2: city x sex with the same city totals (same universe).
    frame1 = two_way(first)
    city_totals = frame1[frame1["cohort"].eq("all") & frame1["city"].ne("all")]
    rows = []
    for k, (city, total) in enumerate(zip(city_totals["city"], city_totals["n"], strict=True)):
        women = min(extra[k % 4], total)
        rows += [(city, "f", women), (city, "m", total - women)]
    frame2 = two_way({(c, s): v for c, s, v in rows}, dims=("city", "sex"))
    spec2 = TableSpec(
        "city_sex",
        "frequency",
        count_columns=["n"],
        group_columns=["city", "sex"],
        margins={"city": "all", "sex": "all"},
        universe="obligated_persons",
    )
    registry = MarginRegistry()
    out1 = check_table(frame1, SPEC, rules, registry=registry)
    out2 = check_table(frame2, spec2, rules, registry=registry)
    truth = truth_of(frame1, ("city", "cohort")) | truth_of(frame2, ("city", "sex"))
    bounds = attack([out1.frame, out2.frame], [("city", "cohort"), ("city", "sex")])
    primary = {k for k, v in truth.items() if 0 < v < rules.min_persons}
    latest = {
        k
        for k in truth_of(frame2, ("city", "sex"))
        if k not in truth_of(frame1, ("city", "cohort"))
    }
    assert_protected(bounds, truth, protect=primary | latest)


def test_shared_margin_without_registry_would_leak(rules):
    # The reason for the registry: table 1 (no total rows, exhaustive breakdowns) hides one small
    # cell; checked apart, table 2 publishes that city's total and 4 = 34 - 30 is recovered.
    frame1 = two_way(
        {
            ("a", "x"): 4,
            ("a", "y"): 30,
            ("b", "x"): 30,
            ("b", "y"): 30,
            ("c", "x"): 30,
            ("c", "y"): 30,
        },
        margins=False,
    )
    frame2 = two_way(
        {
            ("a", "f"): 14,
            ("a", "m"): 20,
            ("b", "f"): 30,
            ("b", "m"): 30,
            ("c", "f"): 30,
            ("c", "m"): 30,
        },
        dims=("city", "sex"),
    )
    spec2 = TableSpec(
        "city_sex",
        "frequency",
        count_columns=["n"],
        group_columns=["city", "sex"],
        margins={"city": "all", "sex": "all"},
        universe="obligated_persons",
    )
    truth = truth_of(frame1, ("city", "cohort")) | truth_of(frame2, ("city", "sex"))
    apart = [check_table(frame1, SPEC, rules).frame, check_table(frame2, spec2, rules).frame]
    leaked = attack(apart, [("city", "cohort"), ("city", "sex")])
    assert leaked[frozenset({("city", "a"), ("cohort", "x")})] == (4.0, 4.0)
    registry = MarginRegistry()
    joint = [
        check_table(frame1, SPEC, rules, registry=registry).frame,
        check_table(frame2, spec2, rules, registry=registry).frame,
    ]
    primary = {k for k, v in truth.items() if 0 < v < rules.min_persons}
    assert_protected(attack(joint, [("city", "cohort"), ("city", "sex")]), truth, protect=primary)


def test_inconsistent_shared_margin_is_an_error(rules):
    registry = MarginRegistry()
    check_table(
        two_way({("a", "x"): 20, ("a", "y"): 30, ("b", "x"): 30, ("b", "y"): 30}),
        SPEC,
        rules,
        registry=registry,
    )
    other = two_way(
        {("a", "f"): 20, ("a", "m"): 31, ("b", "f"): 30, ("b", "m"): 30}, dims=("city", "sex")
    )
    spec2 = TableSpec(
        "city_sex",
        "frequency",
        count_columns=["n"],
        group_columns=["city", "sex"],
        margins={"city": "all", "sex": "all"},
        universe="obligated_persons",
    )
    with pytest.raises(DisclosureError, match="shared_margin"):
        check_table(other, spec2, rules, registry=registry)


def test_margins_that_do_not_add_up_are_an_error(rules):
    frame = two_way({("a", "x"): 20, ("a", "y"): 30, ("b", "x"): 30, ("b", "y"): 30})
    frame.loc[frame.index[-1], "n"] = 111
    with pytest.raises(DisclosureError, match="add up"):
        check_table(frame, SPEC, rules)


def test_margin_free_breakdown_also_linked(rules):
    # Table 1 has no total rows but declares its breakdowns exhaustive; a later table that
    # publishes the city totals must not make the small cell recoverable.
    cells = {("a", "x"): 4, ("a", "y"): 30, ("b", "x"): 30, ("b", "y"): 30}
    frame1 = two_way(cells, margins=False)
    frame2 = pd.DataFrame({"city": ["a", "b"], "n": [34, 60]})
    spec2 = TableSpec(
        "city",
        "frequency",
        count_columns=["n"],
        group_columns=["city"],
        margins={"city": "all"},
        universe="obligated_persons",
    )
    registry = MarginRegistry()
    out1 = check_table(frame1, SPEC, rules, registry=registry)
    out2 = check_table(frame2, spec2, rules, registry=registry)
    assert out1.frame["suppressed"].sum() == 1  # nothing to subtract from yet
    assert out2.frame.set_index("city").loc["a", "suppressed"]


PUBLISHED_TOTALS = TableSpec(
    "city_cohort_group",
    "frequency",
    count_columns=["n"],
    group_columns=["city", "cohort"],
    margins={"city": "all", "cohort": "all"},
    published_margins=("cohort",),
)


def test_a_margin_published_elsewhere_gets_a_complement_in_its_own_breakdown(rules):
    """Each city's total over cohorts is published by another table (not a row here): a small
    cohort needs a second withheld cohort of its city, else the total minus the rest gives it;
    a city whose total is itself below the minimum is not taken as published."""
    cells = {("a", "x"): 4, ("a", "y"): 30, ("a", "z"): 25, ("b", "x"): 20, ("b", "y"): 21}
    cells |= {("b", "z"): 22, ("c", "x"): 3, ("c", "y"): 2}
    frame = pd.DataFrame(
        [(c, q, n) for (c, q), n in cells.items()], columns=["city", "cohort", "n"]
    )
    registry = MarginRegistry()
    checked = check_table(frame, PUBLISHED_TOTALS, rules, registry=registry)
    withheld = checked.frame.groupby("city")["suppressed"].sum()
    assert withheld["a"] == 2 and withheld["c"] == 2
    assert registry.values[("city_cohort_group|n", (("city", "a"),))] == 59
    assert ("city_cohort_group|n", (("city", "a"),)) in registry.published
    assert ("city_cohort_group|n", (("city", "c"),)) not in registry.published  # 5 persons
    plain = check_table(
        frame, TableSpec(**{**PUBLISHED_TOTALS.__dict__, "published_margins": ()}), rules
    )
    assert plain.frame.groupby("city")["suppressed"].sum()["a"] == 1  # the leak it closes


def test_a_published_margin_must_be_a_declared_margin(rules):
    spec = TableSpec(**{**PUBLISHED_TOTALS.__dict__, "published_margins": ("city", "group")})
    frame = pd.DataFrame({"city": ["a"], "cohort": ["x"], "n": [20]})
    with pytest.raises(DisclosureError, match=r"published_margins \['group'\]"):
        check_table(frame, spec, rules)
