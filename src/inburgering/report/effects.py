"""Report sections on effects: reform DiD, instruments, matching, heterogeneity, robustness."""

from __future__ import annotations

import textwrap

import pandas as pd

from inburgering.calendar import BUNDLE_COMPARISON
from inburgering.report import style
from inburgering.report.context import G4, Report, first_horizon, main_outcome
from inburgering.report.tables import (
    PP,
    Column,
    estimate_cells,
    frame_table,
    interval,
    is_true,
    label_column,
    p_value,
    pipe_table,
)

SIDE_KEY = ["design", "treatment", "city", "comparison", "outcome", "horizon"]


def _estimate_table(
    report: Report, rows: pd.DataFrame, label: str, caption: str, first: tuple[str, ...] = ("city",)
) -> str:
    t = report.t
    header = [t("col_" + c) for c in first] + [
        t("col_outcome"),
        t("col_horizon"),
        t("col_estimate"),
        t("col_interval"),
        t("col_n"),
    ]
    body = [
        [t.label(c, row[c]) for c in first]
        + [t.label("outcome", row["outcome"]), t.count(row["horizon"])]
        + estimate_cells(t, row)
        for _, row in rows.iterrows()
    ]
    numeric = [False] * (len(first) + 1) + [True] * 4
    return pipe_table(header, body, caption, label, numeric) + "\n"


