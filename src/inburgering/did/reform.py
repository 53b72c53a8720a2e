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
study is re-normalised to the mean of the last ``base_quarters`` (default 4) pre-reform
quarters instead of the single quarter before the reform. Under parallel trends both are valid,
but one base quarter holds only a few dozen persons per city and its noise would enter every
post coefficient. Older quarters are left out because the G4 pre-period is not policy-free
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
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy.stats import norm

from inburgering import not_estimated
from inburgering.covariates import numeric_with_indicators, prune_collinear
from inburgering.did.bootstrap import sup_t_critical_value
from inburgering.did.comparison import DEMEANER
from inburgering.did.errors import DidError
from inburgering.did.fallback import att_gt_with_fallback
from inburgering.did.honest import EventStudy, is_fragile, sensitivity
from inburgering.did.inference import (
    absorb_within,
    crv3,
    ri_t_test,
    synthetic_did,
    wild_cluster_bootstrap,
)
from inburgering.io import write_csv_atomic
from inburgering.tidy import CELL_COLUMNS, tidy_frame, write_tidy
from inburgering.workflow import RuleJob, StageError

log = logging.getLogger(__name__)

REFORM_COHORT = "2022Q1"
HEADLINE_INFERENCE = "analytic influence function (persons)"
G4_CITIES = ("rotterdam", "amsterdam", "den_haag", "utrecht")


@dataclass(frozen=True)
class ReformSettings:
    """The ``estimate`` config section as the reform design uses it."""

    horizons: list[int]
    cities: list[str]
    alpha: float = 0.05
    covariates: list[str] = field(default_factory=lambda: ["female", "age", "schooling_years"])
    subgroups: list[str] = field(
        default_factory=lambda: ["group:statushouder", "group:gezinsmigrant"]
    )
    ri_pool: int = 39
    wild_draws: int = 999
    seed: int = 0
    honest_pre: int = 5
    honest_post: int = 3
    honest_bin: int = 4
    base_quarters: int = 4
    band_draws: int = 9999
    honest_grids: dict = field(
        default_factory=lambda: {
            "relative_magnitude": [0.0, 0.5, 1.0, 1.5, 2.0],
            "smoothness": [0.0, 0.01, 0.02, 0.04],
        }
    )
    min_treated_clusters: int = 5

    @classmethod
    def from_config(cls, estimate: dict) -> ReformSettings:
        reform = estimate.get("reform_did", {})
        honest = estimate.get("honestdid", {})
        inference = estimate.get("inference", {})
        return cls(
            horizons=list(estimate["horizons"]),
            cities=list(estimate["cities"]),
            alpha=float(estimate["alpha"]),
            covariates=list(
                estimate.get("covariates", cls.__dataclass_fields__["covariates"].default_factory())
            ),
            subgroups=list(reform.get("subgroups", ["group:statushouder", "group:gezinsmigrant"])),
            ri_pool=int(inference.get("ri_pool", 39)),
            wild_draws=int(inference.get("wild_draws", 999)),
            seed=int(estimate.get("seed", 0)),
            honest_pre=int(honest.get("pre_periods", 5)),
            honest_post=int(honest.get("post_periods", 3)),
            honest_bin=int(honest.get("bin_quarters", 4)),
            base_quarters=int(reform.get("base_quarters", 4)),
            band_draws=int(reform.get("band_draws", 9999)),
            honest_grids={
                "relative_magnitude": list(honest.get("mbar", [0.0, 0.5, 1.0, 1.5, 2.0])),
                "smoothness": list(honest.get("m", [0.0, 0.01, 0.02, 0.04])),
            },
            min_treated_clusters=int(inference.get("min_treated_clusters", 5)),
        )


def quarter_index(cohort: pd.Series) -> np.ndarray:
    """'2022Q1' -> 4 * 2022 + 1 (consecutive integers across years)."""
    text = cohort.astype(str)
    return (text.str[:4].astype(int) * 4 + text.str[-1].astype(int)).to_numpy()


REFORM_Q = int(quarter_index(pd.Series([REFORM_COHORT]))[0])


