"""Group-time ATTs that fall back to simpler estimators where small cells cannot support them.

With repeated cross-sections the doubly robust estimator also regresses within the treated
cohort's cells, and a cohort of one small municipality (or a small city in a small run) cannot
support that; outcome regression only fits on the (large) comparison cells, and the unadjusted
estimator needs no regression at all. The designs try these in order and the estimator that
actually ran names the estimate row, so a reader always sees which one it was.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pandas as pd

from inburgering.did.attgt import att_gt
from inburgering.did.errors import DidError
from inburgering.did.result import AttGtResult

log = logging.getLogger(__name__)

Fitted = TypeVar("Fitted")


def att_gt_with_fallback(
    frame: pd.DataFrame,
    attempts: Sequence[tuple[str, str, list[str]]],
    finish: Callable[[AttGtResult], Fitted],
    **options: Any,
) -> tuple[str, Fitted]:
    """Fit ``att_gt`` with each ``(estimator, method, covariates)`` in turn until one succeeds.

    ``finish`` (e.g. the aggregations) runs inside the attempt, so its failure also falls back.
    Returns the estimator name and ``finish``'s result; re-raises the last :class:`DidError`.
    """
    if not attempts:
        raise ValueError("att_gt_with_fallback: no estimator to attempt")
    error: DidError | None = None
    for estimator, method, covariates in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = att_gt(frame, covariates=covariates or None, method=method, **options)
                return estimator, finish(fitted)
        except DidError as exc:
            log.info("%s failed (%s); falling back", estimator, exc)
            error = exc
    raise error
