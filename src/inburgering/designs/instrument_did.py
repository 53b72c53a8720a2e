"""The instrument_did design: staggered adoption of city instruments across municipalities.

Estimand, per instrument k, outcome y and horizon h. Persons are repeated cross-sections: time
t = their cohort quarter (obligation start), group g = the quarter in which their settlement
municipality adopted k (G4 dates from the policy calendar, others from prepare's
``municipality_policies``; 0 = never or after the last observed cohort). ATT(g, t) is the mean
over the persons of cohort quarter t in the municipalities adopting in g of Y_h(k on) - Y_h(k off),
everything else about the municipality as it was. ``att_overall`` averages the post cells t >= g
with weights proportional to the persons in g (Callaway-Sant'Anna "simple"); ``att_event`` does
so per event time e = t - g among the cohorts observed at e ("dynamic"; e < 0 are placebo
comparisons of consecutive pre-adoption quarters, true value 0). Among whom: adopting
municipalities outside the G4, in cohorts that adopt after the first cohort quarter (earlier
ones are always treated) and that have persons from at least two municipalities in every cohort
quarter (``eligible_cohorts``). Comparisons: not-yet-treated and never-treated municipalities
outside the G4. ``synth.truth.instrument_cells`` applies the same rules to the planted truth.

Why the G4 are left out: the calendar dates most of their instruments on the Wi2021 start or
together with another instrument (Den Haag's three on 2022-01-01, Rotterdam's and Amsterdam's
participation hours, Utrecht's two in 2023Q1, Rotterdam's 2018Q4/2019Q1 and 2022Q1/Q2 pairs),
and each G4 city's own Wi2021 effect differs (it is reform_did's estimand). A DiD cannot split
such a bundle: with the G4 as adopters the estimates carried +0.01 to +0.025 of the cities'
other policy changes (a noise-free check on the synthetic population); as comparisons they would
import the same bundles into the control trend. Other municipalities' adoption dates are assumed
unrelated to their other policy changes. The G4 bundles that the calendar does separate from the
reform (Rotterdam's 2018Q4/2019Q1 intake package) are estimated one city at a time by
``designs.city_instrument_did``.

Estimator: Callaway-Sant'Anna group-time ATTs, doubly robust with covariates (falling back to
outcome regression, then unadjusted, see ``did.fallback``), not-yet-treated comparisons.
Inference: influence functions summed by municipality after a CR2-type leverage correction
(``leverage_corrected``); intervals and p-values use t with G* - 1 degrees of freedom, G* the
effective number of municipalities behind each estimate (``effective_municipalities``). The
rows target ``truth`` (the expectation over outcome noise). A static TWFE with its CRV1, CRV3
(leave-one-municipality-out) and WCR wild cluster bootstrap (Webb) rows is the benchmark.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace

import numpy as np
import pandas as pd
import pyfixest as pf
import scipy.sparse as sp
from scipy.stats import norm
from scipy.stats import t as student_t

from inburgering import not_estimated
from inburgering.calendar import PolicyCalendar
from inburgering.config import load_policies
from inburgering.contracts.tidy import tidy_frame, write_tidy
from inburgering.designs.event_study import (
    EventStudySettings,
    analysis_frame,
    crv3_row,
    numeric_covariates,
    single_threaded_blas,
)
from inburgering.did.aggregate import aggte
from inburgering.did.bootstrap import cluster_sums
from inburgering.did.comparison import DEMEANER
from inburgering.did.errors import DidError
from inburgering.did.export import to_tidy
from inburgering.did.fallback import att_gt_with_fallback
from inburgering.did.inference import absorb_within, wild_cluster_bootstrap
from inburgering.did.result import AggregateResult, AttGtResult
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)

# Municipalities a cohort needs in every quarter: the clustered variance of a cohort-quarter mean
# needs at least two clusters (one municipality has leverage 1). synth.truth uses the same rule.
MIN_MUNICIPALITIES = 2


def _quarter_of(date: str | pd.Timestamp) -> int:
    ts = pd.Timestamp(date)
    return int(ts.year * 4 + (ts.month - 1) // 3 + 1)


def adoption_table(policies: dict, table: pd.DataFrame | None) -> pd.DataFrame:
    """municipality × instrument → adoption quarter index (G4 from the calendar, rest from data).

    Rows of ``table`` (prepare's municipality_policies: municipality, instrument, start) win for
    non-G4 municipalities; the calendar is authoritative for the G4.
    """
    codes = {k: str(v["code"]) for k, v in policies["municipalities"].items()}
    rows = []
    for key, spec in policies.get("instruments", {}).items():
        for city, when in (spec.get("adoption") or {}).items():
            rows.append(
                {"municipality": codes[city], "instrument": key, "g": _quarter_of(when["start"])}
            )
    calendar = pd.DataFrame(rows, columns=["municipality", "instrument", "g"])
    if table is None or table.empty:
        return calendar
    other = table[~table["municipality"].astype(str).isin(codes.values())]
    other = pd.DataFrame(
        {
            "municipality": other["municipality"].astype(str),
            "instrument": other["instrument"].astype(str),
            "g": [_quarter_of(d) for d in other["start"]],
        }
    )
    combined = pd.concat([calendar, other], ignore_index=True)
    return combined.groupby(["municipality", "instrument"], as_index=False)["g"].min()


def _twfe_rows(
    frame: pd.DataFrame, outcome: str, covs: list[str], key: dict, settings: EventStudySettings
) -> list[dict]:
    """Static TWFE benchmark: CRV1 (pyfixest); CRV3 and WCR (Webb) on municipality-quarter cells."""
    frame = frame.assign(D=((frame["g"] > 0) & (frame["q"] >= frame["g"])).astype(float))
    z = norm.ppf(1 - settings.alpha / 2)
    fit = pf.feols(
        f"{outcome} ~ {' + '.join(['D', *covs])} | municipality + q",
        data=frame,
        vcov={"CRV1": "municipality"},
        demeaner=DEMEANER,
    )
    b, se = float(fit.coef()["D"]), float(fit.se()["D"])
    rows = [
        {
            **key,
            "estimator": "twfe",
            "headline": False,
            "estimate": b,
            "se": se,
            "ci_low": b - z * se,
            "ci_high": b + z * se,
            "p_value": 2 * norm.sf(abs(b / se)),
            "inference": "CRV1 by municipality",
        }
    ]
    cells = (
        frame.groupby(["municipality", "q"], observed=True)
        .agg(y=(outcome, "mean"), n=(outcome, "size"), D=("D", "max"))
        .reset_index()
    )
    w, cl = cells["n"].to_numpy(float), cells["municipality"].to_numpy()
    T = pd.get_dummies(cells["q"], dtype=float).to_numpy()[:, 1:]
    # Municipality effects are nested in the clusters: partial them out (exact for CRV3/WCR).
    X, y = absorb_within(
        np.column_stack([cells["D"].to_numpy(float), T]), cells["y"].to_numpy(float), w, cl
    )
    n_tr = int(cells.loc[cells["D"] > 0, "municipality"].nunique())
    rows.append(crv3_row(X, y, w, cl, key, settings.alpha, label=" (cell-level TWFE)"))
    wild = wild_cluster_bootstrap(
        X,
        y,
        w,
        cl,
        0,
        treated_clusters=n_tr,
        draws=settings.wild_draws,
        seed=settings.seed,
        min_treated_clusters=settings.min_treated_clusters,
    )
    flag = (
        ""
        if wild.reliable
        else f"; UNRELIABLE: {n_tr} treated clusters < {settings.min_treated_clusters}"
    )
    rows.append(
        {
            **key,
            "estimator": "twfe_cells_wcr",
            "headline": False,
            "estimate": wild.estimate,
            "p_value": wild.p_value,
            "inference": f"wild cluster bootstrap WCR, Webb weights, {wild.draws} draws, "
            f"{wild.n_clusters} clusters, {n_tr} treated{flag}",
            "n_clusters": wild.n_clusters,
        }
    )
    return rows


def eligible_cohorts(frame: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """Keep the adoption cohorts that have persons from two or more municipalities in every
    cohort quarter; drop the persons of the others (the log lists them).

    Why: the variance is clustered by municipality and every ATT(g, t) compares the cohort's
    persons in two quarters. If one municipality supplies all of a cohort's persons in some
    quarter, that municipality's influence-function sum in that quarter is zero by construction
    and the cohort's own sampling noise drops out of the clustered variance (ATT(g, t) of
    one-municipality cohorts covered their truth 20-35 % of the time in five synthetic seeds);
    the leverage correction below is undefined there (leverage 1). An empty quarter also makes
    the cell inestimable. Persons of dropped cohorts cannot serve as not-yet-treated controls
    either: they would appear only in the quarters before their adoption and change the
    comparison group's composition. Cohorts
    adopting after the last quarter are untreated in the sample and are kept as controls.
    ``synth.truth.instrument_cells`` applies the same rule, so truth and estimate average over
    the same cohorts.
    """
    quarters = np.unique(frame["q"])
    adopters = frame[(frame["g"] > 0) & (frame["g"] <= quarters[-1])]
    counts = adopters.groupby(["g", "q"])["municipality"].nunique().unstack(fill_value=0)
    counts = counts.reindex(columns=quarters, fill_value=0)
    thin = counts.index[(counts < MIN_MUNICIPALITIES).any(axis=1)]
    if len(thin):
        log.info(
            "%s: %d of %d adoption cohorts dropped (a quarter with persons from fewer than %d "
            "municipalities): %d persons",
            instrument,
            len(thin),
            len(counts),
            MIN_MUNICIPALITIES,
            int(frame["g"].isin(thin).sum()),
        )
    return frame[~frame["g"].isin(thin)]


def _blocks(res: AttGtResult, period: np.ndarray) -> tuple[np.ndarray, ...]:
    """Influence entries (row, column, value) and their block: one cell, side and quarter."""
    if res.unit_cluster is None or res.n != period.size:
        raise DidError("instrument_did: needs a clustered fit of the rows in `period`")
    inf = sp.coo_array(res.influence)
    row, col = inf.row, inf.col
    treated = res.unit_group[row] == res.cell_group[col]
    quarter = pd.factorize(period)[0][row].astype(np.int64)
    block = _labels((col.astype(np.int64) * 2 + treated) * (quarter.max() + 1) + quarter)
    return row, col, inf.data, treated, block


def _labels(keys: np.ndarray) -> np.ndarray:
    """Group labels of integer keys. Hash-based (pandas) rather than np.unique: tens of millions
    of influence entries at national scale, where sorting them took most of the design's time."""
    return pd.factorize(keys)[0]


