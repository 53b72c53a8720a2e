"""Each primary rule on crafted tables, including the borderline 9/10/11."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.contracts.tidy import tidy_frame
from inburgering.disclosure import (
    DisclosureError,
    TableSpec,
    check_table,
    load_rules,
    summarise_amounts,
    summarise_percentiles,
    tidy_estimates_spec,
)

FREQ = TableSpec("freq", "frequency", count_columns=["n"], group_columns=["city"])


def _freq(counts):
    return pd.DataFrame({"city": [f"c{i}" for i in range(len(counts))], "n": counts})


@pytest.mark.parametrize(("count", "published"), [(9, False), (10, True), (11, True)])
def test_min_persons_borderline(rules, count, published):
    checked = check_table(_freq([count, 50]), FREQ, rules)
    assert bool(checked.frame.loc[0, "suppressed"]) is not published
    assert pd.isna(checked.frame.loc[0, "n"]) is not published
    assert checked.report.n_primary == (0 if published else 1)


def test_zero_counts_follow_configuration(rules):
    assert not check_table(_freq([0, 50]), FREQ, rules).frame.loc[0, "suppressed"]
    strict = load_rules({"allow_zero_counts": False})
    assert check_table(_freq([0, 50]), FREQ, strict).frame.loc[0, "suppressed"]


def test_missing_count_is_suppressed_not_published(rules):
    frame = pd.DataFrame({"city": ["a", "b"], "n": [np.nan, 40.0]})
    assert check_table(frame, FREQ, rules).frame["suppressed"].tolist() == [True, False]


def _tidy(n_treated, n_control, city="rotterdam"):
    return tidy_frame(
        [
            {
                "design": "city_matching",
                "estimand": "att",
                "treatment": "rotterdam_vs_amsterdam",
                "city": city,
                "comparison": "matched",
                "outcome": "employed",
                "horizon": 12,
                "subgroup": "all",
                "estimator": "ipw",
                "headline": True,
                "estimate": 0.05,
                "se": 0.01,
                "ci_low": 0.03,
                "ci_high": 0.07,
                "p_value": 0.01,
                "inference": "wild_bootstrap",
                "n_treated": n_treated,
                "n_control": n_control,
                "n_clusters": 4,
            }
        ]
    )


@pytest.mark.parametrize(
    ("treated", "control", "published"),
    [
        (9, 500, False),
        (10, 500, True),
        (11, 500, True),
        (500, 9, False),
        (500, 10, True),
        (11, 11, True),
    ],
)
def test_estimate_groups_counted_separately(rules, treated, control, published):
    checked = check_table(_tidy(treated, control), tidy_estimates_spec("est"), rules)
    row = checked.frame.iloc[0]
    assert bool(row["suppressed"]) is not published
    for column in ("estimate", "se", "ci_low", "ci_high", "p_value", "n_treated", "n_control"):
        assert pd.isna(row[column]) is not published, column
    assert row["city"] == "rotterdam"  # keys stay so the report can say "suppressed"


def test_groups_summed_when_configured():
    summed = load_rules({"count_groups_separately": False})
    checked = check_table(_tidy(5, 6), tidy_estimates_spec("est"), summed)
    assert not checked.frame.loc[0, "suppressed"]


def test_small_city_gives_suppressed_rows_not_a_crash(rules):
    rows = pd.concat([_tidy(3, 0, city="utrecht"), _tidy(400, 380, city="rotterdam")])
    checked = check_table(rows, tidy_estimates_spec("est"), rules)
    assert checked.frame["suppressed"].tolist() == [True, False]
    persons = pd.DataFrame(
        {"city": ["utrecht"] * 4 + ["rotterdam"] * 30, "wage": np.linspace(1000, 3000, 34)}
    )
    means = summarise_amounts(persons, "wage", ["city"], rules)
    spec = TableSpec(
        "wages",
        "amount",
        count_columns=["n"],
        group_columns=["city"],
        value_columns=["sum", "mean"],
    )
    out = check_table(means, spec, rules).frame.set_index("city")
    assert out.loc["utrecht", "suppressed"] and pd.isna(out.loc["utrecht", "mean"])
    assert not out.loc["rotterdam", "suppressed"]


SHARE = TableSpec(
    "share", "share", count_columns=["n"], group_columns=["city"], value_columns=["employed"]
)


@pytest.mark.parametrize(
    ("employed", "n", "published"),
    [
        (9, 100, False),
        (10, 100, True),
        (11, 100, True),  # persons with the attribute
        (91, 100, False),
        (90, 100, True),
        (89, 100, True),  # persons without it
        (0, 100, False),
        (100, 100, False),  # group disclosure
        (5, 9, False),  # denominator
    ],
)
def test_share_rules(rules, employed, n, published):
    frame = pd.DataFrame({"city": ["a"], "n": [n], "employed": [employed / n]})
    checked = check_table(frame, SHARE, rules)
    assert bool(checked.frame.loc[0, "suppressed"]) is not published


def test_share_in_percent(rules):
    spec = TableSpec(
        "pct",
        "share",
        count_columns=["n"],
        group_columns=["city"],
        value_columns=["employed"],
        share_scale=100.0,
    )
    frame = pd.DataFrame({"city": ["a", "b"], "n": [100, 100], "employed": [5.0, 50.0]})
    assert check_table(frame, spec, rules).frame["suppressed"].tolist() == [True, False]


@pytest.mark.parametrize(("df", "published"), [(9, False), (10, True), (11, True)])
def test_regression_residual_df(rules, df, published):
    spec = TableSpec(
        "reg",
        "regression",
        count_columns=["n_obs"],
        group_columns=["term"],
        value_columns=["coef", "se"],
        df_column="df_resid",
    )
    frame = pd.DataFrame(
        {"term": ["x"], "coef": [0.1], "se": [0.02], "n_obs": [500], "df_resid": [df]}
    )
    assert bool(check_table(frame, spec, rules).frame.loc[0, "suppressed"]) is not published


AMOUNT = TableSpec(
    "wages", "amount", count_columns=["n"], group_columns=["city"], value_columns=["sum", "mean"]
)


@pytest.mark.parametrize(
    ("largest", "published"), [(2900.0, True), (3000.0, True), (3100.0, False)]
)
def test_dominance_borderline(rules, largest, published):
    # 10 persons, the largest wage is 29/30/31 % of the total: (1, 0.30) rule.
    others = (10000.0 - largest) / 9
    persons = pd.DataFrame({"city": "a", "wage": [largest, *[others] * 9]})
    table = summarise_amounts(persons, "wage", ["city"], rules)
    checked = check_table(table, AMOUNT, rules)
    assert bool(checked.frame.loc[0, "suppressed"]) is not published
    assert not [c for c in checked.frame.columns if c.startswith("_sdc_")]


def test_dominance_needs_audit_columns(rules):
    frame = pd.DataFrame({"city": ["a"], "n": [20], "sum": [1.0], "mean": [0.05]})
    with pytest.raises(DisclosureError, match="summarise_"):
        check_table(frame, AMOUNT, rules)


def test_configured_two_unit_dominance():
    rules = load_rules({"dominance": {"rules": [{"n": 1, "k": 0.5}, {"n": 2, "k": 0.75}]}})
    persons = pd.DataFrame({"city": "a", "wage": [40.0, 40.0, *[2.0] * 10]})
    table = summarise_amounts(persons, "wage", ["city"], rules)
    checked = check_table(table, AMOUNT, rules)
    assert checked.frame.loc[0, "suppressed"]
    assert "dominance(2,0.75)" in checked.report.rules_applied


@pytest.mark.parametrize(("n", "published"), [(19, False), (21, True)])
def test_percentile_needs_enough_on_both_sides(rules, n, published):
    # median of n distinct values: (n - 1) / 2 strictly below and above -> 9 or 10.
    persons = pd.DataFrame({"city": "a", "wage": np.arange(n, dtype=float)})
    table = summarise_percentiles(persons, "wage", ["city"], quantiles=(0.5,))
    spec = TableSpec(
        "pct", "percentile", count_columns=["n"], group_columns=["city"], value_columns=["p50"]
    )
    checked = check_table(table, spec, rules)
    assert pd.isna(checked.frame.loc[0, "p50"]) is not published


def test_percentile_suppresses_only_the_unsafe_cell(rules):
    persons = pd.DataFrame({"city": "a", "wage": np.arange(40, dtype=float)})
    table = summarise_percentiles(persons, "wage", ["city"], quantiles=(0.1, 0.5))
    spec = TableSpec(
        "pct",
        "percentile",
        count_columns=["n"],
        group_columns=["city"],
        value_columns=["p10", "p50"],
    )
    row = check_table(table, spec, rules).frame.iloc[0]
    assert pd.isna(row["p10"]) and row["p50"] == 19.5 and row["suppressed"]


def test_minimum_and_maximum_refused(rules):
    with pytest.raises(ValueError, match="minima"):
        summarise_percentiles(pd.DataFrame({"w": [1.0]}), "w", [], quantiles=(0.0,))
    frame = pd.DataFrame({"city": ["a"], "n": [50], "wage_max": [9000.0]})
    spec = TableSpec(
        "x", "mean", count_columns=["n"], group_columns=["city"], value_columns=["wage_max"]
    )
    with pytest.raises(DisclosureError, match="forbid_extremes"):
        check_table(frame, spec, rules)


def test_person_ids_and_undeclared_columns_refused(rules):
    frame = pd.DataFrame({"RINPERSOON": ["000000001"], "n": [50]})
    spec = TableSpec("x", "frequency", count_columns=["n"], group_columns=["RINPERSOON"])
    with pytest.raises(DisclosureError, match="individual_values"):
        check_table(frame, spec, rules)
    with pytest.raises(DisclosureError, match="not declared"):
        check_table(
            frame.rename(columns={"RINPERSOON": "x"}),
            FREQ.__class__("x", "frequency", count_columns=["n"]),
            rules,
        )


@pytest.mark.parametrize(
    ("base", "expected"), [(5, [None, 10, 10, 15, 45]), (10, [None, 10, 10, 10, 40])]
)
def test_rounding(base, expected):
    rules = load_rules({"rounding": {"base": base}})
    checked = check_table(_freq([9, 10, 12, 14, 44]), FREQ, rules)
    got = [None if pd.isna(v) else int(v) for v in checked.frame["n"]]
    assert got == expected
    assert f"rounding({base})" in checked.report.rules_applied


def test_empty_table_passes(rules):
    checked = check_table(_freq([]).astype({"n": int}), FREQ, rules)
    assert checked.frame.empty and checked.report.n_suppressed == 0
