"""The heterogeneity design (DESIGN.md design 5): route effects by age, sex, origin, schooling.

Estimand ``cate`` with subgroup ``variable:label``, for one route contrast (default Z vs B1),
per outcome and horizon, in the route design's analysis sample (configured regimes, persons in
the two routes whose outcome is observed at the horizon). ``matching.heterogeneity.target``
chooses which average:

* ``ate`` (shipped default, and the generator's truth definition): the mean of Y(route) - Y(B1)
  over everyone in the subgroup (both routes), estimated by the engine's GATE
  (:func:`inburgering.heterogeneity.estimate_cate`: mean of cross-fitted AIPW scores, nuisances
  from folds that keep each municipality in one fold).
* ``att``: the mean over the persons *assigned the route* in the subgroup, i.e. the subgroup
  version of the route_matching estimand: the doubly robust ATT score
  t (Y - m0(X)) - (1 - t) e/(1 - e) (Y - m0(X)), averaged within the subgroup and divided by its
  treated share, with m0 and e cross-fitted by municipality (gradient boosting, as the engine).
  Z and onderwijs go to narrow groups (old and little schooling; young and educated), so this
  average is better identified than the ATE, which leans on persons who rarely get the route.

Intervals are normal, with standard errors clustered by municipality. econml (DRLearner or
CausalForestDML, cross-fitting respecting municipality clusters) supplies the unit-level CATEs
when ``matching.heterogeneity.unit_cates`` is on (off by default: no estimate row reads them and
they cost 10 of a cell's 25 boosting fits); they are summarised per subgroup in a person-free
side table (mean CATE among the treated and among all), next to the GATE. Benchmarks: naive
subgroup differences in means (headline false).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from inburgering.contracts.tidy import tidy_frame
from inburgering.covariates import MISSING_LEVEL
from inburgering.designs.cells import (
    SAMPLE_COLUMNS,
    SENSITIVITY_COLUMNS,
    Cell,
    MethodSpec,
    add_bands,
    concat,
    is_fragile,
    naive_difference,
    outcome_evalue,
    outcome_sample,
    prepare_covariates,
    require_columns,
    usable_covariates,
)
from inburgering.designs.matching import TREATED, run_design
from inburgering.heterogeneity.cate import _folds, _learners, estimate_cate
from inburgering.matching._design import MatchingInputError
from inburgering.workflow import RuleJob, StageError

log = logging.getLogger(__name__)

DESIGN = "heterogeneity"
CITY = "all"
COMPARISON = "matched"
PREFIX = "_sg_"  # derived subgroup columns; the prefix keeps them clear of covariates (age)
# Bounds the DR-ATT odds e/(1 - e) so one control cannot dominate (as the engine's DR scores).
PS_CLIP = 0.01
SUMMARY_COLUMNS = (
    "design",
    "treatment",
    "outcome",
    "horizon",
    "subgroup",
    "n_treated",
    "n_control",
    "gate_all",
    "gate_all_se",
    "econml_mean_cate_treated",
    "econml_mean_cate_all",
)


@dataclass
class HeterogeneityTables:
    """Tidy subgroup estimates and person-free side tables."""

    estimates: pd.DataFrame
    sensitivity: pd.DataFrame
    samples: pd.DataFrame
    cate_summary: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())


def subgroup_columns(persons: pd.DataFrame, subgroups: Mapping[str, Any]) -> pd.DataFrame:
    """Derived subgroup labels, one column ``_sg_<name>`` per configured subgroup.

    Numeric columns are cut at ``edges`` into left-closed bins labelled by ``labels`` (the last
    bin is open-ended; values below the first edge get ``"<edge"``, so they show up instead of
    vanishing); other columns are used as they are (booleans as ``true``/``false``). Persons
    without a value form the subgroup ``missing`` (reported like any other).
    """
    out = pd.DataFrame(index=persons.index)
    for name, spec in subgroups.items():
        column = persons[spec["column"]]
        if "edges" in spec:
            out[PREFIX + name] = _cut(column, spec["edges"], spec["labels"], name)
        else:
            out[PREFIX + name] = column.astype(str).str.lower()
        if column.isna().any():
            log.info(
                "subgroup %s: %d persons without %s form the subgroup %s:%s",
                name,
                int(column.isna().sum()),
                spec["column"],
                name,
                MISSING_LEVEL,
            )
            out.loc[column.isna().to_numpy(), PREFIX + name] = MISSING_LEVEL
    return out


def _cut(column: pd.Series, edges: list[float], labels: list[str], name: str) -> pd.Series:
    if len(labels) != len(edges) or list(edges) != sorted(set(edges)):
        raise StageError(
            f"config key matching.heterogeneity.subgroups.{name}: edges must increase and have "
            f"one label each (edges {edges}, labels {labels})"
        )
    values = column.astype(float).to_numpy()
    position = np.searchsorted(np.asarray(edges, dtype=float), values, side="right") - 1
    below = f"<{edges[0]:g}"
    labelled = np.where(position < 0, below, np.asarray(labels, dtype=object)[position.clip(0)])
    return pd.Series(labelled, index=column.index, dtype=object)


def dr_att_scores(
    y: np.ndarray, t: np.ndarray, X: np.ndarray, groups: np.ndarray | None, seed: int
) -> np.ndarray:
    """Cross-fitted doubly robust ATT scores; their subgroup sum over the treated count is the
    subgroup ATT. Nuisances for a unit come from folds without its municipality."""
    from sklearn.base import clone

    reg, clf = _learners(seed)
    m0, e = np.empty(len(y)), np.empty(len(y))
    for train, test in _folds(len(y), groups, seed):
        controls = train[~t[train]]
        m0[test] = clone(reg).fit(X[controls], y[controls]).predict(X[test])
        e[test] = clone(clf).fit(X[train], t[train]).predict_proba(X[test])[:, 1]
    e = np.clip(e, PS_CLIP, 1 - PS_CLIP)
    residual = y - m0
    return np.where(t, residual, -e / (1 - e) * residual)


def ratio_att(
    scores: np.ndarray, t: np.ndarray, groups: np.ndarray | None
) -> tuple[float, float, int | None]:
    """ATT = sum(scores) / sum(t) with a linearised (cluster-robust if groups) standard error."""
    share = t.mean()
    att = float(scores.mean() / share)
    psi = (scores - att * t) / share
    n = len(psi)
    if groups is None or len(np.unique(groups)) < 2:
        return att, float(np.sqrt(np.sum(psi**2) / (n * (n - 1)))), None
    codes, n_groups = pd.factorize(groups)[0], len(np.unique(groups))
    sums = np.bincount(codes, weights=psi)
    variance = n_groups / (n_groups - 1) * np.sum(sums**2) / n**2
    return att, float(np.sqrt(variance)), n_groups


def _row(cell: Cell, subgroup: str, estimator: str, headline: bool, values: dict) -> dict:
    return {
        **cell.key(),
        "estimand": "cate",
        "subgroup": subgroup,
        "event_time": None,
        "estimator": estimator,
        "headline": headline,
        **values,
    }


def _interval(estimate: float, se: float, alpha: float) -> dict[str, float]:
    z = stats.norm.ppf(1 - alpha / 2)
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else np.nan
    return {
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - z * se,
        "ci_high": estimate + z * se,
        "p_value": p_value,
    }


@dataclass
class _Cell:
    rows: list[dict] = field(default_factory=list)
    sensitivity: list[dict] = field(default_factory=list)
    samples: list[pd.DataFrame] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)


def _subgroup_masks(data: pd.DataFrame, subgroups: Mapping[str, Any]):
    """(``name:label``, mask) per reported subgroup; ``values`` restricts the labels reported."""
    for name, spec in subgroups.items():
        labels = spec.get("values") or sorted(data[PREFIX + name].unique(), key=str)
        for label in labels:
            yield f"{name}:{label}", (data[PREFIX + name] == label).to_numpy()


def _sensitivity(cell: Cell, row: dict, y, t, spec: MethodSpec) -> dict:
    evalue = outcome_evalue(y, t, row["estimate"], row["se"], row["ci_low"], row["ci_high"])
    return {
        **cell.key(),
        "subgroup": row["subgroup"],
        "estimator": row["estimator"],
        "headline": row["headline"],
        "estimate": row["estimate"],
        "ci_low": row["ci_low"],
        "ci_high": row["ci_high"],
        "evalue_point": evalue.point,
        "evalue_ci": evalue.ci,
        "rosenbaum_gamma": np.nan,
        "fragile": is_fragile(row["ci_low"], row["ci_high"], evalue.ci, np.nan, spec),
    }


def _skip(cell: Cell, subgroup: str, n_t: int, n_c: int, reason: str) -> pd.DataFrame:
    log.warning("%s %s: %s", cell.label(), subgroup, reason)
    row = {
        **cell.key(),
        "estimator": "",
        "step": "not estimated",
        "rule": f"subgroup {subgroup}: {reason}",
        "treated": n_t,
        "control": n_c,
        "treated_remaining": 0,
        "control_remaining": 0,
    }
    return pd.DataFrame([row], columns=list(SAMPLE_COLUMNS))


def _estimate_cell(
    data: pd.DataFrame,
    cell: Cell,
    covariates: list[str],
    names: list[str],
    settings: Mapping[str, Any],
    spec: MethodSpec,
) -> _Cell:
    out = _Cell()
    try:
        cate = estimate_cate(
            data,
            treatment=TREATED,
            outcome=cell.outcome,
            covariates=covariates,
            subgroups=[PREFIX + name for name in names],
            cluster=spec.cluster,
            learner=settings["learner"],
            seed=spec.seed,
            alpha=spec.alpha,
            unit_cates=settings["unit_cates"],
        )
    except MatchingInputError as error:  # the data cannot support the learner: say so, go on
        n_t = int(data[TREATED].sum())
        out.samples.append(_skip(cell, "all", n_t, len(data) - n_t, f"not estimated: {error}"))
        return out
    gates = cate.subgroups.assign(subgroup=cate.subgroups["subgroup"].str.removeprefix(PREFIX))
    gates = gates.set_index("subgroup")
    y = data[cell.outcome].to_numpy(dtype=float)
    t = data[TREATED].to_numpy(dtype=bool)
    groups = None if spec.cluster is None else data[spec.cluster].to_numpy()
    scores = None
    if settings["target"] == "att":
        X = cate_design_matrix(data, covariates)
        scores = dr_att_scores(y, t, X, groups, spec.seed)
    # Without econml's unit-level CATEs (matching.heterogeneity.unit_cates) their summary
    # columns stay empty.
    unit = np.full(len(y), np.nan) if cate.cate is None else cate.cate["cate"].to_numpy()
    for subgroup, mask in _subgroup_masks(data, settings["subgroups"]):
        n_t, n_c = int(t[mask].sum()), int((~t[mask]).sum())
        if n_t < spec.min_treated or n_c < spec.min_control:
            reason = (
                f"not estimated: {n_t} treated / {n_c} control persons, below "
                f"matching.min_treated={spec.min_treated} / min_control={spec.min_control}"
            )
            out.samples.append(_skip(cell, subgroup, n_t, n_c, reason))
            continue
        gate = gates.loc[subgroup] if subgroup in gates.index else None
        if gate is None:
            out.samples.append(_skip(cell, subgroup, n_t, n_c, "not estimated: label absent"))
            continue
        if scores is None:
            values = {k: gate[k] for k in ("estimate", "se", "ci_low", "ci_high", "p_value")}
            estimator = f"gate_dr_scores_{settings['learner']}"
            n_clusters = gate["n_clusters"]
        else:
            g = None if groups is None else groups[mask]
            att, se, n_clusters = ratio_att(scores[mask], t[mask].astype(float), g)
            values = _interval(att, se, spec.alpha)
            estimator = "dr_att_scores_gbm"
        counts = {"n_treated": n_t, "n_control": n_c, "n_clusters": n_clusters}
        inference = "cluster-robust" if n_clusters is not None else "HC1"
        row = _row(cell, subgroup, estimator, True, {**values, **counts, "inference": inference})
        out.rows.append(row)
        out.sensitivity.append(_sensitivity(cell, row, y[mask], t[mask], spec))
        naive = naive_difference(data.loc[mask], TREATED, cell.outcome, spec.cluster, spec.alpha)
        naive_row = _row(
            cell, subgroup, "naive", False, {k: v for k, v in naive.items() if k != "evalue"}
        )
        out.rows.append(naive_row)
        out.sensitivity.append(_sensitivity(cell, naive_row, y[mask], t[mask], spec))
        out.summary.append(
            {
                "design": DESIGN,
                "treatment": cell.treatment,
                "outcome": cell.outcome,
                "horizon": cell.horizon,
                "subgroup": subgroup,
                "n_treated": n_t,
                "n_control": n_c,
                "gate_all": gate["estimate"],
                "gate_all_se": gate["se"],
                "econml_mean_cate_treated": float(unit[mask & t].mean()),
                "econml_mean_cate_all": float(unit[mask].mean()),
            }
        )
    return out


def cate_design_matrix(data: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    """The same covariate matrix the engine uses (categoricals one-hot, first level dropped)."""
    from inburgering.matching._design import covariate_matrices

    X, *_ = covariate_matrices(data, covariates)
    return X


def heterogeneity_rows(
    persons: pd.DataFrame, outcomes: pd.DataFrame, config: Mapping[str, Any]
) -> HeterogeneityTables:
    """Subgroup route effects (estimand ``cate``) per outcome and horizon, with side tables
    (parameters as :func:`inburgering.designs.matching.route_matching_rows`)."""
    matching, estimate = config["matching"], config["estimate"]
    settings, route = matching["heterogeneity"], matching["route"]
    contrast = settings["contrast"]
    if contrast not in route["contrasts"]:
        raise StageError(
            f"config key matching.heterogeneity.contrast: {contrast!r} is not a key of "
            f"matching.route.contrasts ({sorted(route['contrasts'])})"
        )
    columns = [spec["column"] for spec in settings["subgroups"].values()]
    needed = ["person_id", "regime", "route", *route["covariates"], *columns]
    require_columns(persons, [*needed, route["cluster"] or "person_id"], "persons", DESIGN)
    require_columns(outcomes, ["person_id", "horizon", *settings["outcomes"]], "outcomes", DESIGN)
    spec = MethodSpec.from_config(route, matching, estimate["alpha"])
    chosen = persons["regime"].isin(route["regimes"]) & persons["route"].isin(
        [route["contrasts"][contrast], route["control"]]
    )
    base = persons[chosen].copy()
    base[TREATED] = (base["route"] == route["contrasts"][contrast]).astype(float)
    base = pd.concat([base, subgroup_columns(base, settings["subgroups"])], axis=1)
    base, banded = add_bands(base, route.get("bands") or {})
    names = list(settings["subgroups"])
    cells = []
    for horizon in estimate["horizons"]:
        for outcome in settings["outcomes"]:
            cell = Cell(DESIGN, contrast, CITY, COMPARISON, outcome, int(horizon))
            data = outcome_sample(base, outcomes, outcome, int(horizon))
            data, covariates = prepare_covariates(
                data, [*route["covariates"], *banded], matching["missing_indicator"]
            )
            covariates = usable_covariates(data, covariates)
            log.info("%s: %d persons", cell.label(), len(data))
            cells.append(_estimate_cell(data, cell, covariates, names, settings, spec))
    rows = [row for out in cells for row in out.rows]
    return HeterogeneityTables(
        estimates=tidy_frame(rows) if rows else tidy_frame(pd.DataFrame(columns=["design"])),
        sensitivity=pd.DataFrame(
            [row for out in cells for row in out.sensitivity], columns=list(SENSITIVITY_COLUMNS)
        ),
        samples=concat([s for out in cells for s in out.samples], SAMPLE_COLUMNS),
        cate_summary=pd.DataFrame(
            [row for out in cells for row in out.summary], columns=list(SUMMARY_COLUMNS)
        ),
    )


def run(job: RuleJob) -> None:
    """Snakemake entry of rule heterogeneity."""
    run_design(job, heterogeneity_rows)
