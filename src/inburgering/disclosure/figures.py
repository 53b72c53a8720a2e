"""Figures are checked on the data they are drawn from (CBS: a graph is a table)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.primary import as_counts, small_count_mask
from inburgering.disclosure.rules import DisclosureRules
from inburgering.disclosure.spec import CheckReport

FIGURE_KINDS = ("event_study", "histogram", "survival", "bar")
# Plots whose marks are individuals: never exported, whatever the configuration says.
REFUSED_KINDS = ("scatter", "scatterplot", "strip", "swarm", "individual", "points", "rug")
_DEFAULT_COUNTS = {
    "event_study": ("n_treated", "n_control"),
    "histogram": ("n",),
    "bar": ("n",),
    "survival": ("n_at_risk", "n_events"),
}


@dataclass(frozen=True)
class CheckedFigure:
    """Figure data that passed the rules, plus the rendered image drawn from it (optional)."""

    name: str
    kind: str
    frame: pd.DataFrame
    report: CheckReport
    description: str = ""
    image: Path | None = None


def _label(frame: pd.DataFrame, position: int, columns: Sequence[str]) -> str:
    row = frame.iloc[position]
    return ", ".join(f"{c}={row[c]}" for c in columns if c in frame.columns)


def _survival_keep(
    at_risk: np.ndarray, events: np.ndarray, rules: DisclosureRules
) -> tuple[np.ndarray, np.ndarray]:
    """Keep points with a large enough risk set; pool steps until they hold enough events.

    The risk set only shrinks, so the curve is cut at its first small risk set. A dropped point
    merges its events into the next visible step, whose event count becomes the pooled count
    (the raw per-period count would otherwise still be published).
    """
    keep = np.zeros(len(at_risk), dtype=bool)
    pooled_events = np.full(len(at_risk), np.nan)
    pooled = 0.0
    for i, (n, d) in enumerate(zip(at_risk, events, strict=True)):
        if not n >= rules.min_at_risk:
            break
        pooled += 0 if np.isnan(d) else d
        if pooled == 0 or pooled >= rules.min_events_per_step:
            keep[i], pooled_events[i], pooled = True, pooled, 0.0
    return keep, pooled_events


def _violations(
    frame: pd.DataFrame,
    kind: str,
    counts: tuple[str, ...],
    rules: DisclosureRules,
    by: Sequence[str],
    events: np.ndarray,
) -> tuple[np.ndarray, str]:
    """Boolean mask of offending rows (bins/points) and the name of the rule.

    For survival data ``events`` is filled with the pooled event count of every kept point.
    """
    if kind != "survival":
        bad = small_count_mask(
            frame,
            counts,
            rules.min_persons_per_bin,
            allow_zero=kind in ("histogram", "bar") and rules.allow_zero_counts,
            separately=rules.count_groups_separately,
        )
        return bad, "min_persons_per_bin"
    keep = np.zeros(len(frame), dtype=bool)
    groups = frame.groupby(list(by), sort=False).indices.values() if by else [np.arange(len(frame))]
    for positions in groups:
        positions = np.asarray(positions)
        kept, pooled = _survival_keep(
            as_counts(frame.iloc[positions], counts[0]),
            as_counts(frame.iloc[positions], counts[1]),
            rules,
        )
        keep[positions] = kept
        events[positions] = pooled
    return ~keep, "min_at_risk/min_events_per_step"


def check_figure_data(
    frame: pd.DataFrame,
    kind: str,
    *,
    name: str,
    rules: DisclosureRules,
    count_columns: Sequence[str] | None = None,
    by: Sequence[str] = (),
    description: str = "",
    image: str | os.PathLike[str] | None = None,
    on_violation: str | None = None,
) -> CheckedFigure:
    """Check the data behind a figure; refuse scatter plots of individuals.

    Parameters
    ----------
    frame
        One row per plotted mark: event-study point (tidy rows with ``n_treated``/``n_control``),
        histogram bin or bar (``n``), survival time point (``n_at_risk``, ``n_events``; rows
        sorted by time within each ``by`` group).
    kind
        ``event_study``, ``histogram``, ``survival`` or ``bar``; scatter-like kinds always raise.
    name
        Figure name (file stem in the export).
    rules
        From :func:`load_rules`.
    count_columns
        Persons behind each mark; defaults per kind (see above).
    by
        Curve identifiers for survival data (e.g. ``["city"]``).
    description, image
        For the manifest; ``image`` is the rendered file drawn from the *checked* frame.
    on_violation
        ``raise`` or ``suppress`` (drop offending marks); default from the configuration.

    Raises
    ------
    DisclosureError
        Naming the figure, the rule and the first offending bin/point.
    """
    if kind in REFUSED_KINDS or re.search("scatter", kind):
        raise DisclosureError(
            name,
            "no_individual_points",
            f"'{kind}' plots show individuals and are never exported; "
            "plot binned data (histogram, binned means) instead",
        )
    if kind not in FIGURE_KINDS:
        raise DisclosureError(name, "figure_kind", f"kind must be one of {FIGURE_KINDS}")
    counts = tuple(count_columns or _DEFAULT_COUNTS[kind])
    missing = [c for c in (*counts, *by) if c not in frame.columns]
    if missing:
        raise DisclosureError(name, "min_persons_per_bin", f"columns {missing} are missing")
    for column in frame.columns:
        if any(re.search(p, str(column)) for p in rules.person_id_column_patterns):
            raise DisclosureError(name, "individual_values", f"column '{column}' is a person id")
        if rules.forbid_extremes and any(
            re.search(p, str(column)) for p in rules.extreme_column_patterns
        ):
            raise DisclosureError(
                name,
                "forbid_extremes",
                f"column '{column}' is a min/max "
                "(box-plot whiskers and outliers are individual values)",
            )
    data = frame.reset_index(drop=True)
    events = np.full(len(data), np.nan)
    bad, rule = _violations(data, kind, counts, rules, by, events)
    mode = on_violation or rules.figure_on_violation
    if bad.any() and mode == "raise":
        first = int(np.flatnonzero(bad)[0])
        labels = [*by, "event_time", "time", "bin", "bin_left", "bin_right", "category", *counts]
        raise DisclosureError(
            name,
            rule,
            f"{int(bad.sum())} {kind} mark(s) rest on too few "
            f"persons; first: {_label(data, first, labels)}",
        )
    if kind == "survival":
        data[counts[1]] = pd.array(
            [pd.NA if np.isnan(e) else int(e) for e in events], dtype="Int64"
        )
    checked = data.loc[~bad].reset_index(drop=True)
    report = CheckReport(
        rules_applied=(rule, "no_individual_points"),
        n_rows=len(checked),
        n_primary=int(bad.sum()),
        n_secondary=0,
        underlying_counts={c: _range(checked, c) for c in counts},
        reasons=pd.DataFrame(
            {"row": np.flatnonzero(bad), "column": "", "rule": rule, "stage": "primary"}
        ),
    )
    return CheckedFigure(
        name, kind, checked, report, description, Path(image) if image is not None else None
    )


def _range(frame: pd.DataFrame, column: str) -> tuple[int, int] | None:
    values = as_counts(frame, column)
    values = values[~np.isnan(values)]
    return (int(values.min()), int(values.max())) if len(values) else None
