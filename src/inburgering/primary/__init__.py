"""The pre-specified primary analysis: the verdict table and its power."""

from inburgering.primary.verdict import (
    minimum_detectable,
    primary_family,
    primary_hash,
    verdict_table,
)

__all__ = ["minimum_detectable", "primary_family", "primary_hash", "verdict_table"]