# A text covariate's levels below this share of persons join its reference level: a rare level
# leaves some cohort-quarter cells without a single person of it, and the cell regressions of
# the DiD engine are then rank deficient (``overig``, 3 % of persons, did so).
MIN_LEVEL_SHARE = 0.05


def numeric_covariates(
    persons: pd.DataFrame, covariates: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Text covariates (e.g. ``group``) as 0/1 columns ``<name>_<level>``, the most frequent
    level the reference (with the levels rarer than ``MIN_LEVEL_SHARE``); numeric and boolean
    covariates pass unchanged. Missing values are imputed with one indicator per missingness
    pattern and collinear columns dropped, logged (:mod:`inburgering.covariates`): complete
    covariates get no indicator.

    Why: the DiD engine's outcome and propensity regressions take numeric columns, and a
    composition shift between groups with very different outcome levels (statushouders and
    family migrants on social assistance) is a trend only an adjustment for group removes.
    """
    persons = persons.copy()
    names = []
    for c in covariates:
        if c not in persons.columns or not _is_text(persons[c]):
            names.append(c)
            continue
        counts = persons[c].dropna().astype(str).value_counts()
        reference = sorted(counts.index, key=lambda v: (-counts[v], v))[0]
        common = counts.index[counts >= MIN_LEVEL_SHARE * counts.sum()]
        for level in sorted(set(common) - {reference}):
            name = re.sub(r"\W", "_", f"{c}_{level}")
            persons[name] = (
                (persons[c].astype(str) == level).astype(float).where(persons[c].notna())
            )
            names.append(name)
    if not set(names) <= set(persons.columns):
        return persons, names  # analysis_frame names the missing columns
    persons, names = numeric_with_indicators(persons, names)
    blocks = {name: persons[name].to_numpy(dtype=float) for name in names}
    kept, _ = prune_collinear(blocks, names)
    return persons, kept


def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or isinstance(column.dtype, pd.CategoricalDtype)


def analysis_frame(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    horizon: int,
    covariates: list[str],
    *,
    include_uncertain: bool = False,
) -> pd.DataFrame:
    """Persons × outcome at one horizon, numeric covariates, quarter index ``q``."""
    missing = [c for c in covariates if c not in persons.columns]
    if missing:
        raise StageError(
            f"reform_did: covariates {missing} (config estimate.covariates) are not columns of "
            f"persons.parquet (have {sorted(persons.columns)})"
        )
    keep = persons["regime"] != "uncertain" if not include_uncertain else persons["regime"].notna()
    cols = ["person_id", "municipality", "city", "cohort", "group", "regime", *covariates]
    frame = persons.loc[keep, list(dict.fromkeys(cols))].merge(
        outcomes[outcomes["horizon"] == horizon], on="person_id", how="inner"
    )
    for c in covariates:
        if frame[c].dtype == bool or str(frame[c].dtype).startswith("bool"):
            frame[c] = frame[c].astype(float)
    frame["q"] = quarter_index(frame["cohort"])
    frame["municipality"] = frame["municipality"].astype(str)
    return frame


@dataclass
class ContrastFit:
    """One city-vs-comparison event study and its overall contrast."""

    estimate: float
    se: float
    event_time: np.ndarray
    event_est: np.ndarray
    event_se: np.ndarray
    event_vcov: np.ndarray
    honest: EventStudy | None
    wald_stat: float
    wald_df: int
    wald_p: float
    slope: float
    slope_se: float
    n_treated: int
    n_control: int
    n_clusters: int
    estimator: str = "cs_dr"

    @property
    def counts(self) -> dict[str, int]:
        """Persons behind the contrast and its municipalities (disclosure counts)."""
        return {
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "n_clusters": self.n_clusters,
        }


def binned_event_study(
    e: np.ndarray, b: np.ndarray, V: np.ndarray, width: int
) -> EventStudy | None:
    """Event study in bins of ``width`` quarters (mean of the quarterly coefficients), reference
    bin -1 (the ``width`` quarters before the reform) set to zero.

    Why: HonestDiD extrapolates pre-period slopes; quarterly coefficients against one base
    quarter carry that quarter's noise, yearly bins average it out and M is then per year.
    """
    bins = np.floor_divide(e.astype(int), width)
    levels = np.unique(bins)
    B = np.array([(bins == k) / np.sum(bins == k) for k in levels])
    if not np.any(levels == -1) or np.sum(levels < -1) < 2:
        return None  # sparse small runs: no reference bin, no sensitivity analysis
    B = B - B[levels == -1][0][None, :]
    keep = levels != -1
    B = B[keep]
    return EventStudy(levels[keep].astype(int), B @ b, B @ V @ B.T)


def _drop_sparse_quarters(frame: pd.DataFrame, min_cell: int = 2) -> pd.DataFrame:
    """Drop cohort quarters with fewer than ``min_cell`` treated or comparison persons.

    Repeated cross-sections need both groups in every quarter; a quarter without the treated
    city's persons carries no information about it (small runs only).
    """
    tr = frame["g"] > 0
    counts = pd.crosstab(frame["q"], tr)
    ok = counts.index[(counts.get(True, 0) >= min_cell) & (counts.get(False, 0) >= min_cell)]
    return frame[frame["q"].isin(ok)]


def _usable_covariates(data: pd.DataFrame, covariates: list[str]) -> list[str]:
    return [c for c in covariates if data[c].nunique(dropna=True) > 1]


def fit_contrast(
    data: pd.DataFrame,
    treated: np.ndarray,
    outcome: str,
    covariates: list[str],
    method: str = "dr",
    honest_bin: int = 4,
    base_quarters: int = 4,
    event_q: int = REFORM_Q,
) -> ContrastFit:
    """CS-DR event study of ``treated`` rows (group = ``event_q``) vs the other rows.

    Parameters
    ----------
    data : DataFrame
        Rows of the treated city and the comparison pool (from :func:`analysis_frame`).
    treated : bool array
        Rows of the treated unit.
    event_q : int
        Quarter index of the treated unit's change (default the Wi2021 reform; a G4 city's
        instrument bundle in ``did.city_instruments``).
    """
    frame = data.loc[:, ["q", outcome, "municipality", *covariates]].copy()
    frame["g"] = np.where(treated, event_q, 0)
    frame = _drop_sparse_quarters(frame[frame[outcome].notna()].dropna(subset=covariates))
    covs = _usable_covariates(frame, covariates)
    methods = [(method, covs), ("reg", covs), ("reg", [])] if method == "dr" else [(method, covs)]
    attempts = [("cs_unadj" if not cov else f"cs_{how}", how, cov) for how, cov in methods]
    estimator, res = att_gt_with_fallback(
        frame,
        attempts,
        lambda fitted: fitted,
        outcome=outcome,
        time="q",
        group="g",
        base_period="universal",
        bootstrap=0,
    )
    dyn = res.aggte("dynamic")
    e, b, V = dyn.levels, dyn.att, dyn.vcov
    pre, post = e < 0, e >= 0
    if not post.any() or pre.sum() < 2:
        raise DidError("reform_did: need post cohorts and at least two pre cohorts")
    is_t = frame["g"].to_numpy() > 0
    q = frame["q"].to_numpy()
    n_post = np.array([np.sum(is_t & (q == event_q + ev)) for ev in e[post]], float)
    l_post = np.zeros(e.size)
    l_post[post] = n_post / n_post.sum()
    # Base = mean of the last `base_quarters` pre-reform quarters (0: all of them). The G4
    # pre-period is not policy-free (RTS 2018, assessment 2019, DOMAIN §3): a recent base keeps
    # older city policy changes out of the contrast while averaging away one quarter's noise.
    base = pre & (e >= -base_quarters) if base_quarters > 0 else pre
    if not base.any():  # sparse small runs: without a base the contrast would not be a DiD
        raise DidError(f"reform_did: no cohort quarter in the base (last {base_quarters} pre)")
    l_pre = np.where(base, 1.0 / base.sum(), 0.0)
    lvec = l_post - l_pre
    L_event = np.eye(e.size) - l_pre[None, :]
    ev_est = L_event @ b
    ev_vcov = L_event @ V @ L_event.T
    ev_se = np.sqrt(np.maximum(np.diag(ev_vcov), 0))
    wald = res.pretrend_test()
    pre_e = e[pre]
    a = np.zeros(e.size)
    a[pre] = (pre_e - pre_e.mean()) / np.sum((pre_e - pre_e.mean()) ** 2)
    return ContrastFit(
        estimate=float(lvec @ b),
        se=float(np.sqrt(max(lvec @ V @ lvec, 0))),
        event_time=e.astype(int),
        event_est=ev_est,
        event_se=ev_se,
        event_vcov=ev_vcov,
        honest=binned_event_study(e, b, V, honest_bin),
        wald_stat=wald.statistic if wald else np.nan,
        wald_df=wald.df if wald else 0,
        wald_p=wald.p_value if wald else np.nan,
        slope=float(a @ b),
        slope_se=float(np.sqrt(max(a @ V @ a, 0))),
        n_treated=int(is_t.sum()),
        n_control=int((~is_t).sum()),
        n_clusters=int(frame["municipality"].nunique()),
        estimator=estimator,
    )


def side_key(key: dict) -> dict:
    """The columns that tie a side-table row (pre-trend test, HonestDiD, RI, uniform band) to
    its contrast's estimate rows."""
    return {k: key[k] for k in CELL_COLUMNS}


