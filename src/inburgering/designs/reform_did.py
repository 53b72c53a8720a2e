"""The reform_did design: each G4 city's Wi2021 effect relative to a comparison pool.

Estimand (``att_overall``): among new-law (Wi2021) persons of city c observed at horizon h, the
mean reform effect minus the mean reform effect among the comparison's Wi2021 persons observed at
h (comparison: the rest of the Netherlands, or another G4 city). Everyone is reformed on the same
date, so the "treatment" is being in city c under Wi2021: a two-group, many-period DiD on repeated
cross-sections (time = cohort quarter, group = 2022Q1 for city c and never for the comparison).
Persons in the uncertain early-2022 slice are excluded (they may be under either law); a
sensitivity row includes them as Wi2021.

Estimator (headline ``cs_dr``): Callaway–Sant'Anna doubly robust ATT(g, t) for repeated
cross-sections with covariates (the engine in this package), universal base period. The event
study is re-normalised to the mean of the last ``base_quarters`` (``estimate.reform_did``)
pre-reform quarters instead of the single quarter before the reform. Under parallel trends both
are valid, but one base quarter holds only a few dozen persons per city and its noise would enter
every post coefficient. Older quarters are left out because the G4 pre-period is not policy-free
(RTS 2018, assessment 2019).
``att_overall`` = person-weighted mean of the post coefficients (weights = the city's persons per
cohort quarter, matching the estimand's "mean among the city's Wi2021 persons") minus the mean of
the pre coefficients; ``att_event`` rows are the coefficients minus the same pre mean (pre-period
truths are zero).

Headline inference: the analytic influence-function standard error at the person level. The
estimand is defined on the realised municipalities (the truth is the difference of the realised
means of municipality effects), so the remaining randomness is who arrives when and where, i.e.
person-level sampling; municipality levels cancel in the DiD. With one treated city, cluster-
robust errors by municipality would rest on one treated cluster and are not defined in any useful
sense. The extra rows show what a reviewer worried about city-by-cohort shocks needs:
randomization inference on the t-statistic over the largest municipalities (``cs_reg_ri``: exact
p-value, floor 1/(J+1), interval by test inversion; if such shocks exist the placebo |t| spread
exceeds 1.96 and this interval widens accordingly), the WCR wild cluster bootstrap with Webb
weights on the cell-level TWFE (flagged unreliable: one treated cluster), CRV3 (undefined with
one treated cluster, reported as such), and synthetic DiD with in-space placebos. The Monte
Carlo in ``benchmarks/mc_did_designs.py`` documents the coverage of the headline and RI intervals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from inburgering import not_estimated
from inburgering.calendar import PolicyCalendar, load_calendar
from inburgering.config import section_defaults
from inburgering.contracts.tidy import tidy_frame, write_tidy
from inburgering.designs.event_study import (
    TABLES,
    EventStudySettings,
    analysis_frame,
    crv3_row,
    event_study_tables,
    fit_contrast,
    fit_row,
    naive_row,
    numeric_covariates,
    person_counts,
    placebo_t,
    pretrend_window,
    quarter_index,
    ri_pool,
    ri_rows,
    sdid_row,
    shock_model,
    single_threaded_blas,
    without_covariate,
)
from inburgering.designs.shock_variance import ShockVariance
from inburgering.did.errors import DidError
from inburgering.did.inference import absorb_within, wild_cluster_bootstrap
from inburgering.io import write_csv_atomic
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReformDidSettings:
    """What only the reform design reads (``estimate.reform_did``); what every event-study
    design shares is ``EventStudySettings``. Read from the filled configuration (the schema
    holds the defaults)."""

    subgroups: list[str]
    base_quarters: int
    covariate_interactions: list[str]
    pretrend_settle_quarters: int

    @classmethod
    def from_config(cls, estimate: Mapping[str, Any]) -> ReformDidSettings:
        reform = estimate["reform_did"]
        return cls(
            subgroups=list(reform["subgroups"]),
            base_quarters=int(reform["base_quarters"]),
            covariate_interactions=list(reform["covariate_interactions"]),
            pretrend_settle_quarters=int(reform["pretrend_settle_quarters"]),
        )

    @classmethod
    def from_schema_defaults(cls, **overrides: Any) -> ReformDidSettings:
        """The schema's defaults, then ``overrides`` (scripts and tests without a config file)."""
        return replace(cls.from_config(section_defaults("estimate")), **overrides)


def reform_q(calendar: PolicyCalendar) -> int:
    """The reform quarter as the designs' quarter index (``quarter_index``)."""
    return int(quarter_index(pd.Series([str(calendar.reform_quarter)]))[0])


