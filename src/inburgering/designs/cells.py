"""Shared machinery of the matching designs: analysis samples, one estimate "cell", side tables.

A *cell* is one key of the tidy estimate row (design, treatment, city, comparison, outcome,
horizon). For each cell the designs run a headline estimator and benchmarks on the same
analysis sample, and collect person-free side tables: balance (cobalt-style), overlap (binned
propensity-score counts), sensitivity (E-values, Rosenbaum critical Gamma) and sample accounting.
Nothing person-level leaves this module: unit-level scores and weights are binned or summarised
here and then dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from inburgering import not_estimated
from inburgering.contracts.tidy import CELL_COLUMNS, tidy_frame
from inburgering.covariates import impute_with_indicators, prune_collinear
from inburgering.matching._design import MatchingInputError
from inburgering.matching.balance import BALANCE_COLUMNS as COVARIATE_BALANCE_COLUMNS
from inburgering.matching.estimate import estimate_att
from inburgering.matching.inference import normal_interval
from inburgering.matching.result import MatchingResult
from inburgering.matching.sensitivity import EValue, evalue_continuous, evalue_risk_difference
from inburgering.workflow import StageError

log = logging.getLogger(__name__)

BALANCE_COLUMNS = (*CELL_COLUMNS, "estimator", *COVARIATE_BALANCE_COLUMNS)
OVERLAP_COLUMNS = (*CELL_COLUMNS, "bin_low", "bin_high", "n_treated", "n_control")
SENSITIVITY_COLUMNS = (
    *CELL_COLUMNS,
    "subgroup",
    "estimator",
    "headline",
    "estimate",
    "ci_low",
    "ci_high",
    "evalue_point",
    "evalue_ci",
    "rosenbaum_gamma",
    "fragile",
)
SAMPLE_COLUMNS = (
    *CELL_COLUMNS,
    "estimator",
    "step",
    "rule",
    "treated",
    "control",
    "treated_remaining",
    "control_remaining",
)
REFUTATION_COLUMNS = (*CELL_COLUMNS, "refuter", "estimate", "new_effect", "p_value")


@dataclass(frozen=True)
class Cell:
    """The key of one design estimate (tidy key minus subgroup and event time)."""

    design: str
    treatment: str
    city: str
    comparison: str
    outcome: str
    horizon: int

    def key(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CELL_COLUMNS}

    def label(self) -> str:
        return (
            f"{self.design} {self.treatment} ({self.city} vs {self.comparison}) "
            f"{self.outcome} at {self.horizon} months"
        )


@dataclass(frozen=True)
class MethodSpec:
    """Which estimators to run on a cell and how (from the design's config section)."""

    headline: str
    methods: tuple[str, ...]
    ratio: int
    caliper: float | None
    replace: bool
    adjust: bool
    trim: float | None
    exact: tuple[str, ...]
    cluster: str | None
    alpha: float
    seed: int
    min_treated: int
    min_control: int
    evalue_min: float
    gamma_min: float
    overlap_bins: int

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], matching: Mapping[str, Any], alpha: float
    ) -> MethodSpec:
        nearest = section["nearest"]
        sensitivity = matching["sensitivity"]
        methods = tuple(section["methods"])
        if section["headline"] not in methods:
            methods = (section["headline"], *methods)
        return cls(
            headline=section["headline"],
            methods=methods,
            ratio=int(nearest["ratio"]),
            caliper=nearest.get("caliper"),
            replace=bool(nearest["replace"]),
            adjust=bool(nearest["adjust"]),
            trim=section.get("trim"),
            exact=tuple(section.get("exact") or ()),
            cluster=section.get("cluster"),
            alpha=alpha,
            seed=int(matching["seed"]),
            min_treated=int(matching["min_treated"]),
            min_control=int(matching["min_control"]),
            evalue_min=float(sensitivity["evalue_min"]),
            gamma_min=float(sensitivity["gamma_min"]),
            overlap_bins=int(matching["overlap_bins"]),
        )