def _counts(treated: np.ndarray) -> dict[str, int]:
    """Persons of the treated city and of the comparison behind a row (disclosure counts)."""
    return {"n_treated": int(treated.sum()), "n_control": int((~treated).sum())}


def estimate_row(
    key: dict, estimator: str, headline: bool, est: float, se: float, alpha: float, **extra
):
    z = norm.ppf(1 - alpha / 2)
    row = {
        **key,
        "estimator": estimator,
        "headline": headline,
        "estimate": est,
        "se": se,
        "ci_low": est - z * se,
        "ci_high": est + z * se,
        "p_value": 2 * norm.sf(abs(est / se)) if se and se > 0 else np.nan,
    }
    row.update(extra)
    return row


def naive_row(
    data: pd.DataFrame,
    treated: np.ndarray,
    outcome: str,
    key: dict,
    alpha: float,
    event_q: int = REFORM_Q,
):
    """Raw before/after difference in the city (no comparison group): the strawman."""
    y = data[outcome].to_numpy(float)
    post = data["q"].to_numpy() >= event_q
    ok = treated & np.isfinite(y)
    a, b = y[ok & post], y[ok & ~post]
    se = float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))
    return estimate_row(
        key,
        "naive",
        False,
        float(a.mean() - b.mean()),
        se,
        alpha,
        inference="two-sample SE, persons (before/after in the city only)",
        n_treated=int(a.size),
        n_control=int(b.size),
    )