def cell_design(data: pd.DataFrame, treated: np.ndarray, outcome: str, event_q: int):
    """Municipality × cohort-quarter cell means and the TWFE design matrix (D first)."""
    frame = data.loc[:, ["municipality", "q", outcome]].copy()
    frame["tr"] = treated
    frame = frame[frame[outcome].notna()]
    cells = (
        frame.groupby(["municipality", "q"], observed=True)
        .agg(y=(outcome, "mean"), n=(outcome, "size"), tr=("tr", "max"))
        .reset_index()
    )
    D = (cells["tr"] & (cells["q"] >= event_q)).astype(float).to_numpy()
    T = pd.get_dummies(cells["q"], dtype=float).to_numpy()[:, 1:]
    w, mun = cells["n"].to_numpy(float), cells["municipality"].to_numpy()
    # Municipality effects are nested in the municipality clusters: partial them out.
    X, y = absorb_within(np.column_stack([D, T]), cells["y"].to_numpy(float), w, mun)
    return X, y, w, mun


def few_cluster_rows(data, treated, outcome, key, s: EventStudySettings, seed: int, event_q: int):
    """WCR wild cluster bootstrap (Webb) and CRV3 on the cell-level TWFE."""
    X, y, w, cl = cell_design(data, treated, outcome, event_q)
    n_tr = len(set(cl[X[:, 0] > 0]))
    persons = person_counts(treated[data[outcome].notna().to_numpy()])
    wild = wild_cluster_bootstrap(
        X,
        y,
        w,
        cl,
        0,
        treated_clusters=n_tr,
        draws=s.wild_draws,
        seed=seed,
        min_treated_clusters=s.min_treated_clusters,
    )
    flag = (
        ""
        if wild.reliable
        else f"; UNRELIABLE: {n_tr} treated cluster(s) < {s.min_treated_clusters}"
    )
    return [
        {
            **key,
            "estimator": "twfe_cells_wcr",
            "headline": False,
            "estimate": wild.estimate,
            "p_value": wild.p_value,
            "inference": f"wild cluster bootstrap WCR, Webb weights, {wild.draws} draws, "
            f"{wild.n_clusters} municipality clusters{flag}",
            "n_clusters": wild.n_clusters,
            **persons,
        },
        crv3_row(X, y, w, cl, key, s.alpha, **persons),
    ]


def rest_nl_rows(
    data: pd.DataFrame,
    wide: pd.DataFrame,
    key: dict,
    s: EventStudySettings,
    reform: ReformDidSettings,
    t_placebo: np.ndarray,
    pool: list[str],
    counts: dict,
    seed: int,
    calendar: PolicyCalendar,
    shocks: ShockVariance | None = None,
) -> tuple[list[dict], list[dict]]:
    """Rows only the rest-of-NL comparison carries: the naive strawman, few-cluster inference
    (RI, wild bootstrap, CRV3, SDID) and the sensitivity rows (uncertain slice, subgroups)."""
    city, comp, outcome = key["city"], key["comparison"], key["outcome"]
    event_q = reform_q(calendar)
    sub = data[data["city"].isin([city, comp])]
    tr = (sub["city"] == city).to_numpy()
    rows, inference = [naive_row(sub, tr, outcome, key, s.alpha, event_q=event_q)], []
    randomization = ri_rows(
        sub,
        tr,
        outcome,
        key,
        s,
        t_placebo,
        counts,
        base_quarters=reform.base_quarters,
        event_q=event_q,
        shocks=shocks,
    )
    if randomization is not None:
        rows.append(randomization[0])
        inference.append(randomization[1])
    rows.extend(few_cluster_rows(sub, tr, outcome, key, s, seed, event_q))
    sd = sdid_row(data, city, outcome, pool, key, s.alpha, event_q=event_q)
    if sd is not None:
        rows.append(sd)
    # Sensitivity: the uncertain slice (first reform quarter) included as new-law persons.
    wsub = wide[wide["city"].isin([city, comp])]
    try:
        wfit = fit_contrast(
            wsub,
            (wsub["city"] == city).to_numpy(),
            outcome,
            s.covariates,
            base_quarters=reform.base_quarters,
            event_q=event_q,
            shocks=shocks,
        )
        rows.append(
            fit_row(
                wfit,
                key,
                s.alpha,
                estimator="cs_dr_incl_uncertain",
                headline=False,
                inference=f"{wfit.inference}; uncertain {calendar.reform_quarter} slice "
                "included as Wi2021",
            )
        )
    except DidError as exc:
        log.warning("sensitivity incl. uncertain %s: %s", city, exc)
    for subgroup in reform.subgroups:
        var, _, value = subgroup.partition(":")
        gsub = sub[sub[var].astype(str) == value]
        covs = without_covariate(s.covariates, var)
        try:
            gfit = fit_contrast(
                gsub,
                (gsub["city"] == city).to_numpy(),
                outcome,
                covs,
                base_quarters=reform.base_quarters,
                event_q=event_q,
                shocks=shocks,
            )
        except DidError as exc:
            reason = "DiD estimator not estimable"
            not_estimated.note(log, reason, f"{reason}: {exc}", **{**key, "subgroup": subgroup})
            continue
        rows.append(fit_row(gfit, {**key, "subgroup": subgroup}, s.alpha))
    return rows, inference


