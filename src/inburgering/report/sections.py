"""Report sections of fixed text: identification (estimands, equation, assumptions, threats),
limitations and references. The text lives in the translation table; the estimands name the
horizons and outcomes of this run's export."""

from __future__ import annotations

from inburgering.report.context import Report
from inburgering.report.tables import pipe_table

REFERENCES = (
    "Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time "
    "periods. *Journal of Econometrics* 225(2), 200–230.",
    'Conley, T. G. and Taber, C. R. (2011). Inference with "difference in differences" with a '
    "small number of policy changes. *Review of Economics and Statistics* 93(1), 113–125.",
    "Ferman, B. and Pinto, C. (2019). Inference in differences-in-differences with few treated "
    "groups and heteroskedasticity. *Review of Economics and Statistics* 101(3), 452–467.",
    "Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian "
    "Journal of Statistics* 6(2), 65–70.",
    "Rambachan, A. and Roth, J. (2023). A more credible approach to parallel trends. *Review of "
    "Economic Studies* 90(5), 2555–2591.",
    "Roth, J., Sant'Anna, P. H. C., Bilinski, A. and Poe, J. (2023). What's trending in "
    "difference-in-differences? *Journal of Econometrics* 235(2), 2218–2244.",
    "Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences "
    "estimators. *Journal of Econometrics* 219(1), 101–122.",
    "Stuart, E. A. (2010). Matching methods for causal inference: a review and a look forward. "
    "*Statistical Science* 25(1), 1–21.",
    "Wet inburgering 2021 (Stb. 2020, 312); Ministerie van SZW, Monitor inburgering.",
)


def identification(report: Report) -> str:
    t = report.t
    estimates = report.exports.table("estimates")
    horizons = "–"
    if estimates is not None:
        values = sorted({int(h) for h in estimates["horizon"].dropna()})
        horizons = ", ".join(str(h) for h in values) or "–"
    return (
        report.heading("identification")
        + t("identification_estimand", horizons=horizons)
        + "\n\n"
        + t("identification_equation")
        + "\n\n"
        + t("identification_assumptions")
        + "\n\n"
        + t("identification_threats")
        + "\n\n"
        + t("identification_designs")
        + "\n\n"
    )


def limitations(report: Report) -> str:
    return (
        report.heading("limitations")
        + report.t("limitations_text")
        + "\n\n"
        + not_estimated(report)
    )


def not_estimated(report: Report) -> str:
    """What the run did not estimate and why (not_estimated.csv): cells per design and reason,
    so that an empty design is never mistaken for one that found nothing."""
    t = report.t
    if not report.exports.path("not_estimated"):
        return report.not_run("not_estimated.csv")
    frame = report.exports.table("not_estimated")
    if frame is None:
        return t("not_estimated_none") + "\n\n"
    counts = frame.groupby(["design", "reason"], sort=True).size().reset_index(name="cells")
    rows = [
        [t.label("design", r.design), t.label("not_estimated", r.reason), t.count(r.cells)]
        for r in counts.itertuples()
    ]
    header = [t("col_design"), t("col_reason"), t("col_cells")]
    table = pipe_table(
        header, rows, t("tbl_not_estimated"), "tbl-not-estimated", [False, False, True]
    )
    return t("not_estimated_intro") + "\n\n" + table + "\n"


def references(report: Report) -> str:
    items = "".join(f"- {reference}\n" for reference in REFERENCES)
    return report.heading("references") + items + "\n"