def twfe_row(data, treated, outcome, covariates, key, alpha, event_q: int = REFORM_Q):
    """Person-level TWFE 2x2 (municipality and cohort FE, covariates), CRV1 by municipality."""
    frame = data[data[outcome].notna()].copy()
    frame["treated_post"] = (
        treated[data[outcome].notna().to_numpy()] & (frame["q"] >= event_q)
    ).astype(float)
    covs = _usable_covariates(frame, covariates)
    rhs = " + ".join(["treated_post", *covs])
    fit = pf.feols(
        f"{outcome} ~ {rhs} | municipality + q",
        data=frame,
        vcov={"CRV1": "municipality"},
        demeaner=DEMEANER,
    )
    est, se = float(fit.coef()["treated_post"]), float(fit.se()["treated_post"])
    return estimate_row(
        key,
        "twfe",
        False,
        est,
        se,
        alpha,
        inference="CRV1 by municipality (one treated cluster: not reliable)",
        **_counts(treated[data[outcome].notna().to_numpy()]),
        n_clusters=int(frame["municipality"].nunique()),
    )


def cell_design(data: pd.DataFrame, treated: np.ndarray, outcome: str):
    """Municipality × cohort-quarter cell means and the TWFE design matrix (D first)."""
    frame = data.loc[:, ["municipality", "q", outcome]].copy()
    frame["tr"] = treated
    frame = frame[frame[outcome].notna()]
    cells = (
        frame.groupby(["municipality", "q"], observed=True)
        .agg(y=(outcome, "mean"), n=(outcome, "size"), tr=("tr", "max"))
        .reset_index()
    )
    D = (cells["tr"] & (cells["q"] >= REFORM_Q)).astype(float).to_numpy()
    T = pd.get_dummies(cells["q"], dtype=float).to_numpy()[:, 1:]
    w, mun = cells["n"].to_numpy(float), cells["municipality"].to_numpy()
    # Municipality effects are nested in the municipality clusters: partial them out.
    X, y = absorb_within(np.column_stack([D, T]), cells["y"].to_numpy(float), w, mun)
    return X, y, w, mun


