"""The pre-specified primary analysis: the verdict table and its power."""

from inburgering.primary.verdict import (
    COLUMNS,
    VERDICTS,
    minimum_detectable,
    primary_family,
    primary_hash,
    verdict_table,
)

__all__ = [
    "COLUMNS",
    "VERDICTS",
    "minimum_detectable",
    "primary_family",
    "primary_hash",
    "verdict_table",
]
