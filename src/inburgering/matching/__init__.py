"""Propensity scores, matching, weighting, balance diagnostics and sensitivity analysis.

Public API::

    from inburgering.matching import estimate_att
    res = estimate_att(df, treatment="z_route", outcome="employed", covariates=[...],
                       method="nearest", ratio=1, caliper=0.2, exact=["cohort"])
    res.att, res.se, res.balance, res.sample, res.evalue, res.to_rows(design=..., ...)

Nearest-neighbour matching reproduces R MatchIt 4.5 (see ``nearest``); weighting estimators
carry M-estimation sandwich SEs (see ``inference``); balance follows MatchIt/cobalt (``balance``);
E-values and Rosenbaum bounds are in ``sensitivity``.
"""

from inburgering.matching._design import MatchingInputError
from inburgering.matching.balance import balance_table, effective_sample_size, love_plot_data
from inburgering.matching.estimate import estimate_att
from inburgering.matching.nearest import match_nearest
from inburgering.matching.propensity import fit_propensity
from inburgering.matching.result import MatchingResult
from inburgering.matching.sensitivity import (
    critical_gamma,
    evalue_continuous,
    evalue_risk_difference,
    evalue_rr,
    evalue_smd,
    rosenbaum_bounds,
)

__all__ = [
    "MatchingInputError",
    "MatchingResult",
    "balance_table",
    "critical_gamma",
    "effective_sample_size",
    "estimate_att",
    "evalue_continuous",
    "evalue_risk_difference",
    "evalue_rr",
    "evalue_smd",
    "fit_propensity",
    "love_plot_data",
    "match_nearest",
    "rosenbaum_bounds",
]