def outcome_tables(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    outcome: str,
    horizon: int,
    s: EventStudySettings,
    reform: ReformDidSettings,
    calendar: PolicyCalendar,
) -> dict[str, pd.DataFrame]:
    """Every reform_did row and side table for one outcome at one horizon (one job); the G4
    cities (comparisons) and the reform (key, quarter) come from the policy calendar."""
    event_q = reform_q(calendar)
    tables: dict[str, list[dict]] = {name: [] for name in TABLES}
    persons, covariates = numeric_covariates(persons, s.covariates, reform.covariate_interactions)
    s = replace(s, covariates=covariates)
    data = analysis_frame(persons, outcomes, horizon, s.covariates)
    wide = analysis_frame(persons, outcomes, horizon, s.covariates, include_uncertain=True)
    pool = ri_pool(data, s.ri_pool)
    shocks = shock_model(data, outcome, s, event_q)
    if shocks is not None:
        data, wide = shocks.annotate(data), shocks.annotate(wide)
    t_placebo = placebo_t(
        data[data["city"] == "rest_nl"], pool, outcome, s.covariates, reform.base_quarters, event_q,
        shocks=shocks,
    )  # fmt: skip
    for ci, city in enumerate(s.cities):
        comparisons = ["rest_nl", *[c for c in calendar.cities if c != city]]
        for k, comp in enumerate(comparisons):
            sub = data[data["city"].isin([city, comp])]
            tr = (sub["city"] == city).to_numpy()
            key = {
                "design": "reform_did",
                "estimand": "att_overall",
                "treatment": calendar.reform_key,
                "city": city,
                "comparison": comp,
                "outcome": outcome,
                "horizon": horizon,
                "subgroup": "all",
            }
            window = pretrend_window(calendar, city, comp, reform.pretrend_settle_quarters)
            try:
                fit = fit_contrast(
                    sub,
                    tr,
                    outcome,
                    s.covariates,
                    honest_bin=s.honest_bin,
                    base_quarters=reform.base_quarters,
                    event_q=event_q,
                    shocks=shocks,
                    pretrend_from=window,
                )
            except DidError as exc:
                reason = "DiD estimator not estimable"
                not_estimated.note(log, reason, f"{reason}: {exc}", **key)
                continue
            study = event_study_tables(
                fit, sub, tr, key, s, [s.seed, horizon, ci, k], event_q=event_q
            )
            for name, rows in study.items():
                tables[name].extend(rows)
            if comp == "rest_nl":
                rows, inference = rest_nl_rows(
                    data,
                    wide,
                    key,
                    s,
                    reform,
                    t_placebo,
                    pool,
                    fit.counts,
                    s.seed + 97 * horizon + ci,
                    calendar,
                    shocks,
                )
                tables["estimates"].extend(rows)
                tables["inference"].extend(inference)
    return {
        name: tidy_frame(rows) if name == "estimates" else pd.DataFrame(rows)
        for name, rows in tables.items()
    }


def run_part(job: RuleJob) -> None:
    """Rule reform_did_part: all rows of one outcome at one horizon (wildcards) → part CSVs."""
    horizon = int(job.params["horizon"])
    persons = pd.read_parquet(job.input["persons"])
    outcomes = pd.read_parquet(job.input["outcomes"], filters=[("horizon", "==", horizon)])
    estimate = job.params["estimate"]
    calendar = load_calendar(job.input["policies"])
    with single_threaded_blas():
        tables = outcome_tables(
            persons,
            outcomes,
            job.params["outcome"],
            horizon,
            EventStudySettings.from_config(estimate),
            ReformDidSettings.from_config(estimate),
            calendar,
        )
    write_tidy(tables["estimates"], job.output["estimates"])
    for name in TABLES[1:]:
        write_csv_atomic(tables[name], job.output[name])
