"""Validation and preprocessing for att_gt (the counterpart of R did's ``pre_process_did``).

Turns a long data frame into arrays: for panels an ``n_units x n_periods`` outcome matrix, for
repeated cross-sections one row per observation with a period index. Every impossible request
stops here with a message that names the column, the rule and an example, instead of producing
NaN estimates later (R did warns and returns NA in several of these cases).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inburgering.did.errors import DidError

CONTROLS = ("never", "notyet")
METHODS = ("dr", "ipw", "reg")
BASE_PERIODS = ("varying", "universal")


@dataclass
class Prepared:
    """Arrays the estimation stage needs (one entry per unit for panels, per row otherwise)."""

    panel: bool
    times: np.ndarray
    groups: np.ndarray
    G: np.ndarray
    w: np.ndarray
    Y: np.ndarray
    X: np.ndarray
    period: np.ndarray | None
    cluster: np.ndarray | None
    n_clusters: int | None
    covariate_names: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.G.shape[0])


def _example(frame: pd.DataFrame, mask) -> str:
    return str(frame.loc[np.asarray(mask)].head(1).to_dict(orient="records"))


def _check_arguments(
    data,
    outcome,
    time,
    group,
    unit,
    covariates,
    control,
    method,
    anticipation,
    base_period,
    weights,
    cluster,
) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise DidError("att_gt: data must be a pandas DataFrame")
    if control not in CONTROLS:
        raise DidError(f"att_gt: control must be one of {CONTROLS}, got {control!r}")
    if method not in METHODS:
        raise DidError(f"att_gt: method must be one of {METHODS}, got {method!r}")
    if base_period not in BASE_PERIODS:
        raise DidError(f"att_gt: base_period must be one of {BASE_PERIODS}, got {base_period!r}")
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise DidError(f"att_gt: anticipation must be a non-negative integer, got {anticipation!r}")
    columns = [outcome, time, group, *(covariates or [])]
    columns += [c for c in (unit, weights, cluster) if c is not None]
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DidError(f"att_gt: columns {missing} not in data (have {list(data.columns)})")
    for name in (outcome, time):
        if not pd.api.types.is_numeric_dtype(data[name]):
            raise DidError(f"att_gt: column {name!r} must be numeric")
    return list(dict.fromkeys(columns))


def _covariate_frame(frame: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Numeric covariates as they are; categorical ones as treatment-coded dummies (like R)."""
    parts = []
    for name in covariates:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).rename(name))
        else:
            dummies = pd.get_dummies(col.astype(str), prefix=name, prefix_sep="=", drop_first=True)
            parts.append(dummies.astype(float))
    if not parts:
        return pd.DataFrame(index=frame.index)
    return pd.concat(parts, axis=1)


def _check_collinear(X: np.ndarray, names: list[str]) -> None:
    """Refuse designs with a column that is a linear combination of others (incl. the intercept)."""
    if X.shape[1] <= 1:
        return
    sd = X[:, 1:].std(axis=0)
    constant = [names[i] for i in np.flatnonzero(sd == 0)]
    if constant:
        raise DidError(f"att_gt: covariates {constant} are constant (collinear with the intercept)")
    Z = (X[:, 1:] - X[:, 1:].mean(axis=0)) / sd
    corr = Z.T @ Z / Z.shape[0]
    eig, vec = np.linalg.eigh(corr)
    if eig[0] < 1e-10:
        involved = [names[i] for i in np.flatnonzero(np.abs(vec[:, 0]) > 1e-6)]
        raise DidError(f"att_gt: covariates are collinear: {involved} (drop one of them)")


