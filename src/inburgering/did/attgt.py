"""Group-time average treatment effects (Callaway & Sant'Anna 2021; R did ``att_gt``).

Interface → preprocess (validation) → one 2x2 estimator per (g, t) cell → influence-function
inference. The loop runs over cells only (a few dozen), never over units; within a cell all work
is vectorised numpy (see estimators.py for why we do not call the Python ports).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm

from inburgering.did.aggregate import unit_basis
from inburgering.did.bootstrap import (
    StoredDraws,
    analytic_vcov,
    multiplier_draws,
    summarize_draws,
)
from inburgering.did.errors import DidError
from inburgering.did.estimators import PANEL_ESTIMATORS, RC_ESTIMATORS, panel_pscore
from inburgering.did.preprocess import Prepared, prepare
from inburgering.did.result import AttGtResult


def _cells(prep: Prepared, control: str, anticipation: int, base_period: str):
    """Yield (g, current, base, control mask, post, is_reference) in R did's order."""
    times, G = prep.times, prep.G
    T = times.size
    never = G == 0
    for g in prep.groups:
        is_g = g == G
        base_universal = int(np.flatnonzero(times + anticipation < g)[-1])
        for cur in range(1, T) if base_period == "varying" else range(T):
            base0 = cur - 1 if base_period == "varying" else base_universal
            if control == "never":
                C = never
            else:
                threshold = times[max(cur, base0)] + anticipation
                C = never | ((threshold < G) & ~is_g)
            post = bool(g <= times[cur])
            base = base_universal if post else base0
            yield g, is_g, cur, base, C, post, base == cur


def _where(g: float, t: float) -> str:
    return f"ATT(g={g:g}, t={t:g})"


def _estimate_panel(prep: Prepared, method: str, cells: list) -> tuple[list, np.ndarray]:
    estimator = PANEL_ESTIMATORS[method]
    n = prep.n
    # Column-major: each cell writes one contiguous column.
    inf = np.zeros((n, len(cells)), order="F")
    out = []
    # Propensity scores by (cohort, covariate period): reused while the comparison units match.
    pscores: dict[tuple, tuple[np.ndarray, tuple]] = {}
    for j, (g, is_g, cur, base, C, _post, ref) in enumerate(cells):
        t = prep.times[cur]
        if ref:
            out.append((0.0, 0, int(is_g.sum()), 0))
            continue
        idx = np.flatnonzero(is_g | C)
        n_control = int(C.sum())
        if n_control == 0:
            raise DidError(f"{_where(g, t)}: no comparison units")
        period = min(cur, base) if prep.X.shape[0] > 1 else 0
        X = prep.X[period][idx]
        dy = prep.Y[idx, cur] - prep.Y[idx, base]
        D = is_g[idx].astype(float)
        extra = {}
        if method in ("dr", "ipw"):
            cached = pscores.get((g, period))
            if cached is None or not np.array_equal(cached[0], C):
                cached = (C, panel_pscore(D, X, prep.w[idx], _where(g, t)))
                pscores[(g, period)] = cached
            extra["pscore"] = cached[1]
        att, psi = estimator(dy, D, X, prep.w[idx], _where(g, t), **extra)
        inf[idx, j] = psi * (n / idx.size)
        out.append((float(att), idx.size, int(is_g.sum()), n_control))
    return out, inf


