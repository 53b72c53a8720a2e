"""What every single-city event-study design shares: settings, the analysis frame, the
Callaway–Sant'Anna contrast fit (``fit_contrast``), the TWFE benchmark, randomization inference,
synthetic DiD, HonestDiD and sup-t band rows, and ``event_study_tables`` (the rows each contrast
carries). Used by ``designs.reform_did`` (each G4 city's Wi2021 effect),
``designs.city_instrument_did`` (each G4 city's own instrument bundles) and
``designs.instrument_did`` (settings, analysis frame).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy.stats import chi2, norm
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from inburgering.calendar import PolicyCalendar
from inburgering.config import section_defaults
from inburgering.contracts.tidy import CELL_COLUMNS
from inburgering.covariates import numeric_with_indicators, prune_collinear
from inburgering.designs.shock_variance import ProbitIndex, ShockVariance, is_binary
from inburgering.did.aggregate import aggte
from inburgering.did.bootstrap import sup_t_critical_value
from inburgering.did.comparison import DEMEANER
from inburgering.did.errors import DidError
from inburgering.did.fallback import att_gt_with_fallback
from inburgering.did.honest import EventStudy, is_fragile, sensitivity
from inburgering.did.inference import CV3_LABEL, crv3, ri_t_test, synthetic_did
from inburgering.did.shocks import estimate_shock_model
from inburgering.workflow import StageError

log = logging.getLogger(__name__)

PERSON_INFERENCE = "analytic influence function (persons)"


@dataclass(frozen=True)
class EventStudySettings:
    """What every event-study design reads from the ``estimate`` section: the shared keys
    (horizons, cities, alpha, covariates, seed), ``inference`` and ``honestdid``. What only one
    design reads is that design's own (``reform_did.ReformDidSettings``, the ``instrument_did``
    section). ``from_config`` reads a section whose defaults the schema filled at load
    (``config.fill_defaults``): the schema is the one place for defaults."""

    horizons: list[int]
    cities: list[str]
    alpha: float
    covariates: list[str]
    seed: int
    ri_pool: int
    wild_draws: int
    min_treated_clusters: int
    band_draws: int
    honest_pre: int
    honest_post: int
    honest_bin: int
    honest_grids: dict[str, list[float]]
    shock_variance: bool
    shock_max_lag: int
    shock_min_cell: int
    shock_scale: str

    @classmethod
    def from_config(cls, estimate: Mapping[str, Any]) -> EventStudySettings:
        inference, honest = estimate["inference"], estimate["honestdid"]
        shocks = inference["shock_variance"]
        return cls(
            horizons=list(estimate["horizons"]),
            cities=list(estimate["cities"]),
            alpha=float(estimate["alpha"]),
            covariates=list(estimate["covariates"]),
            seed=int(estimate["seed"]),
            ri_pool=int(inference["ri_pool"]),
            wild_draws=int(inference["wild_draws"]),
            min_treated_clusters=int(inference["min_treated_clusters"]),
            band_draws=int(inference["band_draws"]),
            honest_pre=int(honest["pre_periods"]),
            honest_post=int(honest["post_periods"]),
            honest_bin=int(honest["bin_quarters"]),
            honest_grids={
                "relative_magnitude": list(honest["mbar"]),
                "smoothness": list(honest["m"]),
            },
            shock_variance=bool(shocks["enabled"]),
            shock_max_lag=int(shocks["max_lag"]),
            shock_min_cell=int(shocks["min_cell_persons"]),
            shock_scale=str(shocks["scale"]),
        )

    @classmethod
    def from_schema_defaults(
        cls, *, horizons: list[int], cities: list[str], alpha: float, **overrides: Any
    ) -> EventStudySettings:
        """The schema's defaults for what the schema requires no value of, then ``overrides``
        (scripts and tests without a config file)."""
        estimate = {
            **section_defaults("estimate"),
            "horizons": horizons,
            "cities": cities,
            "alpha": alpha,
        }
        return replace(cls.from_config(estimate), **overrides)


def quarter_index(cohort: pd.Series) -> np.ndarray:
    """'2022Q1' -> 4 * 2022 + 1 (consecutive integers across years)."""
    text = cohort.astype(str)
    return (text.str[:4].astype(int) * 4 + text.str[-1].astype(int)).to_numpy()


# A text covariate's levels below this share of persons join its reference level: a rare level
# leaves some cohort-quarter cells without a single person of it, and the cell regressions of
# the DiD engine are then rank deficient (``overig``, 3 % of persons, did so).
MIN_LEVEL_SHARE = 0.05


def numeric_covariates(
    persons: pd.DataFrame, covariates: list[str], interactions: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Text covariates (e.g. ``group``) as 0/1 columns ``<name>_<level>``, the most frequent
    level the reference (with the levels rarer than ``MIN_LEVEL_SHARE``); numeric and boolean
    covariates pass unchanged. Missing values are imputed with one indicator per missingness
    pattern and collinear columns dropped, logged (:mod:`inburgering.covariates`): complete
    covariates get no indicator.

    Each text covariate named in ``interactions`` also multiplies every other covariate
    (``<covariate>_x_<name>_<level>``, after imputation), so the regressions get one slope per
    level.

    Why: the DiD engine's outcome and propensity regressions take numeric columns, and a
    composition shift between groups with very different outcome levels (statushouders and
    family migrants on social assistance) is a trend only an adjustment for group removes. The
    levels also differ in how the other covariates act (schooling moves a statushouder's social
    assistance ten times as much as a family migrant's): with one common slope the
    repeated-cross-section estimator, which assumes a stable covariate mix, leaves part of the
    shift in the estimate.
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
    names += _interact(persons, names, interactions)
    blocks = {name: persons[name].to_numpy(dtype=float) for name in names}
    kept, _ = prune_collinear(blocks, names)
    return persons, kept


INTERACTION = "_x_"


def _interact(persons: pd.DataFrame, names: list[str], interactions: Sequence[str]) -> list[str]:
    """Add each covariate x level-indicator product of the ``interactions`` text covariates."""
    added = []
    for text in interactions:
        levels = [n for n in names if n.startswith(f"{text}_")]
        if not levels:
            raise StageError(
                f"config estimate.reform_did.covariate_interactions: {text!r} is not a text "
                f"covariate of estimate.covariates (model columns: {names})"
            )
        for level in levels:
            for name in names:
                if name in levels or INTERACTION in name:
                    continue
                product = f"{name}{INTERACTION}{level}"
                persons[product] = persons[name].astype(float) * persons[level]
                added.append(product)
    return added


def without_covariate(covariates: list[str], name: str) -> list[str]:
    """The model columns left when covariate ``name`` is held fixed (a subgroup of one of its
    levels): its own columns (level indicators) and every interaction with them go."""
    own = {c for c in covariates if c == name or c.startswith(f"{name}_")}
    return [c for c in covariates if c not in own and not set(c.split(INTERACTION)) & own]


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
            f"event-study designs: covariates {missing} (config estimate.covariates) are not "
            f"columns of persons.parquet (have {sorted(persons.columns)})"
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
    se_persons: float = np.nan
    shocks: ShockVariance | None = None

    @property
    def inference(self) -> str:
        """How the fit's intervals were made (person-level only when no shock model)."""
        return PERSON_INFERENCE if self.shocks is None else self.shocks.label

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
    quarters, quarter = np.unique(frame["q"].to_numpy(), return_inverse=True)
    treated = (frame["g"] > 0).to_numpy()
    n_treated = np.bincount(quarter[treated], minlength=quarters.size)
    n_control = np.bincount(quarter[~treated], minlength=quarters.size)
    ok = quarters[(n_treated >= min_cell) & (n_control >= min_cell)]
    return frame[frame["q"].isin(ok)]


