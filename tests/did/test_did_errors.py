"""Impossible requests stop with a clear DidError instead of NaN estimates."""

from __future__ import annotations

import pytest

from inburgering.did import DidError, att_gt


def _fit(data, **kw):
    kw.setdefault("bootstrap", 0)
    return att_gt(data, outcome="lemp", time="year", group="first.treat", unit="countyreal", **kw)


def test_no_never_treated_with_never_control(mpdta):
    data = mpdta[mpdta["first.treat"] > 0]
    with pytest.raises(DidError, match="no never-treated units"):
        _fit(data)
    # not-yet-treated works: the last cohort (2007) becomes the comparison, as in R did.
    res = _fit(data, control="notyet")
    assert set(res.table["group"]) == {2004, 2006}
    assert res.table["time"].max() == 2006


def test_group_without_pre_period(mpdta):
    data = mpdta.copy()
    data.loc[data["first.treat"] == 2004, "first.treat"] = 2003
    with pytest.raises(DidError, match=r"groups \[2003.0\] have no pre-treatment period"):
        _fit(data)
    with pytest.raises(DidError, match="no pre-treatment period"):
        _fit(mpdta, anticipation=1)


def test_cluster_problems(mpdta):
    with pytest.raises(DidError, match="single cluster"):
        _fit(mpdta.assign(one=1), cluster="one")
    with pytest.raises(DidError, match="singleton"):
        _fit(mpdta, cluster="countyreal")
    varying = mpdta.assign(c=mpdta["year"] % 2)
    with pytest.raises(DidError, match="varies over time"):
        _fit(varying, cluster="c")


def test_collinear_and_constant_covariates(mpdta):
    with pytest.raises(DidError, match="collinear"):
        _fit(mpdta.assign(lpop2=2 * mpdta["lpop"] + 1), covariates=["lpop", "lpop2"])
    with pytest.raises(DidError, match="constant"):
        _fit(mpdta.assign(k=1.0), covariates=["k"])


def test_bad_arguments(mpdta):
    with pytest.raises(DidError, match="control must be"):
        _fit(mpdta, control="nevertreated")
    with pytest.raises(DidError, match="not in data"):
        _fit(mpdta, covariates=["nope"])
    with pytest.raises(DidError, match="several rows"):
        _fit(mpdta.iloc[[*list(range(len(mpdta))), 0]])
    with pytest.raises(DidError, match="varies over time"):
        _fit(mpdta.assign(w2=mpdta["year"]), weights="w2")


def test_empty_cross_section_cell(mpdta):
    data = mpdta[~((mpdta["first.treat"] == 2006) & (mpdta["year"] == 2004))]
    with pytest.raises(DidError, match=r"ATT\(g=2006, t=2004\): no treated observations"):
        att_gt(data, outcome="lemp", time="year", group="first.treat", bootstrap=0)


def test_unbalanced_panel_is_balanced_with_warning(mpdta):
    data = mpdta.iloc[1:]
    with pytest.warns(UserWarning, match="dropped 1 units"):
        res = _fit(data)
    assert res.n == 499
