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
    "pretrend_p",
    "breakdown_mbar",
    "mde",
    "n_treated",
    "n_control",
    "verdict",
    "reason",
)
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