def leverage_corrected(res: AttGtResult, period: np.ndarray) -> AttGtResult:
    """The fit with each observation's influence scaled by 1 / sqrt(1 - leverage) (CR2-type).

    Why: a cohort has a handful of municipalities, often one large one. Summing influence
    functions by municipality then understates the variance: for a mean over a block of
    observations (one cell, side and quarter) the clustered estimate has expectation
    (1 - sum of squared municipality shares) times the true variance. Bell & McCaffrey's CR2
    scales a cluster's residuals by (1 - H_cc)^(-1/2); for a block mean H_cc is the
    municipality's share of the block, which makes the treated side exactly unbiased under
    homoskedastic noise and approximates the comparison side's regression leverage (shares
    there are small). ``period`` is the quarter of each row of the frame passed to att_gt.
    Point estimates are unchanged; aggregations of the returned fit carry the corrected SEs.
    """
    row, col, value, _, block = _blocks(res, period)
    member = _labels(block.astype(np.int64) * res.n_clusters + res.unit_cluster[row])
    share = np.bincount(member)[member] / np.bincount(block)[block]
    if np.any(share >= 1):
        raise DidError("leverage_corrected: a block with a single municipality (leverage 1)")
    scaled = sp.csc_array((value / np.sqrt(1 - share), (row, col)), shape=res.influence.shape)
    return replace(res, influence=scaled)


