"""The DR -> outcome regression -> unadjusted fallback names the estimator that ran."""

from __future__ import annotations

import pytest

from inburgering.did import fallback
from inburgering.did.errors import DidError


def test_first_estimable_attempt_names_the_result(monkeypatch):
    tried = []

    def fake_att_gt(frame, *, covariates, method, **options):
        tried.append((method, covariates))
        if method == "dr":
            raise DidError("rank deficient")
        return f"fit:{method}:{covariates}"

    monkeypatch.setattr(fallback, "att_gt", fake_att_gt)
    attempts = [("cs_dr", "dr", ["age"]), ("cs_reg", "reg", ["age"]), ("cs_unadj", "reg", [])]
    estimator, result = fallback.att_gt_with_fallback(None, attempts, str.upper, outcome="y")
    assert estimator == "cs_reg" and result == "FIT:REG:['AGE']"
    assert tried == [("dr", ["age"]), ("reg", ["age"])]


def test_failure_in_finish_also_falls_back_and_the_last_error_is_raised(monkeypatch):
    monkeypatch.setattr(fallback, "att_gt", lambda frame, **kw: kw["method"])

    def finish(fitted):
        raise DidError(f"no aggregation for {fitted}")

    with pytest.raises(DidError, match="no aggregation for reg"):
        fallback.att_gt_with_fallback(None, [("cs_dr", "dr", []), ("cs_reg", "reg", [])], finish)
    with pytest.raises(ValueError, match="no estimator"):
        fallback.att_gt_with_fallback(None, [], finish)