def _estimate_rcs(prep: Prepared, method: str, cells: list):
    estimator = RC_ESTIMATORS[method]
    n = prep.n
    order = np.argsort(prep.period, kind="stable")
    bounds = np.searchsorted(prep.period[order], np.arange(prep.times.size + 1))
    by_period = [order[bounds[k] : bounds[k + 1]] for k in range(prep.times.size)]
    # Each period's outcome, design and weight rows copied once into contiguous blocks: a
    # cell then gathers its rows from two compact blocks instead of from the whole arrays
    # (rows of a period lie scattered over them, one cache miss each), in the same order.
    blocks = [(prep.Y[idx], prep.X[idx], prep.w[idx]) for idx in by_period]
    # The influence matrix is assembled column by column in compressed (CSC) form: each
    # cell's rows are sorted and distinct, so COO triplets and their conversion (a sort of
    # every entry, tens of millions with not-yet-treated comparisons) are not needed.
    rows_all, vals_all, out = [], [], []
    sizes = np.zeros(len(cells), dtype=np.int64)
    for j, (g, is_g, cur, base, C, _post, ref) in enumerate(cells):
        t = prep.times[cur]
        if ref:
            out.append((0.0, 0, 0, 0))
            continue
        both = np.concatenate([by_period[cur], by_period[base]])
        kept = np.flatnonzero(is_g[both] | C[both])
        # Rows in ascending order: two ascending runs (each period's rows are in order)
        # merged, which the stable sort detects; positions in ``both`` and the blocks.
        merge = kept[np.argsort(both[kept], kind="stable")]
        rows = both[merge]
        D = is_g[rows].astype(float)
        p = (merge < by_period[cur].size).astype(float)  # from the current period's block
        Y, X, w = (
            np.concatenate(pair)[merge] for pair in zip(blocks[cur], blocks[base], strict=True)
        )
        for label, mask in (("treated", D == 1), ("comparison", D == 0)):
            for when, pm in ((t, p == 1), (prep.times[base], p == 0)):
                if not np.any(mask & pm):
                    raise DidError(f"{_where(g, t)}: no {label} observations in period {when:g}")
        att, psi = estimator(Y, p, D, X, w, _where(g, t))
        rows_all.append(rows)
        vals_all.append(psi * (n / rows.size))
        sizes[j] = rows.size
        out.append((float(att), rows.size, int(D.sum()), int(rows.size - D.sum())))
    if rows_all:
        indptr = np.concatenate([[0], np.cumsum(sizes)])
        inf = sp.csc_array(
            (np.concatenate(vals_all), np.concatenate(rows_all), indptr), shape=(n, len(cells))
        )
    else:
        inf = sp.csc_array((n, len(cells)))
    return out, inf


