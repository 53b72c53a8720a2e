"""The G4 cities' own instruments: one city's instrument bundle against unchanged municipalities.

instrument_did estimates the instruments from their adoptions outside the G4; this module
estimates what the G4 cities did themselves, where the calendar allows it (``inburgering.calendar``:
adoptions in the same or adjacent quarters form one bundle, bundles touching the reform are part
of reform_did). With the default calendar that is Rotterdam's intake package, the Rotterdamse
Taalstart (2018Q4) with the assessment in the intake (2019Q1).

Estimand (``att_overall``, design ``instrument_did``, ``city`` = the G4 city, ``treatment`` =
the bundle's instruments joined by '+'): the mean effect of the bundle on the city's persons of
the cohort quarters from its adoption up to the city's next change (the reform), at horizon h.
``att_event``: the same per cohort quarter since adoption; earlier quarters are placebo
comparisons (truth 0). Window: from ``settle_quarters`` after the city's previous change (or the
first cohort) to the quarter before its next change; persons of the same law only (the uncertain
early-2022 slice is left out). Comparison (``rest_nl_unchanged``): municipalities outside the G4
that adopt no instrument from ``settle_quarters`` before the window to its end, so their trend
carries no policy change of their own (other G4 cities have their own bundles and are left out).
A bundle needs ``min_pre_quarters`` pre quarters in its window.

Estimator and inference as reform_did's rest-of-NL contrast (one treated city): the CS-DR event
study normalised to the last ``base_quarters`` pre quarters with the analytic person-level
standard error as headline, and beside it the naive before/after difference, the TWFE benchmark,
randomization inference on t over the largest unchanged municipalities, and synthetic DiD; the
same side tables (pre-trend tests, HonestDiD, RI record, sup-t band), keyed by design and
treatment. ``benchmarks/mc_city_bundles.py`` documents bias and coverage.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from inburgering import not_estimated
from inburgering.calendar import BUNDLE_COMPARISON, InstrumentBundle, instrument_bundles
from inburgering.config import load_policies, section_defaults
from inburgering.contracts.tidy import tidy_frame, write_tidy
from inburgering.designs.event_study import (
    TABLES,
    EventStudySettings,
    analysis_frame,
    event_study_tables,
    fit_contrast,
    naive_row,
    numeric_covariates,
    placebo_t,
    quarter_index,
    ri_pool,
    ri_rows,
    sdid_row,
    shock_model,
    single_threaded_blas,
)
from inburgering.designs.instrument_did import adoption_table
from inburgering.did.errors import DidError
from inburgering.io import write_csv_atomic
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CityBundleSettings:
    """What only this design reads (``estimate.instrument_did.city_bundles``); what every
    event-study design shares is ``EventStudySettings``. Read from the filled configuration (the
    schema holds the defaults)."""

    settle_quarters: int
    min_pre_quarters: int
    base_quarters: int

    @classmethod
    def from_config(cls, estimate: Mapping[str, Any]) -> CityBundleSettings:
        bundles = estimate["instrument_did"]["city_bundles"]
        return cls(
            settle_quarters=int(bundles["settle_quarters"]),
            min_pre_quarters=int(bundles["min_pre_quarters"]),
            base_quarters=int(bundles["base_quarters"]),
        )

    @classmethod
    def from_schema_defaults(cls, **overrides: Any) -> CityBundleSettings:
        """The schema's defaults, then ``overrides`` (scripts and tests without a config file)."""
        return replace(cls.from_config(section_defaults("estimate")), **overrides)


@dataclass(frozen=True)
class BundleWindow:
    """A bundle's estimation window in cohort-quarter indices (``reform.quarter_index``)."""

    bundle: InstrumentBundle
    start: int
    first: int
    last: int


def _q(period: pd.Period) -> int:
    return int(quarter_index(pd.Series([str(period)]))[0])


def bundle_window(
    bundle: InstrumentBundle,
    quarters: tuple[int, int],
    settle_quarters: int,
    min_pre_quarters: int,
) -> BundleWindow | None:
    """The window of ``bundle`` within the data's cohort ``quarters`` (first, last), or None
    (logged) when it has fewer than ``min_pre_quarters`` pre quarters or no post quarter."""
    start = _q(bundle.start)
    first = quarters[0]
    if bundle.previous_change is not None:
        first = max(first, _q(bundle.previous_change) + settle_quarters)
    last = min(quarters[1], _q(bundle.next_change) - 1) if bundle.next_change else quarters[1]
    if start - first < min_pre_quarters or last < start:
        reason = f"window too short (need {min_pre_quarters} pre quarters and 1 post quarter)"
        detail = (
            f"{max(start - first, 0)} pre and {max(last - start + 1, 0)} post quarters in the "
            f"window (need {min_pre_quarters} pre, 1 post)"
        )
        not_estimated.note(
            log,
            reason,
            detail,
            design="instrument_did",
            treatment=bundle.treatment,
            city=bundle.city,
            comparison=BUNDLE_COMPARISON,
            subgroup="all",
        )
        return None
    return BundleWindow(bundle, start, first, last)