def pretrend_window(
    calendar: PolicyCalendar, city: str, comparison: str, settle_quarters: int
) -> int | None:
    """The earliest event time of a reform contrast's pre-trend tests: ``settle_quarters``
    after the last pre-reform instrument adoption of either city (the G4 pre-period is not
    policy-free: an earlier quarter differs by the city's own policy change, not by a trend).
    Fewer than two policy-free leads is an error: no test could gate the contrast."""
    changes = [
        q for c in (city, comparison) if (q := calendar.last_change_before_reform(c)) is not None
    ]
    if not changes:
        return None  # neither city changed its policy before the reform: every pre-period
    start = (max(changes) + settle_quarters).ordinal - calendar.reform_quarter.ordinal
    if start > -3:
        raise StageError(
            f"reform_did {city} vs {comparison}: the last instrument adoption before the reform "
            f"({max(changes)}, config/policies.yaml) plus estimate.reform_did."
            f"pretrend_settle_quarters ({settle_quarters}) leaves fewer than two policy-free "
            f"pre-reform quarters for the pre-trend tests"
        )
    return int(start)


def _usable_covariates(data: pd.DataFrame, covariates: list[str]) -> list[str]:
    return [c for c in covariates if data[c].nunique(dropna=True) > 1]


def fit_contrast(
    data: pd.DataFrame,
    treated: np.ndarray,
    outcome: str,
    covariates: list[str],
    method: str = "dr",
    honest_bin: int = 4,
    *,
    base_quarters: int,
    event_q: int,
    shocks: ShockVariance | None = None,
    pretrend_from: int | None = None,
) -> ContrastFit:
    """CS-DR event study of ``treated`` rows (group = ``event_q``) vs the other rows.

    Parameters
    ----------
    data : DataFrame
        Rows of the treated city and the comparison pool (from :func:`analysis_frame`).
    treated : bool array
        Rows of the treated unit.
    base_quarters : int
        How many of the last pre-change quarters the effects are measured from (0: all); the
        design's configured value (``estimate.reform_did.base_quarters``,
        ``estimate.instrument_did.city_bundles.base_quarters``).
    event_q : int
        Quarter index of the treated unit's change (default the Wi2021 reform; a G4 city's
        instrument bundle in ``designs.city_instrument_did``).
    shocks : ShockVariance, optional
        City-by-quarter shocks whose covariance is added to the person-level covariance of the
        event study (``did.shocks``); every interval and test of the fit then includes them.
        None: person-level sampling only.
    pretrend_from : int, optional
        The earliest event time the pre-trend tests (joint Wald and slope) use; None: every
        pre-period (see :func:`pretrend_window`).
    """
    extra = shocks.columns(data) if shocks is not None else []
    frame = data.loc[:, list(dict.fromkeys(["q", outcome, "municipality", *covariates, *extra]))]
    frame = frame.copy()
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
    dyn = aggte(res, "dynamic")
    e, b, V_persons = dyn.levels, dyn.att, dyn.vcov
    pre, post = e < 0, e >= 0
    if not post.any() or pre.sum() < 2:
        raise DidError("DiD contrast: need post cohorts and at least two pre cohorts")
    is_t = frame["g"].to_numpy() > 0
    q = frame["q"].to_numpy()
    V = V_persons
    if shocks is not None:
        V = V + shocks.vcov(e, event_q, frame, is_t)
    n_post = np.array([np.sum(is_t & (q == event_q + ev)) for ev in e[post]], float)
    l_post = np.zeros(e.size)
    l_post[post] = n_post / n_post.sum()
    # Base = mean of the last `base_quarters` pre-reform quarters (0: all of them). The G4
    # pre-period is not policy-free (RTS 2018, assessment 2019, DOMAIN §3): a recent base keeps
    # older city policy changes out of the contrast while averaging away one quarter's noise.
    base = pre & (e >= -base_quarters) if base_quarters > 0 else pre
    if not base.any():  # sparse small runs: without a base the contrast would not be a DiD
        raise DidError(f"DiD contrast: no cohort quarter in the base (last {base_quarters} pre)")
    l_pre = np.where(base, 1.0 / base.sum(), 0.0)
    lvec = l_post - l_pre
    L_event = np.eye(e.size) - l_pre[None, :]
    ev_est = L_event @ b
    ev_vcov = L_event @ V @ L_event.T
    ev_se = np.sqrt(np.maximum(np.diag(ev_vcov), 0))
    tested = pre & (e >= pretrend_from) if pretrend_from is not None else pre
    wald = _pretrend_wald(e, b, V, tested)
    a = np.zeros(e.size)
    if tested.sum() >= 2:
        pre_e = e[tested]
        a[tested] = (pre_e - pre_e.mean()) / np.sum((pre_e - pre_e.mean()) ** 2)
    return ContrastFit(
        estimate=float(lvec @ b),
        se=float(np.sqrt(max(lvec @ V @ lvec, 0))),
        se_persons=float(np.sqrt(max(lvec @ V_persons @ lvec, 0))),
        event_time=e.astype(int),
        event_est=ev_est,
        event_se=ev_se,
        event_vcov=ev_vcov,
        honest=binned_event_study(e, b, V, honest_bin),
        wald_stat=wald[0],
        wald_df=wald[1],
        wald_p=wald[2],
        slope=float(a @ b),
        slope_se=float(np.sqrt(max(a @ V @ a, 0))),
        n_treated=int(is_t.sum()),
        n_control=int((~is_t).sum()),
        n_clusters=int(frame["municipality"].nunique()),
        estimator=estimator,
        shocks=shocks,
    )