def prepare(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    group: str,
    unit: str | None,
    covariates: list[str] | None,
    control: str,
    method: str,
    anticipation: int,
    base_period: str,
    weights: str | None,
    cluster: str | None,
) -> Prepared:
    """Validate the request and build the arrays for estimation (see module docstring)."""
    covariates = list(covariates or [])
    columns = _check_arguments(
        data,
        outcome,
        time,
        group,
        unit,
        covariates,
        control,
        method,
        anticipation,
        base_period,
        weights,
        cluster,
    )
    frame = data.loc[:, columns].copy()
    notes: list[str] = []

    # Never-treated may be coded 0, NaN or inf; coerce before the missing-value screen.
    g = pd.to_numeric(frame[group], errors="coerce")
    bad_group = frame[group].notna() & g.isna()
    if bad_group.any():
        raise DidError(
            f"att_gt: column {group!r} must be numeric; example row {_example(frame, bad_group)}"
        )
    frame[group] = g.fillna(0.0).replace([np.inf, -np.inf], 0.0).astype(float)
    if (frame[group] < 0).any():
        raise DidError(
            f"att_gt: column {group!r} has negative values; example row "
            f"{_example(frame, frame[group] < 0)}"
        )

    incomplete = frame.isna().any(axis=1)
    if incomplete.any():
        notes.append(f"dropped {int(incomplete.sum())} rows with missing values")
        warnings.warn(
            f"att_gt: dropped {int(incomplete.sum())} rows with missing values in "
            f"{[c for c in columns if frame[c].isna().any()]}",
            stacklevel=3,
        )
        frame = frame.loc[~incomplete]
    if weights is not None and (frame[weights] < 0).any():
        raise DidError(f"att_gt: weights column {weights!r} has negative values")

    times = np.sort(frame[time].unique()).astype(float)
    if times.size < 2:
        raise DidError(f"att_gt: column {time!r} needs at least two periods, found {times.size}")
    # Units first treated after the last period are untreated within the sample (as R did).
    frame.loc[frame[group] > times[-1], group] = 0.0
    cohorts = np.sort(frame.loc[frame[group] > 0, group].unique())
    if cohorts.size == 0:
        raise DidError(f"att_gt: no treated units (column {group!r} is 0/NaN everywhere)")
    too_early = cohorts[cohorts <= times[0] + anticipation]
    if too_early.size:
        count = int(frame[group].isin(too_early).sum())
        raise DidError(
            f"att_gt: groups {too_early.tolist()} have no pre-treatment period (first "
            f"treated at or before the first period {times[0]:g} + anticipation "
            f"{anticipation}); {count} rows. "
            f"Drop these always-treated units before calling att_gt."
        )
    if not (frame[group] == 0).any():
        if control == "never":
            raise DidError(
                "att_gt: control='never' but there are no never-treated units "
                f"(column {group!r} has no 0/NaN); use control='notyet'"
            )
        # R did: without never-treated units the last cohort serves only as comparison and the
        # periods from its (anticipated) treatment on are dropped.
        last = cohorts[-1]
        frame = frame.loc[frame[time] < last - anticipation].copy()
        frame.loc[frame[group] == last, group] = 0.0
        times = times[times < last - anticipation]
        cohorts = cohorts[:-1]
        notes.append(
            f"no never-treated units: cohort {last:g} used as comparison only, "
            f"periods >= {last - anticipation:g} dropped"
        )
        if cohorts.size == 0 or times.size < 2:
            raise DidError("att_gt: without never-treated units there is nothing left to estimate")

    cov = _covariate_frame(frame, covariates)
    cov_names = list(cov.columns)
    w_raw = frame[weights].to_numpy(float) if weights is not None else np.ones(len(frame))

    if unit is None:
        prepared = _prepare_rcs(frame, outcome, time, group, cov, w_raw, times)
    else:
        prepared = _prepare_panel(
            frame, outcome, time, group, unit, cov, w_raw, times, cluster, notes
        )
    prepared.groups = cohorts
    prepared.covariate_names = cov_names
    prepared.notes = notes
    X2 = prepared.X.reshape(-1, prepared.X.shape[-1]) if prepared.panel else prepared.X
    _check_collinear(X2, ["(intercept)", *cov_names])
    if cluster is not None and unit is None:
        codes, uniques = pd.factorize(frame[cluster], sort=True)
        prepared.cluster, prepared.n_clusters = codes.astype(np.int64), len(uniques)
    if cluster is not None:
        _check_clusters(prepared, cluster)
    return prepared


