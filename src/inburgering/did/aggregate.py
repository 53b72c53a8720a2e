"""Aggregation of ATT(g,t) into simple, event-time, group and calendar effects (R did's ``aggte``).

Weights are cohort shares P(G = g) estimated from the data, so each aggregated influence function
carries the extra term for estimating them (R's ``wif``). That term is computed here in O(n) from
per-cohort sums instead of R's n x (number of cells) matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import norm

from inburgering.did.bootstrap import analytic_vcov, bootstrap_inference
from inburgering.did.errors import DidError

if TYPE_CHECKING:
    from inburgering.did.result import AggregateResult, AttGtResult

KINDS = ("simple", "dynamic", "group", "calendar")
_LEVEL_COLUMN = {"dynamic": "event_time", "group": "group", "calendar": "time"}


def _wif_times_att(keep, pg_cells, cell_groups, att, G, w) -> np.ndarray:
    """``wif(keepers, pg, w, G, group) @ att[keepers]`` of R did, without the n x K matrix."""
    pk, gk, ak = pg_cells[keep], cell_groups[keep], att[keep]
    total = pk.sum()
    levels, inverse = np.unique(gk, return_inverse=True)
    att_sum = np.bincount(inverse, weights=ak, minlength=levels.size)
    count = np.bincount(inverse, minlength=levels.size).astype(float)
    pos = np.clip(np.searchsorted(levels, G), 0, levels.size - 1)
    match = levels[pos] == G
    ind_att = np.where(match, w * att_sum[pos], 0.0)
    ind_cnt = np.where(match, w * count[pos], 0.0)
    weighted = pk @ ak
    return (ind_att - weighted) / total - (ind_cnt - pk.sum()) * weighted / total**2


def _combine(res: AttGtResult, keep: np.ndarray, pg_cells: np.ndarray, with_wif: bool):
    """Weighted average of the kept cells (weights ∝ cohort share) and its influence function."""
    weights = pg_cells[keep] / pg_cells[keep].sum()
    att = float(weights @ res.att[keep])
    inf = np.asarray(res.influence[:, keep] @ weights).ravel()
    if with_wif:
        inf = inf + _wif_times_att(
            keep, pg_cells, res.cell_group, res.att, res.unit_group, res.unit_weight
        )
    return att, inf


def _ses(res: AttGtResult, inf: np.ndarray, bootstrap: int, alpha: float, seed):
    """Standard errors (bootstrap if requested, as R) and the critical value for the levels."""
    vcov = analytic_vcov(inf, res.n, res.unit_cluster, res.n_clusters)
    pointwise = norm.ppf(1 - alpha / 2)
    se = np.sqrt(np.diag(vcov))
    # R did reports NA for a zero SE (event time -1 under a universal base period).
    se[se <= np.sqrt(np.finfo(float).eps) * 10] = np.nan
    if not bootstrap:
        return se, pointwise, vcov
    se, crit, _ = bootstrap_inference(
        inf,
        res.n,
        alpha=alpha,
        draws=bootstrap,
        seed=seed,
        cluster=res.unit_cluster,
        n_clusters=res.n_clusters,
        kind=res.params["multiplier"],
    )
    if not np.isfinite(crit) or crit < pointwise:
        crit = pointwise  # R did falls back to pointwise intervals in these cases
    return se, crit, vcov


def aggregate(
    res: AttGtResult,
    kind: str = "simple",
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
    bootstrap: int | None = None,
    alpha: float | None = None,
    seed=None,
) -> AggregateResult:
    """Aggregate group-time effects; see ``AttGtResult.aggregate`` for the public documentation."""
    from inburgering.did.result import AggregateResult

    if kind not in KINDS:
        raise DidError(f"aggregate: kind must be one of {KINDS}, got {kind!r}")
    bootstrap = res.params["bootstrap"] if bootstrap is None else bootstrap
    alpha = res.params["alpha"] if alpha is None else alpha
    seed = res.params["seed"] if seed is None else seed
    if np.isnan(res.att).any():
        raise DidError("aggregate: some ATT(g,t) are missing; cannot aggregate")

    g, t = res.cell_group, res.cell_time
    e = t - g
    post = g <= t
    cohorts = res.groups
    pgg = np.array([np.mean(res.unit_weight * (res.unit_group == c)) for c in cohorts])
    pg_cells = pgg[np.searchsorted(cohorts, g)]

    levels: list[float] = []
    atts: list[float] = []
    infs: list[np.ndarray] = []
    if kind == "simple":
        keep = np.flatnonzero(post & (e <= max_e))
        if keep.size == 0:
            raise DidError("aggregate: no post-treatment ATT(g,t) within max_e")
        overall_att, overall_inf = _combine(res, keep, pg_cells, with_wif=True)
    elif kind == "dynamic":
        include = np.ones(g.size, bool)
        eseq = np.unique(e)
        if balance_e is not None:
            include = (t.max() - g) >= balance_e
            eseq = np.unique(e[include])
            first = min(t.min(), cohorts.min())
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t.max() + first)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise DidError("aggregate: no event times within the requested min_e/max_e/balance_e")
        for ev in eseq:
            keep = np.flatnonzero((e == ev) & include)
            a, f = _combine(res, keep, pg_cells, with_wif=True)
            levels.append(ev)
            atts.append(a)
            infs.append(f)
        pos = eseq >= 0
        if not pos.any():
            raise DidError("aggregate: no non-negative event times for the overall dynamic effect")
        overall_att = float(np.mean(np.asarray(atts)[pos]))
        overall_inf = np.mean(np.column_stack(infs)[:, pos], axis=1)
    elif kind == "group":
        for c in cohorts:
            keep = np.flatnonzero((g == c) & post & (e <= max_e))
            if keep.size == 0:
                raise DidError(
                    f"aggregate: group {c:g} has no post-treatment ATT(g,t) within max_e"
                )
            a, f = _combine(res, keep, pg_cells, with_wif=False)
            levels.append(c)
            atts.append(a)
            infs.append(f)
        att_g = np.asarray(atts)
        share = pgg / pgg.sum()
        overall_att = float(share @ att_g)
        # did >= 2.5.1 (PR #223): the weight term uses the group list, not the cell vector.
        overall_inf = np.column_stack(infs) @ share + _wif_times_att(
            np.arange(cohorts.size), pgg, cohorts, att_g, res.unit_group, res.unit_weight
        )
    else:  # calendar
        for tt in res.times[res.times >= cohorts.min()]:
            keep = np.flatnonzero((t == tt) & post)
            if keep.size == 0:
                continue
            a, f = _combine(res, keep, pg_cells, with_wif=True)
            levels.append(tt)
            atts.append(a)
            infs.append(f)
        overall_att = float(np.mean(atts))
        overall_inf = np.mean(np.column_stack(infs), axis=1)

    pointwise = norm.ppf(1 - alpha / 2)
    overall_se = _ses(res, overall_inf[:, None], bootstrap, alpha, seed)[0][0]
    rows = []
    if kind == "simple":
        inf_levels = overall_inf[:, None]
        vcov = analytic_vcov(inf_levels, res.n, res.unit_cluster, res.n_clusters)
        crit = pointwise
    else:
        inf_levels = np.column_stack(infs)
        se_levels, crit, vcov = _ses(res, inf_levels, bootstrap, alpha, seed)
        column = _LEVEL_COLUMN[kind]
        for lev, a, s in zip(levels, atts, se_levels, strict=True):
            rows.append(
                {
                    "term": kind if kind != "dynamic" else "event",
                    column: lev,
                    "att": a,
                    "se": s,
                    "ci_low": a - crit * s,
                    "ci_high": a + crit * s,
                }
            )
    overall = {
        "term": "overall",
        "att": overall_att,
        "se": overall_se,
        "ci_low": overall_att - pointwise * overall_se,
        "ci_high": overall_att + pointwise * overall_se,
    }
    table = pd.DataFrame([*rows, overall])
    if kind != "simple":
        column = _LEVEL_COLUMN[kind]
        table[column] = pd.array(table[column], dtype="Float64")
        if np.all(np.mod(res.times, 1) == 0):
            table[column] = table[column].astype("Int64")
        table = table[["term", column, "att", "se", "ci_low", "ci_high"]]
    return AggregateResult(
        kind=kind,
        table=table,
        levels=np.asarray(levels, float),
        att=np.asarray(atts, float),
        influence=inf_levels if kind != "simple" else overall_inf[:, None],
        vcov=vcov,
        crit_val=float(crit),
        overall_att=overall_att,
        overall_se=float(overall_se),
        overall_influence=overall_inf,
        alpha=alpha,
        bootstrap=int(bootstrap or 0),
        parent=res,
        options={"min_e": min_e, "max_e": max_e, "balance_e": balance_e},
    )
