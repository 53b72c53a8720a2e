"""The instrument_did design: staggered adoption of city instruments across municipalities.

For each instrument key of ``config/policies.yaml`` the municipalities that adopt it (the G4
dates from the policy calendar, counterparts in other municipalities from the prepared
``municipality_policies`` table when present) form cohorts g = the cohort quarter that contains
the adoption date. Persons are repeated cross-sections (time = their cohort quarter, group = the
adoption quarter of their settlement municipality, 0 = never adopted). Callaway–Sant'Anna
group-time ATTs, doubly robust with covariates, not-yet-treated comparisons, clustered by
municipality (many adopting clusters, so cluster-robust influence-function SEs are the headline
inference); ``att_overall`` = "simple" aggregation (weights ∝ persons in group g) and
``att_event`` = "dynamic" aggregation. Municipalities that adopted at or before the first cohort
quarter have no pre-period and are dropped (always treated). A static TWFE with its CRV1, CRV3
(leave-one-municipality-out) and WCR wild cluster bootstrap (Webb) rows is the benchmark.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy.stats import norm

from inburgering.did.comparison import FIXEF_TOL
from inburgering.did.errors import DidError
from inburgering.did.export import to_tidy
from inburgering.did.fallback import att_gt_with_fallback
from inburgering.did.inference import absorb_within, crv3, wild_cluster_bootstrap
from inburgering.did.reform import analysis_frame
from inburgering.tidy import tidy_frame
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)


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
    frame: pd.DataFrame, outcome: str, covs: list[str], key: dict, settings
) -> list[dict]:
    """Static TWFE benchmark: CRV1 (pyfixest); CRV3 and WCR (Webb) on municipality-quarter cells."""
    frame = frame.assign(D=((frame["g"] > 0) & (frame["q"] >= frame["g"])).astype(float))
    z = norm.ppf(1 - settings.alpha / 2)
    fit = pf.feols(
        f"{outcome} ~ {' + '.join(['D', *covs])} | municipality + q",
        data=frame,
        vcov={"CRV1": "municipality"},
        fixef_tol=FIXEF_TOL,
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
    est3, se3 = crv3(X, y, w, cl, 0)
    rows.append(
        {
            **key,
            "estimator": "twfe_cells_crv3",
            "headline": False,
            "estimate": est3,
            "se": se3,
            "ci_low": est3 - z * se3,
            "ci_high": est3 + z * se3,
            "p_value": 2 * norm.sf(abs(est3 / se3)) if se3 > 0 else np.nan,
            "inference": "CRV3 leave-one-municipality-out jackknife (cell-level TWFE)",
            "n_clusters": int(np.unique(cl).size),
        }
    )
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


def _drop_sparse_groups(frame: pd.DataFrame, instrument: str, min_cell: int = 2) -> pd.DataFrame:
    """Drop adoption cohorts with fewer than ``min_cell`` persons in some cohort quarter.

    Repeated cross-sections need treated persons in every (g, t) cell; an adoption cohort made
    of one small municipality often has empty quarters. Its persons are removed (they are treated,
    so they cannot serve as never-treated controls); the log lists what was dropped.
    """
    counts = frame[frame["g"] > 0].groupby(["g", "q"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=np.unique(frame["q"]), fill_value=0)
    sparse = counts.index[(counts < min_cell).any(axis=1)]
    if len(sparse):
        log.info(
            "%s: %d adoption cohorts dropped for empty quarters (%d persons)",
            instrument,
            len(sparse),
            int(frame["g"].isin(sparse).sum()),
        )
    return frame[~frame["g"].isin(sparse)]


def _fit(frame: pd.DataFrame, outcome: str, covs: list[str], alpha: float):
    """Doubly robust first; fall back to outcome regression, then unadjusted (see did.fallback);
    None when none of them can be estimated."""
    attempts = [("cs_dr", "dr", covs), ("cs_reg", "reg", covs), ("cs_unadj", "reg", [])]
    try:
        return att_gt_with_fallback(
            frame,
            attempts,
            lambda res: (res.aggte("simple"), res.aggte("dynamic")),
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


def instrument_rows(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    adoption: pd.DataFrame,
    instruments: list[str],
    outcome_names: list[str],
    settings,
) -> pd.DataFrame:
    """Tidy rows (att_overall headline + att_event + TWFE benchmarks) for every instrument."""
    rows: list[pd.DataFrame | list] = []
    for h in settings.horizons:
        base = analysis_frame(persons, outcomes, h, settings.covariates, include_uncertain=True)
        first = int(base["q"].min())
        for instrument in instruments:
            g_map = adoption[adoption["instrument"] == instrument].set_index("municipality")["g"]
            g = base["municipality"].map(g_map).fillna(0).astype(int)
            always = g.between(1, first)
            if always.any():
                log.info(
                    "%s: %d persons in always-treated municipalities dropped",
                    instrument,
                    int(always.sum()),
                )
            for outcome in outcome_names:
                frame = base.assign(g=g.to_numpy())[~always.to_numpy()]
                frame = frame[frame[outcome].notna()].dropna(subset=settings.covariates)
                frame = _drop_sparse_groups(frame, instrument)
                covs = [c for c in settings.covariates if frame[c].nunique() > 1]
                key = {
                    "design": "instrument_did",
                    "treatment": instrument,
                    "city": "all",
                    "comparison": "not_yet_treated",
                    "outcome": outcome,
                    "horizon": h,
                    "subgroup": "all",
                }
                if not (frame["g"] > 0).any():
                    log.warning(
                        "%s h=%d: no adopting municipality with a pre-period; skipped",
                        instrument,
                        h,
                    )
                    continue
                fitted = _fit(frame, outcome, covs, settings.alpha)
                if fitted is None:
                    log.warning(
                        "%s %s h=%d: no estimator could be fitted; skipped", instrument, outcome, h
                    )
                    continue
                estimator, (simple, dynamic) = fitted
                common = dict(
                    design="instrument_did",
                    treatment=instrument,
                    city="all",
                    comparison="not_yet_treated",
                    outcome=outcome,
                    horizon=h,
                )
                rows.append(to_tidy(simple, **common, estimator=estimator))
                rows.append(to_tidy(dynamic, **common, estimator=estimator))
                try:
                    rows.append(
                        [
                            r | {"estimand": "att_overall"}
                            for r in _twfe_rows(frame, outcome, covs, key, settings)
                        ]
                    )
                except (DidError, np.linalg.LinAlgError, ValueError) as exc:
                    log.warning("%s TWFE benchmark: %s", instrument, exc)
    frames = [r if isinstance(r, pd.DataFrame) else tidy_frame(r) for r in rows]
    return tidy_frame(pd.concat(frames, ignore_index=True)) if frames else tidy_frame([])


def run(job: RuleJob) -> None:
    """Rule instrument_did."""
    import yaml

    from inburgering.did.reform import ReformSettings
    from inburgering.tidy import write_tidy

    estimate = job.params["estimate"]
    settings = ReformSettings.from_config(estimate)
    policies = yaml.safe_load(job.input["policies"].read_text(encoding="utf-8"))
    table = pd.read_parquet(job.input["policies_table"]) if "policies_table" in job.input else None
    adoption = adoption_table(policies, table)
    spec = estimate.get("instrument_did", {})
    instruments = list(spec.get("instruments", list(policies.get("instruments", {}))))
    outcome_names = list(spec.get("outcomes", estimate["outcomes"]))
    from inburgering.did.reform import single_threaded_blas

    with single_threaded_blas():
        rows = instrument_rows(
            pd.read_parquet(job.input["persons"]),
            pd.read_parquet(job.input["outcomes"]),
            adoption,
            instruments,
            outcome_names,
            settings,
        )
    write_tidy(rows, job.output["estimates"])