def few_cluster_rows(data, treated, outcome, key, s: ReformSettings, seed: int):
    """WCR wild cluster bootstrap (Webb) and CRV3 on the cell-level TWFE."""
    X, y, w, cl = cell_design(data, treated, outcome)
    n_tr = len(set(cl[X[:, 0] > 0]))
    persons = _counts(treated[data[outcome].notna().to_numpy()])
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
    est3, se3 = crv3(X, y, w, cl, 0)
    rows = [
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
        {
            **key,
            "estimator": "twfe_cells_crv3",
            "headline": False,
            "estimate": est3,
            "se": se3,
            "ci_low": est3 - norm.ppf(1 - s.alpha / 2) * se3 if np.isfinite(se3) else np.nan,
            "ci_high": est3 + norm.ppf(1 - s.alpha / 2) * se3 if np.isfinite(se3) else np.nan,
            "inference": "CRV3 leave-one-municipality-out jackknife"
            + ("" if np.isfinite(se3) else " (undefined: dropping the treated cluster removes D)"),
            "n_clusters": len(set(cl)),
            **persons,
        },
    ]
    return rows


def ri_pool(data: pd.DataFrame, size: int) -> list[str]:
    """The ``size`` non-G4 municipalities with the largest inflow (persons in the sample)."""
    counts = data.loc[data["city"] == "rest_nl", "municipality"].value_counts()
    return sorted(counts.index[:size].tolist(), key=lambda m: (-counts[m], m))


def placebo_t(
    rest: pd.DataFrame,
    pool: list[str],
    outcome: str,
    covariates: list[str],
    base_quarters: int = 4,
    event_q: int = REFORM_Q,
) -> np.ndarray:
    """t-statistics with each pool municipality labelled treated against the rest of rest_nl.

    Outcome-regression DiD (``method="reg"``): the doubly robust estimator also regresses within
    the treated unit's cohort cells, which a placebo municipality with a handful of persons per
    quarter cannot support; the RI row therefore uses the regression estimator for the treated
    city as well, so that the statistic is the same for treated and placebos.
    """
    out = []
    mun = rest["municipality"].to_numpy()
    for m in pool:
        try:
            fit = fit_contrast(
                rest,
                mun == m,
                outcome,
                covariates,
                method="reg",
                base_quarters=base_quarters,
                event_q=event_q,
            )
            out.append(fit.estimate / fit.se)
        except DidError as exc:  # tiny placebo municipality: skip it and say so
            log.warning("RI placebo %s %s skipped: %s", m, outcome, exc)
    return np.asarray(out)


def ri_rows(
    sub, tr, outcome, key, s, t_placebo, counts, event_q: int = REFORM_Q
) -> tuple[dict, dict] | None:
    """Randomization inference on t over the placebo pool: the estimate row and its record."""
    try:
        rfit = fit_contrast(
            sub,
            tr,
            outcome,
            s.covariates,
            method="reg",
            base_quarters=s.base_quarters,
            event_q=event_q,
        )
    except DidError as exc:  # outcome regression not estimable in a small city: say so
        log.warning("reform_did RI %s %s: %s", key["city"], outcome, exc)
        return None
    ri = ri_t_test(rfit.estimate, rfit.se, t_placebo, s.alpha)
    row = {
        **key,
        "estimator": "cs_reg_ri",
        "headline": False,
        "estimate": rfit.estimate,
        "se": rfit.se,
        "ci_low": ri.ci_low,
        "ci_high": ri.ci_high,
        "p_value": ri.p_value,
        "inference": f"randomization inference on t over the {ri.n_placebos} "
        f"largest non-G4 municipalities (exact p, floor {ri.floor:.3g}); CI by test inversion",
        **counts,
    }
    record = {
        **side_key(key),
        "ri_p": ri.p_value,
        "ri_floor": ri.floor,
        "ri_q": ri.q,
        "ri_placebos": ri.n_placebos,
        "t": rfit.estimate / rfit.se,
    }
    return row, record


