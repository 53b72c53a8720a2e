"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) group-time effects.

Public API::

    res = att_gt(data, outcome=..., time=..., group=..., unit=None, covariates=None,
                 control="never", method="dr", ...)
    res.table                     # group, time, att, se, ci_low, ci_high, n
    aggte(res, "dynamic").table   # DataFrame; the AggregateResult keeps influence functions
    res.pretrend_test()
    to_tidy(aggte(res, "simple"), design=..., treatment=..., ...)
"""

from inburgering.did.aggregate import aggte
from inburgering.did.attgt import att_gt
from inburgering.did.comparison import did2s_event_study, sunab_event_study, twfe_event_study
from inburgering.did.errors import DidError
from inburgering.did.export import comparison_to_tidy, to_tidy
from inburgering.did.result import AggregateResult, AttGtResult, PretrendTest

__all__ = [
    "AggregateResult",
    "AttGtResult",
    "DidError",
    "PretrendTest",
    "aggte",
    "att_gt",
    "comparison_to_tidy",
    "did2s_event_study",
    "sunab_event_study",
    "to_tidy",
    "twfe_event_study",
]
