"""Process indicators (design ``process``): descriptive, disclosure-checked, not causal."""

from inburgering.process.indicators import (
    INDICATORS,
    composition,
    indicator_rows,
    outcome_trends,
    route_mix,
    route_start_survival,
)

__all__ = [
    "INDICATORS",
    "composition",
    "indicator_rows",
    "outcome_trends",
    "route_mix",
    "route_start_survival",
]