def _pretrend_wald(
    e: np.ndarray, b: np.ndarray, V: np.ndarray, tested: np.ndarray
) -> tuple[float, int, float]:
    """Joint Wald test that every tested pre coefficient is zero (the reference quarter, fixed
    at zero by the universal base period, left out), with the fit's full covariance."""
    pre = np.flatnonzero(tested & (np.diag(V) > 0))
    if pre.size == 0:
        return np.nan, 0, np.nan
    try:
        stat = float(b[pre] @ np.linalg.solve(V[np.ix_(pre, pre)], b[pre]))
    except np.linalg.LinAlgError as exc:
        raise DidError(
            "DiD contrast: covariance of the pre-period coefficients is singular"
        ) from exc
    return stat, int(pre.size), float(chi2.sf(stat, pre.size))


def covariate_adjusted(data: pd.DataFrame, outcome: str, covariates: list[str]) -> np.ndarray:
    """The outcome net of a linear fit on ``covariates``: the contrasts compare covariate-
    adjusted means, so a municipality's changing mix of persons (statushouders' social
    assistance is ten times the family migrants') is not a shock to them."""
    y = data[outcome].to_numpy(float)
    if not covariates:
        return y
    X = data[covariates].to_numpy(float)
    X = X - X.mean(axis=0)
    beta = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]
    return y - X @ beta[1:]


