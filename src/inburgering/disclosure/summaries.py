"""Helpers that compute exportable tables *with* the audit columns the rules need.

Run inside RA on person-level data. Audit columns (prefix ``_sdc_``) hold individual-level
information (largest contributions, observations around a percentile) and are dropped by
:func:`check_table` before anything is exported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from inburgering.contracts.tidy import KEY_COLUMNS
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.spec import AUDIT_PREFIX, TableSpec

TIDY_VALUES = ("estimate", "se", "ci_low", "ci_high", "p_value", "n_clusters")


def tidy_estimates_spec(
    name: str, description: str = "", *, margins: dict[str, str] | None = None
) -> TableSpec:
    """Spec for tidy estimate rows (:mod:`inburgering.contracts.tidy`): treated and control
    counted apart.

    ``margins`` defaults to none: a pooled ``city == "all"`` estimate is not in general a sum of
    the city estimates. Pass ``{"city": "all"}`` when it is (e.g. n-weighted averages) so the
    pooled row cannot be used to recover a suppressed city by subtraction.
    """
    return TableSpec(
        name=name,
        kind="estimate",
        count_columns=("n_treated", "n_control"),
        group_columns=(*KEY_COLUMNS, "estimator", "headline", "inference"),
        value_columns=TIDY_VALUES,
        margins=margins or {},
        description=description or "tidy estimate rows",
    )


def _groups(persons: pd.DataFrame, by: Sequence[str]):
    return (
        persons.groupby(list(by), sort=True, dropna=False, observed=True) if by else [((), persons)]
    )


def summarise_amounts(
    persons: pd.DataFrame, value: str, by: Sequence[str], rules: DisclosureRules
) -> pd.DataFrame:
    """Sum and mean of an amount per group, with the dominance audit columns.

    Returns columns ``by + [n, sum, mean, _sdc_abs_total, _sdc_top{n}...]``, one row per group;
    check with ``TableSpec(kind="amount", count_columns=("n",), value_columns=("sum", "mean"))``.
    """
    tops = sorted({rule.n for rule in rules.dominance_rules})
    records = []
    for key, group in _groups(persons, by):
        amounts = pd.to_numeric(group[value], errors="coerce").dropna().to_numpy(dtype=float)
        largest = np.sort(np.abs(amounts))[::-1]
        record = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        record.update(
            n=len(amounts), sum=amounts.sum(), mean=amounts.mean() if len(amounts) else np.nan
        )
        record[f"{AUDIT_PREFIX}abs_total"] = largest.sum()
        for n in tops:
            record[f"{AUDIT_PREFIX}top{n}"] = largest[:n].sum()
        records.append(record)
    return pd.DataFrame(records)


def summarise_percentiles(
    persons: pd.DataFrame,
    value: str,
    by: Sequence[str],
    quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
) -> pd.DataFrame:
    """Percentiles per group with the observations strictly below/above each (audit columns).

    Minimum and maximum (q = 0 or 1) are refused: they are single observations.
    Returns columns ``by + [n, p10, ..., _sdc_below_p10, _sdc_above_p10, ...]``.
    """
    if any(not 0 < q < 1 for q in quantiles):
        raise ValueError("quantiles must lie strictly between 0 and 1 (no minima or maxima)")
    names = [f"p{round(q * 100):g}" for q in quantiles]
    records = []
    for key, group in _groups(persons, by):
        values = pd.to_numeric(group[value], errors="coerce").dropna().to_numpy(dtype=float)
        record = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        record["n"] = len(values)
        for q, name in zip(quantiles, names, strict=True):
            point = float(np.quantile(values, q)) if len(values) else np.nan
            record[name] = point
            record[f"{AUDIT_PREFIX}below_{name}"] = int((values < point).sum())
            record[f"{AUDIT_PREFIX}above_{name}"] = int((values > point).sum())
        records.append(record)
    return pd.DataFrame(records)