def _headline(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows[rows["headline"] & rows["subgroup"].isin(["all", ""])]
    order = {"rest_nl": -1, **{city: i for i, city in enumerate(G4)}}
    return rows.sort_values(
        ["outcome", "horizon", "city", "comparison", "treatment"],
        key=lambda s: s.map(order).fillna(9) if s.name in ("city", "comparison") else s,
    )


def reform(report: Report) -> str:
    t = report.t
    text = report.heading("reform") + t("reform_intro") + "\n\n"
    overall = report.estimates("reform_did", "att_overall")
    if overall.empty:
        return text + report.not_run("estimates.csv (reform_did)")
    # The body shows each city against the rest of the Netherlands; every pair is in the
    # methods appendix (reform_pairs).
    text += _estimate_table(
        report,
        _primary(_headline(overall)),
        "tbl-reform",
        t("tbl_reform"),
        first=("city", "comparison"),
    )
    text += _reform_figure(report, _primary(_headline(overall)))
    text += _event_studies(report, _primary(report.estimates("reform_did", "att_event")))
    return text + _estimators(report, _primary(overall)) + _inference(report)


def reform_pairs(report: Report) -> str:
    """Every reform contrast (each city against every pool), for the methods appendix."""
    overall = report.estimates("reform_did", "att_overall")
    if overall.empty:
        return report.not_run("estimates.csv (reform_did)")
    return _estimate_table(
        report,
        _headline(overall),
        "tbl-reform-pairs",
        report.t("tbl_reform_pairs"),
        first=("city", "comparison"),
    )


def _primary(rows: pd.DataFrame) -> pd.DataFrame:
    """The single-city designs' primary contrast: each city against the rest of the Netherlands
    (a G4 bundle: its unchanged municipalities), all persons (figures and the estimator table
    show one contrast per city)."""
    primary = rows["comparison"].isin(["rest_nl", BUNDLE_COMPARISON])
    if "subgroup" in rows.columns:
        primary &= rows["subgroup"].isin(["all", ""])
    return rows[primary]


def _reform_figure(report: Report, rows: pd.DataFrame) -> str:
    """Headline effects per city, one panel per outcome, horizons side by side."""
    t = report.t
    rows = rows.dropna(subset=["estimate"])
    outcomes = list(dict.fromkeys(rows["outcome"]))
    if not outcomes:
        return ""
    fig, axes = style.figure(0.5 * len(report.cities) + 1.4, ncols=len(outcomes), sharey=True)
    horizons = sorted(rows["horizon"].dropna().unique())
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        for offset, horizon in enumerate(horizons):
            part = rows[(rows["outcome"] == outcome) & (rows["horizon"] == horizon)]
            y = [report.cities.index(c) + 0.25 * offset for c in part["city"]]
            ax.errorbar(
                part["estimate"] * PP,
                y,
                xerr=[
                    (part["estimate"] - part["ci_low"]) * PP,
                    (part["ci_high"] - part["estimate"]) * PP,
                ],
                fmt="os^D"[offset % 4],
                capsize=2,
                color=style.SERIES[offset % 6],
                label=t("legend_horizon", horizon=int(horizon)),
            )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(textwrap.fill(t.label("outcome", outcome), 22))
        ax.set_xlabel(t("axis_effect_pp"))
    axes[0, 0].set_yticks(range(len(report.cities)), [t.label("city", c) for c in report.cities])
    axes[0, 0].invert_yaxis()
    axes[0, -1].legend(frameon=False)
    return report.figure(fig, "fig-reform", t("fig_reform"), t("alt_reform"))


def _event_studies(report: Report, events: pd.DataFrame) -> str:
    """One figure, a panel per city (two columns), so four event studies take one page."""
    t = report.t
    text = report.heading("event-study", 3)
    if events.empty:
        return text + report.not_run("estimates.csv (reform_did, att_event)")
    outcome = main_outcome(events)
    horizon = first_horizon(events)
    events = events[(events["outcome"] == outcome) & (events["horizon"] == horizon)]
    bands = report.exports.table("uniform_bands")
    text += t("event_intro", outcome=t.label("outcome", outcome)) + "\n\n"
    cities = [c for c in report.cities if c in set(events["city"])]
    ncols = 2 if len(cities) > 1 else 1
    nrows = -(-len(cities) // ncols)
    fig, axes = style.figure(2.3 * nrows + 0.4, ncols=ncols, nrows=nrows, sharey=True)
    for ax, city in zip(axes.flat, cities, strict=False):
        _event_panel(ax, report, events[events["city"] == city], bands)
        ax.set_title(t.label("city", city))
    for ax in list(axes.flat)[len(cities) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=7.5)
    comparison = t.label("comparison", events["comparison"].iloc[0])
    caption = t(
        "fig_event",
        city=", ".join(t.label("city", c) for c in cities),
        outcome=t.label("outcome", outcome),
        horizon=int(horizon),
        comparison=comparison,
    )
    text += report.figure(fig, "fig-event", caption, t("alt_event"))
    return text + ("" if bands is not None else report.not_run("uniform_bands.csv"))


def _event_figure(
    report: Report, rows: pd.DataFrame, bands: pd.DataFrame | None, axis: str = "axis_event_time"
):
    fig, axes = style.figure(2.6)
    _event_panel(axes[0, 0], report, rows, bands, axis)
    axes[0, 0].legend(frameon=False, fontsize=7.5)
    return fig


def _event_panel(
    ax,
    report: Report,
    rows: pd.DataFrame,
    bands: pd.DataFrame | None,
    axis: str = "axis_event_time",
) -> None:
    t = report.t
    headline = rows[rows["headline"]].sort_values("event_time")
    band = _band_for(headline, bands)
    if band is not None:
        ax.fill_between(
            band["event_time"],
            band["band_low"] * PP,
            band["band_high"] * PP,
            color=style.OKABE_ITO["sky_blue"],
            alpha=0.35,
            linewidth=0,
            label=t("legend_uniform"),
            step=None,
        )
    for offset, (estimator, group) in enumerate(rows.groupby("estimator", sort=False)):
        group = group.sort_values("event_time")
        is_headline = bool(group["headline"].any())
        shift = 0 if is_headline else 0.15 * (offset + 1)
        ax.errorbar(
            group["event_time"] + shift,
            group["estimate"] * PP,
            yerr=[
                (group["estimate"] - group["ci_low"]) * PP,
                (group["ci_high"] - group["estimate"]) * PP,
            ],
            fmt="o" if is_headline else "s",
            capsize=2,
            linewidth=1.1,
            markerfacecolor=None if is_headline else "white",
            color=style.OKABE_ITO["blue" if is_headline else "grey"],
            label=t("legend_pointwise", estimator=t.label("estimator", estimator)),
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(-0.5, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel(t(axis))
    ax.set_ylabel(t("axis_effect_pp"))


def _band_for(headline: pd.DataFrame, bands: pd.DataFrame | None) -> pd.DataFrame | None:
    if bands is None or headline.empty:
        return None
    band = _same_cell(bands, headline.iloc[0])
    band = band[band["estimator"] == headline.iloc[0]["estimator"]].sort_values("event_time")
    return band if len(band) else None


def _estimators(report: Report, overall: pd.DataFrame) -> str:
    t = report.t
    text = report.heading("estimators", 3) + t("estimators_intro") + "\n\n"
    outcome = main_outcome(overall)
    rows = overall[(overall["outcome"] == outcome) & (overall["horizon"] == first_horizon(overall))]
    caption = t("tbl_estimators", outcome=t.label("outcome", outcome))
    return text + _estimator_table(report, rows, "tbl-estimators", caption)


def _estimator_table(report: Report, rows: pd.DataFrame, label: str, caption: str) -> str:
    """One row per city and estimator, the headline estimator first."""
    t = report.t
    header = [t("col_city"), t("col_estimator"), t("col_estimate"), t("col_interval"), t("col_n")]
    ordered = rows.sort_values(["city", "headline"], ascending=[True, False])
    body = [
        [t.label("city", row["city"]), _estimator_name(t, row), *estimate_cells(t, row)]
        for _, row in ordered.iterrows()
    ]
    return pipe_table(header, body, caption, label, [False, False, True, True, True]) + "\n"


def _estimator_name(t, row: pd.Series) -> str:
    return t.label("estimator", row["estimator"]) + (" ★" if row["headline"] else "")


def _inference(report: Report) -> str:
    """Few-cluster inference for the main outcome at the first horizon (every outcome and
    horizon in the methods appendix)."""
    t = report.t
    text = "\n" + report.heading("inference", 3) + t("inference_caveat") + "\n\n"
    frame = report.city_rows(report.exports.table("inference"))
    if frame is None:
        return text + report.not_run("inference.csv")
    frame = frame[frame["outcome"] == main_outcome(frame)]
    frame = frame[frame["horizon"] == first_horizon(frame)]
    return text + inference_table(report, frame, "tbl-inference")


def inference_table(report: Report, frame: pd.DataFrame, label: str) -> str:
    t = report.t
    columns = [
        label_column(t, "city"),
        label_column(t, "outcome"),
        label_column(t, "method"),
        Column("col_p", lambda r: p_value(t, r["p_value"]), True),
        Column("col_interval", lambda r: interval(t, r["ci_low"], r["ci_high"]), True),
        Column("col_clusters", lambda r: t.count(r["n_clusters"]), True),
        Column("col_p_floor", lambda r: p_value(t, r["p_floor"]), True),
    ]
    if frame["horizon"].nunique() > 1:
        columns.insert(2, Column("col_horizon", lambda r: t.count(r["horizon"]), True))
    if frame["treatment"].nunique() > 1:  # reform and instrument bundles mix: name each
        columns.insert(0, label_column(t, "treatment"))
    return frame_table(t, frame, columns, t("tbl_inference"), label)


def instruments(report: Report) -> str:
    t = report.t
    text = report.heading("instruments") + t("instruments_intro") + "\n\n"
    rows = report.estimates("instrument_did", "att_overall")
    if rows.empty:
        return text + report.not_run("estimates.csv (instrument_did)")
    text += _estimate_table(
        report,
        _headline(rows),
        "tbl-instruments",
        t("tbl_instruments"),
        first=("treatment", "city"),
    )
    return text + _city_bundles(report, rows[rows["city"].isin(G4)])


def _city_bundles(report: Report, overall: pd.DataFrame) -> str:
    """Each G4 city's own instrument bundle: its estimators side by side and its event study."""
    if overall.empty:
        return ""
    t = report.t
    text = "\n" + t("bundles_intro") + "\n\n"
    events = report.estimates("instrument_did", "att_event")
    outcome = main_outcome(overall)
    horizon = first_horizon(overall)
    for (city, treatment), rows in overall.groupby(["city", "treatment"], sort=True):
        names = {"city": t.label("city", city), "treatment": t.label("treatment", treatment)}
        label = f"{city}-{treatment}".replace("_", "-").replace("+", "-")
        rows = rows[(rows["outcome"] == outcome) & (rows["horizon"] == horizon)]
        caption = t("tbl_bundle_estimators", outcome=t.label("outcome", outcome), **names)
        text += _estimator_table(report, rows, f"tbl-bundle-{label}", caption)
        path = events[
            (events["city"] == city)
            & (events["treatment"] == treatment)
            & (events["outcome"] == outcome)
            & (events["horizon"] == horizon)
        ]
        if not path.empty:
            bands = report.exports.table("uniform_bands")
            fig = _event_figure(report, path, bands, axis="axis_adoption_time")
            caption = t("fig_bundle", outcome=t.label("outcome", outcome), **names)
            text += report.figure(fig, f"fig-bundle-{label}", caption, t("alt_bundle"))
            text += _bundle_robustness(report, path.iloc[0])
    return text


def _bundle_robustness(report: Report, row: pd.Series) -> str:
    """The bundle's pre-trend tests and HonestDiD breakdown value, in a sentence."""
    t = report.t
    tests = _same_cell(report.exports.table("pretrends"), row)
    if tests is None or tests.empty:
        return report.not_run("pretrends.csv (instrument_did)")
    p = dict(zip(tests["test"], tests["p_value"], strict=True))
    text = t(
        "bundle_pretrends", wald=p_value(t, p.get("wald")), slope=p_value(t, p.get("linear_slope"))
    )
    honest = _same_cell(report.exports.table("honestdid"), row)
    if honest is not None and "relative_magnitude" in set(honest["method"]):
        first = honest[honest["method"] == "relative_magnitude"].iloc[0]
        verdict = t("bundle_fragile" if is_true(first["fragile"]) else "bundle_not_fragile")
        breakdown = t.number(first["breakdown"], 2)
        text += " " + (
            t("bundle_breakdown", breakdown=breakdown, verdict=verdict)
            if first["breakdown"] > 0
            else t("bundle_not_significant")
        )
    return text + "\n\n"


def _same_cell(frame: pd.DataFrame | None, row: pd.Series) -> pd.DataFrame | None:
    """The rows of a side table that belong to the estimate ``row`` (same SIDE_KEY)."""
    if frame is None:
        return None
    mask = pd.Series(True, index=frame.index)
    for column in SIDE_KEY:
        mask &= frame[column].astype(str) == str(row[column])
    return frame[mask]


def matching(report: Report) -> str:
    t = report.t
    text = report.heading("matching") + t("matching_intro") + "\n\n"
    rows = pd.concat([report.estimates("route_matching"), report.estimates("city_matching")])
    rows = matching_pairs(report, rows) if len(rows) else rows  # a city: its own contrasts
    rows = rows if rows is not None else pd.DataFrame()
    if rows.empty:
        return text + report.not_run("estimates.csv (route_matching, city_matching)")
    text += _estimate_table(
        report, _headline(rows), "tbl-matching", t("tbl_matching"), first=("design", "treatment")
    )
    return text + _love_plots(report) + _overlap(report) + t("sensitivity_in_appendix") + "\n\n"


LOVE_ROWS = 20  # a Love plot shows the worst-balanced covariates; the rest are in the appendix
LOVE_ROWS_PANEL = 12  # per panel when several contrasts share one figure


def matching_pairs(report: Report, frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Balance or overlap rows of the report's scope: a city report keeps its own city's
    comparisons only."""
    if frame is None or not report.city:
        return frame
    rows = frame[frame["treatment"].astype(str).str.contains(report.city, regex=False)]
    return rows if len(rows) else None


def headline_cells(report: Report, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a matching side table (balance, sensitivity) for what the report shows: the
    headline estimator of each design and contrast, the main outcome, the first horizon and
    all persons (the export keeps every estimator, outcome, horizon and subgroup)."""
    if "outcome" in frame.columns and frame["outcome"].notna().any():
        frame = frame[frame["outcome"] == main_outcome(frame)]
        frame = frame[frame["horizon"] == first_horizon(frame)]
    if "subgroup" in frame.columns:
        frame = frame[frame["subgroup"].isin(["all", ""])]
    if "estimator" not in frame.columns:
        return frame
    estimates = report.exports.table("estimates")
    if estimates is None:
        return frame
    headline = estimates[estimates["headline"]][["design", "treatment", "estimator"]]
    chosen = frame.merge(headline.drop_duplicates(), on=["design", "treatment", "estimator"])
    return chosen if len(chosen) else frame


def worst_balanced(rows: pd.DataFrame, limit: int = LOVE_ROWS) -> pd.DataFrame:
    """Covariates ordered worst first (largest absolute SMD after, then before matching)."""
    order = rows.assign(
        _after=rows["smd_after"].abs().fillna(float("inf")), _before=rows["smd_before"].abs()
    )
    order = order.sort_values(["_after", "_before"], ascending=False, kind="stable")
    return order.drop(columns=["_after", "_before"]).head(limit)


def _love_plots(report: Report) -> str:
    """One figure, a Love plot panel per matched contrast (two columns), each with its
    worst-balanced covariates (the full table is in the methods appendix)."""
    t = report.t
    balance = matching_pairs(report, report.exports.table("balance"))
    if balance is None:
        return report.not_run("balance.csv")
    balance = headline_cells(report, balance)
    groups = list(balance.groupby(["design", "treatment"], sort=True))
    rows_shown = LOVE_ROWS if len(groups) == 1 else LOVE_ROWS_PANEL
    ncols = 1 if len(groups) == 1 else 2
    nrows = -(-len(groups) // ncols)
    fig, axes = style.figure(nrows * (0.15 * rows_shown + 0.9), ncols=ncols, nrows=nrows)
    for ax, ((design, treatment), rows) in zip(axes.flat, groups, strict=False):
        _love_panel(ax, t, worst_balanced(rows, rows_shown))
        ax.set_title(f"{t.label('treatment', treatment)} ({t.label('design', design)})")
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    label = "fig-love" if not report.city else f"fig-love-{report.city}".replace("_", "-")
    caption = t("fig_love", shown=rows_shown, total=balance["covariate"].nunique())
    return (
        t("balance_intro", rows=rows_shown)
        + "\n\n"
        + report.figure(fig, label, caption, t("alt_love"))
    )


def _love_panel(ax, t, shown: pd.DataFrame) -> None:
    positions = list(range(len(shown)))
    ax.scatter(
        shown["smd_before"].abs(),
        positions,
        marker="o",
        facecolors="white",
        edgecolors=style.OKABE_ITO["vermillion"],
        label=t("legend_before"),
    )
    ax.scatter(
        shown["smd_after"].abs(),
        positions,
        marker="s",
        color=style.OKABE_ITO["blue"],
        label=t("legend_after"),
    )
    ax.set_yticks(positions, [covariate_label(t, c) for c in shown["covariate"]], fontsize=7)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.axvline(0.1, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlim(left=0)
    ax.set_xlabel(t("axis_smd"))


def covariate_label(t, name: str) -> str:
    """A readable covariate name: its label, or "variable: value" for a dummy such as
    cohort_2024Q4 or origin_syria (never the raw column name)."""
    labels = t.entries["labels"].get("covariate", {})
    if name in labels:
        return str(labels[name])
    variables = t.entries["labels"].get("variable", {})
    for variable in sorted(variables, key=len, reverse=True):
        if name.startswith(variable + "_"):
            value = name[len(variable) + 1 :]
            return f"{variables[variable]}: {t.label(variable, value).replace('_', ' ')}"
    return name.replace("_", " ")


def _overlap(report: Report) -> str:
    """Propensity-score overlap, one small panel per matched contrast in one figure."""
    t = report.t
    overlap = matching_pairs(report, report.exports.table("overlap"))
    if overlap is None:
        return report.not_run("overlap.csv")
    groups = list(overlap.groupby(["design", "treatment"], sort=True))
    ncols = 1 if len(groups) == 1 else 2
    nrows = -(-len(groups) // ncols)
    fig, axes = style.figure(1.7 * nrows + 0.5, ncols=ncols, nrows=nrows)
    for ax, ((design, treatment), rows) in zip(axes.flat, groups, strict=False):
        for arm, sign, colour in (("treated", 1, "blue"), ("control", -1, "orange")):
            arm_rows = rows[rows["arm"] == arm]
            ax.bar(
                arm_rows["bin_low"],
                sign * arm_rows["n"],
                width=arm_rows["bin_high"] - arm_rows["bin_low"],
                align="edge",
                color=style.OKABE_ITO[colour],
                label=t.label("arm", arm),
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.yaxis.set_major_formatter(lambda y, _: f"{abs(y):.0f}")
        ax.set_title(f"{t.label('treatment', treatment)} ({t.label('design', design)})")
        ax.set_xlabel(t("axis_pscore"))
        ax.set_ylabel(t("axis_persons"))
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    label = "fig-overlap" if not report.city else f"fig-overlap-{report.city}".replace("_", "-")
    return report.figure(fig, label, t("fig_overlap"), t("alt_overlap"))


def sensitivity(report: Report) -> str:
    t = report.t
    frame = report.exports.table("sensitivity")
    if frame is None:
        return report.not_run("sensitivity.csv")
    columns = [
        label_column(t, "treatment"),
        label_column(t, "outcome"),
        Column("col_horizon", lambda r: t.count(r["horizon"]), True),
        label_column(t, "measure"),
        Column("col_value", lambda r: t.number(r["value"], 2), True),
    ]
    frame = headline_cells(report, frame)
    frame = frame.sort_values(["design", "treatment", "outcome", "horizon", "measure"])
    columns.insert(0, label_column(t, "design"))
    table = frame_table(t, frame, columns, t("tbl_sensitivity"), "tbl-sensitivity")
    return t("sensitivity_intro") + "\n\n" + table


def heterogeneity(report: Report) -> str:
    t = report.t
    text = report.heading("heterogeneity") + t("heterogeneity_intro") + "\n\n"
    rows = report.estimates("heterogeneity")
    rows = rows[rows["headline"]] if len(rows) else rows
    if rows.empty:
        return text + report.not_run("estimates.csv (heterogeneity)")
    outcome = main_outcome(rows)
    rows = rows[(rows["outcome"] == outcome) & (rows["horizon"] == first_horizon(rows))]
    rows = rows.sort_values(["subgroup", "city"])
    fig, axes = style.figure(0.22 * len(rows) + 1.2)
    ax = axes[0, 0]
    labels = [
        f"{_subgroup(t, s)} · {t.label('city', c)}"
        for s, c in zip(rows["subgroup"], rows["city"], strict=True)
    ]
    for position, (_, row) in enumerate(rows.iterrows()):
        ax.errorbar(
            row["estimate"] * PP,
            position,
            xerr=[
                [(row["estimate"] - row["ci_low"]) * PP],
                [(row["ci_high"] - row["estimate"]) * PP],
            ],
            capsize=2,
            **style.city_style(row["city"]),
        )
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(t("axis_effect_pp"))
    caption = t(
        "fig_heterogeneity",
        outcome=t.label("outcome", outcome),
        horizon=int(rows["horizon"].iloc[0]) if rows["horizon"].notna().any() else "–",
        treatment=" / ".join(t.label("treatment", v) for v in dict.fromkeys(rows["treatment"])),
    )
    return text + report.figure(fig, "fig-heterogeneity", caption, t("alt_heterogeneity"))


def _subgroup(t, subgroup: str) -> str:
    variable, _, value = subgroup.partition(":")
    return f"{t.label('variable', variable)}: {t.label(variable, value)}"


def robustness(report: Report) -> str:
    t = report.t
    text = report.heading("robustness") + t("robustness_intro") + "\n\n"
    return text + _pretrends(report) + _honestdid(report) + _refutations(report)


def _pretrends(report: Report) -> str:
    frame = report.city_rows(report.exports.table("pretrends"))
    if frame is None:
        return report.not_run("pretrends.csv")
    # The body: reform contrasts, main outcome, first horizon; every test in the appendix.
    frame = _primary(frame[frame["design"] == "reform_did"])
    if frame.empty:
        return report.not_run("pretrends.csv (reform_did)")
    frame = frame[frame["outcome"] == main_outcome(frame)]
    frame = frame[frame["horizon"] == first_horizon(frame)]
    return pretrend_table(report, frame, "tbl-pretrends")


def pretrend_table(report: Report, frame: pd.DataFrame, label: str) -> str:
    t = report.t
    columns = [
        label_column(t, "treatment"),
        label_column(t, "city"),
        label_column(t, "outcome"),
        Column("col_horizon", lambda r: t.count(r["horizon"]), True),
        label_column(t, "test"),
        Column("col_statistic", lambda r: t.number(r["statistic"], 2), True),
        Column("col_df", lambda r: t.count(r["df"]), True),
        Column("col_p", lambda r: p_value(t, r["p_value"]), True),
    ]
    return frame_table(t, frame, columns, t("tbl_pretrends"), label)


HONEST_LIMIT_PP = 100.0  # outcomes are shares: no effect difference exceeds 100 pp


def _honestdid(report: Report) -> str:
    t = report.t
    frame = report.city_rows(report.exports.table("honestdid"))
    if frame is None:
        return report.not_run("honestdid.csv")
    frame = _primary(frame[frame["design"] == "reform_did"])
    if frame.empty:
        return report.not_run("honestdid.csv (reform_did)")
    outcome, horizon = main_outcome(frame), first_horizon(frame)
    frame = frame[(frame["outcome"] == outcome) & (frame["horizon"] == horizon)]
    methods = list(dict.fromkeys(frame["method"]))
    fig, axes = style.figure(3.2, ncols=len(methods), sharey=True)
    handles: dict[str, object] = {}
    for ax, method in zip(axes[0], methods, strict=True):
        cities = frame[frame["method"] == method].groupby("city", sort=False)
        for offset, (city, rows) in enumerate(cities):
            handles[t.label("city", city)] = _honest_city(
                ax, t, city, rows.sort_values("m"), offset
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(t.label("method", method))
        ax.set_xlabel(t("axis_m_" + method) if method in HONEST_AXES else t("axis_m"))
    # One legend for both panels, below them: inside the panels it covered the intervals at
    # print size. Breakdown values are written beside their dotted line in the city's colour.
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncols=len(handles),
        frameon=False,
        fontsize=8,
    )
    bound = frame[["ci_low", "ci_high"]].abs().max().max() * PP
    bound = min(bound * 1.1 if pd.notna(bound) and bound > 0 else 10.0, HONEST_LIMIT_PP)
    axes[0, 0].set_ylim(-bound, bound)
    axes[0, 0].set_ylabel(t("axis_effect_pp"))
    comparison = t.label("comparison", frame["comparison"].iloc[0])
    caption = t(
        "fig_honestdid",
        outcome=t.label("outcome", outcome),
        horizon=int(horizon),
        comparison=comparison,
    )
    figure = report.figure(fig, "fig-honestdid", caption, t("alt_honestdid"))
    return t("honestdid_intro") + "\n\n" + figure


HONEST_AXES = ("relative_magnitude", "smoothness")


def breakdown_value(rows: pd.DataFrame) -> float | None:
    """The smallest allowed violation whose robust interval includes zero (None when the
    parallel-trends interval already does, or no interval does)."""
    rows = rows.sort_values("m")
    if rows.empty or (rows["ci_low"].iloc[0] <= 0 <= rows["ci_high"].iloc[0]):
        return None
    covers = rows[(rows["ci_low"] <= 0) & (rows["ci_high"] >= 0)]
    return float(covers["m"].iloc[0]) if len(covers) else None


def _honest_city(ax, t, city: str, rows: pd.DataFrame, offset: int):
    """One city's robust intervals over M; its breakdown value marked and written at the top
    of the panel. Returns the artist for the shared legend."""
    colour = style.city_style(city)["color"]
    x = rows["m"] + 0.02 * offset * (rows["m"].max() or 1)
    breakdown = breakdown_value(rows)
    if breakdown is not None:
        ax.axvline(breakdown, color=colour, linestyle=":", linewidth=1)
        ax.annotate(
            t.number(breakdown, 2),
            xy=(breakdown, 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -9 - 9 * offset),
            textcoords="offset points",
            fontsize=7,
            color=colour,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    return ax.errorbar(
        x,
        (rows["ci_low"] + rows["ci_high"]) / 2 * PP,
        yerr=(rows["ci_high"] - rows["ci_low"]) / 2 * PP,
        fmt="none",
        capsize=3,
        color=colour,
    )


def _refutations(report: Report) -> str:
    t = report.t
    frame = report.city_rows(report.exports.table("refutations"))
    if frame is None:
        return report.not_run("refutations.csv")
    columns = [
        label_column(t, "check"),
        label_column(t, "city"),
        label_column(t, "outcome"),
        Column("col_estimate", lambda r: t.number(r["estimate"] * PP, 1, sign=True), True),
        Column("col_interval", lambda r: interval(t, r["ci_low"], r["ci_high"]), True),
        Column("col_p", lambda r: p_value(t, r["p_value"]), True),
        Column("col_passed", lambda r: t("answer_yes" if is_true(r["passed"]) else "answer_no")),
    ]
    return frame_table(t, frame, columns, t("tbl_refutations"), "tbl-refutations")