def shock_model(
    data: pd.DataFrame, outcome: str, s: EventStudySettings, before_q: int
) -> ShockVariance | None:
    """The city-by-quarter shock model of ``outcome`` from the quarters before ``before_q`` of
    every municipality outside the G4 (None when ``estimate.inference.shock_variance.enabled``
    is false); for a binary outcome with ``scale: index``, of a probit index fitted on every
    row of ``data`` (:mod:`inburgering.designs.shock_variance`).

    The G4 pre-periods are left out: they carry the cities' own policy changes (Taalstart,
    assessment, the Amsterdamse Aanpak), which are not shocks and would be counted as such.
    """
    if not s.shock_variance:
        return None
    rows = data[data[outcome].notna()].dropna(subset=s.covariates)
    covariates = _usable_covariates(rows, s.covariates)
    index = None
    if s.shock_scale == "index" and is_binary(rows[outcome]):
        try:
            index = ProbitIndex.fit(rows, outcome, covariates, before_q)
        except (np.linalg.LinAlgError, ValueError, PerfectSeparationError) as exc:
            log.warning(
                "shock variance %s: probit index not estimable (%s); shocks on the share scale",
                outcome,
                exc,
            )
    pre = rows[(rows["q"] < before_q) & (rows["city"] == "rest_nl")]
    model = estimate_shock_model(
        covariate_adjusted(pre, outcome, _usable_covariates(pre, covariates)),
        pre["municipality"].to_numpy(),
        pre["q"].to_numpy(),
        max_lag=s.shock_max_lag,
        min_cell=s.shock_min_cell,
        factor=index.factor(pre) if index is not None else None,
    )
    return ShockVariance(model, index)


