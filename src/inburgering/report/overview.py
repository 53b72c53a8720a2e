"""Report sections: summary of findings, data and cohorts, process indicators."""

from __future__ import annotations

import pandas as pd

from inburgering.report import descriptives, style
from inburgering.report.context import G4, Report, first_horizon, main_outcome
from inburgering.report.tables import PP, estimate_cells, pipe_table

ROUTES = ("b1", "onderwijs", "z", "b1_entree")


def headline_reform(report: Report) -> pd.DataFrame:
    """Headline reform effects on the main outcome at the first horizon, one row per city."""
    rows = report.estimates("reform_did", "att_overall")
    rows = rows[rows["headline"] & rows["subgroup"].isin(["all", ""])]
    if "rest_nl" in set(rows["comparison"]):  # the summary compares with the rest of NL
        rows = rows[rows["comparison"] == "rest_nl"]
    if rows.empty:
        return rows
    rows = rows[rows["outcome"] == main_outcome(rows)]
    rows = rows[rows["horizon"] == first_horizon(rows)]
    order = {city: i for i, city in enumerate(report.cities)}
    return rows[rows["city"].isin(order)].sort_values("city", key=lambda s: s.map(order))


def _finding(report: Report, row: pd.Series) -> str:
    t = report.t
    city = t.label("city", row["city"])
    if pd.isna(row["estimate"]):
        return t("finding_suppressed", city=city)
    effect, ci, n = estimate_cells(t, row)
    verdict = "finding_zero" if row["ci_low"] <= 0 <= row["ci_high"] else "finding_clear"
    sentence = t(
        "finding",
        city=city,
        effect=effect,
        interval=ci,
        n=n,
        outcome=t.label("outcome", row["outcome"]),
        horizon=int(row["horizon"]),
    )
    return f"{sentence} {t(verdict)}"


def summary(report: Report) -> str:
    t = report.t
    text = report.heading("summary") + report.synthetic_notice() + t("summary_intro") + "\n\n"
    rows = headline_reform(report)
    if rows.empty:
        return text + report.not_run("estimates.csv (reform_did, att_overall)")
    findings = "".join(f"- {_finding(report, row)}\n" for _, row in rows.iterrows())
    return text + findings + "\n" + t("summary_caveat") + "\n"


def data_and_cohorts(report: Report) -> str:
    return (
        report.heading("data")
        + report.t("data_intro")
        + "\n\n"
        + _sample_flow(report)
        + descriptives.table_one(report)
        + _outcome_trends(report)
        + _composition(report)
        + _route_mix(report)
    )


def _sample_flow(report: Report) -> str:
    t = report.t
    flow = report.exports.table("sample_flow")
    if flow is None:
        return report.not_run("sample_flow.csv")
    if "city" in flow.columns:  # the export writes it long (step, city, persons)
        flow = _flow_wide(flow)
    city_columns = [f"persons_{c}" for c in report.cities if f"persons_{c}" in flow.columns]
    header = [t("col_step"), t("col_persons")] + [
        t.label("city", c.removeprefix("persons_")) for c in city_columns
    ]
    rows = [
        [t.label("step", r["step"]), t.count(r["persons"])] + [t.count(r[c]) for c in city_columns]
        for _, r in flow.iterrows()
    ]
    numeric = [False] + [True] * (len(header) - 1)
    return pipe_table(header, rows, t("tbl_sample_flow"), "tbl-sample-flow", numeric) + "\n"


def _flow_wide(flow: pd.DataFrame) -> pd.DataFrame:
    steps = list(dict.fromkeys(flow["step"]))
    wide = flow.pivot_table(index="step", columns="city", values="persons", aggfunc="first")
    wide = wide.reindex(steps).rename(columns=lambda c: "persons" if c == "all" else f"persons_{c}")
    return wide.reset_index()


def _composition(report: Report) -> str:
    t = report.t
    frame = report.city_rows(report.exports.table("composition"))
    if frame is None:
        return report.not_run("composition.csv")
    # min_count=1: a cell withheld by the output checks (empty n) stays missing, never 0.
    table = frame.pivot_table(
        index="cohort",
        columns="city",
        values="n",
        aggfunc=lambda v: v.sum(min_count=1),
        dropna=False,
    )
    cities = [c for c in report.cities if c in table.columns]
    fig = _composition_figure(report, table, cities)
    groups = frame.groupby(["group", "city"])["n"]
    shown, cells = groups.sum(min_count=1), groups.size()
    withheld = groups.apply(lambda v: int(v.isna().sum()))
    rows = [
        [t.label("group", g)]
        + [
            _group_total(t, shown.get((g, c)), withheld.get((g, c), 0), cells.get((g, c), 0))
            for c in cities
        ]
        for g in dict.fromkeys(frame["group"])
    ]
    header = [t("col_group")] + [t.label("city", c) for c in cities]
    caption = t("tbl_composition")
    if int(withheld.sum()):
        caption += " " + t("tbl_composition_withheld")
    return (
        report.figure(fig, "fig-composition", t("fig_composition"), t("alt_composition"))
        + pipe_table(header, rows, caption, "tbl-composition", [False] + [True] * len(cities))
        + "\n"
    )


