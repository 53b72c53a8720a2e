"""Covariate matrix with missing indicators and collinearity pruning (engine level: no config,
no files; the designs pass their covariate lists in).

Why missing indicators: on real data some covariates are missing for a few persons
(SCHOLINGJAREN unknown, no learnability test taken). Dropping those persons changes the
population an estimate is about, and stopping the design loses it altogether; imputing a fixed
value plus a 0/1 indicator keeps everyone and adjusts for the missingness pattern itself.

Why one indicator per pattern: covariates missing for exactly the same persons (test score and
test version when no test was taken) would each get an indicator, and identical columns make
the design rank-deficient. The first covariate carries the pattern (its indicator, its band's
"missing" level, or its "missing" level); the others are imputed without a second indicator.

Why pruning: any covariate that is still a linear function of the others (a test version fixed
by cohort) leaves the logit and the outcome model unidentified. It adds nothing to the
adjustment, so it is dropped, with the reason logged, instead of stopping the design.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MISSING_LEVEL = "missing"
BAND_SUFFIX = "_band"
INDICATOR_SUFFIX = "_missing"


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _pattern(column: pd.Series) -> bytes:
    return column.isna().to_numpy().tobytes()


def _band_carriers(frame: pd.DataFrame, covariates: Sequence[str]) -> dict[bytes, str]:
    """Missingness patterns already carried by a band's "missing" level (see add_bands)."""
    carriers: dict[bytes, str] = {}
    for name in covariates:
        band = f"{name}{BAND_SUFFIX}"
        if band in covariates and frame[name].isna().any():
            carriers.setdefault(_pattern(frame[name]), band)
    return carriers


def impute_with_indicators(
    sample: pd.DataFrame, covariates: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Model-ready covariates: missing values imputed, one indicator per missingness pattern.

    Numeric covariates get their median and a 0/1 ``<name>_missing`` column; text ones a
    ``missing`` level; booleans become 0/1 floats. A covariate missing for exactly the persons
    of an earlier one (or of its own band) is imputed (median / most frequent level) without a
    second indicator, which would duplicate the first. Complete covariates pass unchanged, so
    a sample without missing values gets no indicator column.
    """
    frame = sample.copy()
    carriers = _band_carriers(frame, covariates)
    used: list[str] = []
    for name in covariates:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) and not column.isna().any():
            frame[name] = column.astype(float)
            column = frame[name]
        used.append(name)
        if not column.isna().any():
            continue
        pattern = _pattern(column)
        carrier = carriers.get(pattern)
        numeric = _is_numeric(column)
        log.info("covariate %s: %d missing values imputed", name, int(column.isna().sum()))
        if numeric:
            values = pd.to_numeric(column).astype(float)
            frame[name] = values.fillna(values.median() if values.notna().any() else 0.0)
        elif carrier is None:
            frame[name] = column.astype(object).where(column.notna(), MISSING_LEVEL).astype(str)
        else:
            mode = column.dropna().astype(str).mode()
            fill = mode.iloc[0] if len(mode) else MISSING_LEVEL
            frame[name] = column.astype(object).where(column.notna(), fill).astype(str)
        if carrier is not None:
            log.info(
                "covariate %s is missing for the same persons as %s: no second missing "
                "indicator (it would be collinear with the first)",
                name,
                carrier,
            )
        elif numeric:
            frame[f"{name}{INDICATOR_SUFFIX}"] = column.isna().astype(float).to_numpy()
            used.append(f"{name}{INDICATOR_SUFFIX}")
            carriers[pattern] = f"{name}{INDICATOR_SUFFIX}"
        else:
            carriers[pattern] = name
    return frame, used


def numeric_with_indicators(
    frame: pd.DataFrame, columns: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Numeric model columns with their missing values imputed (median) and one 0/1
    ``<column>_missing`` indicator per missingness pattern (the DiD designs' covariates)."""
    frame = frame.copy()
    carriers: dict[bytes, str] = {}
    names = list(columns)
    for name in columns:
        column = pd.to_numeric(frame[name]).astype(float)
        if not column.isna().any():
            continue
        pattern = _pattern(column)
        log.info("covariate %s: %d missing values imputed", name, int(column.isna().sum()))
        frame[name] = column.fillna(column.median() if column.notna().any() else 0.0)
        if pattern in carriers:
            log.info(
                "covariate %s is missing for the same persons as %s: no second indicator",
                name,
                carriers[pattern],
            )
            continue
        indicator = f"{name}{INDICATOR_SUFFIX}"
        frame[indicator] = column.isna().astype(float).to_numpy()
        carriers[pattern] = indicator
        names.append(indicator)
    return frame, names


def _rank(X: np.ndarray) -> int:
    """Column rank via the Gram matrix of unit-norm columns (p x p: cheap for tall designs)."""
    norms = np.linalg.norm(X, axis=0)
    Xs = X[:, norms > 0] / norms[norms > 0]
    if Xs.shape[1] == 0:
        return 0
    eigenvalues = np.linalg.eigvalsh(Xs.T @ Xs)
    return int(np.sum(eigenvalues > 1e-9 * eigenvalues.max()))


def prune_collinear(
    blocks: Mapping[str, np.ndarray], order: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """Keep the covariates (each a block of model columns) that add their full rank.

    Covariates are tried in ``order`` next to an intercept; one whose columns are (partly) a
    linear function of the intercept and those already kept is dropped. Returns the kept names
    in ``order`` and the dropped ones with the reason, which is also logged.
    """
    n = len(next(iter(blocks.values()))) if blocks else 0
    kept_matrix, kept_rank = np.ones((n, 1)), 1
    kept, dropped = [], {}
    for name in order:
        block = np.asarray(blocks[name], dtype=float).reshape(n, -1)
        candidate = np.column_stack([kept_matrix, block])
        added = _rank(candidate) - kept_rank
        if added == block.shape[1]:
            kept_matrix, kept_rank = candidate, kept_rank + added
            kept.append(name)
            continue
        what = "determined by" if added == 0 else "partly collinear with"
        dropped[name] = (
            f"{what} the intercept and covariates kept before it "
            f"(adds rank {added} of its {block.shape[1]} model column(s))"
        )
        log.info("covariate %s not used: %s", name, dropped[name])
    return [name for name in order if name in kept], dropped