@dataclass
class DesignTables:
    """Everything a design writes: tidy estimates plus person-free side tables."""

    estimates: pd.DataFrame
    balance: pd.DataFrame = field(default_factory=lambda: _empty(BALANCE_COLUMNS))
    overlap: pd.DataFrame = field(default_factory=lambda: _empty(OVERLAP_COLUMNS))
    sensitivity: pd.DataFrame = field(default_factory=lambda: _empty(SENSITIVITY_COLUMNS))
    refutations: pd.DataFrame = field(default_factory=lambda: _empty(REFUTATION_COLUMNS))
    samples: pd.DataFrame = field(default_factory=lambda: _empty(SAMPLE_COLUMNS))


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def concat(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Concatenate side-table pieces in canonical column order (empty table if none)."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return _empty(columns)
    return pd.concat(frames, ignore_index=True).loc[:, list(columns)]


# --------------------------------------------------------------------------- input checks


def require_columns(frame: pd.DataFrame, columns: Sequence[str], table: str, why: str) -> None:
    """Stop with a StageError naming the table, the missing column(s) and who needs them."""
    missing = [column for column in dict.fromkeys(columns) if column not in frame.columns]
    if missing:
        raise StageError(
            f"{table}: column(s) {missing} required by {why} not found "
            f"(columns present: {sorted(frame.columns)}); the prepare stage must provide them "
            "or the matching config must stop asking for them"
        )


def outcome_sample(
    persons: pd.DataFrame, outcomes: pd.DataFrame, outcome: str, horizon: int
) -> pd.DataFrame:
    """Persons with the outcome observed at the horizon, indexed by person_id.

    Censored horizons are missing in ``outcomes`` (never zero), so dropping them keeps exactly
    the persons whose outcome exists; which persons that is depends only on the start date.
    """
    at = outcomes.loc[outcomes["horizon"] == horizon, ["person_id", outcome]]
    sample = persons.merge(at, on="person_id", how="inner", validate="one_to_one")
    sample = sample[sample[outcome].notna()]
    return sample.set_index("person_id", verify_integrity=True)


def add_bands(
    persons: pd.DataFrame, bands: Mapping[str, Sequence[float]]
) -> tuple[pd.DataFrame, list[str]]:
    """Categorical ``<name>_band`` versions of numeric covariates, cut at the given edges.

    Assignment rules are thresholds (test score, schooling, age: DOMAIN §4), which a logit
    linear in the raw value gets wrong; the band dummies next to the linear term give the
    propensity and outcome models a flexible functional form. Bins are left-closed, labelled by
    their lower edge ("<first edge" below it); missing values get the level "missing".
    """
    frame = persons.copy()
    names = []
    for name, edges in bands.items():
        values = pd.to_numeric(frame[name]).astype(float).to_numpy()
        cut = np.asarray(sorted(edges), dtype=float)
        position = np.searchsorted(cut, values, side="right") - 1
        labels = np.where(
            position < 0, f"<{cut[0]:g}", np.char.add(">=", cut[position.clip(0)].astype(str))
        )
        frame[f"{name}_band"] = np.where(np.isnan(values), "missing", labels).astype(object)
        names.append(f"{name}_band")
    return frame, names


def prepare_covariates(
    sample: pd.DataFrame, covariates: Sequence[str], missing_indicator: str | Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Model-ready covariates (:func:`inburgering.covariates.impute_with_indicators`).

    ``missing_indicator`` is ``"all"`` (every covariate's missing values are imputed with an
    indicator) or the list of covariates that may be missing; any other missing covariate then
    stops the stage.
    """
    if missing_indicator != "all":
        for name in covariates:
            column = sample[name]
            if name not in missing_indicator and column.isna().any():
                example = column[column.isna()].index[0]
                raise StageError(
                    f"persons: covariate '{name}' has {int(column.isna().sum())} missing values "
                    f"(rule: covariates complete unless listed in matching.missing_indicator); "
                    f"example person_id: {example}"
                )
    return impute_with_indicators(sample, covariates)


def usable_covariates(frame: pd.DataFrame, covariates: Sequence[str]) -> list[str]:
    """Covariates minus those constant in this sample (they cannot confound the contrast, e.g.
    ``group`` among statushouders) and those determined by the others (logged)."""
    kept = [name for name in covariates if frame[name].nunique() > 1]
    dropped = [name for name in covariates if name not in kept]
    if dropped:
        log.info("covariates constant in this sample, not used: %s", dropped)
    return drop_nested(frame, kept)


def att_support(
    data: pd.DataFrame, treated: str, covariates: Sequence[str]
) -> tuple[pd.DataFrame, int]:
    """Drop controls in categorical covariate levels that hold no treated person.

    Such controls have a propensity of zero: they receive no weight in any ATT estimator, so
    removing them leaves the estimand (the effect among the treated) unchanged, while keeping
    them makes the logit separate (e.g. nobody aged 40+ can enter the onderwijsroute). Treated
    persons are never dropped; a level with treated but no controls still stops the estimator.
    Returns the restricted data and the number of controls removed.
    """
    categorical = [
        name
        for name in covariates
        if not pd.api.types.is_numeric_dtype(data[name]) or data[name].nunique() == 2
    ]
    keep = np.ones(len(data), dtype=bool)
    is_treated = data[treated].to_numpy() == 1
    # One pass suffices: treated persons are never dropped, so no level loses its treated.
    for name in categorical:
        values = data[name].astype(str)
        keep &= is_treated | values.isin(set(values[is_treated])).to_numpy()
    return data[keep], int((~keep).sum())


def pool_rare_levels(
    data: pd.DataFrame, treated: str, covariates: Sequence[str], min_count: int
) -> pd.DataFrame:
    """Pool levels of categorical covariates seen fewer than ``min_count`` times in either group.

    A level held by a handful of treated (or controls) only separates the propensity logit; its
    members are pooled into ``"other (pooled)"``, which joins the most common level if it still
    lacks one of the groups. The estimand is unchanged: only the covariate coding coarsens.
    """
    frame = data.copy()
    is_treated = frame[treated].to_numpy() == 1
    for name in covariates:
        if pd.api.types.is_numeric_dtype(frame[name]):
            continue
        values = frame[name].astype(str)
        n_t = values[is_treated].value_counts()
        n_c = values[~is_treated].value_counts()
        counts = pd.concat([n_t, n_c], axis=1).fillna(0)
        rare = counts.index[(counts.min(axis=1) < min_count)]
        if len(rare) == 0:
            continue
        pooled = values.where(~values.isin(rare), "other (pooled)")
        grouped = pooled[is_treated].value_counts(), pooled[~is_treated].value_counts()
        if min(g.get("other (pooled)", 0) for g in grouped) == 0:
            pooled = pooled.replace("other (pooled)", values.value_counts().index[0])
        log.info("covariate %s: levels %s pooled (< %d per group)", name, list(rare), min_count)
        frame[name] = pooled.astype(object)
    return frame


def budget_covariates(
    data: pd.DataFrame,
    treated: str,
    covariates: Sequence[str],
    events_per_variable: float,
    label: str = "",
) -> list[str]:
    """Keep covariates, in configured priority order, while the propensity model has at least
    ``events_per_variable`` persons of the smaller group per parameter (Peduzzi et al. 1996).

    Small cells (a G4 city's statushouders of one horizon) cannot carry every covariate without
    separating the logit; the configured order says which adjustments matter most. Dropped
    covariates are logged, never silently.
    """
    from inburgering.matching._design import covariate_matrices

    n_small = min(int(data[treated].sum()), int((1 - data[treated]).sum()))
    budget = max(1, int(n_small / events_per_variable))
    kept, used = [], 0
    for name in covariates:
        width = covariate_matrices(data, [name])[0].shape[1]
        if used + width <= budget:
            kept.append(name)
            used += width
    dropped = [name for name in covariates if name not in kept]
    if dropped:
        log.warning(
            "%s: %d persons in the smaller group allow %d propensity parameters "
            "(matching.events_per_variable=%g): covariates %s not used",
            label,
            n_small,
            budget,
            events_per_variable,
            dropped,
        )
    return kept


def support_row(cell: Cell, data: pd.DataFrame, treated: str, removed: int) -> pd.DataFrame:
    """Sample-accounting row for :func:`att_support`."""
    n_t = int(data[treated].sum())
    row = {
        **cell.key(),
        "estimator": "",
        "step": "ATT support",
        "rule": "controls in covariate levels without treated persons (propensity zero)",
        "treated": 0,
        "control": removed,
        "treated_remaining": n_t,
        "control_remaining": len(data) - n_t,
    }
    return pd.DataFrame([row], columns=list(SAMPLE_COLUMNS))


def drop_nested(frame: pd.DataFrame, covariates: list[str]) -> list[str]:
    """Drop covariates that are (partly) linear functions of the others (a test version fixed
    by cohort, a "missing" level shared with another covariate): they add nothing to the
    adjustment but make the design rank-deficient. Variables are tried richest first (most
    model columns), so the finer of two nested categoricals is kept; each drop is logged
    (:func:`inburgering.covariates.prune_collinear`).
    """
    from inburgering.matching._design import covariate_matrices

    blocks = {name: covariate_matrices(frame, [name])[0] for name in covariates}
    order = sorted(covariates, key=lambda name: -blocks[name].shape[1])
    kept, _ = prune_collinear(blocks, order)
    return [name for name in covariates if name in kept]


# --------------------------------------------------------------------------- estimators


def naive_difference(
    data: pd.DataFrame, treated: str, outcome: str, cluster: str | None, alpha: float
) -> dict[str, Any]:
    """Unadjusted difference in means (the benchmark every adjustment is judged against)."""
    y = data[outcome].to_numpy(dtype=float)
    t = data[treated].to_numpy(dtype=float)
    model = sm.OLS(y, np.column_stack([np.ones(len(y)), t]))
    if cluster is not None:
        groups = pd.factorize(data[cluster])[0]
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        inference = "cluster-robust"
    else:
        fit = model.fit(cov_type="HC1")
        inference = "HC1"
    estimate, se = float(fit.params[1]), float(fit.bse[1])
    lo, hi, p_value = normal_interval(estimate, se, alpha)
    evalue = outcome_evalue(y, t.astype(bool), estimate, se, lo, hi)
    return {
        "estimator": "naive",
        "estimate": estimate,
        "se": se,
        "ci_low": lo,
        "ci_high": hi,
        "p_value": p_value,
        "inference": inference,
        "n_treated": int(t.sum()),
        "n_control": int(len(t) - t.sum()),
        "n_clusters": None if cluster is None else int(data[cluster].nunique()),
        "evalue": evalue,
    }


def outcome_evalue(
    y: np.ndarray, treated: np.ndarray, estimate: float, se: float, lo: float, hi: float
) -> EValue:
    """E-value on the scale the engine uses: risk difference for 0/1 outcomes, SMD otherwise."""
    if np.all((y == 0) | (y == 1)):
        return evalue_risk_difference(estimate, lo, hi, float(np.mean(y[treated])))
    sd = float(np.std(y, ddof=1))
    return evalue_continuous(estimate, se, sd) if sd > 0 else EValue(*([np.nan] * 5))


def _method_kwargs(spec: MethodSpec, method: str, covariates: list[str]) -> dict[str, Any]:
    """Engine arguments; exact-matching columns enter weighting models as categoricals."""
    if method == "nearest":
        return {
            "covariates": covariates,
            "ratio": spec.ratio,
            "caliper": spec.caliper,
            "replace": spec.replace,
            "adjust": spec.adjust,
            "exact": list(spec.exact) or None,
        }
    return {"covariates": [*covariates, *spec.exact]}


def _n_used_clusters(data: pd.DataFrame, used: np.ndarray, cluster: str | None) -> int | None:
    """Clusters (municipalities) among the persons an estimate uses, as configured."""
    if cluster is None:
        return None
    return int(data.loc[used, cluster].nunique())


def _n_clusters(data: pd.DataFrame, result: MatchingResult, cluster: str | None) -> int | None:
    return _n_used_clusters(data, result.weights.to_numpy() > 0, cluster)


def _overlap_bins(result: MatchingResult, cell: Cell, bins: int) -> pd.DataFrame:
    """Propensity-score histogram counts by group: the overlap plot without any person's score."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    ps = result.overlap["ps"].to_numpy(dtype=float)
    treated = result.overlap["treated"].to_numpy(dtype=bool)
    n_t, _ = np.histogram(ps[treated], bins=edges)
    n_c, _ = np.histogram(ps[~treated], bins=edges)
    frame = pd.DataFrame(
        {"bin_low": edges[:-1], "bin_high": edges[1:], "n_treated": n_t, "n_control": n_c}
    )
    return frame.assign(**cell.key()).loc[:, list(OVERLAP_COLUMNS)]


def _keyed(frame: pd.DataFrame, cell: Cell, estimator: str, columns: Sequence[str]):
    return frame.assign(**cell.key(), estimator=estimator).loc[:, list(columns)]


def _too_small(data: pd.DataFrame, treated: str, spec: MethodSpec) -> str | None:
    n_t = int(data[treated].sum())
    n_c = len(data) - n_t
    if n_t < spec.min_treated or n_c < spec.min_control:
        return (
            f"not estimated: {n_t} treated / {n_c} control persons, below "
            f"matching.min_treated={spec.min_treated} / min_control={spec.min_control}"
        )
    return None


@dataclass
class CellOutput:
    """Rows and side-table pieces produced for one cell."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    balance: list[pd.DataFrame] = field(default_factory=list)
    overlap: list[pd.DataFrame] = field(default_factory=list)
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    samples: list[pd.DataFrame] = field(default_factory=list)


def _not_estimated(cell: Cell, data: pd.DataFrame, treated: str, reason: str) -> pd.DataFrame:
    n_t = int(data[treated].sum()) if len(data) else 0
    n_c = len(data) - n_t
    row = {
        **cell.key(),
        "estimator": "",
        "step": "not estimated",
        "rule": reason,
        "treated": n_t,
        "control": n_c,
        "treated_remaining": 0,
        "control_remaining": 0,
    }
    return pd.DataFrame([row], columns=list(SAMPLE_COLUMNS))


VARIANCE_CLUSTER = "_variance_cluster"  # derived column; the underscore keeps it clear of inputs


def absorbed_clusters(data: pd.DataFrame, cluster: str, covariates: Sequence[str]) -> np.ndarray:
    """Mask of persons whose cluster is one level of a categorical covariate by itself.

    Such a cluster's shock is absorbed by that level's fixed effect (a G4 municipality is its own
    level of ``city``), so its persons are independent given the model. Left as one cluster it
    makes the cluster-robust variance degenerate: the fixed effect's estimating equation sums to
    zero within it, so the uncertainty of that effect is dropped, and the variance estimate is
    dominated by a few very large clusters (Cameron & Miller 2015, section VI).
    """
    # Integer codes and np.unique on (level, cluster) pairs: pandas drop_duplicates and groupby
    # on text columns cost seconds per cell at national size. Missing values (code -1) take part
    # in no pair, as groupby leaves them out.
    clusters, cluster_labels = pd.factorize(data[cluster].astype(str).to_numpy())
    n_clusters = len(cluster_labels)
    absorbed = np.zeros(len(data), dtype=bool)
    for name in covariates:
        column = data[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            continue
        levels = pd.factorize(column.astype(str).to_numpy())[0]
        present = (levels >= 0) & (clusters >= 0)
        pairs = np.unique(levels[present] * n_clusters + clusters[present])
        pair_level, pair_cluster = pairs // n_clusters, pairs % n_clusters
        clusters_of_level = np.bincount(pair_level)[pair_level]
        levels_of_cluster = np.bincount(pair_cluster, minlength=n_clusters)[pair_cluster]
        one_to_one = pair_cluster[(clusters_of_level == 1) & (levels_of_cluster == 1)]
        absorbed |= np.isin(clusters, one_to_one)
    return absorbed


def with_variance_clusters(
    data: pd.DataFrame, cluster: str | None, covariates: Sequence[str]
) -> tuple[pd.DataFrame, str | None, int]:
    """Data with the cluster column for the variance: ``cluster``, except that persons in
    clusters absorbed by a fixed effect (:func:`absorbed_clusters`) are their own cluster.

    Returns (data, column name to cluster on, number of persons split off).
    """
    if cluster is None:
        return data, None, 0
    absorbed = absorbed_clusters(data, cluster, covariates)
    if not absorbed.any():
        return data, cluster, 0
    own = "person:" + data.index.astype(str)
    column = np.where(absorbed, own, "cluster:" + data[cluster].astype(str).to_numpy())
    return data.assign(**{VARIANCE_CLUSTER: column}), VARIANCE_CLUSTER, int(absorbed.sum())


# Appended to the inference label of estimates whose variance splits absorbed clusters.
SPLIT_NOTE = "; clusters absorbed by a fixed effect split into persons"


def _fit_methods(
    data: pd.DataFrame,
    cell: Cell,
    treated: str,
    covariates: list[str],
    spec: MethodSpec,
    variance_cluster: str | None,
    out: CellOutput,
) -> dict[str, MatchingResult]:
    """Run every configured engine; a failing benchmark is recorded, a failing headline raises
    its MatchingInputError (the cell is then not estimated, see :func:`estimate_cell`)."""
    results: dict[str, MatchingResult] = {}
    for method in spec.methods:
        try:
            results[method] = estimate_att(
                data,
                treatment=treated,
                outcome=cell.outcome,
                method=method,
                trim=spec.trim,
                seed=spec.seed,
                cluster=variance_cluster,
                alpha=spec.alpha,
                **_method_kwargs(spec, method, covariates),
            )
        except MatchingInputError as error:
            if method == spec.headline:
                raise
            log.warning("%s: benchmark %s not estimated: %s", cell.label(), method, error)
            out.samples.append(_not_estimated(cell, data, treated, f"{method}: {error}"))
    return results


def estimate_cell(
    data: pd.DataFrame, cell: Cell, treated: str, covariates: list[str], spec: MethodSpec
) -> CellOutput:
    """Headline and benchmark estimates for one cell, with their side-table pieces.

    A cell below the minimum group sizes, or whose headline estimator the data cannot support
    (perfect separation of a small cell, no treated unit matched within the caliper), is
    recorded in the sample table as "not estimated" with the reason (logged, never silently
    dropped) and has no estimate rows; a failing benchmark is logged and recorded likewise.
    Standard errors cluster on ``spec.cluster`` except within clusters a fixed effect absorbs
    (:func:`with_variance_clusters`); ``n_clusters`` counts the configured clusters.
    """
    out = CellOutput()
    reason = _too_small(data, treated, spec)
    if reason:
        log.warning("%s: %s", cell.label(), reason)
        out.samples.append(_not_estimated(cell, data, treated, reason))
        return out
    data, variance_cluster, split = with_variance_clusters(data, spec.cluster, covariates)
    note = SPLIT_NOTE if split else ""
    if split:
        log.info("%s: %d persons in absorbed clusters are their own cluster", cell.label(), split)
    naive = naive_difference(data, treated, cell.outcome, variance_cluster, spec.alpha)
    naive["n_clusters"] = _n_used_clusters(data, np.ones(len(data), bool), spec.cluster)
    naive["inference"] += note
    out.rows.append({**_row_base(cell), **_without_evalue(naive), "headline": False})
    out.sensitivity.append(_sensitivity_row(cell, naive, False, np.nan, spec))

    try:
        results = _fit_methods(data, cell, treated, covariates, spec, variance_cluster, out)
    except MatchingInputError as error:
        reason = f"headline {spec.headline} not estimable: {error}"
        log.warning("%s: %s", cell.label(), reason)
        return CellOutput(samples=[_not_estimated(cell, data, treated, reason)])
    gamma = np.nan
    if "nearest" in results:
        gamma = float(results["nearest"].rosenbaum(alpha=spec.alpha)["critical_gamma"].iloc[0])
    for method, result in results.items():
        headline = method == spec.headline
        rows = result.to_rows(
            **cell.key(), headline=headline, n_clusters=_n_clusters(data, result, spec.cluster)
        )
        row = rows.iloc[0].to_dict()
        row["inference"] += note
        out.rows.append(row)
        record = {**row, "evalue": result.evalue}
        out.sensitivity.append(_sensitivity_row(cell, record, headline, gamma, spec))
        out.balance.append(_keyed(result.balance, cell, result.estimator, BALANCE_COLUMNS))
        sample = result.sample.assign(**cell.key(), estimator=result.estimator)
        out.samples.append(sample.loc[:, list(SAMPLE_COLUMNS)])
        if headline:
            out.overlap.append(_overlap_bins(result, cell, spec.overlap_bins))
    return out


def _row_base(cell: Cell) -> dict[str, Any]:
    return {**cell.key(), "estimand": "att", "subgroup": "all", "event_time": None}


def _without_evalue(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "evalue"}


def is_fragile(
    ci_low: float, ci_high: float, evalue_ci: float, gamma: float, spec: MethodSpec
) -> bool:
    """Flag a significant estimate that an unmeasured confounder of modest strength could
    explain away (the rule of the DiD designs' ``fragile``, see ``inburgering.did.honest``).

    Fragile when the interval excludes zero and either the E-value of its limit closer to zero
    is below ``sensitivity.evalue_min`` or the matched pairs lose significance at a Rosenbaum
    Gamma below ``sensitivity.gamma_min`` (Gamma 1: not significant even without hidden bias).
    An interval containing zero claims no effect, so there is nothing to explain away: it is
    not flagged (flagging every null estimate would make the flag blind to confounding, which
    shows up as a spurious *significant* effect). An undefined (NaN) E-value of a significant
    estimate counts as weak; an infinite one (a limit at the edge of the risk scale) as strong.
    """
    if not ci_low > 0 and not ci_high < 0:
        return False
    weak_evalue = bool(np.isnan(evalue_ci)) or evalue_ci < spec.evalue_min
    weak_gamma = np.isfinite(gamma) and gamma < spec.gamma_min
    return bool(weak_evalue or weak_gamma)


def _sensitivity_row(
    cell: Cell, record: dict[str, Any], headline: bool, gamma: float, spec: MethodSpec
) -> dict[str, Any]:
    evalue: EValue = record["evalue"]
    return {
        **cell.key(),
        "subgroup": record.get("subgroup", "all"),
        "estimator": record["estimator"],
        "headline": headline,
        "estimate": record["estimate"],
        "ci_low": record["ci_low"],
        "ci_high": record["ci_high"],
        "evalue_point": evalue.point,
        "evalue_ci": evalue.ci,
        "rosenbaum_gamma": gamma,
        "fragile": is_fragile(record["ci_low"], record["ci_high"], evalue.ci, gamma, spec),
    }


def collect(outputs: Sequence[CellOutput], refutations: Sequence[pd.DataFrame]) -> DesignTables:
    """Assemble the cells of a design into its tables (deterministic order)."""
    rows = [row for out in outputs for row in out.rows]
    estimates = tidy_frame(rows) if rows else tidy_frame(pd.DataFrame(columns=["design"]))
    sensitivity = pd.DataFrame(
        [row for out in outputs for row in out.sensitivity], columns=list(SENSITIVITY_COLUMNS)
    )
    return DesignTables(
        estimates=estimates,
        balance=concat([b for out in outputs for b in out.balance], BALANCE_COLUMNS),
        overlap=concat([o for out in outputs for o in out.overlap], OVERLAP_COLUMNS),
        sensitivity=sensitivity,
        refutations=concat(refutations, REFUTATION_COLUMNS),
        samples=concat([s for out in outputs for s in out.samples], SAMPLE_COLUMNS),
    )


# --------------------------------------------------------------------------- refutations

_TREATMENT_NODE = "treatment"
_OUTCOME_NODE = "outcome"


def causal_graph(
    edges: Sequence[str], available: Sequence[str], configured: Sequence[str], key: str
) -> tuple[str, list[str]]:
    """DOT graph for dowhy from "cause -> effect" edges; returns (graph, covariate nodes).

    Nodes ``treatment`` and ``outcome`` stand for the contrast analysed. A covariate node that is
    configured but constant in this sample (so not ``available``) is removed with its edges; a
    node that is neither is a configuration error naming ``key``. Missing-value indicators of a
    graph covariate are added as extra common causes.
    """
    pairs = [tuple(part.strip() for part in edge.split("->")) for edge in edges]
    nodes = {node for pair in pairs for node in pair} - {_TREATMENT_NODE, _OUTCOME_NODE}
    unknown = sorted(nodes - set(configured) - set(available))
    if unknown:
        raise StageError(
            f"config key {key}: graph node(s) {unknown} are neither 'treatment', 'outcome' nor "
            f"covariates of the design ({list(configured)})"
        )
    usable = {*available, _TREATMENT_NODE, _OUTCOME_NODE}
    kept = [pair for pair in pairs if all(node in usable for node in pair)]
    covariates = sorted({node for pair in kept for node in pair} - {_TREATMENT_NODE, _OUTCOME_NODE})
    for node in list(covariates):
        indicator = f"{node}_missing"
        if indicator in available:
            kept += [(indicator, _TREATMENT_NODE), (indicator, _OUTCOME_NODE)]
            covariates.append(indicator)
    body = " ".join(f"{a} -> {b};" for a, b in kept)
    return f"digraph {{ {body} }}", covariates


def refutation_rows(
    data: pd.DataFrame,
    cell: Cell,
    treated: str,
    covariates: list[str],
    refute_config: Mapping[str, Any],
    configured: Sequence[str],
    key: str,
    seed: int,
) -> pd.DataFrame:
    """dowhy refuters (placebo treatment, random common cause, data subset) for one cell."""
    from inburgering.matching.refute import refute

    # dowhy logs every simulated regression at INFO: keep the rule log readable.
    logging.getLogger("dowhy").setLevel(logging.WARNING)
    edges = refute_config.get("graph") or []
    graph, nodes = (None, covariates)
    if edges:
        graph, nodes = causal_graph(edges, covariates, configured, key)
    frame = data[[treated, cell.outcome, *nodes]].rename(
        columns={treated: _TREATMENT_NODE, cell.outcome: _OUTCOME_NODE}
    )
    try:
        rows = refute(
            frame,
            treatment=_TREATMENT_NODE,
            outcome=_OUTCOME_NODE,
            common_causes=nodes,
            graph=graph,
            seed=seed,
            num_simulations=int(refute_config["num_simulations"]),
            max_rows=refute_config.get("max_persons"),
        )
    except (KeyError, ValueError, np.linalg.LinAlgError) as exc:
        # A diagnostic dowhy cannot compute for this cell (seen: an effect modifier it drops
        # when covariates carry missing values under pandas 3) must not stop the estimate.
        reason = "refutation not estimable"
        not_estimated.note(
            log, reason, f"{reason}: dowhy {type(exc).__name__}: {exc}", **cell.key()
        )
        return pd.DataFrame(columns=list(REFUTATION_COLUMNS))
    return rows.assign(**cell.key()).loc[:, list(REFUTATION_COLUMNS)]