def effective_municipalities(agg: AggregateResult, period: np.ndarray) -> np.ndarray:
    """G* per level of an aggregation: the effective number of municipalities behind it.

    Why: with few municipalities the clustered variance is itself noisy, so normal intervals
    are too short (event times resting on one or two cohorts covered 70-88 % with them). Under
    a working model of homoskedastic person noise each ATT(g, t) is a difference of block means,
    so person i enters an aggregate with weight a_i (the aggregation weights times +-1 / block
    size, summed over cells) and municipality c adds lambda_c = sum of a_i^2 to its variance;
    G* = (sum lambda)^2 / sum lambda^2 is the Satterthwaite degrees of freedom of that sum
    (Bell-McCaffrey; the effective number of clusters of Carter, Schnepel and Steigerwald).
    The design weights go through the engine's own aggregation with ATT set to zero (its
    weight-estimation term then vanishes), so the aggregation weights are not restated here.
    """
    res = agg.parent
    row, col, _, treated, block = _blocks(res, period)
    current = period[row] == res.cell_time[col]
    sign = np.where(treated == current, 1.0, -1.0)
    weights = sp.csc_array(
        (sign / np.bincount(block)[block], (row, col)), shape=res.influence.shape
    )
    design = replace(res, influence=weights, att=np.zeros_like(res.att))
    a = np.asarray(aggte(design, agg.kind).influence)
    lam = cluster_sums(a**2, res.unit_cluster, res.n_clusters)
    return lam.sum(axis=0) ** 2 / (lam**2).sum(axis=0)


