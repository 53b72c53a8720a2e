"""The verdict table (``verdict.csv``): its columns and verdicts, declared once for the primary
analysis that writes it (``inburgering.primary``) and the reports that read it."""

COLUMNS = (
    "city",
    "comparison",
    "outcome",
    "horizon",
    "direction",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "inference",
    "p_value",
    "p_adjusted",
    "ri_p",
    "pretrend_p",
    "breakdown_mbar",
    "mde",
    "control_mean",
    "n_control_post",
    "n_treated",
    "n_control",
    "clusters_treated",
    "clusters_control",
    "verdict",
    "reason",
)
# ri_p: randomization-inference p over placebo municipalities (the rest-of-NL contrast only: its
# placebo pool is the non-G4 municipalities; empty for a G4 pair). control_mean: the comparison's
# raw outcome share among its persons of the cohort years from the reform year on whose outcome
# at the horizon is measured (n_control_post of them), not covariate-adjusted. clusters_*: the
# municipalities on each side of the contrast (public facts, not persons). The export leaves out
# n_control_post (EXPORT_COLUMNS): a sum of whole cohorts' persons, it could give a withheld
# composition cell by subtraction; it stays inside RA, where it checks the control mean.
INTERNAL_COLUMNS = ("n_control_post",)
# The key column naming the municipality whose persons each count counts: the treated persons
# are the focal city's, the control persons the comparison's (the export audit matches them to
# other tables' breakdowns by city through it).
COUNT_CITY = {"n_treated": "city", "n_control": "comparison", "n_control_post": "comparison"}
EXPORT_COLUMNS = tuple(c for c in COLUMNS if c not in INTERNAL_COLUMNS)
VERDICTS = ("more_effective", "less_effective", "no_distinguishable_difference", "not_assessable")
# The reason behind each verdict, one per step of the decision rule (primary.verdict); the
# thresholds are in config (primary) and docs/methods.md, the reports label these phrases.
REASONS = {
    "no_interval": "no honest interval",
    "few_persons": "too few persons",
    "pretrend": "pre-trend test rejects",
    "significant": "adjusted p below alpha",
    "not_significant": "adjusted p not below alpha",
}