def _outcome_trends(report: Report) -> str:
    """Raw outcome shares by cohort: the focal city against each comparison, one panel each,
    the main outcome at the first horizon; withheld cells are gaps marked on the axis."""
    t = report.t
    trends = report.exports.table("outcome_trends")
    if trends is None:
        return report.not_run("outcome_trends.csv")
    focal = report.focal_city
    published = set(trends["city"])
    comparisons = [c for c in (*G4, "rest_nl") if c in published and c != focal]
    if report.city and report.city != focal:
        comparisons = [c for c in comparisons if c == report.city]
    outcome = main_outcome(trends)
    # The horizon of the reform estimates (the first one they report), else the table's first.
    reform = report.estimates("reform_did", "att_overall")
    measured = trends[trends["outcome"] == outcome]
    horizon = first_horizon(reform) if len(reform) else None
    if horizon is None or horizon not in set(measured["horizon"]):
        horizon = first_horizon(measured)
    rows = trends[(trends["outcome"] == outcome) & (trends["horizon"] == horizon)]
    cohorts = sorted(rows["cohort"].astype(str).unique())
    ncols = 2 if len(comparisons) > 1 else 1
    nrows = -(-len(comparisons) // ncols)
    fig, axes = style.figure(2.0 * nrows + 0.6, ncols=ncols, nrows=nrows, sharey=True)
    for ax, comparison in zip(axes.flat, comparisons, strict=False):
        for city in (focal, comparison):
            _trend_line(ax, t, rows[rows["city"] == city], cohorts, city, report.reform_year)
        title = t(
            "trend_panel",
            focal=t.label("city", focal),
            comparison=t.label("comparison", comparison),
        )
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(lambda y, _: f"{y:.0%}")
        ax.legend(frameon=False, fontsize=7)
    for ax in list(axes.flat)[len(comparisons) :]:
        ax.set_visible(False)
    fig.supxlabel(t("axis_cohort_year"), fontsize=9)
    focal_name = t.label("city", focal)
    caption = t(
        "fig_trends", focal=focal_name, outcome=t.label("outcome", outcome), horizon=int(horizon)
    )
    return report.figure(fig, "fig-trends", caption, t("alt_trends", focal=focal_name))


def _trend_line(ax, t, rows: pd.DataFrame, cohorts: list[str], city: str, reform_year: str) -> None:
    shares = rows.set_index(rows["cohort"].astype(str))["share"].reindex(cohorts)
    x = list(range(len(cohorts)))
    colour = style.city_style(city)["color"]
    ax.plot(
        x,
        shares.to_numpy(),
        label=t.label("city", city),
        color=colour,
        linewidth=1.3,
        marker=style.city_style(city)["marker"],
        markersize=3,
    )
    gaps = [i for i, v in zip(x, shares, strict=True) if pd.isna(v)]
    if gaps:
        ax.plot(gaps, [0] * len(gaps), "x", color=colour, markersize=4, clip_on=False)
    reform = [i for i, c in enumerate(cohorts) if c[:4] >= reform_year]
    if reform:
        ax.axvline(reform[0] - 0.5, color="grey", linestyle="--", linewidth=0.8)
    step = max(1, len(cohorts) // 6)
    ax.set_xticks(x[::step], cohorts[::step], fontsize=7.5)


def _group_total(t, total: float | None, withheld: int, cells: int) -> str:
    """A group total; when some of its cells were withheld, the published cells' sum is a
    lower bound and says so ("≥ 58"; the caption explains)."""
    if withheld == cells or total is None or pd.isna(total):
        return t("suppressed")
    return t("at_least", value=t.count(total)) if withheld else t.count(total)


def _composition_figure(report: Report, table: pd.DataFrame, cities: list[str]):
    """Persons per cohort and city; withheld cells are gaps in the line, marked at the axis."""
    t = report.t
    fig, axes = style.figure(2.8)
    ax = axes[0, 0]
    x = list(range(len(table.index)))
    marked = False
    for city in cities:
        values = table[city]
        ax.plot(x, values, label=t.label("city", city), linewidth=1.5, **style.city_style(city))
        gaps = [i for i, v in zip(x, values, strict=True) if pd.isna(v)]
        if gaps:
            ax.plot(
                gaps,
                [0] * len(gaps),
                linestyle="none",
                marker="x",
                markersize=5,
                color=style.city_style(city)["color"],
                clip_on=False,
                label=None if marked else t("legend_suppressed"),
            )
            marked = True
    ax.set_ylim(bottom=0)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], [str(c) for c in table.index][::step], rotation=45)
    ax.set_xlabel(t("axis_cohort"))
    ax.set_ylabel(t("axis_persons"))
    ax.legend(frameon=False, ncols=3, fontsize=7.5)
    return fig