def small_sample_intervals(rows: pd.DataFrame, g_star: np.ndarray, alpha: float) -> pd.DataFrame:
    """Tidy rows with t(G* - 1) intervals and p-values (``g_star`` aligned with ``rows``)."""
    df = np.maximum(g_star - 1.0, 1.0)
    est, se = rows["estimate"].to_numpy(float), rows["se"].to_numpy(float)
    crit = student_t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * student_t.sf(np.abs(est / se), df)
    return rows.assign(ci_low=est - crit * se, ci_high=est + crit * se, p_value=p)


def _fit(frame: pd.DataFrame, outcome: str, covs: list[str], alpha: float):
    """Doubly robust first; fall back to outcome regression, then unadjusted (see did.fallback);
    None when none of them can be estimated. SEs are leverage-corrected (``leverage_corrected``).
    """
    attempts = [("cs_dr", "dr", covs), ("cs_reg", "reg", covs), ("cs_unadj", "reg", [])]
    period = frame["q"].to_numpy(float)

    def aggregations(res: AttGtResult):
        res = leverage_corrected(res, period)
        return aggte(res, "simple"), aggte(res, "dynamic")

    try:
        return att_gt_with_fallback(
            frame,
            attempts,
            aggregations,
            outcome=outcome,
            time="q",
            group="g",
            control="notyet",
            cluster="municipality",
            bootstrap=0,
            alpha=alpha,
        )
    except DidError:
        return None


def _estimation_frame(
    base: pd.DataFrame, g: pd.Series, outcome: str, covariates: list[str], instrument: str
) -> pd.DataFrame:
    """Persons with the outcome and covariates, minus always-treated and ineligible cohorts."""
    always = g.between(1, int(base["q"].min()))
    if always.any():
        log.info(
            "%s: %d persons in always-treated municipalities dropped", instrument, int(always.sum())
        )
    frame = base.assign(g=g.to_numpy())[~always.to_numpy()]
    frame = frame[frame[outcome].notna()].dropna(subset=covariates)
    return eligible_cohorts(frame, instrument)


