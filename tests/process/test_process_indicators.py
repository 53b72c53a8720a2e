"""Process indicators: definitions, censoring, intervals, survival curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from inburgering.process import (
    composition,
    indicator_rows,
    outcome_trends,
    route_mix,
    route_start_survival,
)

DATA_END = pd.Timestamp("2025-12-31")
G4 = ("rotterdam", "amsterdam", "den_haag", "utrecht")  # the default policy calendar's cities


def persons_frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-06-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    housing = start + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    pip_days = rng.integers(20, 200, n)
    statushouder = rng.random(n) < 0.6
    anchor = pd.Series(np.where(statushouder, housing, start))
    return pd.DataFrame(
        {
            "person_id": [f"{i:09d}" for i in range(n)],
            "group": np.where(statushouder, "statushouder", "gezinsmigrant"),
            "wi2021": True,
            "cohort": start.to_period("Q").astype(str),
            "city": rng.choice(["rotterdam", "amsterdam", "rest_nl"], n),
            "obligation_start": start,
            "housing_date": housing,
            "pip_date": anchor + pd.to_timedelta(pip_days, unit="D"),
            "route_start_date": anchor + pd.to_timedelta(pip_days + 60, unit="D"),
            "route_switch_date": pd.NaT,
            "route": rng.choice(["b1", "z", "onderwijs"], n, p=[0.6, 0.3, 0.1]),
            "_pip_days": pip_days,
        }
    )


def test_pip_share_counts_from_brp_date_for_statushouders():
    persons = persons_frame()
    rows = indicator_rows(persons, G4, DATA_END, 0.05)
    pooled = rows[(rows["estimand"] == "pip_within_10w") & (rows["city"] == "all")]
    pooled = pooled[pooled["subgroup"] == "all"].iloc[0]
    expected = int((persons["_pip_days"] <= 70).sum())
    assert pooled["n_treated"] == expected
    assert pooled["n_treated"] + pooled["n_control"] == len(persons)
    low, high = proportion_confint(expected, len(persons), alpha=0.05, method="wilson")
    assert pooled["ci_low"] == pytest.approx(low) and pooled["ci_high"] == pytest.approx(high)


def test_censored_windows_leave_the_denominator():
    persons = persons_frame()
    late = pd.Timestamp("2025-12-01")
    persons.loc[:9, ["obligation_start", "housing_date"]] = late
    rows = indicator_rows(persons, G4, DATA_END, 0.05)
    pooled = rows[(rows["estimand"] == "pip_within_10w") & (rows["city"] == "all")]
    pooled = pooled[pooled["subgroup"] == "all"].iloc[0]
    assert pooled["n_treated"] + pooled["n_control"] == len(persons) - 10


def test_old_law_persons_are_not_counted():
    persons = persons_frame()
    persons.loc[:49, "wi2021"] = False
    rows = indicator_rows(persons, G4, DATA_END, 0.05)
    pooled = rows[(rows["estimand"] == "route_started_26w") & (rows["city"] == "all")]
    assert (pooled["n_treated"] + pooled["n_control"]).max() == len(persons) - 50


def test_survival_without_censoring_is_the_empirical_share():
    persons = persons_frame()
    curve = route_start_survival(persons, G4, DATA_END, 0.05)
    rotterdam = persons[persons["city"] == "rotterdam"]
    anchor = rotterdam["housing_date"].where(
        rotterdam["group"] == "statushouder", rotterdam["obligation_start"]
    )
    weeks = (rotterdam["route_start_date"] - anchor).dt.days / 7
    at_26 = curve[(curve["city"] == "rotterdam") & (curve["weeks"] == 28)].iloc[0]
    assert at_26["survival"] == pytest.approx((weeks > 28).mean())
    assert at_26["ci_low"] <= at_26["survival"] <= at_26["ci_high"]
    assert curve.groupby("city")["survival"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert set(curve["city"]) == {"rotterdam", "amsterdam"}


def test_route_mix_shares_sum_to_one_and_composition_counts_everyone():
    persons = persons_frame()
    mix = route_mix(persons, G4)
    sums = mix.groupby(["city", "cohort"])["share"].sum()
    assert np.allclose(sums, 1.0)
    counts = composition(persons, G4)
    assert counts.loc[counts["city"] == "all", "n"].sum() == len(persons)
    assert "rest_nl" not in set(counts["city"])


def test_outcome_trends_are_raw_shares_of_measured_persons():
    persons = persons_frame(300)
    rng = np.random.default_rng(3)
    outcomes = pd.DataFrame(
        {
            "person_id": np.repeat(persons["person_id"].to_numpy(), 2),
            "horizon": np.tile([12, 24], len(persons)),
            "participation": rng.integers(0, 2, 2 * len(persons)).astype(float),
        }
    )
    outcomes.loc[outcomes["horizon"] == 24, "participation"] = np.nan  # right-censored
    trends = outcome_trends(persons, outcomes, G4)
    assert set(trends["city"]) == {"rotterdam", "amsterdam", "rest_nl"}
    assert set(trends["horizon"]) == {12}  # a horizon nobody reached is not a row of zeros
    merged = outcomes[outcomes["horizon"] == 12].merge(persons, on="person_id")
    in_2022 = merged["cohort"].str.startswith("2022")  # cohort years
    rotterdam = merged[(merged["city"] == "rotterdam") & in_2022]
    row = trends[(trends["city"] == "rotterdam") & (trends["cohort"] == "2022")].iloc[0]
    assert row["n"] == len(rotterdam)
    assert row["share"] == pytest.approx(rotterdam["participation"].mean())