def sdid_row(data, city, outcome, pool, key, alpha, event_q: int = REFORM_Q):
    """Synthetic DiD on municipality × year cell means, all non-G4 municipalities as donors.

    Years are counted from ``event_q`` (year 0 = its first four cohort quarters), so that no
    pre-change quarter shares a cell with post-change quarters.
    """
    frame = data[data[outcome].notna()]
    frame = frame.assign(
        unit=np.where(frame["city"] == city, city, frame["municipality"]),
        year=(frame["q"] - event_q) // 4,
    )
    frame = frame[frame["city"].isin([city, "rest_nl"])]
    panel = frame.pivot_table(index="unit", columns="year", values=outcome, aggfunc="mean")
    panel = panel.dropna()
    if city not in panel.index:
        return None
    units = panel.index.to_numpy()
    Y = panel.to_numpy(float)
    pre = panel.columns.to_numpy() < 0
    treated = int(np.flatnonzero(units == city)[0])
    donors = np.flatnonzero(units != city)
    placebos = np.flatnonzero(np.isin(units, pool))
    if donors.size < 2 or pre.sum() < 2 or (~pre).sum() < 1:
        # Small samples leave few municipalities with persons in every year: no SDID row then,
        # said in the log rather than a row built on one donor.
        log.warning(
            "sdid %s %s: not estimable (%d donors with every year observed, %d pre-years)",
            city,
            outcome,
            donors.size,
            int(pre.sum()),
        )
        return None
    res = synthetic_did(Y, treated, pre, placebos, donors)
    z = norm.ppf(1 - alpha / 2)
    return {
        **key,
        "estimator": "sdid",
        "headline": False,
        "estimate": res.estimate,
        "se": res.se,
        "ci_low": res.estimate - z * res.se,
        "ci_high": res.estimate + z * res.se,
        "p_value": res.p_value,
        "inference": f"synthetic DiD (municipality x year means, {res.n_donors} donors); in-space "
        f"placebo p-value over {res.n_placebos} pool municipalities (floor {res.floor:.3g}), "
        "placebo SE",
        "n_clusters": res.n_donors + 1,
        **_counts((frame["city"] == city).to_numpy()),
    }


def fit_row(
    fit: ContrastFit,
    key: dict,
    alpha: float,
    estimator: str | None = None,
    headline: bool = True,
    inference: str = HEADLINE_INFERENCE,
) -> dict:
    """The overall contrast of a fit as an estimate row, with the fit's counts."""
    return estimate_row(
        key,
        estimator or fit.estimator,
        headline,
        fit.estimate,
        fit.se,
        alpha,
        inference=inference,
        **fit.counts,
    )


def event_rows(fit: ContrastFit, key: dict, alpha: float) -> list[dict]:
    return [
        estimate_row(
            {**key, "estimand": "att_event", "event_time": int(ev)},
            fit.estimator,
            True,
            est,
            se,
            alpha,
            inference=f"{HEADLINE_INFERENCE}; event study normalised to the base-quarter mean",
            **fit.counts,
        )
        for ev, est, se in zip(fit.event_time, fit.event_est, fit.event_se, strict=True)
    ]


def band_rows(fit: ContrastFit, key: dict, s: ReformSettings, seed: list[int]) -> list[dict]:
    """Sup-t uniform band over the whole event study of one contrast (pre and post quarters)."""
    crit = sup_t_critical_value(fit.event_vcov, alpha=s.alpha, draws=s.band_draws, seed=seed)
    return [
        {
            **side_key(key),
            "estimator": fit.estimator,
            "event_time": int(ev),
            "band_low": est - crit * se,
            "band_high": est + crit * se,
            "critical_value": crit,
        }
        for ev, est, se in zip(fit.event_time, fit.event_est, fit.event_se, strict=True)
    ]