def _design_rows(
    frame: pd.DataFrame, key: dict, settings: EventStudySettings
) -> list[pd.DataFrame | list]:
    """CS headline rows (att_overall, att_event) and the TWFE benchmarks for one frame."""
    outcome, instrument = key["outcome"], key["treatment"]
    covs = [c for c in settings.covariates if frame[c].nunique() > 1]
    fitted = _fit(frame, outcome, covs, settings.alpha)
    if fitted is None:
        log.warning("%s %s h=%d: no estimator could be fitted", instrument, outcome, key["horizon"])
        return []
    estimator, (simple, dynamic) = fitted
    inference = (
        "analytic influence function clustered by municipality "
        f"({simple.parent.n_clusters}), CR2-type leverage correction, t(G* - 1) intervals"
    )
    period = frame["q"].to_numpy(float)
    rows: list[pd.DataFrame | list] = [
        small_sample_intervals(
            to_tidy(agg, **key, estimator=estimator, inference=inference),
            effective_municipalities(agg, period),
            settings.alpha,
        )
        for agg in (simple, dynamic)
    ]
    try:
        rows.append(
            [
                r | {"estimand": "att_overall"}
                for r in _twfe_rows(frame, outcome, covs, key, settings)
            ]
        )
    except (DidError, np.linalg.LinAlgError, ValueError) as exc:
        log.warning("%s TWFE benchmark: %s", instrument, exc)
    return rows


def instrument_rows(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    adoption: pd.DataFrame,
    instruments: list[str],
    outcome_names: list[str],
    settings: EventStudySettings,
    exclude: Collection[str] = (),
) -> pd.DataFrame:
    """Tidy rows (att_overall headline + att_event + TWFE benchmarks) for every instrument.

    ``exclude``: municipality codes left out of the design altogether (``run`` passes the policy
    calendar's G4 cities, see the module docstring).
    """
    persons = persons[~persons["municipality"].astype(str).isin([str(c) for c in exclude])]
    persons, covariates = numeric_covariates(persons, settings.covariates)
    settings = replace(settings, covariates=covariates)
    rows: list[pd.DataFrame | list] = []
    for h in settings.horizons:
        base = analysis_frame(persons, outcomes, h, settings.covariates, include_uncertain=True)
        for instrument in instruments:
            g_map = adoption[adoption["instrument"] == instrument].set_index("municipality")["g"]
            g = base["municipality"].map(g_map).fillna(0).astype(int)
            for outcome in outcome_names:
                frame = _estimation_frame(base, g, outcome, settings.covariates, instrument)
                if not frame["g"].between(1, frame["q"].max()).any():
                    not_estimated.note(
                        log,
                        "no eligible adoption cohort (no municipality adopts inside the data)",
                        design="instrument_did",
                        treatment=instrument,
                        city="all",
                        comparison="not_yet_treated",
                        outcome=outcome,
                        horizon=h,
                        subgroup="all",
                    )
                    continue
                key = {
                    "design": "instrument_did",
                    "treatment": instrument,
                    "city": "all",
                    "comparison": "not_yet_treated",
                    "outcome": outcome,
                    "horizon": h,
                    "subgroup": "all",
                }
                rows += _design_rows(frame, key, settings)
    frames = [r if isinstance(r, pd.DataFrame) else tidy_frame(r) for r in rows]
    return tidy_frame(pd.concat(frames, ignore_index=True)) if frames else tidy_frame([])


def run(job: RuleJob) -> None:
    """Rule instrument_did."""
    estimate = job.params["estimate"]
    settings = EventStudySettings.from_config(estimate)
    policies = load_policies(job.input["policies"])
    table = pd.read_parquet(job.input["policies_table"]) if "policies_table" in job.input else None
    adoption = adoption_table(policies, table)
    spec = estimate["instrument_did"]
    instruments = list(spec.get("instruments", list(policies.get("instruments", {}))))
    outcome_names = list(spec.get("outcomes", estimate["outcomes"]))
    with single_threaded_blas():
        rows = instrument_rows(
            pd.read_parquet(job.input["persons"]),
            pd.read_parquet(job.input["outcomes"]),
            adoption,
            instruments,
            outcome_names,
            settings,
            exclude=list(PolicyCalendar.from_policies(policies).codes.values()),
        )
    write_tidy(rows, job.output["estimates"])