def _route_mix(report: Report) -> str:
    t = report.t
    mix = report.city_rows(report.exports.table("route_mix"))
    text = t("route_mix_intro") + "\n\n"
    if mix is None:
        return text + report.not_run("route_mix.csv")
    pooled = mix[mix["cohort"].astype(str) == "all"]
    bars = {t.label("reference", k): v for k, v in report.route_mix_reference.items()}
    for city in [c for c in report.cities if c in set(pooled["city"])]:
        shares = pooled[pooled["city"] == city].set_index("route")["share"]
        bars[t("observed_in", city=t.label("city", city))] = shares.to_dict()
    fig = _route_mix_figure(report, bars)
    header = [""] + [t.label("route", r) for r in ROUTES]
    rows = [[name] + [_share(t, shares.get(r)) for r in ROUTES] for name, shares in bars.items()]
    return (
        text
        + report.figure(fig, "fig-route-mix", t("fig_route_mix"), t("alt_route_mix"))
        + pipe_table(header, rows, t("tbl_route_mix"), "tbl-route-mix", [False] + [True] * 4)
        + "\n"
    )


def _share(t, value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{t.number(value * PP, 0)}%"


def _route_mix_figure(report: Report, bars: dict[str, dict[str, float]]):
    t = report.t
    fig, axes = style.figure(0.45 * len(bars) + 1.0)
    ax = axes[0, 0]
    names = list(bars)[::-1]
    left = [0.0] * len(names)
    for route, colour in zip(ROUTES, style.SERIES, strict=False):
        widths = [bars[n].get(route, 0.0) or 0.0 for n in names]
        ax.barh(
            names,
            widths,
            left=left,
            color=colour,
            label=t.label("route", route),
            edgecolor="white",
            hatch=["", "//", "..", "xx"][ROUTES.index(route)],
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlim(0, 1)
    ax.set_xlabel(t("axis_share_routes"))
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.grid(axis="y", visible=False)
    fig.legend(frameon=False, ncols=4, loc="outside lower center")
    return fig


def process(report: Report) -> str:
    t = report.t
    text = report.heading("process") + t("process_intro") + "\n\n"
    rows = report.estimates("process")
    text += _process_table(report, rows) if len(rows) else report.not_run("estimates.csv (process)")
    text += _pip_figure(report, rows)
    return text + _survival(report)


def _process_table(report: Report, rows: pd.DataFrame) -> str:
    t = report.t
    pooled = rows[rows["subgroup"].isin(["all", ""])]
    cities = [c for c in report.cities if c in set(pooled["city"])]
    header = [t("col_indicator")] + [t.label("city", c) for c in cities]
    table = []
    for indicator, group in pooled.groupby("estimand", sort=True):
        by_city = group.set_index("city")
        table.append(
            [t.label("indicator", indicator)]
            + [_share_n(t, by_city.loc[c]) if c in by_city.index else "–" for c in cities]
        )
    return (
        pipe_table(header, table, t("tbl_process"), "tbl-process", [False] + [True] * len(cities))
        + "\n"
    )


def _share_n(t, row: pd.Series) -> str:
    # Process rows count persons with the event (n_treated) and without it (n_control).
    denominator = row["n_treated"] + row["n_control"]
    return f"{_share(t, row['estimate'])} (n = {t.count(denominator)})"


def _pip_figure(report: Report, rows: pd.DataFrame) -> str:
    t = report.t
    pip = rows[(rows["estimand"] == "pip_within_10w") & rows["subgroup"].str.startswith("cohort:")]
    if pip.empty:
        return ""
    fig, axes = style.figure(2.8)
    ax = axes[0, 0]
    for city, group in pip.groupby("city"):
        group = group.assign(cohort=group["subgroup"].str.removeprefix("cohort:")).sort_values(
            "cohort"
        )
        ax.errorbar(
            group["cohort"],
            group["estimate"],
            yerr=[group["estimate"] - group["ci_low"], group["ci_high"] - group["estimate"]],
            label=t.label("city", city),
            capsize=2,
            linewidth=1.2,
            **style.city_style(city),
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda y, _: f"{y:.0%}")
    ax.set_xlabel(t("axis_cohort"))
    ax.set_ylabel(t("axis_pip_share"))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(frameon=False, ncols=4)
    return report.figure(fig, "fig-pip", t("fig_pip"), t("alt_pip"))


def _survival(report: Report) -> str:
    t = report.t
    curves = report.exports.table("route_start_survival")
    if curves is None:
        return report.not_run("route_start_survival.csv")
    curves = curves[curves["cohort"].astype(str) == "all"]
    fig, axes = style.figure(3.0)
    ax = axes[0, 0]
    for city, group in curves.groupby("city"):
        group = group.sort_values("weeks")
        colour = style.city_style(city)["color"]
        width = 2.2 if city == report.city else 1.4  # a city report highlights its city
        ax.step(
            group["weeks"],
            group["survival"],
            where="post",
            color=colour,
            linewidth=width,
            label=t.label("city", city),
        )
        ax.fill_between(
            group["weeks"],
            group["ci_low"],
            group["ci_high"],
            step="post",
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda y, _: f"{y:.0%}")
    ax.set_xlabel(t("axis_weeks"))
    ax.set_ylabel(t("axis_not_started"))
    ax.legend(frameon=False)
    return report.figure(fig, "fig-route-start", t("fig_route_start"), t("alt_route_start"))