def pretrend_record(fit: ContrastFit, key: dict) -> dict:
    """Joint Wald test of the leads and the linear pre-trend slope of one contrast."""
    return {
        **side_key(key),
        "wald_stat": fit.wald_stat,
        "wald_df": fit.wald_df,
        "wald_p": fit.wald_p,
        "slope": fit.slope,
        "slope_se": fit.slope_se,
        "slope_p": 2 * norm.sf(abs(fit.slope / fit.slope_se)) if fit.slope_se > 0 else np.nan,
    }


def honest_records(fit: ContrastFit, key: dict, s: ReformSettings) -> list[dict]:
    """HonestDiD sensitivity rows of one contrast, each with the contrast's fragile flag."""
    if fit.honest is None:
        log.warning(
            "honestdid %s vs %s: no reference bin (sparse quarters)", key["city"], key["comparison"]
        )
        return []
    # Fragile: HonestDiD overturns it at Mbar < 1 or under linear extrapolation, or the
    # pre-period coefficients carry a significant linear trend.
    slope_p = 2 * norm.sf(abs(fit.slope / fit.slope_se)) if fit.slope_se > 0 else 1.0
    try:  # small runs: the window or the smoothness bounds may lack the event times they need
        es = fit.honest.window(s.honest_pre, s.honest_post)
        fragile = is_fragile(es, s.alpha) or slope_p < s.alpha
        rows = sensitivity(es, s.honest_grids, s.alpha)
    except ValueError as exc:
        log.warning("honestdid %s vs %s: %s", key["city"], key["comparison"], exc)
        return []
    cell = side_key(key)
    return [{**cell, **r, "fragile": fragile} for r in rows]


def rest_nl_rows(
    data: pd.DataFrame,
    wide: pd.DataFrame,
    key: dict,
    s: ReformSettings,
    t_placebo: np.ndarray,
    pool: list[str],
    counts: dict,
    seed: int,
) -> tuple[list[dict], list[dict]]:
    """Rows only the rest-of-NL comparison carries: the naive strawman, few-cluster inference
    (RI, wild bootstrap, CRV3, SDID) and the sensitivity rows (uncertain slice, subgroups)."""
    city, comp, outcome = key["city"], key["comparison"], key["outcome"]
    sub = data[data["city"].isin([city, comp])]
    tr = (sub["city"] == city).to_numpy()
    rows, inference = [naive_row(sub, tr, outcome, key, s.alpha)], []
    randomization = ri_rows(sub, tr, outcome, key, s, t_placebo, counts)
    if randomization is not None:
        rows.append(randomization[0])
        inference.append(randomization[1])
    rows.extend(few_cluster_rows(sub, tr, outcome, key, s, seed))
    sd = sdid_row(data, city, outcome, pool, key, s.alpha)
    if sd is not None:
        rows.append(sd)
    # Sensitivity: the uncertain early-2022 slice included as Wi2021.
    wsub = wide[wide["city"].isin([city, comp])]
    try:
        wfit = fit_contrast(
            wsub,
            (wsub["city"] == city).to_numpy(),
            outcome,
            s.covariates,
            base_quarters=s.base_quarters,
        )
        rows.append(
            fit_row(
                wfit,
                key,
                s.alpha,
                estimator="cs_dr_incl_uncertain",
                headline=False,
                inference=HEADLINE_INFERENCE + "; uncertain 2022Q1 slice included as Wi2021",
            )
        )
    except DidError as exc:
        log.warning("sensitivity incl. uncertain %s: %s", city, exc)
    for subgroup in s.subgroups:
        var, _, value = subgroup.partition(":")
        gsub = sub[sub[var].astype(str) == value]
        covs = [c for c in s.covariates if c != var]
        try:
            gfit = fit_contrast(
                gsub,
                (gsub["city"] == city).to_numpy(),
                outcome,
                covs,
                base_quarters=s.base_quarters,
            )
        except DidError as exc:
            reason = "DiD estimator not estimable"
            not_estimated.note(log, reason, f"{reason}: {exc}", **{**key, "subgroup": subgroup})
            continue
        rows.append(fit_row(gfit, {**key, "subgroup": subgroup}, s.alpha))
    return rows, inference


TABLES = ("estimates", "pretrends", "honestdid", "inference", "uniform_bands")


