"""Process indicators of the Wi2021 implementation per city and cohort (design ``process``).

Descriptive, not causal (DESIGN.md design 6). Definitions (source report lines in
``shared/reference/seed-notes-*.md``):

- The clock starts at the **anchor**: BRP registration in the municipality (``housing_date``) for
  statushouders, the obligation start for everyone else. The report cites three start points for
  the 10-week PIP norm; "ten weeks after BRP registration" is the one cited most often (seed notes
  2, section 0.1), and for family migrants the obligation start is the legal equivalent.
- ``pip_within_10w``: PIP date at most 70 days after the anchor.
- ``route_started_26w``: learning route started at most 26 weeks (182 days) after the anchor.
- ``route_switch_18m``: a route switch within 18 months (548 days) of the route start (the period
  in which switching is allowed).

A person counts in an indicator's denominator only when the whole window lies before the end of
the data (no right-censoring) and the anchor is known; exclusions are logged. In the tidy rows,
``n_treated`` is the number of persons with the event and ``n_control`` the number without it,
so the disclosure rules check both the numerator and its complement.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.duration.survfunc import SurvfuncRight

from inburgering.contracts.tidy import tidy_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Indicator:
    name: str
    start: str  # column the window starts at ("anchor" = BRP date or obligation start)
    event: str  # date column of the event
    days: int


INDICATORS = (
    Indicator("pip_within_10w", "anchor", "pip_date", 70),
    Indicator("route_started_26w", "anchor", "route_start_date", 182),
    Indicator("route_switch_18m", "route_start_date", "route_switch_date", 548),
)


def new_law_persons(persons: pd.DataFrame) -> pd.DataFrame:
    """Wi2021 persons with their anchor date."""
    frame = persons[persons["wi2021"]].copy()
    statushouder = frame["group"] == "statushouder"
    frame["anchor"] = frame["housing_date"].where(statushouder, frame["obligation_start"])
    log.info(
        "process: %d new-law persons (%d statushouders without a housing date have no anchor)",
        len(frame),
        int((statushouder & frame["housing_date"].isna()).sum()),
    )
    return frame


def indicator_flags(frame: pd.DataFrame, indicator: Indicator, data_end: pd.Timestamp) -> pd.Series:
    """1/0 per eligible person (window inside the data), missing when not eligible."""
    start = frame[indicator.start]
    window_end = start + pd.Timedelta(days=indicator.days)
    eligible = start.notna() & (window_end <= data_end)
    happened = frame[indicator.event].notna() & (frame[indicator.event] <= window_end)
    log.info(
        "process %s: %d eligible of %d (%d without start date, %d window after data end)",
        indicator.name,
        int(eligible.sum()),
        len(frame),
        int(start.isna().sum()),
        int((start.notna() & (window_end > data_end)).sum()),
    )
    return happened.astype(float).where(eligible)


def _wilson(events: int, n: int, alpha: float) -> tuple[float, float]:
    z = norm.ppf(1 - alpha / 2)
    p = events / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def _share_row(flags: pd.Series, name: str, city: str, subgroup: str, alpha: float) -> dict:
    observed = flags.dropna()
    n, events = len(observed), int(observed.sum())
    low, high = _wilson(events, n, alpha) if n else (np.nan, np.nan)
    share = events / n if n else np.nan
    return {
        "design": "process",
        "estimand": name,
        "city": city,
        "subgroup": subgroup,
        "estimator": "share",
        "headline": True,
        "estimate": share,
        "se": np.sqrt(share * (1 - share) / n) if n else np.nan,
        "ci_low": low,
        "ci_high": high,
        "inference": "wilson",
        "n_treated": events,
        "n_control": n - events,
    }


def indicator_rows(
    persons: pd.DataFrame, cities: Sequence[str], data_end: pd.Timestamp, alpha: float
) -> pd.DataFrame:
    """Tidy rows: each indicator per G4 city (``cities``, from the policy calendar) and
    nationally, pooled and per cohort quarter."""
    frame = new_law_persons(persons)
    rows = []
    for indicator in INDICATORS:
        frame[indicator.name] = indicator_flags(frame, indicator, data_end)
        for city in (*cities, "all"):
            in_city = frame if city == "all" else frame[frame["city"] == city]
            flags = in_city[indicator.name]
            if flags.notna().any():
                rows.append(_share_row(flags, indicator.name, city, "all", alpha))
            for cohort, group in in_city.groupby("cohort", sort=True):
                if group[indicator.name].notna().any():
                    subgroup = f"cohort:{cohort}"
                    rows.append(
                        _share_row(group[indicator.name], indicator.name, city, subgroup, alpha)
                    )
    return tidy_frame(rows)


def composition(persons: pd.DataFrame, cities: Sequence[str]) -> pd.DataFrame:
    """Persons by G4 city (and nationally) x cohort quarter x group."""
    frames = [persons[persons["city"] == city].assign(city=city) for city in cities]
    frames.append(persons.assign(city="all"))
    counts = (
        pd.concat(frames)
        .groupby(["city", "cohort", "group"], sort=True)
        .size()
        .rename("n")
        .reset_index()
    )
    return counts


OUTCOMES = ("participation", "employed", "in_education", "social_assistance")


def outcome_trends(
    persons: pd.DataFrame, outcomes: pd.DataFrame, cities: Sequence[str]
) -> pd.DataFrame:
    """Raw outcome shares by city (each G4 city and the rest of the Netherlands), cohort year
    and horizon: the descriptive trends behind the reform contrasts. ``n`` counts the persons
    whose outcome is measured at that horizon (right-censored horizons are missing). Cohort
    years, not quarters: a G4 city's quarter holds too few persons for a publishable share."""
    cities = (*cities, "rest_nl")
    people = persons.loc[persons["city"].isin(cities), ["person_id", "city", "cohort"]]
    people = people.assign(cohort=people["cohort"].astype(str).str[:4])
    frame = outcomes.merge(people, on="person_id", how="inner")
    tables = []
    for outcome in [o for o in OUTCOMES if o in frame.columns]:
        measured = frame[frame[outcome].notna()]
        grouped = measured.groupby(["city", "cohort", "horizon"], sort=True)[outcome]
        table = grouped.agg(n="size", share="mean").reset_index()
        tables.append(table.assign(outcome=outcome))
    columns = ["city", "cohort", "outcome", "horizon", "n", "share"]
    return pd.concat(tables)[columns] if tables else pd.DataFrame(columns=columns)


