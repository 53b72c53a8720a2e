"""Appendix sections: validation on synthetic runs, reproducibility (provenance, run times)."""

from __future__ import annotations

import pandas as pd

from inburgering.report import style
from inburgering.report.context import Report
from inburgering.report.tables import PP, pipe_table


def validation(report: Report) -> str:
    t = report.t
    text = report.heading("validation") + t("validation_intro") + "\n\n"
    frame = report.exports.table("validation")
    if frame is None:
        return text + report.not_run("validation.csv")
    summary = frame.groupby(["design", "estimator"]).agg(
        n=("estimate", "size"), bias=("bias", "mean"), covered=("covered", "mean")
    )
    header = [
        t("col_design"),
        t("col_estimator"),
        t("col_estimates"),
        t("col_mean_bias"),
        t("col_coverage"),
    ]
    body = [
        [
            t.label("design", d),
            t.label("estimator", e),
            t.count(r["n"]),
            t.number(r["bias"] * PP, 2, sign=True),
            f"{t.number(r['covered'] * PP, 0)}%",
        ]
        for (d, e), r in summary.iterrows()
    ]
    text += (
        pipe_table(
            header, body, t("tbl_validation"), "tbl-validation", [False, False, True, True, True]
        )
        + "\n"
    )
    return text + _truth_figure(report, frame) + _monte_carlo(report)


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
        return report.not_run("monte_carlo.csv") + t("monte_carlo_how") + "\n\n"
    header = [
        t("col_design"),
        t("col_estimator"),
        t("col_city"),
        t("col_outcome"),
        t("col_reps"),
        t("col_mean_bias"),
        t("col_rmse"),
        t("col_coverage"),
        t("col_ci_width"),
    ]
    body = [
        [
            t.label("design", r["design"]),
            t.label("estimator", r["estimator"]),
            t.label("city", r["city"]),
            t.label("outcome", r["outcome"]),
            t.count(r["n_reps"]),
            t.number(r["mean_bias"] * PP, 2, sign=True),
            t.number(r["rmse"] * PP, 2),
            f"{t.number(r['coverage'] * PP, 0)}%",
            t.number(r["mean_ci_width"] * PP, 2),
        ]
        for _, r in frame.iterrows()
    ]
    return (
        t("monte_carlo_intro")
        + "\n\n"
        + pipe_table(
            header, body, t("tbl_monte_carlo"), "tbl-monte-carlo", [False] * 4 + [True] * 5
        )
        + "\n"
    )


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