def _check_clusters(prepared: Prepared, cluster: str) -> None:
    sizes = np.bincount(prepared.cluster, minlength=prepared.n_clusters)
    if prepared.n_clusters < 2:
        raise DidError(
            f"att_gt: cluster column {cluster!r} has a single cluster; cluster-robust "
            "inference needs at least two"
        )
    if np.all(sizes == 1):
        raise DidError(
            f"att_gt: every cluster in {cluster!r} is a singleton (one unit per "
            "cluster); that is unit-level inference, pass cluster=None"
        )
    if prepared.n_clusters < 30:
        warnings.warn(
            f"att_gt: only {prepared.n_clusters} clusters in {cluster!r}; clustered "
            "multiplier-bootstrap inference is unreliable with few clusters",
            stacklevel=3,
        )


def _prepare_rcs(frame, outcome, time, group, cov, w_raw, times) -> Prepared:
    n = len(frame)
    X = np.empty((n, cov.shape[1] + 1))
    X[:, 0] = 1.0
    X[:, 1:] = cov.to_numpy(float)
    return Prepared(
        panel=False,
        times=times,
        groups=np.empty(0),
        G=frame[group].to_numpy(float),
        w=w_raw,
        Y=frame[outcome].to_numpy(float),
        X=X,
        period=np.searchsorted(times, frame[time].to_numpy(float)).astype(np.int64),
        cluster=None,
        n_clusters=None,
        covariate_names=[],
    )


def _invariant(values: np.ndarray, name: str, column: str) -> np.ndarray:
    """Per-unit value of a (n_units x T) matrix that must not change over time."""
    varies = np.any(values != values[:, :1], axis=1)
    if varies.any():
        raise DidError(
            f"att_gt: {name} column {column!r} varies over time within units "
            f"({int(varies.sum())} units); it must be time-invariant"
        )
    return values[:, 0]


def _prepare_panel(
    frame, outcome, time, group, unit, cov, w_raw, times, cluster, notes
) -> Prepared:
    T = times.size
    codes, _ = pd.factorize(frame[unit])
    tidx = np.searchsorted(times, frame[time].to_numpy(float))
    key = codes.astype(np.int64) * T + tidx
    # Counting (O(rows)) instead of np.unique, which sorts all rows.
    if np.bincount(key).max() > 1:
        dup = pd.Series(key).duplicated(keep=False).to_numpy()
        raise DidError(
            f"att_gt: several rows per ({unit!r}, {time!r}); example row {_example(frame, dup)}"
        )
    counts = np.bincount(codes)
    complete = counts == T
    if not complete.all():
        # R did balances the panel (allow_unbalanced_panel=FALSE) with a warning.
        n_drop = int((~complete).sum())
        warnings.warn(
            f"att_gt: dropped {n_drop} units not observed in all {T} periods "
            "(balanced panel required)",
            stacklevel=4,
        )
        notes.append(f"dropped {n_drop} units not observed in every period")
        keep_rows = complete[codes]
        codes = pd.factorize(codes[keep_rows])[0]
        tidx = tidx[keep_rows]
        frame = frame.loc[keep_rows]
        cov = cov.loc[keep_rows]
        w_raw = w_raw[keep_rows]
    n = int(codes.max()) + 1

    def to_matrix(values: np.ndarray) -> np.ndarray:
        out = np.empty((n, T), dtype=values.dtype)
        out[codes, tidx] = values
        return out

    Y = to_matrix(frame[outcome].to_numpy(float))
    G = _invariant(to_matrix(frame[group].to_numpy(float)), "group", group)
    w = _invariant(to_matrix(w_raw), "weights", "weights")
    k = cov.shape[1]
    if k:
        C = np.empty((T, n, k))
        values = cov.to_numpy(float)
        C[tidx, codes, :] = values
        if np.all(C[:1] == C):
            C = C[:1]  # time-invariant covariates: keep one copy
        X = np.concatenate([np.ones((*C.shape[:2], 1)), C], axis=2)
    else:
        X = np.ones((1, n, 1))
    prepared = Prepared(
        panel=True,
        times=times,
        groups=np.empty(0),
        G=G,
        w=w,
        Y=Y,
        X=X,
        period=None,
        cluster=None,
        n_clusters=None,
        covariate_names=[],
    )
    if cluster is not None:
        ccodes, uniques = pd.factorize(frame[cluster], sort=True)
        prepared.cluster = _invariant(to_matrix(ccodes.astype(np.int64)), "cluster", cluster)
        prepared.n_clusters = len(uniques)
    return prepared