def att_gt(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    group: str,
    unit: str | None = None,
    covariates: list[str] | None = None,
    control: str = "never",
    method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    weights: str | None = None,
    cluster: str | None = None,
    bootstrap: int | None = 999,
    alpha: float = 0.05,
    seed=0,
    multiplier: str = "mammen",
) -> AttGtResult:
    """Group-time average treatment effects ATT(g,t) of Callaway & Sant'Anna (2021).

    Parameters
    ----------
    data : DataFrame
        Long data: one row per unit and period (panel) or per observation (cross-sections).
    outcome, time, group : str
        Outcome column; numeric period column; first treated period (0, NaN or inf = never
        treated; values after the last period are treated as never treated, as in R did).
    unit : str, optional
        Unit id for panel data. ``None`` means repeated cross-sections.
    covariates : list of str, optional
        Pre-treatment covariates (time-varying ones are taken from the earlier of the two
        periods of each comparison, as R did). Non-numeric columns become dummies.
    control : {"never", "notyet"}
        Never-treated or not-yet-treated comparison units.
    method : {"dr", "ipw", "reg"}
        Doubly robust (Sant'Anna & Zhao), normalised IPW or outcome regression.
    anticipation : int
        Number of periods of anticipation (base period moves back by this many).
    base_period : {"varying", "universal"}
        Pre-period comparisons against the previous period or against g - anticipation - 1.
    weights : str, optional
        Sampling-weight column (time-invariant within units for panels).
    cluster : str, optional
        Cluster column (time-invariant within units); influence functions are summed within
        clusters for the analytic covariance and one multiplier is drawn per cluster.
    bootstrap : int or None
        Multiplier-bootstrap draws (0/None: analytic SEs and pointwise intervals). With draws,
        ``se`` is the bootstrap SE and intervals are simultaneous bands, as in R did.
    alpha : float
        1 - confidence level.
    seed : int or numpy SeedSequence
        Seed of the multiplier bootstrap.
    multiplier : {"mammen", "rademacher"}
        Multiplier distribution (R did uses Mammen).

    Returns
    -------
    AttGtResult
        ``.table`` with ``group, time, att, se, ci_low, ci_high, n`` (aggregate it with
        :func:`inburgering.did.aggte`); ``.pretrend_test()``; influence functions in ``.influence``.

    Raises
    ------
    DidError
        For impossible requests: no never-treated units with ``control="never"``, a cohort
        without pre-period, a single cluster, collinear covariates, empty comparison cells,
        overlap violations.
    """
    if not 0 < alpha < 1:
        raise DidError(f"att_gt: alpha must lie in (0, 1), got {alpha!r}")
    prep = prepare(
        data,
        outcome=outcome,
        time=time,
        group=group,
        unit=unit,
        covariates=covariates,
        control=control,
        method=method,
        anticipation=anticipation,
        base_period=base_period,
        weights=weights,
        cluster=cluster,
    )
    cells = list(_cells(prep, control, anticipation, base_period))
    estimates, inf = (_estimate_panel if prep.panel else _estimate_rcs)(prep, method, cells)
    att = np.array([e[0] for e in estimates])
    n = prep.n

    vcov = analytic_vcov(inf, n, prep.cluster, prep.n_clusters)
    se_analytic = np.sqrt(np.diag(vcov))
    tiny = se_analytic <= np.sqrt(np.finfo(float).eps) * 10
    se_analytic[tiny] = np.nan  # R did: reference cells (universal base) have no SE
    crit = float(norm.ppf(1 - alpha / 2))
    se = se_analytic.copy()
    stored = None
    if bootstrap:
        # One pass of multipliers over the cells and the aggregations' unit-level columns:
        # every aggte() with the same seed reuses these draws (see aggregate._ses).
        draws, m = multiplier_draws(
            inf,
            draws=int(bootstrap),
            seed=seed,
            cluster=prep.cluster,
            n_clusters=prep.n_clusters,
            kind=multiplier,
            extra=unit_basis(prep.G, prep.w, prep.groups),
        )
        stored = StoredDraws(draws=draws, m=m, count=int(bootstrap), seed=seed, kind=multiplier)
        se_b, crit_b = summarize_draws(draws[:, : att.size], m, n, alpha)
        se = np.where(tiny, np.nan, se_b)
        if np.isfinite(crit_b) and crit_b >= crit:
            crit = crit_b

    table = pd.DataFrame(
        {
            "group": [c[0] for c in cells],
            "time": [prep.times[c[2]] for c in cells],
            "att": att,
            "se": se,
            "ci_low": att - crit * se,
            "ci_high": att + crit * se,
            "n": [e[1] for e in estimates],
            "post": [c[5] for c in cells],
            "base_time": [prep.times[c[3]] for c in cells],
            "n_treated": [e[2] for e in estimates],
            "n_control": [e[3] for e in estimates],
            "se_analytic": se_analytic,
        }
    )
    if np.all(np.mod(prep.times, 1) == 0):
        for col in ("group", "time", "base_time"):
            table[col] = table[col].astype("int64")
    params = {
        "outcome": outcome,
        "time": time,
        "group": group,
        "unit": unit,
        "covariates": list(covariates or []),
        "control": control,
        "method": method,
        "anticipation": anticipation,
        "base_period": base_period,
        "weights": weights,
        "cluster": cluster,
        "bootstrap": int(bootstrap or 0),
        "alpha": alpha,
        "seed": seed,
        "multiplier": multiplier,
        "panel": prep.panel,
    }
    return AttGtResult(
        table=table,
        att=att,
        influence=inf,
        vcov=vcov,
        crit_val=crit,
        cell_group=np.array([c[0] for c in cells], float),
        cell_time=np.array([prep.times[c[2]] for c in cells], float),
        groups=prep.groups,
        times=prep.times,
        n=n,
        unit_group=prep.G,
        unit_weight=prep.w,
        unit_cluster=prep.cluster,
        n_clusters=prep.n_clusters,
        params=params,
        notes=prep.notes,
        bootstrap_draws=stored,
    )
