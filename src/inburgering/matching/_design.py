"""Input checks and design matrices shared by the matching and weighting engines.

Bad input stops with a :class:`MatchingInputError` naming the column, the rule and an example
row (DESIGN.md, "Errors"): missing values are never dropped silently, because which rows
disappear would then depend on the outcome and horizon being analysed.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


class MatchingInputError(ValueError):
    """The data handed to a matching/weighting estimator breaks one of its input rules."""


@dataclass(frozen=True)
class Design:
    """Arrays for one estimation problem, in the row order of the input data."""

    index: pd.Index
    treated: np.ndarray  # bool
    y: np.ndarray  # float
    X: np.ndarray  # propensity/outcome design, no intercept; categoricals drop their first level
    x_names: list[str]
    B: np.ndarray  # balance matrix; categoricals expanded to every level (as MatchIt/cobalt)
    b_names: list[str]
    exact_codes: np.ndarray | None
    cluster: np.ndarray | None


def _example(data: pd.DataFrame, mask: np.ndarray | pd.Series) -> dict:
    rows = data.loc[np.asarray(mask)].head(1)
    return rows.to_dict(orient="index")


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _levels(series: pd.Series) -> list:
    # Sorted levels so the reference category is the same as R's default factor() levels.
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [level for level in series.cat.categories if level in present]
    return sorted(series.dropna().unique(), key=str)


def check_columns(data: pd.DataFrame, columns: Sequence[str], role: str) -> None:
    missing = [column for column in columns if column not in data.columns]
    if missing:
        raise MatchingInputError(
            f"{role} column(s) {missing} not found in the data (columns: {list(data.columns)})"
        )


def treatment_indicator(data: pd.DataFrame, treatment: str) -> np.ndarray:
    """Return the treatment column as bool, insisting on a 0/1 (or boolean) coding."""
    column = data[treatment]
    if column.isna().any():
        raise MatchingInputError(
            f"treatment column '{treatment}' has missing values (rule: treatment must be 0/1); "
            f"example row: {_example(data, column.isna())}"
        )
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() | ~values.isin([0, 1])
    if bad.any():
        raise MatchingInputError(
            f"treatment column '{treatment}' must be coded 0/1 or boolean; "
            f"example row: {_example(data, bad)}"
        )
    return values.to_numpy(dtype=float) == 1


def _dummies(series: pd.Series, name: str, drop_first: bool) -> tuple[np.ndarray, list[str]]:
    levels = _levels(series)
    kept = levels[1:] if drop_first else levels
    # Hash the values once and compare small integer codes per level: comparing Python objects
    # per level (or building a pandas Categorical) took most of a design's set-up at national
    # size. Values equal under == share a hash, so the 0/1 columns are the same.
    codes, uniques = pd.factorize(series.to_numpy(dtype=object))
    position = {level: j for j, level in enumerate(levels)}
    level_codes = np.array([position.get(value, -1) for value in uniques] + [-1])[codes]
    matrix = (level_codes[:, None] == np.arange(len(levels) - len(kept), len(levels))).astype(float)
    return matrix, [f"{name}_{level}" for level in kept]


def covariate_matrices(
    data: pd.DataFrame, covariates: Sequence[str]
) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Model matrix (reference level dropped) and balance matrix (all levels) for covariates."""
    x_parts, x_names, b_parts, b_names = [], [], [], []
    for name in covariates:
        series = data[name]
        if series.isna().any():
            raise MatchingInputError(
                f"covariate '{name}' has missing values (rule: no missing covariates; impute or "
                f"add a missingness indicator before estimation); "
                f"example row: {_example(data, series.isna())}"
            )
        if series.nunique() < 2:
            raise MatchingInputError(
                f"covariate '{name}' is constant in the estimation sample (rule: every covariate "
                f"must vary); value: {series.iloc[0]!r}"
            )
        if _is_categorical(series):
            matrix, names = _dummies(series, name, drop_first=True)
            x_parts.append(matrix)
            x_names += names
            matrix, names = _dummies(series, name, drop_first=False)
            b_parts.append(matrix)
            b_names += names
        else:
            column = series.to_numpy(dtype=float)[:, None]
            if not np.isfinite(column).all():
                raise MatchingInputError(
                    f"covariate '{name}' has non-finite values; example row: "
                    f"{_example(data, ~np.isfinite(column[:, 0]))}"
                )
            x_parts.append(column)
            x_names.append(name)
            b_parts.append(column)
            b_names.append(name)
    X = np.column_stack(x_parts) if x_parts else np.empty((len(data), 0))
    B = np.column_stack(b_parts) if b_parts else np.empty((len(data), 0))
    return X, x_names, B, b_names


