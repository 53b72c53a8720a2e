"""The primary analysis up front: the verdict per comparison in words, one forest figure, and
the paper-format table of the pre-specified family (verdict.csv, docs/report-inputs.md).

Rows whose estimate the disclosure rules withheld are drawn and tabled as "suppressed", never as
a zero; a missing verdict table is said plainly (the primary analysis was not run).
"""

from __future__ import annotations

import pandas as pd

from inburgering.contracts.verdict import VERDICTS
from inburgering.report import style
from inburgering.report.context import G4, Report
from inburgering.report.tables import PP, counts, effect, interval, p_value, pipe_table

VERDICT_COLOURS = {
    "more_effective": style.OKABE_ITO["blue"],
    "less_effective": style.OKABE_ITO["vermillion"],
    "no_distinguishable_difference": style.OKABE_ITO["black"],
    "not_assessable": style.OKABE_ITO["grey"],
}
VERDICT_MARKERS = {
    "more_effective": "^",
    "less_effective": "v",
    "no_distinguishable_difference": "o",
    "not_assessable": "x",
}


def verdict_rows(report: Report) -> pd.DataFrame | None:
    """The primary family, in the report's scope: a city report other than the focal city's
    keeps only the contrast of the focal city against that city."""
    frame = report.exports.table("verdict")
    if frame is None:
        return None
    # verdict.csv is written from config ``primary`` (primary.verdict.primary_family): its
    # ``city`` is the focal city and its comparisons come in the configured order.
    order = {c: i for i, c in enumerate(frame["comparison"].unique())}
    focal = frame["city"].iloc[0] if len(frame) else ""
    if report.city and report.city != focal:
        frame = frame[frame["comparison"] == report.city]
    frame = frame.assign(_order=frame["comparison"].map(order).fillna(len(order)))
    frame = frame.sort_values(["_order", "outcome", "horizon"], kind="stable")
    return frame.drop(columns="_order") if len(frame) else None


def _family_comparisons(verdict: pd.DataFrame) -> list[str]:
    """The primary family's comparisons, G4 cities first in contract order, then the pool:
    the question the verdict answers names all of them, also in a city report."""
    family = set(verdict["comparison"])
    return [c for c in (*G4, "rest_nl") if c in family]


def executive_summary(report: Report) -> str:
    t = report.t
    text = report.heading("summary") + report.synthetic_notice()
    rows = verdict_rows(report)
    if rows is None:
        return text + report.callout(t("verdict_missing"), "warning", t("verdict_missing_title"))
    outcomes = ", ".join(t.label("outcome", o) for o in dict.fromkeys(rows["outcome"]))
    horizons = ", ".join(str(int(h)) for h in sorted(rows["horizon"].unique()))
    comparisons = t.series(
        [t.label("in_sentence", c) for c in _family_comparisons(report.exports.table("verdict"))]
    )
    intro = t(
        "verdict_intro", n=len(rows), outcomes=outcomes, horizons=horizons, comparisons=comparisons
    )
    text += intro + "\n\n"
    for comparison, group in rows.groupby("comparison", sort=False):
        text += f"- {_comparison_sentence(report, comparison, group)}\n"
    text += "\n" + t("verdict_reading") + "\n\n"
    caption = t("fig_verdict")
    return text + report.figure(_forest(report, rows), "fig-verdict", caption, t("alt_verdict"))


def _comparison_sentence(report: Report, comparison: str, rows: pd.DataFrame) -> str:
    t = report.t
    parts = []
    for verdict in VERDICTS:
        chosen = rows[rows["verdict"] == verdict]
        if chosen.empty:
            continue
        cells = [
            _contrast(report, row, detailed=verdict in VERDICTS[:2]) for _, row in chosen.iterrows()
        ]
        part = t("verdict_" + verdict) + " " + "; ".join(cells)
        parts.append(part[:1].upper() + part[1:])  # each part is a sentence
    return (
        t("verdict_compared", comparison=t.label("comparison", comparison))
        + " "
        + ". ".join(parts)
        + "."
    )


def _contrast(report: Report, row: pd.Series, detailed: bool) -> str:
    t = report.t
    what = t(
        "verdict_cell", outcome=t.label("outcome", row["outcome"]), horizon=int(row["horizon"])
    )
    if row["verdict"] == "not_assessable":
        return f"{what} ({t.label('reason', row['reason'])})"
    if not detailed:
        return what
    bounds = interval(t, row["ci_low"], row["ci_high"])
    return f"{what} ({effect(t, row['estimate'])} {t('pp')}, {bounds})"


