"""Estimate tables formatted for reading: estimate, interval, n — not dumped frames."""

from __future__ import annotations

import pandas as pd


def format_interval(low: float, high: float, digits: int = 3) -> str:
    if pd.isna(low) or pd.isna(high):
        return "suppressed"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def estimates_markdown(estimates: pd.DataFrame, digits: int = 3) -> str:
    """Pipe table of headline estimates: city, outcome, horizon, estimate, 95% interval, n."""
    rows = [
        "| City | Outcome | Horizon (months) | Estimate | 95% interval | n (treated / control) |"
    ]
    rows.append("|---|---|---:|---:|---|---:|")
    for row in estimates.itertuples(index=False):
        estimate = "suppressed" if pd.isna(row.estimate) else f"{row.estimate:.{digits}f}"
        counts = f"{row.n_treated} / {row.n_control}"
        rows.append(
            f"| {row.city} | {row.outcome} | {row.horizon} | {estimate} | "
            f"{format_interval(row.ci_low, row.ci_high, digits)} | {counts} |"
        )
    return "\n".join(rows)
