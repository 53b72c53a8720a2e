"""City-by-period shocks as a variance component of single-city contrasts.

A municipality's cohorts of one quarter meet one labour market, one caseworker capacity and one
set of providers: their outcomes share a shock ``eta[m, q]`` beyond person-level sampling noise
(DOMAIN.md §6). With one treated city such shocks do not average out, so an interval built from
person-level sampling alone over-covers nothing and under-covers everything (coverage 51% at 3 pp
shocks in a national-size run). The model here is the smallest one that carries the facts:

    eta[m, q] = AR(1) in cohort quarter q, stationary SD ``sd`` and persistence ``rho``,
                independent across municipalities.

``estimate_shock_model`` estimates ``sd`` and ``rho`` from cohort-quarter cell means before a
change (the pre-reform cohorts of every municipality), by the variogram of each municipality's
deviation from the rest of the country: for a lag k, the mean of ``(d[m,q] - d[m,q-k])**2`` minus
the cells' sampling variances estimates ``2 sd**2 (1 - rho**k)``. Differences remove municipality
levels, deviations from the leave-one-out national mean remove common quarter effects, and the
subtracted sampling variances make it unbiased whatever the cell sizes (Ferman & Pinto 2019's
point: small municipalities are noisier, large ones are not, so the component must be separated
from sampling noise, not read off placebo t-statistics).

**Shocks move an index, not a share.** A binary outcome's share near 0 or 1 cannot move as far
as one near 50 %: a shock to a municipality's labour market moves the persons who were close to
a job, not those who were sure to have one or sure to have none. With per-person factors
(``index_density`` of each person's fitted probability) the model is one for a probit index,
``eta`` in share points at a 50 % share, and a cell's mean moves by ``f[m, q] eta[m, q]`` with
``f`` its persons' mean factor. Without them (``factor=None``) every person moves by ``eta``.
The difference matters when the municipalities the model is estimated from and the treated
cities differ in level: at national size the G4's participation shares are nearer 50 % than
the other municipalities', so their shocks in share points are a third larger, and half the
G4's family migrants have no social assistance to lose.

``contrast_shock_vcov`` turns the model into the covariance of an event study's coefficients for
a given treated unit and comparison pool (their persons' weights per municipality and quarter), to
be added to the person-level covariance. One-treated-city inference then rests on many
municipality-quarters of the pre-period instead of on one treated cluster. The same covariance
serves the overall contrast, the event-study intervals, the pre-trend test, HonestDiD and the
power calculation (``contrast_variance``), so that they always mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

RHO_GRID = np.round(np.arange(0.0, 0.96, 0.01), 2)


@dataclass(frozen=True)
class ShockModel:
    """AR(1) municipality-by-quarter shocks: on the outcome's scale, or (``index``) on a probit
    index, ``sd`` then in share points at a 50 % share (each person moves by
    ``index_density`` of their probability times the shock)."""

    sd: float
    rho: float
    n_pairs: int = 0
    n_municipalities: int = 0
    index: bool = False

    def at_share(self, share: float) -> ShockModel:
        """The model on the outcome's scale for persons at ``share`` (power calculations)."""
        if not self.index:
            return self
        return ShockModel(self.sd * float(index_density(np.array([share]))[0]), self.rho)

    def covariance(self, quarters: np.ndarray) -> np.ndarray:
        """Covariance of one municipality's shocks at ``quarters`` (quarter indices)."""
        lag = np.abs(np.subtract.outer(quarters, quarters))
        return self.sd**2 * self.rho ** lag.astype(float)


NO_SHOCKS = ShockModel(sd=0.0, rho=0.0)

# Probabilities are kept this far from 0 and 1: a fitted probability of exactly 0 would say the
# person's share cannot move at all, which no finite index gives.
_SHARE_FLOOR = 1e-6


def index_density(p: np.ndarray) -> np.ndarray:
    """phi(Phi^-1(p)) / phi(0): how far a share p moves per share point a shock to a probit
    index moves a 50 % share (1 at p = 0.5, 0.23 at p = 0.05 or 0.95)."""
    p = np.clip(np.asarray(p, float), _SHARE_FLOOR, 1.0 - _SHARE_FLOOR)
    return norm.pdf(norm.ppf(p)) / norm.pdf(0.0)


def cell_statistics(
    y: np.ndarray, municipality: np.ndarray, q: np.ndarray, factor: np.ndarray | None = None
) -> pd.DataFrame:
    """Per municipality x quarter: persons, mean, the sampling variance of the mean and the
    persons' mean shock factor ``f`` (1 without factors)."""
    f = np.ones(len(y)) if factor is None else np.asarray(factor, float)
    frame = pd.DataFrame({"m": municipality, "q": q, "y": y, "f": f}).dropna(subset=["y"])
    grouped = frame.groupby(["m", "q"], sort=True)
    cells = grouped["y"].agg(n="size", mean="mean", var="var")
    cells["f"] = grouped["f"].mean()
    cells["sampling_var"] = cells["var"].fillna(0.0) / cells["n"]
    return cells.reset_index()


