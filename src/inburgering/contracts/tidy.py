"""The tidy estimate row: the one contract every design writes and every consumer reads.

See DESIGN.md ("Contracts"). One row per estimate; key columns identify what is estimated,
value columns say how and with what uncertainty. Missing keys are empty strings, never "nan",
so that joins on the key (e.g. with the synthetic ground truth) are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from inburgering.designs.registry import ROW_DESIGNS
from inburgering.io import write_csv_atomic

KEY_COLUMNS: tuple[str, ...] = (
    "design",
    "estimand",
    "treatment",
    "city",
    "comparison",
    "outcome",
    "horizon",
    "subgroup",
    "event_time",
)
VALUE_COLUMNS: tuple[str, ...] = (
    "estimator",
    "headline",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "inference",
    "n_treated",
    "n_control",
    "n_clusters",
)
TIDY_COLUMNS: tuple[str, ...] = KEY_COLUMNS + VALUE_COLUMNS
# The keys on which design side tables (balance, pre-trends, ...) join their estimate rows.
CELL_COLUMNS: tuple[str, ...] = ("design", "treatment", "city", "comparison", "outcome", "horizon")
# Added by the disclosure stage to exported rows: true where the values were suppressed.
SUPPRESSED = "suppressed"

# The ``design`` values of the registered designs and of the descriptive process rows.
DESIGNS = ROW_DESIGNS
# The G4 cities a row's ``city`` may name. The policy calendar (config/policies.yaml) must list
# exactly these (``config.check_agreement`` at workflow start): the one declaration of the
# contract, which the calendar's ``municipalities`` section agrees with.
G4_CITIES: tuple[str, ...] = ("rotterdam", "amsterdam", "den_haag", "utrecht")
CITIES = frozenset({*G4_CITIES, "all"})

_STRING_KEYS = ("design", "estimand", "treatment", "city", "comparison", "outcome", "subgroup")
_INTEGER_KEYS = ("horizon", "event_time")
_FLOAT_VALUES = ("estimate", "se", "ci_low", "ci_high", "p_value")
_COUNT_VALUES = ("n_treated", "n_control", "n_clusters")


class TidyContractError(ValueError):
    """A table claimed to be tidy estimate rows breaks the contract."""


def _key_text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def tidy_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Return rows as a validated tidy estimate table with canonical column order and types.

    Unknown columns are an error (they would silently vanish from exports); missing optional
    columns are filled with empty keys / missing values.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    unknown = sorted(set(frame.columns) - {*TIDY_COLUMNS, SUPPRESSED})
    if unknown:
        raise TidyContractError(f"tidy estimate rows: unknown columns {unknown}")
    for column in TIDY_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    frame = frame.loc[:, [*TIDY_COLUMNS, *([SUPPRESSED] if SUPPRESSED in frame else [])]]
    if SUPPRESSED in frame:
        frame[SUPPRESSED] = frame[SUPPRESSED].astype(str).str.lower().eq("true")
    for column in (*_STRING_KEYS, "estimator", "inference"):
        frame[column] = frame[column].map(_key_text).astype(object)
    for column in (*_INTEGER_KEYS, *_COUNT_VALUES):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("Int64")
    for column in _FLOAT_VALUES:
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    frame["headline"] = frame["headline"].fillna(False).astype(bool)
    validate_tidy(frame)
    return frame.reset_index(drop=True)


def validate_tidy(frame: pd.DataFrame) -> None:
    """Raise TidyContractError naming the rule and an example row when the contract is broken."""

    def fail(rule: str, mask: pd.Series) -> None:
        example = frame.loc[mask].head(1).to_dict(orient="records")
        raise TidyContractError(f"tidy estimate rows: {rule}; example row: {example}")

    bad_design = ~frame["design"].isin(DESIGNS)
    if bad_design.any():
        fail(f"design must be one of {sorted(DESIGNS)}", bad_design)
    bad_city = ~frame["city"].isin(CITIES | {""})
    if bad_city.any():
        fail(f"city must be one of {sorted(CITIES)} or empty", bad_city)
    if (frame["estimand"] == "").any():
        fail("estimand must not be empty", frame["estimand"] == "")
    duplicated = frame.duplicated(subset=[*KEY_COLUMNS, "estimator"], keep=False)
    if duplicated.any():
        fail("key columns + estimator must be unique", duplicated)
    headline_twice = frame[frame["headline"]].duplicated(subset=list(KEY_COLUMNS), keep=False)
    if headline_twice.any():
        fail(
            "at most one headline estimator per key",
            frame.index.isin(headline_twice[headline_twice].index),
        )
    inverted = frame["ci_low"] > frame["ci_high"]
    if inverted.any():
        fail("ci_low must not exceed ci_high", inverted)


def write_tidy(frame: pd.DataFrame, path) -> None:
    """Write tidy rows as CSV atomically (sorted, so output is byte-identical across runs)."""
    ordered = tidy_frame(frame).sort_values([*KEY_COLUMNS, "estimator"], kind="mergesort")
    write_csv_atomic(ordered, path)


def read_tidy(path) -> pd.DataFrame:
    """Read a tidy CSV written by write_tidy, restoring empty keys as empty strings."""
    missing_as_na = {column: [""] for column in (*_INTEGER_KEYS, *VALUE_COLUMNS)}
    frame = pd.read_csv(path, keep_default_na=False, na_values=missing_as_na)
    return tidy_frame(frame)
