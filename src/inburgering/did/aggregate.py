"""Aggregation of ATT(g,t) into simple, event-time, group and calendar effects (R did's ``aggte``).

Weights are cohort shares P(G = g) estimated from the data, so each aggregated influence function
carries the extra term for estimating them (R's ``wif``). That term is computed here in O(n) from
per-cohort sums instead of R's n x (number of cells) matrix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm

from inburgering.did.bootstrap import analytic_vcov, bootstrap_inference, summarize_draws
from inburgering.did.errors import DidError
from inburgering.did.result import AggregateResult, AttGtResult

KINDS = ("simple", "dynamic", "group", "calendar")
_LEVEL_COLUMN = {"dynamic": "event_time", "group": "group", "calendar": "time"}


def unit_basis(G: np.ndarray, w: np.ndarray, cohorts: np.ndarray) -> np.ndarray:
    """Unit-level columns of every aggregated influence function besides the cells' ones.

    R's weight term (``wif``) of an aggregation is, per unit, ``w_i * a(G_i) + b`` with one
    coefficient per cohort: so it lies in the span of ``w * 1{G = c}`` (one column per cohort)
    and a column of ones. ``att_gt`` bootstraps these columns along with the cells.
    """
    basis = np.zeros((G.size, cohorts.size + 1))
    pos = np.clip(np.searchsorted(cohorts, G), 0, cohorts.size - 1)
    rows = np.flatnonzero(cohorts[pos] == G)
    basis[rows, pos[rows]] = w[rows]
    basis[:, -1] = 1.0
    return basis


def _wif_coefficients(keep, pg_cells, cell_groups, att, cohorts) -> np.ndarray:
    """``wif(keepers, pg, w, G, group) @ att[keepers]`` of R did as coefficients on unit_basis.

    R's term is sum_k att_k (w 1{G = g_k} - pg_k) / P - (sum_k w 1{G = g_k} - P) A / P^2 with P
    the kept cells' share sum and A their share-weighted ATT sum: per cohort c the coefficient
    of ``w 1{G = c}`` is S_c / P - N_c A / P^2 (S_c, N_c: the cohort's ATT sum and cell count),
    and the constant is -A / P + P A / P^2 (zero up to rounding; kept as R computes it).
    """
    pk, gk, ak = pg_cells[keep], cell_groups[keep], att[keep]
    total = pk.sum()
    weighted = pk @ ak
    pos = np.searchsorted(cohorts, gk)
    att_sum = np.bincount(pos, weights=ak, minlength=cohorts.size)
    count = np.bincount(pos, minlength=cohorts.size).astype(float)
    coef = np.empty(cohorts.size + 1)
    coef[:-1] = att_sum / total - count * weighted / total**2
    coef[-1] = -weighted / total + pk.sum() * weighted / total**2
    return coef


def _combine(res: AttGtResult, keep: np.ndarray, pg_cells: np.ndarray, with_wif: bool):
    """Weighted average of the kept cells (weights ∝ cohort share) and its influence function
    as coefficients on the basis [cells, unit_basis] (see :func:`_influence`)."""
    weights = pg_cells[keep] / pg_cells[keep].sum()
    att = float(weights @ res.att[keep])
    coef = np.zeros(res.att.size + res.groups.size + 1)
    coef[keep] = weights
    if with_wif:
        coef[res.att.size :] = _wif_coefficients(
            keep, pg_cells, res.cell_group, res.att, res.groups
        )
    return att, coef


def _cells_times(influence, coef: np.ndarray) -> np.ndarray:
    """``influence @ coef`` (n x levels), for sparse (CSC) cell influence functions summed
    per level over the cells that level weights.

    Why: an event-time level weights a few of the cells (one per cohort), and scipy's sparse x
    dense product multiplies every stored entry by every level's coefficient, zeros included
    (70 levels x tens of millions of entries in instrument_did). scipy's kernel computes
    ``y[i] += a_ij * c_j`` column after column from ``y = 0``; this does the same for the
    columns with a nonzero coefficient, in the same order, and the skipped terms are exact
    zeros, so every entry is bit for bit the full product's.
    """
    if not sp.issparse(influence):
        return np.asarray(influence @ coef)
    cells = sp.csc_array(influence)
    if not cells.has_canonical_format:  # repeated rows in a column: add them up first
        cells = cells.copy()
        cells.sum_duplicates()
    indptr, indices, data = cells.indptr, cells.indices, cells.data
    out = np.zeros((cells.shape[0], coef.shape[1]))
    for level in range(coef.shape[1]):
        column = out[:, level]  # a view: updated in place
        for j in np.flatnonzero(coef[:, level]):
            entries = slice(indptr[j], indptr[j + 1])
            column[indices[entries]] += data[entries] * coef[j, level]
    return out


def _influence(res: AttGtResult, coef: np.ndarray) -> np.ndarray:
    """Influence functions (n x levels) of aggregations given as basis coefficients."""
    k = res.att.size
    out = _cells_times(res.influence, coef[:k])  # a new array: updated in place below
    cohorts = res.groups
    pos = np.clip(np.searchsorted(cohorts, res.unit_group), 0, cohorts.size - 1)
    rows = np.flatnonzero(cohorts[pos] == res.unit_group)
    # In place, touching only the units of a cohort (the treated, often a few percent): the
    # same sums as inf + where(match, w * coef, 0) + coef[-1], IEEE addition being commutative
    # and 0 + x == x, so the result is bit for bit the one of the dense n x levels formula.
    out[rows] += res.unit_weight[rows, None] * coef[k:-1][pos[rows]]
    out += coef[-1]
    return out


def _ses(res: AttGtResult, inf: np.ndarray, coef, bootstrap: int, alpha: float, seed):
    """Standard errors (bootstrap if requested, as R) and the critical value for the levels.

    When att_gt's stored draws came from the same multipliers (same seed, count and kind), the
    draws of the aggregation are the stored draws times its basis coefficients: exactly what a
    new pass over n x bootstrap multipliers would give, at the cost of a small matrix product.
    """
    vcov = analytic_vcov(inf, res.n, res.unit_cluster, res.n_clusters)
    pointwise = norm.ppf(1 - alpha / 2)
    se = np.sqrt(np.diag(vcov))
    # R did reports NA for a zero SE (event time -1 under a universal base period).
    se[se <= np.sqrt(np.finfo(float).eps) * 10] = np.nan
    if not bootstrap:
        return se, pointwise, vcov
    stored = res.bootstrap_draws
    if stored is not None and stored.serves(bootstrap, seed, res.params["multiplier"]):
        se, crit = summarize_draws(stored.draws @ coef, stored.m, res.n, alpha)
    else:
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


def aggte(
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
    """Aggregate ATT(g,t) as R did's ``aggte`` (a verb function; the result knows nothing of it).

    Parameters
    ----------
    res : AttGtResult
        The group-time effects from :func:`att_gt`.
    kind : {"simple", "dynamic", "group", "calendar"}
        Overall post-treatment average weighted by cohort size; event-time (event study)
        effects; cohort effects; calendar-period effects.
    min_e, max_e : float
        Event-time window (``dynamic``; ``max_e`` also limits ``simple`` and ``group``).
    balance_e : int, optional
        Keep only cohorts observed for at least ``balance_e`` periods after treatment
        (``dynamic``), so the event-time composition does not change.
    bootstrap, alpha, seed
        Override the att_gt settings. With bootstrap draws the level rows get
        simultaneous (uniform) bands; the ``overall`` row is always pointwise, as in R.

    Returns
    -------
    AggregateResult
        ``.table`` has ``term`` ("overall" or the kind's level), the level column
        (``event_time``, ``group`` or ``time``), ``att, se, ci_low, ci_high``; the object keeps
        the influence functions and covariance.
    """
    if kind not in KINDS:
        raise DidError(f"aggte: kind must be one of {KINDS}, got {kind!r}")
    bootstrap = res.params["bootstrap"] if bootstrap is None else bootstrap
    alpha = res.params["alpha"] if alpha is None else alpha
    seed = res.params["seed"] if seed is None else seed
    if np.isnan(res.att).any():
        raise DidError("aggte: some ATT(g,t) are missing; cannot aggregate")

    g, t = res.cell_group, res.cell_time
    e = t - g
    post = g <= t
    cohorts = res.groups
    pgg = np.array([np.mean(res.unit_weight * (res.unit_group == c)) for c in cohorts])
    pg_cells = pgg[np.searchsorted(cohorts, g)]

    levels: list[float] = []
    atts: list[float] = []
    coefs: list[np.ndarray] = []
    if kind == "simple":
        keep = np.flatnonzero(post & (e <= max_e))
        if keep.size == 0:
            raise DidError("aggte: no post-treatment ATT(g,t) within max_e")
        overall_att, overall_coef = _combine(res, keep, pg_cells, with_wif=True)
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
            raise DidError("aggte: no event times within the requested min_e/max_e/balance_e")
        for ev in eseq:
            keep = np.flatnonzero((e == ev) & include)
            a, f = _combine(res, keep, pg_cells, with_wif=True)
            levels.append(ev)
            atts.append(a)
            coefs.append(f)
        pos = eseq >= 0
        if not pos.any():
            raise DidError("aggte: no non-negative event times for the overall dynamic effect")
        overall_att = float(np.mean(np.asarray(atts)[pos]))
        overall_coef = np.mean(np.column_stack(coefs)[:, pos], axis=1)
    elif kind == "group":
        for c in cohorts:
            keep = np.flatnonzero((g == c) & post & (e <= max_e))
            if keep.size == 0:
                raise DidError(f"aggte: group {c:g} has no post-treatment ATT(g,t) within max_e")
            a, f = _combine(res, keep, pg_cells, with_wif=False)
            levels.append(c)
            atts.append(a)
            coefs.append(f)
        att_g = np.asarray(atts)
        share = pgg / pgg.sum()
        overall_att = float(share @ att_g)
        # did >= 2.5.1 (PR #223): the weight term uses the group list, not the cell vector.
        overall_coef = np.column_stack(coefs) @ share
        overall_coef[res.att.size :] += _wif_coefficients(
            np.arange(cohorts.size), pgg, cohorts, att_g, cohorts
        )
    else:  # calendar
        for tt in res.times[res.times >= cohorts.min()]:
            keep = np.flatnonzero((t == tt) & post)
            if keep.size == 0:
                continue
            a, f = _combine(res, keep, pg_cells, with_wif=True)
            levels.append(tt)
            atts.append(a)
            coefs.append(f)
        overall_att = float(np.mean(atts))
        overall_coef = np.mean(np.column_stack(coefs), axis=1)

    pointwise = norm.ppf(1 - alpha / 2)
    overall_inf = _influence(res, overall_coef[:, None])
    overall_se = _ses(res, overall_inf, overall_coef[:, None], bootstrap, alpha, seed)[0][0]
    overall_inf = overall_inf[:, 0]
    rows = []
    if kind == "simple":
        inf_levels = overall_inf[:, None]
        vcov = analytic_vcov(inf_levels, res.n, res.unit_cluster, res.n_clusters)
        crit = pointwise
    else:
        coef_levels = np.column_stack(coefs)
        inf_levels = _influence(res, coef_levels)
        se_levels, crit, vcov = _ses(res, inf_levels, coef_levels, bootstrap, alpha, seed)
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