def event_study_tables(
    fit: ContrastFit,
    sub: pd.DataFrame,
    treated: np.ndarray,
    key: dict,
    s: ReformSettings,
    band_seed: list[int],
    event_q: int = REFORM_Q,
) -> dict[str, list[dict]]:
    """What every single-city event study carries: the overall and event rows, the TWFE
    benchmark, the pre-trend tests, the HonestDiD rows and the sup-t band (reform_did's
    contrasts and the G4 bundles of ``did.city_instruments``)."""
    twfe = twfe_row(sub, treated, key["outcome"], s.covariates, key, s.alpha, event_q=event_q)
    return {
        "estimates": [fit_row(fit, key, s.alpha), *event_rows(fit, key, s.alpha), twfe],
        "pretrends": [pretrend_record(fit, key)],
        "honestdid": honest_records(fit, key, s),
        "uniform_bands": band_rows(fit, key, s, band_seed),
    }


def outcome_tables(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    outcome: str,
    horizon: int,
    s: ReformSettings,
) -> dict[str, pd.DataFrame]:
    """Every reform_did row and side table for one outcome at one horizon (one job)."""
    tables: dict[str, list[dict]] = {name: [] for name in TABLES}
    persons, covariates = numeric_covariates(persons, s.covariates)
    s = replace(s, covariates=covariates)
    data = analysis_frame(persons, outcomes, horizon, s.covariates)
    wide = analysis_frame(persons, outcomes, horizon, s.covariates, include_uncertain=True)
    pool = ri_pool(data, s.ri_pool)
    t_placebo = placebo_t(
        data[data["city"] == "rest_nl"], pool, outcome, s.covariates, s.base_quarters
    )
    for ci, city in enumerate(s.cities):
        comparisons = ["rest_nl", *[c for c in G4_CITIES if c != city]]
        for k, comp in enumerate(comparisons):
            sub = data[data["city"].isin([city, comp])]
            tr = (sub["city"] == city).to_numpy()
            key = {
                "design": "reform_did",
                "estimand": "att_overall",
                "treatment": "wi2021",
                "city": city,
                "comparison": comp,
                "outcome": outcome,
                "horizon": horizon,
                "subgroup": "all",
            }
            try:
                fit = fit_contrast(
                    sub,
                    tr,
                    outcome,
                    s.covariates,
                    honest_bin=s.honest_bin,
                    base_quarters=s.base_quarters,
                )
            except DidError as exc:
                reason = "DiD estimator not estimable"
                not_estimated.note(log, reason, f"{reason}: {exc}", **key)
                continue
            study = event_study_tables(fit, sub, tr, key, s, [s.seed, horizon, ci, k])
            for name, rows in study.items():
                tables[name].extend(rows)
            if comp == "rest_nl":
                rows, inference = rest_nl_rows(
                    data, wide, key, s, t_placebo, pool, fit.counts, s.seed + 97 * horizon + ci
                )
                tables["estimates"].extend(rows)
                tables["inference"].extend(inference)
    return {
        name: tidy_frame(rows) if name == "estimates" else pd.DataFrame(rows)
        for name, rows in tables.items()
    }


def single_threaded_blas():
    """Limit BLAS to one thread: the designs run thousands of small matrix products, where
    OpenBLAS threading costs far more than it gains (a 16000 x 36 Gram matrix took 290 ms with 2
    threads and 1 ms with 1 on the 2-core build machine); parallelism comes from Snakemake jobs.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def run_part(job: RuleJob) -> None:
    """Rule reform_did_part: all rows of one outcome at one horizon (wildcards) → part CSVs."""
    horizon = int(job.params["horizon"])
    persons = pd.read_parquet(job.input["persons"])
    outcomes = pd.read_parquet(job.input["outcomes"], filters=[("horizon", "==", horizon)])
    settings = ReformSettings.from_config(job.params["estimate"])
    with single_threaded_blas():
        tables = outcome_tables(persons, outcomes, job.params["outcome"], horizon, settings)
    write_tidy(tables["estimates"], job.output["estimates"])
    for name in TABLES[1:]:
        write_csv_atomic(tables[name], job.output[name])