def unchanged_municipalities(
    data: pd.DataFrame, adoption: pd.DataFrame, window: BundleWindow, settle_quarters: int
) -> list[str]:
    """Non-G4 municipalities without an instrument adoption in the window (and the settling
    quarters before it)."""
    g = adoption["g"]
    changed = adoption.loc[g.between(window.first - settle_quarters, window.last), "municipality"]
    rest = data.loc[data["city"] == "rest_nl", "municipality"].unique()
    keep = sorted(set(rest) - set(changed.astype(str)))
    log.info(
        "%s %s: %d of %d municipalities outside the G4 change no instrument from %s to %s",
        window.bundle.city,
        window.bundle.treatment,
        len(keep),
        len(rest),
        window.bundle.start - (window.start - window.first) - settle_quarters,
        window.bundle.start + (window.last - window.start),
    )
    return keep


def bundle_rows(
    data: pd.DataFrame,
    window: BundleWindow,
    unchanged: list[str],
    outcome: str,
    horizon: int,
    s: EventStudySettings,
    base_quarters: int,
) -> dict[str, list[dict]]:
    """Every row and side-table record of one bundle × outcome × horizon (``event_study.TABLES``;
    empty, logged, if it cannot be fitted)."""
    b = window.bundle
    in_window = data["q"].between(window.first, window.last)
    sub = data[in_window & ((data["city"] == b.city) | data["municipality"].isin(unchanged))]
    tr = (sub["city"] == b.city).to_numpy()
    key = {
        "design": "instrument_did",
        "estimand": "att_overall",
        "treatment": b.treatment,
        "city": b.city,
        "comparison": BUNDLE_COMPARISON,
        "outcome": outcome,
        "horizon": horizon,
        "subgroup": "all",
    }
    tables: dict[str, list[dict]] = {name: [] for name in TABLES}
    # Shocks from every municipality's quarters before the bundle (the city's own included).
    shocks = shock_model(data, outcome, s, window.start)
    if shocks is not None:
        sub = shocks.annotate(sub)
    try:
        fit = fit_contrast(
            sub,
            tr,
            outcome,
            s.covariates,
            honest_bin=s.honest_bin,
            base_quarters=base_quarters,
            event_q=window.start,
            shocks=shocks,
        )
    except DidError as exc:
        reason = "DiD estimator not estimable"
        not_estimated.note(log, reason, f"{reason}: {exc}", **key)
        return tables
    band_seed = [s.seed, horizon, window.start]
    tables.update(event_study_tables(fit, sub, tr, key, s, band_seed, event_q=window.start))
    rows = tables["estimates"]
    rows.append(naive_row(sub, tr, outcome, key, s.alpha, event_q=window.start))
    rest = sub[~tr]
    pool = ri_pool(rest, s.ri_pool)
    t_placebo = placebo_t(
        rest, pool, outcome, s.covariates, base_quarters, window.start, shocks=shocks
    )
    randomization = ri_rows(
        sub,
        tr,
        outcome,
        key,
        s,
        t_placebo,
        fit.counts,
        base_quarters=base_quarters,
        event_q=window.start,
        shocks=shocks,
    )
    if randomization is not None:
        rows.append(randomization[0])
        tables["inference"].append(randomization[1])
    sdid = sdid_row(sub, b.city, outcome, pool, key, s.alpha, event_q=window.start)
    if sdid is not None:
        rows.append(sdid)
    return tables


def city_instrument_tables(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    policies: dict,
    adoption: pd.DataFrame,
    outcome_names: list[str],
    s: EventStudySettings,
    bundle_settings: CityBundleSettings,
) -> dict[str, pd.DataFrame]:
    """Tidy estimate rows and side tables (``event_study.TABLES``) for every estimable bundle of the
    cities in ``s.cities``."""
    bundles = [
        b
        for b in instrument_bundles(
            policies["instruments"], policies["municipalities"], policies["reform"]["date"]
        )
        if b.city in s.cities
    ]
    persons, covariates = numeric_covariates(persons, s.covariates)
    s = replace(s, covariates=covariates)
    cohorts = quarter_index(persons["cohort"])
    quarters = (int(cohorts.min()), int(cohorts.max()))
    settle_quarters = bundle_settings.settle_quarters
    windows = [
        bundle_window(b, quarters, settle_quarters, bundle_settings.min_pre_quarters)
        for b in bundles
    ]
    tables: dict[str, list[dict]] = {name: [] for name in TABLES}
    for h in s.horizons:
        data = analysis_frame(persons, outcomes, h, s.covariates)
        for window in filter(None, windows):
            unchanged = unchanged_municipalities(data, adoption, window, settle_quarters)
            for outcome in outcome_names:
                fits = bundle_rows(
                    data, window, unchanged, outcome, h, s, bundle_settings.base_quarters
                )
                for name, rows in fits.items():
                    tables[name] += rows
    return {
        name: tidy_frame(rows) if name == "estimates" else pd.DataFrame(rows)
        for name, rows in tables.items()
    }


def run(job: RuleJob) -> None:
    """Rule city_instrument_did."""
    estimate = job.params["estimate"]
    spec = estimate["instrument_did"]["city_bundles"]
    policies = load_policies(job.input["policies"])
    table = pd.read_parquet(job.input["policies_table"]) if "policies_table" in job.input else None
    with single_threaded_blas():
        tables = city_instrument_tables(
            pd.read_parquet(job.input["persons"]),
            pd.read_parquet(job.input["outcomes"]),
            policies,
            adoption_table(policies, table),
            list(spec.get("outcomes", estimate["outcomes"])),
            EventStudySettings.from_config(estimate),
            CityBundleSettings.from_config(estimate),
        )
    write_tidy(tables["estimates"], job.output["estimates"])
    for name in TABLES[1:]:
        write_csv_atomic(tables[name], job.output[name])