def route_mix(persons: pd.DataFrame, cities: Sequence[str]) -> pd.DataFrame:
    """Initial learning route shares of new-law persons with a known route, by city and year."""
    known = persons[persons["wi2021"] & persons["route"].notna()].copy()
    known["year"] = known["cohort"].str[:4]
    tables = []
    for city in (*cities, "all"):
        in_city = known if city == "all" else known[known["city"] == city]
        for cohort, group in [("all", in_city), *in_city.groupby("year", sort=True)]:
            counts = group["route"].value_counts().sort_index()
            if counts.empty:
                continue
            tables.append(
                pd.DataFrame(
                    {
                        "city": city,
                        "cohort": cohort,
                        "route": counts.index.astype(str),
                        "n": counts.to_numpy(),
                        "n_total": int(counts.sum()),
                        "share": counts.to_numpy() / counts.sum(),
                    }
                )
            )
    return pd.concat(tables, ignore_index=True)


def route_start_survival(
    persons: pd.DataFrame,
    cities: Sequence[str],
    data_end: pd.Timestamp,
    alpha: float,
    max_weeks: int = 104,
) -> pd.DataFrame:
    """Kaplan-Meier share not yet started on a route, by weeks since the anchor (censored at
    the data end), per G4 city, pooled over new-law cohorts."""
    frame = new_law_persons(persons).dropna(subset=["anchor"])
    started = frame["route_start_date"].notna() & (frame["route_start_date"] <= data_end)
    end = frame["route_start_date"].where(started, data_end)
    weeks = ((end - frame["anchor"]).dt.days.clip(lower=0) / 7).to_numpy()
    curves = []
    grid = np.arange(0, max_weeks + 1, 4)
    for city in cities:
        mask = (frame["city"] == city).to_numpy()
        if mask.sum() == 0:
            continue
        city_weeks, city_started = weeks[mask], started.to_numpy()[mask]
        fit = SurvfuncRight(city_weeks, city_started.astype(int))
        low, high = _pointwise(fit, alpha)
        index = np.searchsorted(fit.surv_times, grid, side="right") - 1
        known = index >= 0
        at = np.maximum(index, 0)
        cumulative_events = np.array([int((city_started & (city_weeks <= w)).sum()) for w in grid])
        curves.append(
            pd.DataFrame(
                {
                    "city": city,
                    "cohort": "all",
                    "weeks": grid,
                    "survival": np.where(known, fit.surv_prob[at], 1.0),
                    "ci_low": np.where(known, low[at], 1.0),
                    "ci_high": np.where(known, high[at], 1.0),
                    "n_at_risk": [int((city_weeks >= w).sum()) for w in grid],
                    "n_events": np.diff(cumulative_events, prepend=0),
                }
            )
        )
    return pd.concat(curves, ignore_index=True)


def _pointwise(fit: SurvfuncRight, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Greenwood pointwise interval on the log-log scale (bounded in [0, 1])."""
    z = norm.ppf(1 - alpha / 2)
    surv = np.clip(fit.surv_prob, 1e-12, 1 - 1e-12)
    se_loglog = fit.surv_prob_se / (surv * np.abs(np.log(surv)))
    loglog = np.log(-np.log(surv))
    return np.exp(-np.exp(loglog + z * se_loglog)), np.exp(-np.exp(loglog - z * se_loglog))