def _deviations(cells: pd.DataFrame, pooled_var: float) -> pd.DataFrame:
    """Each cell's deviation from the leave-one-out national mean of its quarter, and the
    sampling variance of that deviation."""
    total = cells.assign(s=cells["mean"] * cells["n"]).groupby("q")[["s", "n"]].transform("sum")
    rest_n = (total["n"] - cells["n"]).where(lambda n: n > 0)
    rest_mean = (total["s"] - cells["mean"] * cells["n"]) / rest_n
    return cells.assign(
        d=cells["mean"] - rest_mean, noise=cells["sampling_var"] + pooled_var / rest_n
    ).dropna(subset=["d"])


VARIOGRAM_COLUMNS = ["lag", "gamma", "a", "b", "pairs"]


def variogram(cells: pd.DataFrame, max_lag: int) -> pd.DataFrame:
    """Per lag k: the precision-weighted mean of squared k-differences net of sampling variance
    (``gamma``), and of the cells' factors ``a = f^2 + f'^2`` and ``b = 2 f f'``, so that
    ``gamma = sd^2 (a - b rho^k)`` (``2 sd^2 (1 - rho^k)`` without factors)."""
    if cells.empty:  # no municipality-quarter with enough persons: nothing to estimate from
        return pd.DataFrame(columns=VARIOGRAM_COLUMNS)
    # Weights from the pooled within-cell variance: a cell's own estimate is itself noisy (0 for
    # a small cell whose persons all agree), and weighting by it selects cells by their noise.
    pooled_var = float(np.average(cells["var"].fillna(0.0), weights=cells["n"] - 1))
    dev = _deviations(cells, pooled_var).set_index(["m", "q"])[["d", "n", "noise", "f"]]
    rows = []
    for k in range(1, max_lag + 1):
        lagged = dev.rename(index=lambda q, lag=k: q + lag, level="q")
        pair = dev.join(lagged.add_suffix("_lag"), how="inner")
        if pair.empty:
            continue
        excess = (pair["d"] - pair["d_lag"]) ** 2 - pair["noise"] - pair["noise_lag"]
        # Var((d - d')^2) ~ 2 (E (d - d')^2)^2: weights favour the large, informative cells.
        weight = 1.0 / (pooled_var * (1.0 / pair["n"] + 1.0 / pair["n_lag"])) ** 2
        rows.append(
            {
                "lag": k,
                "gamma": float(np.average(excess, weights=weight)),
                "a": float(np.average(pair["f"] ** 2 + pair["f_lag"] ** 2, weights=weight)),
                "b": float(np.average(2.0 * pair["f"] * pair["f_lag"], weights=weight)),
                "pairs": len(pair),
            }
        )
    return pd.DataFrame(rows, columns=VARIOGRAM_COLUMNS)


def fit_variogram(gram: pd.DataFrame) -> tuple[float, float]:
    """(sd, rho) of sd^2 (a - b rho^k) by least squares over the lags (pairs as weights)."""
    if gram.empty:
        return 0.0, 0.0
    k, gamma, fa, fb, w = (gram[c].to_numpy(float) for c in VARIOGRAM_COLUMNS)
    best = (np.inf, 0.0, 0.0)
    for rho in RHO_GRID:
        a = fa - fb * rho**k
        var = max(float(np.sum(w * a * gamma) / np.sum(w * a * a)), 0.0)
        loss = float(np.sum(w * (gamma - var * a) ** 2))
        if loss < best[0] - 1e-18:
            best = (loss, var, float(rho))
    return float(np.sqrt(best[1])), best[2]


def estimate_shock_model(
    y: np.ndarray,
    municipality: np.ndarray,
    q: np.ndarray,
    *,
    max_lag: int = 8,
    min_cell: int = 5,
    factor: np.ndarray | None = None,
) -> ShockModel:
    """The shock model from person rows (outcome, municipality, quarter) of unchanged quarters.

    Cells with fewer than ``min_cell`` persons are left out (their sampling variance estimate is
    itself too noisy). Returns sd 0 when the data show no variance beyond sampling noise. With
    ``factor`` (each person's ``index_density``) the model is one of a probit index.
    """
    cells = cell_statistics(np.asarray(y, float), np.asarray(municipality), np.asarray(q), factor)
    cells = cells[cells["n"] >= min_cell]
    gram = variogram(cells, max_lag)
    sd, rho = fit_variogram(gram)
    return ShockModel(
        sd=sd,
        rho=rho,
        n_pairs=int(gram["pairs"].sum()) if not gram.empty else 0,
        n_municipalities=int(cells["m"].nunique()),
        index=factor is not None,
    )


