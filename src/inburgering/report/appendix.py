"""Appendix sections: validation on synthetic runs, reproducibility (provenance, run times)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from inburgering.report import effects, style
from inburgering.report.context import Report
from inburgering.report.tables import (
    PP,
    Column,
    frame_table,
    interval,
    label_column,
    pipe_table,
)
from inburgering.report.translate import Translator


def validation(report: Report) -> str:
    t = report.t
    text = report.heading("validation") + t("validation_intro") + "\n\n"
    frame = report.exports.table("validation")
    if frame is None:
        return text + report.not_run("validation.csv")
    # Coverage only over rows with an interval: a row without one is not "not covered".
    with_interval = frame["ci_low"].notna() & frame["ci_high"].notna()
    summary = (
        frame.assign(covered=frame["covered"].where(with_interval))
        .groupby(["design", "estimator"], as_index=False)
        .agg(n=("estimate", "size"), bias=("bias", "mean"), covered=("covered", "mean"))
    )
    columns = [
        label_column(t, "design"),
        label_column(t, "estimator"),
        Column("col_estimates", lambda r: t.count(r["n"]), True),
        Column("col_mean_bias", lambda r: _points(t, r["bias"], sign=True), True),
        Column("col_coverage", lambda r: _percent(t, r["covered"]), True),
    ]
    text += frame_table(t, summary, columns, t("tbl_validation"), "tbl-validation")
    text += _headline_truth(report, frame)
    return text + _truth_figure(report, frame) + _monte_carlo(report)


def _headline_truth(report: Report, frame: pd.DataFrame) -> str:
    """The headline estimates beside the planted truth: each city's reform effect against the
    rest of the Netherlands, and the city matching contrasts."""
    t = report.t
    headline = frame[frame["headline"] & frame["subgroup"].isin(["all", ""])]
    reform = headline[
        (headline["design"] == "reform_did")
        & (headline["estimand"] == "att_overall")
        & (headline["comparison"] == "rest_nl")
    ]
    rows = pd.concat([reform, headline[headline["design"] == "city_matching"]])
    if rows.empty:
        return ""
    rows = rows.sort_values(["design", "city", "treatment", "outcome", "horizon"])
    columns = [
        label_column(t, "design"),
        Column("col_contrast", lambda r: _contrast(t, r)),
        label_column(t, "outcome"),
        Column("col_horizon", lambda r: t.count(r["horizon"]), True),
        Column("col_estimate", lambda r: _points(t, r["estimate"], sign=True), True),
        Column("col_truth", lambda r: _points(t, r["truth"], sign=True), True),
        Column("col_interval", lambda r: interval(t, r["ci_low"], r["ci_high"]), True),
        Column("col_covered", lambda r: _covered(t, r)),
    ]
    return frame_table(t, rows, columns, t("tbl_headline_truth"), "tbl-headline-truth")


def _contrast(t: Translator, row: pd.Series) -> str:
    if row["design"] == "reform_did":
        return f"{t.label('city', row['city'])} – {t.label('comparison', row['comparison'])}"
    return t.label("treatment", row["treatment"])


def _covered(t: Translator, row: pd.Series) -> str:
    if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
        return t("not_applicable")
    return t("answer_yes" if row["covered"] else "answer_no")


def full_tables(report: Report) -> str:
    """The complete tables the main report summarises: every reform pair, every covariate's
    balance, the sensitivity to unobserved confounding."""
    t = report.t
    text = report.heading("full_tables") + t("full_tables_intro") + "\n\n"
    inference = report.exports.table("inference")
    text += effects.reform_pairs(report)
    if inference is not None:
        text += effects.inference_table(report, inference, "tbl-inference-full")
    pretrends = report.exports.table("pretrends")
    if pretrends is not None:
        text += effects.pretrend_table(report, pretrends, "tbl-pretrends-full")
    return text + _balance_table(report) + effects.sensitivity(report)


def _balance_table(report: Report) -> str:
    t = report.t
    frame = report.exports.table("balance")
    if frame is None:
        return report.not_run("balance.csv")
    frame = effects.headline_cells(report, frame)
    frame = pd.concat(
        effects.worst_balanced(rows, len(rows))
        for _, rows in frame.groupby(["design", "treatment"], sort=True)
    )
    columns = [
        label_column(t, "design"),
        label_column(t, "treatment"),
        Column("col_covariate", lambda r: effects.covariate_label(t, r["covariate"])),
        Column("col_smd_before", lambda r: t.number(abs(r["smd_before"]), 2), True),
        Column("col_smd_after", lambda r: t.number(abs(r["smd_after"]), 2), True),
    ]
    return frame_table(t, frame, columns, t("tbl_balance_full"), "tbl-balance-full")


def _points(t: Translator, share: float, sign: bool = False) -> str:
    return t.number(share * PP, 2, sign=sign)


def _percent(t: Translator, share: float) -> str:
    return t("not_applicable") if pd.isna(share) else f"{t.number(share * PP, 0)}%"


def _truth_figure(report: Report, frame: pd.DataFrame) -> str:
    t = report.t
    fig, axes = style.figure(3.2)
    ax = axes[0, 0]
    for colour, (design, rows) in zip(style.SERIES, frame.groupby("design"), strict=False):
        ax.errorbar(
            rows["truth"] * PP,
            rows["estimate"] * PP,
            yerr=[
                (rows["estimate"] - rows["ci_low"]) * PP,
                (rows["ci_high"] - rows["estimate"]) * PP,
            ],
            fmt="o",
            capsize=2,
            color=colour,
            label=t.label("design", design),
        )
    limits = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(limits, limits, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlabel(t("axis_truth"))
    ax.set_ylabel(t("axis_estimate"))
    ax.legend(frameon=False)
    return report.figure(fig, "fig-truth", t("fig_truth"), t("alt_truth"))


def _monte_carlo(report: Report) -> str:
    t = report.t
    frame = report.exports.table("monte_carlo")
    if frame is None:
        absent = report.not_run("monte_carlo.csv") + t("monte_carlo_how") + "\n\n"
        return absent + _monte_carlo_primary(report)
    shocks = (
        [Column("col_shocks", lambda r: _scale(t, r["shock_scale"]), True)]
        if "shock_scale" in frame.columns
        else []
    )
    columns = [
        label_column(t, "design"),
        label_column(t, "estimator"),
        label_column(t, "city"),
        label_column(t, "outcome"),
        *shocks,
        Column("col_reps", lambda r: t.count(r["n_reps"]), True),
        Column("col_mean_bias", lambda r: _points(t, r["mean_bias"], sign=True), True),
        Column("col_rmse", lambda r: _points(t, r["rmse"]), True),
        Column("col_coverage", lambda r: _percent(t, r["coverage"]), True),
        Column("col_ci_width", lambda r: _points(t, r["mean_ci_width"]), True),
    ]
    table = frame_table(t, frame, columns, t("tbl_monte_carlo"), "tbl-monte-carlo")
    return t("monte_carlo_intro") + "\n\n" + table + _monte_carlo_primary(report)


def _scale(t: Translator, scale: float) -> str:
    return f"× {t.number(scale, 0)}"


def _monte_carlo_primary(report: Report) -> str:
    """The primary analysis' Monte Carlo (benchmarks/mc_primary.py) as one compact table: per
    engine and size, world and shock scale, each statistic over the family's rows as its mean
    and range (the rows themselves are in the export's monte_carlo_primary.csv)."""
    t = report.t
    frame = report.exports.table("monte_carlo_primary")
    if frame is None:
        return report.not_run("monte_carlo_primary.csv") + t("mc_primary_how") + "\n\n"
    runs = _mc_primary_runs(frame)
    table = frame_table(t, runs, _mc_primary_columns(t), t("tbl_mc_primary"), "tbl-mc-primary")
    return t("mc_primary_intro") + "\n\n" + table


def _mc_primary_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per engine x persons x world x shock scale; a withheld row leaves NaN, which the
    summaries skip (a fully withheld run shows n/a)."""
    rows = frame.assign(abs_bias=frame["bias"].abs())
    keys = ["engine", "persons", "world", "scale"]
    grouped = rows.groupby(keys, sort=True)
    runs = grouped.agg(
        seeds=("seeds", "max"),
        coverage=("coverage", "mean"),
        coverage_low=("coverage", "min"),
        coverage_high=("coverage", "max"),
        persons_only=("coverage_persons_only", "mean"),
        persons_only_low=("coverage_persons_only", "min"),
        persons_only_high=("coverage_persons_only", "max"),
        max_abs_bias=("abs_bias", "max"),
        mean_se=("mean_se", "mean"),
        sd_estimate=("sd_estimate", "mean"),
        not_assessable=("not_assessable", "mean"),
        family_false=("family_false_verdict", "max"),
    )
    runs = runs.reset_index()
    order = {"planted": 0, "equal": 1}
    runs = runs.sort_values(
        keys,
        key=lambda c: c.map(order) if c.name == "world" else c,
        kind="stable",
    )
    first = ~runs.duplicated(["engine", "persons"])
    return runs.assign(_first=first.to_numpy()).reset_index(drop=True)


def _mc_primary_columns(t: Translator) -> list[Column]:
    def run(r: pd.Series) -> str:
        if not r["_first"]:
            return ""
        return f"{t.label('engine', r['engine'])}, {t.count(r['persons'])}"

    def spread(mean: str, low: str, high: str) -> Callable[[pd.Series], str]:
        def cell(r: pd.Series) -> str:
            if pd.isna(r[mean]):
                return t("not_applicable")
            return f"{_percent(t, r[mean])} ({_percent(t, r[low])}–{_percent(t, r[high])})"

        return cell

    return [
        Column("col_mc_run", run),
        Column("col_world", lambda r: f"{t.label('world', r['world'])} {_scale(t, r['scale'])}"),
        Column("col_reps", lambda r: t.count(r["seeds"]), True),
        Column("col_coverage", spread("coverage", "coverage_low", "coverage_high"), True),
        Column(
            "col_coverage_persons",
            spread("persons_only", "persons_only_low", "persons_only_high"),
            True,
        ),
        Column("col_max_bias", lambda r: _points(t, r["max_abs_bias"]), True),
        Column(
            "col_se_sd",
            lambda r: f"{_points(t, r['mean_se'])} / {_points(t, r['sd_estimate'])}",
            True,
        ),
        Column("col_not_assessable", lambda r: _percent(t, r["not_assessable"]), True),
        Column("col_family_false", lambda r: _percent(t, r["family_false"]), True),
    ]


def reproducibility(report: Report) -> str:
    t = report.t
    text = report.heading("reproducibility") + t("reproducibility_intro") + "\n\n"
    provenance = report.exports.provenance()
    if provenance is None:
        text += report.not_run("PROVENANCE.json")
    else:
        text += _provenance(report, provenance)
    return text + _manifest(report) + _benchmarks(report)


def _provenance(report: Report, provenance: dict) -> str:
    t = report.t
    facts = (
        "run_name",
        "data_source",
        "config_hash",
        "git_commit",
        "code_hash",
        "python",
        "platform",
    )
    body = [[t.label("provenance", k), f"`{provenance[k]}`"] for k in facts if k in provenance]
    text = pipe_table([t("col_item"), t("col_value")], body, t("tbl_provenance"), "tbl-provenance")
    packages = sorted((provenance.get("packages") or {}).items())
    text += "\n" + pipe_table(
        [t("col_package"), t("col_version")],
        [[name, f"`{version}`"] for name, version in packages],
        t("tbl_packages"),
        "tbl-packages",
    )
    inputs = provenance.get("inputs") or []
    rows = [
        [f"`{item.get('file', '')}`", f"`{str(item.get('sha256', ''))[:16]}…`"] for item in inputs
    ]
    return (
        text
        + "\n"
        + pipe_table([t("col_file"), t("col_sha256")], rows, t("tbl_inputs"), "tbl-inputs")
        + "\n"
    )


def _manifest(report: Report) -> str:
    t = report.t
    manifest = report.exports.table("MANIFEST")
    if manifest is None:
        return report.not_run("MANIFEST.csv")
    rows = [[f"`{r['file']}`", f"`{str(r['sha256'])[:16]}…`"] for _, r in manifest.iterrows()]
    return (
        pipe_table([t("col_file"), t("col_sha256")], rows, t("tbl_manifest"), "tbl-manifest") + "\n"
    )


def _benchmarks(report: Report) -> str:
    t = report.t
    frame = report.exports.table("RUNTIMES")
    if frame is None:
        return report.not_run("RUNTIMES.csv")
    frame = frame.sort_values("seconds", ascending=False)
    body = [
        [f"`{r['rule']}`", t.number(r["seconds"], 1), t.number(r["max_rss_mb"], 0)]
        for _, r in frame.iterrows()
    ]
    fig, axes = style.figure(0.25 * len(frame) + 1.0)
    ax = axes[0, 0]
    ax.barh(frame["rule"][::-1], frame["seconds"][::-1], color=style.OKABE_ITO["blue"])
    ax.set_xlabel(t("axis_seconds"))
    ax.grid(axis="y", visible=False)
    return (
        report.figure(fig, "fig-runtime", t("fig_runtime"), t("alt_runtime"))
        + pipe_table(
            [t("col_rule"), t("col_seconds"), t("col_memory")],
            body,
            t("tbl_runtime"),
            "tbl-runtime",
            [False, True, True],
        )
        + "\n"
    )