# Digests of design matrices already found to have full rank: the estimators of one sample
# (and the outcomes observed for the same persons) check the same matrix, and the SVD of a
# national-size design costs a quarter of a second. Only successes are kept; a digest covers
# the bytes and shape of the matrix, so another sample is always checked.
_FULL_RANK: OrderedDict[bytes, None] = OrderedDict()
_FULL_RANK_KEPT = 8


def array_digest(*arrays: np.ndarray) -> bytes:
    """SHA-256 of the shapes, dtypes and bytes of arrays (a cache key for fits; SHA-256 because
    processors hash it in hardware, 2-3x faster than blake2b on a national design matrix)."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(repr((array.shape, array.dtype.str)).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.digest()


def check_rank(X: np.ndarray, names: list[str]) -> None:
    """Name the covariates that make the design collinear (logit and OLS would be unidentified)."""
    key = array_digest(X)
    if key in _FULL_RANK:
        _FULL_RANK.move_to_end(key)
        return
    design = np.column_stack([np.ones(len(X)), X])
    rank = np.linalg.matrix_rank(design)
    if rank == design.shape[1]:
        _FULL_RANK[key] = None
        while len(_FULL_RANK) > _FULL_RANK_KEPT:
            _FULL_RANK.popitem(last=False)
        return
    redundant = []
    kept = np.ones((len(X), 1))
    for j, name in enumerate(names):
        candidate = np.column_stack([kept, X[:, j]])
        if np.linalg.matrix_rank(candidate) < candidate.shape[1]:
            redundant.append(name)
        else:
            kept = candidate
    raise MatchingInputError(
        f"covariates {redundant} are linear combinations of the intercept and earlier covariates "
        "(rule: the propensity design must have full rank); drop them or merge levels"
    )


def build_design(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    exact: Sequence[str] | None = None,
    cluster: str | None = None,
) -> Design:
    """Validate the input and build the arrays every estimator works on."""
    if not isinstance(data, pd.DataFrame):
        raise MatchingInputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    covariates = list(covariates)
    if not covariates:
        raise MatchingInputError("covariates must name at least one column")
    check_columns(data, [treatment], "treatment")
    check_columns(data, [outcome], "outcome")
    check_columns(data, covariates, "covariate")
    exact = list(exact or [])
    check_columns(data, exact, "exact")
    if cluster is not None:
        check_columns(data, [cluster], "cluster")
    if data.index.has_duplicates:
        raise MatchingInputError("data index must be unique (it identifies units in the output)")

    treated = treatment_indicator(data, treatment)
    if treated.all() or not treated.any():
        group = "control" if treated.all() else "treated"
        raise MatchingInputError(
            f"treatment column '{treatment}' has no {group} units (rule: both groups needed)"
        )
    y_series = pd.to_numeric(data[outcome], errors="coerce")
    bad_y = y_series.isna()
    if bad_y.any():
        raise MatchingInputError(
            f"outcome column '{outcome}' has missing or non-numeric values (rule: select the "
            f"rows observed at this horizon before estimation); example row: "
            f"{_example(data, bad_y)}"
        )
    X, x_names, B, b_names = covariate_matrices(data, covariates)
    check_rank(X, x_names)

    exact_codes = None
    if exact:
        for name in exact:
            if data[name].isna().any():
                raise MatchingInputError(
                    f"exact-matching column '{name}' has missing values; example row: "
                    f"{_example(data, data[name].isna())}"
                )
        exact_codes = data[exact].astype(str).agg("\x1f".join, axis=1).to_numpy(dtype=object)
    cluster_codes = None
    if cluster is not None:
        if data[cluster].isna().any():
            raise MatchingInputError(
                f"cluster column '{cluster}' has missing values; example row: "
                f"{_example(data, data[cluster].isna())}"
            )
        cluster_codes = pd.factorize(data[cluster], sort=True)[0]
    return Design(
        index=data.index,
        treated=treated,
        y=y_series.to_numpy(dtype=float),
        X=X,
        x_names=x_names,
        B=B,
        b_names=b_names,
        exact_codes=exact_codes,
        cluster=cluster_codes,
    )