def side_key(key: dict) -> dict:
    """The columns that tie a side-table row (pre-trend test, HonestDiD, RI, uniform band) to
    its contrast's estimate rows."""
    return {k: key[k] for k in CELL_COLUMNS}


def person_counts(treated: np.ndarray) -> dict[str, int]:
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
    *,
    event_q: int,
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


def twfe_row(data, treated, outcome, covariates, key, alpha, *, event_q: int):
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
        **person_counts(treated[data[outcome].notna().to_numpy()]),
        n_clusters=int(frame["municipality"].nunique()),
    )


def crv3_row(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    clusters: np.ndarray,
    key: dict,
    alpha: float,
    *,
    label: str = "",
    **counts: int,
) -> dict:
    """The cell-level TWFE coefficient of column 0 with the CRV3 cluster jackknife (MNW).

    ``X, y, w, clusters`` are the municipality x quarter cells with the municipality effects
    partialled out (``absorb_within``); ``label`` is added to the inference text, ``counts``
    (``n_treated``, ``n_control``) to the row. With one treated cluster, dropping it removes the
    treatment column and the jackknife variance is undefined: the row says so.
    """
    jack = crv3(X, y, w, clusters, 0, alpha)
    undefined = (
        "" if np.isfinite(jack.se) else " (undefined: dropping the treated cluster removes D)"
    )
    return {
        **key,
        "estimator": "twfe_cells_crv3",
        "headline": False,
        "estimate": jack.estimate,
        "se": jack.se,
        "ci_low": jack.ci_low,
        "ci_high": jack.ci_high,
        "p_value": jack.p_value,
        "inference": CV3_LABEL + label + undefined,
        "n_clusters": jack.n_clusters,
        **counts,
    }


def ri_pool(data: pd.DataFrame, size: int) -> list[str]:
    """The ``size`` non-G4 municipalities with the largest inflow (persons in the sample)."""
    counts = data.loc[data["city"] == "rest_nl", "municipality"].value_counts()
    return sorted(counts.index[:size].tolist(), key=lambda m: (-counts[m], m))


def placebo_t(
    rest: pd.DataFrame,
    pool: list[str],
    outcome: str,
    covariates: list[str],
    base_quarters: int,
    event_q: int,
    shocks: ShockVariance | None = None,
) -> np.ndarray:
    """t-statistics with each pool municipality labelled treated against the rest of rest_nl.

    Outcome-regression DiD (``method="reg"``): the doubly robust estimator also regresses within
    the treated unit's cohort cells, which a placebo municipality with a handful of persons per
    quarter cannot support; the RI row therefore uses the regression estimator for the treated
    city as well, so that the statistic is the same for treated and placebos.
    """
    out = []
    # The rows every placebo fit keeps (fit_contrast's own filter then keeps them all, in order):
    # filtered once instead of once per placebo municipality.
    rest = rest[rest[outcome].notna()].dropna(subset=covariates)
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
                shocks=shocks,
            )
            out.append(fit.estimate / fit.se)
        except DidError as exc:  # tiny placebo municipality: skip it and say so
            log.warning("RI placebo %s %s skipped: %s", m, outcome, exc)
    return np.asarray(out)