def _forest(report: Report, rows: pd.DataFrame):
    """One panel per outcome; a row per comparison x horizon with the honest interval."""
    t = report.t
    outcomes = list(dict.fromkeys(rows["outcome"]))
    keys = list(dict.fromkeys(zip(rows["comparison"], rows["horizon"], strict=True)))
    fig, axes = style.figure(0.21 * len(keys) + 1.1, ncols=len(outcomes), sharey=True)
    finite = rows[["ci_low", "ci_high"]].abs().max().max()
    limit = (finite if pd.notna(finite) and finite > 0 else 0.05) * PP * 1.15
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = rows[rows["outcome"] == outcome].set_index(["comparison", "horizon"])
        for position, key in enumerate(keys):
            if key not in part.index:
                continue
            _forest_row(ax, part.loc[key], position, t, limit)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlim(-limit, limit)
        title = t.label("outcome", outcome)
        if (part["direction"] == "lower_is_better").any():
            title += f" ({t('lower_is_better')})"
        ax.set_title(title)
        ax.set_xlabel(t("axis_pp_short"))
    labels = [
        t("verdict_row", comparison=t.label("comparison", c), horizon=int(h)) for c, h in keys
    ]
    axes[0, 0].set_yticks(range(len(keys)), labels)
    axes[0, 0].set_ylim(len(keys) - 0.5, -0.5)
    handles = [
        axes[0, 0].scatter([], [], marker=VERDICT_MARKERS[v], color=VERDICT_COLOURS[v])
        for v in VERDICTS
    ]
    fig.legend(
        handles,
        [t.label("verdict", v) for v in VERDICTS],
        loc="outside lower center",
        ncols=4,
        frameon=False,
        fontsize=7.5,
    )
    return fig


def _forest_row(ax, row: pd.Series, position: int, t, limit: float) -> None:
    verdict = row["verdict"]
    if pd.isna(row["estimate"]):
        ax.text(
            0,
            position,
            t("suppressed"),
            ha="center",
            va="center",
            style="italic",
            fontsize=8,
            color=style.OKABE_ITO["grey"],
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
        return
    colour = VERDICT_COLOURS.get(verdict, style.OKABE_ITO["grey"])
    low, high = row["ci_low"] * PP, row["ci_high"] * PP
    ax.plot([max(low, -limit), min(high, limit)], [position, position], color=colour, linewidth=1.6)
    ax.plot(
        row["estimate"] * PP,
        position,
        marker=VERDICT_MARKERS.get(verdict, "o"),
        color=colour,
        markersize=6,
        linestyle="none",
    )


def primary_table(report: Report) -> str:
    """The paper-format table of the primary family: comparisons as columns, one block of
    statistics per outcome and horizon (in the results section)."""
    t = report.t
    text = report.heading("primary") + t("primary_intro") + "\n\n"
    rows = verdict_rows(report)
    if rows is None:
        return text + report.callout(t("verdict_missing"), "warning", t("verdict_missing_title"))
    comparisons = list(dict.fromkeys(rows["comparison"]))
    header = [""] + [t.label("comparison", c) for c in comparisons]
    body: list[list[str]] = []
    for (outcome, horizon), block in rows.groupby(["outcome", "horizon"], sort=False):
        title = t("verdict_cell", outcome=t.label("outcome", outcome), horizon=int(horizon))
        body.append([f"**{title}**"] + [""] * len(comparisons))
        by_comparison = block.set_index("comparison")
        for key, cell in PRIMARY_STATISTICS:
            body.append(
                [t(key)]
                + [
                    cell(t, by_comparison.loc[c]) if c in by_comparison.index else "–"
                    for c in comparisons
                ]
            )
    methods = dict.fromkeys(str(v) for v in rows["inference"].dropna())
    inference = "; ".join(t.label("inference", m) for m in methods)
    caption = t("tbl_primary", inference=inference)
    numeric = [False] + [True] * len(comparisons)
    return text + pipe_table(header, body, caption, "tbl-primary", numeric) + "\n"


def _withheld(t, row: pd.Series) -> str:
    """ "suppressed" for a primary row whose estimate the output checks withheld, else ""."""
    return t("suppressed") if pd.isna(row["estimate"]) else ""


def _clusters(t, row: pd.Series) -> str:
    """Municipalities on each side (public facts: shown even for a withheld row)."""
    if pd.isna(row["clusters_treated"]) or pd.isna(row["clusters_control"]):
        return "–"
    return f"{t.count(row['clusters_treated'])} / {t.count(row['clusters_control'])}"


def _optional(t, value: float, digits: int, scale: float = 1.0) -> str:
    return "–" if pd.isna(value) else t.number(value * scale, digits)


PRIMARY_STATISTICS = (
    ("stat_estimate", lambda t, r: effect(t, r["estimate"])),
    ("stat_se", lambda t, r: _withheld(t, r) or _optional(t, r["se"], 1, PP)),
    ("stat_interval", lambda t, r: _withheld(t, r) or interval(t, r["ci_low"], r["ci_high"])),
    ("stat_p_adjusted", lambda t, r: p_value(t, r["p_adjusted"])),
    ("stat_pretrend_p", lambda t, r: p_value(t, r["pretrend_p"])),
    ("stat_ri_p", lambda t, r: _withheld(t, r) or p_value(t, r["ri_p"])),
    ("stat_breakdown", lambda t, r: _optional(t, r["breakdown_mbar"], 2)),
    ("stat_mde", lambda t, r: _optional(t, r["mde"], 1, PP)),
    ("stat_control_mean", lambda t, r: _optional(t, r["control_mean"], 1, PP)),
    ("stat_persons", lambda t, r: counts(t, r["n_treated"], r["n_control"])),
    ("stat_clusters", lambda t, r: _clusters(t, r)),
    ("stat_verdict", lambda t, r: f"*{t.label('verdict', r['verdict'])}*"),
)