def quarter_weights(
    municipality: np.ndarray,
    q: np.ndarray,
    quarters: np.ndarray,
    factor: np.ndarray | None = None,
) -> np.ndarray:
    """Municipalities x ``quarters``: each municipality's share of its group's persons (with
    ``factor``: the sum of its persons' factors over the group's persons, so that a group mean
    carries sum_m w[m, q] eta[m, q] for shocks on an index).

    Rows are the municipalities present (sorted), also those without a person in ``quarters``.
    Counted with ``np.bincount``: ``pd.crosstab`` aggregated every municipality-quarter group in
    Python and took a quarter of a reform_did job (it runs for every placebo fit).
    """
    # Hash the labels, then sort only the distinct ones (np.unique sorted every row's string).
    code, labels = pd.factorize(np.asarray(municipality), sort=False)
    rank = np.empty(labels.size, dtype=np.int64)
    rank[np.argsort(np.asarray(labels, dtype=object), kind="stable")] = np.arange(labels.size)
    rows, row = labels, rank[code]
    column = pd.Index(quarters).get_indexer(np.asarray(q))
    inside = column >= 0
    n_quarters = len(quarters)
    flat = row[inside] * n_quarters + column[inside]
    size, shape = rows.size * n_quarters, (rows.size, n_quarters)
    counts = np.bincount(flat, minlength=size).reshape(shape)
    totals = counts.sum(axis=0)
    if factor is not None:  # each municipality's persons' summed factors, over the persons
        counts = np.bincount(flat, np.asarray(factor, float)[inside], size).reshape(shape)
    weights = np.zeros(counts.shape)
    np.divide(counts, totals, out=weights, where=totals > 0)
    return weights


def level_covariance(
    model: ShockModel,
    quarters: np.ndarray,
    treated_weights: np.ndarray,
    control_weights: np.ndarray,
) -> np.ndarray:
    """Shock covariance of the treated-minus-comparison mean difference at ``quarters``.

    A group mean carries sum_m w[m, q] eta[m, q]; with independent municipalities the covariance
    of two quarters is the AR(1) covariance times sum_m w[m, q] w[m, q'] for each side.
    """
    overlap = treated_weights.T @ treated_weights + control_weights.T @ control_weights
    return model.covariance(quarters) * overlap


def event_shock_vcov(
    model: ShockModel,
    event_time: np.ndarray,
    event_q: int,
    municipality: np.ndarray,
    q: np.ndarray,
    treated: np.ndarray,
    factor: np.ndarray | None = None,
) -> np.ndarray:
    """Shock covariance of event-study coefficients under a universal base period.

    Coefficient e is the difference of the treated-minus-comparison gap at quarter
    ``event_q + e`` and at the reference quarter (the last pre quarter, coefficient zero).
    A model of an index needs each row's ``factor``.
    """
    if model.index and factor is None:
        raise ValueError("event_shock_vcov: a shock model of an index needs the rows' factors")
    f = factor if model.index else None
    quarters = event_q + np.asarray(event_time, int)
    ref = int(quarters[quarters < event_q].max())
    levels = level_covariance(
        model,
        quarters,
        quarter_weights(municipality[treated], q[treated], quarters, _rows(f, treated)),
        quarter_weights(municipality[~treated], q[~treated], quarters, _rows(f, ~treated)),
    )
    D = np.eye(quarters.size) - (quarters == ref)[None, :].astype(float)
    D[quarters == ref] = 0.0
    return D @ levels @ D.T


def _rows(factor: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    return None if factor is None else np.asarray(factor, float)[mask]


def contrast_variance(
    model: ShockModel,
    quarters: np.ndarray,
    contrast: np.ndarray,
    treated_persons: np.ndarray,
    control_persons: np.ndarray,
    outcome_var: float,
    control_units: int = 1,
) -> float:
    """Variance of ``contrast @ gap[quarters]`` for planned group sizes (power calculations).

    ``treated_persons``/``control_persons`` are persons per quarter; the comparison is
    ``control_units`` municipalities of equal size. Sampling variance ``outcome_var / n`` per
    quarter and side, plus the shock covariance of :func:`level_covariance`.
    """
    sampling = outcome_var * (1.0 / treated_persons + 1.0 / control_persons)
    treated_w = np.ones((1, quarters.size))
    control_w = np.full((control_units, quarters.size), 1.0 / control_units)
    shocks = level_covariance(model, quarters, treated_w, control_w)
    return float(contrast @ (np.diag(sampling) + shocks) @ contrast)