def ri_rows(
    sub, tr, outcome, key, s, t_placebo, counts, *, base_quarters: int, event_q: int, shocks=None
) -> tuple[dict, dict] | None:
    """Randomization inference on t over the placebo pool: the estimate row and its record."""
    try:
        rfit = fit_contrast(
            sub,
            tr,
            outcome,
            s.covariates,
            method="reg",
            base_quarters=base_quarters,
            event_q=event_q,
            shocks=shocks,
        )
    except DidError as exc:  # outcome regression not estimable in a small city: say so
        log.warning("%s RI %s %s: %s", key["design"], key["city"], outcome, exc)
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


def sdid_row(data, city, outcome, pool, key, alpha, *, event_q: int):
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
        **person_counts((frame["city"] == city).to_numpy()),
    }


def fit_row(
    fit: ContrastFit,
    key: dict,
    alpha: float,
    estimator: str | None = None,
    headline: bool = True,
    inference: str | None = None,
) -> dict:
    """The overall contrast of a fit as an estimate row, with the fit's counts."""
    return estimate_row(
        key,
        estimator or fit.estimator,
        headline,
        fit.estimate,
        fit.se,
        alpha,
        inference=inference or fit.inference,
        **fit.counts,
    )


def persons_only_row(fit: ContrastFit, key: dict, alpha: float) -> dict:
    """The same contrast with person-level sampling error only (secondary: it ignores the
    city-by-quarter shocks that one treated city cannot average out)."""
    return estimate_row(
        key,
        f"{fit.estimator}_persons_only",
        False,
        fit.estimate,
        fit.se_persons,
        alpha,
        inference=f"{PERSON_INFERENCE} only; ignores city-by-quarter shocks",
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
            inference=f"{fit.inference}; event study normalised to the base-quarter mean",
            **fit.counts,
        )
        for ev, est, se in zip(fit.event_time, fit.event_est, fit.event_se, strict=True)
    ]


def band_rows(fit: ContrastFit, key: dict, s: EventStudySettings, seed: list[int]) -> list[dict]:
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
        # The shock model inside the tests' covariance (empty: person-level sampling only).
        "shock_sd": fit.shocks.model.sd if fit.shocks else np.nan,
        "shock_rho": fit.shocks.model.rho if fit.shocks else np.nan,
        # index: shock_sd is in share points at a 50 % share (designs.shock_variance)
        "shock_scale": ("index" if fit.shocks.model.index else "share") if fit.shocks else "",
    }


def honest_records(fit: ContrastFit, key: dict, s: EventStudySettings) -> list[dict]:
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


TABLES = ("estimates", "pretrends", "honestdid", "inference", "uniform_bands")


def event_study_tables(
    fit: ContrastFit,
    sub: pd.DataFrame,
    treated: np.ndarray,
    key: dict,
    s: EventStudySettings,
    band_seed: list[int],
    *,
    event_q: int,
) -> dict[str, list[dict]]:
    """What every single-city event study carries: the overall and event rows, the TWFE
    benchmark, the pre-trend tests, the HonestDiD rows and the sup-t band (reform_did's
    contrasts and the G4 bundles of ``designs.city_instrument_did``)."""
    twfe = twfe_row(sub, treated, key["outcome"], s.covariates, key, s.alpha, event_q=event_q)
    return {
        "estimates": [
            fit_row(fit, key, s.alpha),
            persons_only_row(fit, key, s.alpha),
            *event_rows(fit, key, s.alpha),
            twfe,
        ],
        "pretrends": [pretrend_record(fit, key)],
        "honestdid": honest_records(fit, key, s),
        "uniform_bands": band_rows(fit, key, s, band_seed),
    }


def single_threaded_blas():
    """Limit BLAS to one thread: the designs run thousands of small matrix products, where
    OpenBLAS threading costs far more than it gains (a 16000 x 36 Gram matrix took 290 ms with 2
    threads and 1 ms with 1 on the 2-core build machine); parallelism comes from Snakemake jobs.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
