"""Parity of att_gt/aggregate with R did 2.5.1: published numbers and the csdid port.

csdid 0.4.3 is a line-by-line port of R did audited against did 2.5.1 (its CHANGELOG_v0.4.2); we
compare point estimates to 1e-6 and analytic standard errors to 1e-4 relative. Published R numbers
(did README, est_method = "reg", unconditional) are printed to 4 decimals and checked to that
precision; their standard errors are bootstrap draws, so only the analytic pre-test p-value
(0.16812) is a deterministic inference check.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from inburgering.did import aggte, att_gt

ATT_TOL = 1e-6
SE_RTOL = 1e-4

# bcallaway11/did README.md (did 2.5.x): att_gt(yname="lemp", gname="first.treat",
# idname="countyreal", tname="year", xformla=~1, data=mpdta, est_method="reg").
R_README_ATT_GT = [
    (2004, 2004, -0.0105),
    (2004, 2005, -0.0704),
    (2004, 2006, -0.1373),
    (2004, 2007, -0.1008),
    (2006, 2004, 0.0065),
    (2006, 2005, -0.0028),
    (2006, 2006, -0.0046),
    (2006, 2007, -0.0412),
    (2007, 2004, 0.0305),
    (2007, 2005, -0.0027),
    (2007, 2006, -0.0311),
    (2007, 2007, -0.0261),
]
R_README_DYNAMIC = {
    -3: 0.0305,
    -2: -0.0006,
    -1: -0.0245,
    0: -0.0199,
    1: -0.0510,
    2: -0.1373,
    3: -0.1008,
}
R_README_GROUP = {2004: -0.0797, 2006: -0.0229, 2007: -0.0261}


def _fit(mpdta, **kwargs):
    kwargs.setdefault("bootstrap", 0)
    return att_gt(mpdta, outcome="lemp", time="year", group="first.treat", **kwargs)


def test_published_r_readme_numbers(mpdta):
    res = _fit(mpdta, unit="countyreal", method="reg")
    table = res.table.set_index(["group", "time"])
    for g, t, att in R_README_ATT_GT:
        assert table.loc[(g, t), "att"] == pytest.approx(att, abs=5e-5)
    # Wald pre-test uses the analytic covariance: deterministic, published as 0.16812.
    assert res.pretrend_test().p_value == pytest.approx(0.16812, abs=5e-6)
    dyn = aggte(res, "dynamic").table.set_index("term")
    events = dyn.loc["event"].set_index("event_time")["att"]
    for e, att in R_README_DYNAMIC.items():
        assert events.loc[e] == pytest.approx(att, abs=5e-5)
    assert dyn.loc["overall", "att"] == pytest.approx(-0.0772, abs=5e-5)
    grp = aggte(res, "group").table
    by_group = grp[grp.term == "group"].set_index("group")["att"]
    for g, att in R_README_GROUP.items():
        assert by_group.loc[g] == pytest.approx(att, abs=5e-5)
    assert grp[grp.term == "overall"]["att"].item() == pytest.approx(-0.031, abs=5e-4)
    # Published bootstrap SE of the overall group effect is 0.0123; ours is analytic.
    assert grp[grp.term == "overall"]["se"].item() == pytest.approx(0.0123, rel=0.05)


def _compare(ours, ref):
    cells = ref["cells"]
    np.testing.assert_allclose(ours.table["group"], cells["group"])
    np.testing.assert_allclose(ours.table["time"], cells["time"])
    np.testing.assert_allclose(ours.att, cells["att"], atol=ATT_TOL)
    finite = np.isfinite(cells["se"].to_numpy(float))
    np.testing.assert_allclose(
        ours.table["se"].to_numpy(float)[finite], cells["se"].to_numpy(float)[finite], rtol=SE_RTOL
    )
    for kind in ("simple", "dynamic", "group", "calendar"):
        agg = aggte(ours, kind)
        exp = ref[kind]
        if kind == "group" and ref.get("source") == "moderndid":
            # moderndid 0.0.3's cross-section group aggregation departs from R's compute.aggte
            # (its group effects differ from csdid's and ours by up to 50%); the group point
            # estimates are checked against csdid in _compare_aggregates_att instead.
            continue
        assert agg.overall_att == pytest.approx(exp["overall_att"], abs=ATT_TOL), kind
        assert agg.overall_se == pytest.approx(exp["overall_se"], rel=SE_RTOL), kind
        if kind != "simple":
            np.testing.assert_allclose(agg.levels, exp["levels"])
            np.testing.assert_allclose(agg.att, exp["att"], atol=ATT_TOL, err_msg=kind)
            se = agg.table["se"].to_numpy(float)[:-1]
            np.testing.assert_allclose(se, exp["se"], rtol=SE_RTOL, err_msg=kind)


def _reference(csdid_reference, moderndid_reference, panel, method, covariates):
    # csdid 0.4.3 flips the sign of the pre-period outcome-regression terms in drdid_rc's
    # influence function (inf.treat.or = post - pre); R DRDID (and therefore R did) adds them
    # (inf.treat.or <- inf.treat.or.post + inf.treat.or.pre, pedrohcgs/DRDID R/drdid_rc.R).
    # Point estimates agree; SEs differ by ~0.1% on mpdta. We follow R, so the reference for
    # cross-section DR with covariates is moderndid, which mirrors R here.
    if not panel and method == "dr" and covariates:
        return moderndid_reference
    return csdid_reference


def _compare_aggregates_att(ours, ref):
    """Aggregated point estimates against csdid (its drdid_rc SEs differ from R, see above)."""
    for kind in ("simple", "dynamic", "group", "calendar"):
        agg = aggte(ours, kind)
        assert agg.overall_att == pytest.approx(ref[kind]["overall_att"], abs=ATT_TOL), kind
        if kind != "simple":
            np.testing.assert_allclose(agg.att, ref[kind]["att"], atol=ATT_TOL, err_msg=kind)


CASES = list(
    itertools.product([True, False], ["dr", "ipw", "reg"], ["never", "notyet"], [False, True])
)


@pytest.mark.parametrize(("panel", "method", "control", "with_x"), CASES)
def test_parity_with_reference(
    mpdta, csdid_reference, moderndid_reference, panel, method, control, with_x
):
    covariates = ["lpop"] if with_x else None
    ours = _fit(
        mpdta,
        unit="countyreal" if panel else None,
        method=method,
        control=control,
        covariates=covariates,
    )
    run = _reference(csdid_reference, moderndid_reference, panel, method, covariates)
    ref = run(mpdta, panel=panel, method=method, control=control, covariates=covariates)
    _compare(ours, ref)
    if run is moderndid_reference:
        _compare_aggregates_att(
            ours,
            csdid_reference(
                mpdta, panel=panel, method=method, control=control, covariates=covariates
            ),
        )


@pytest.mark.parametrize(
    ("panel", "options"),
    [
        (True, {"base_period": "universal"}),
        (False, {"base_period": "universal"}),
        (True, {"anticipation": 1}),
        (False, {"anticipation": 1}),
        # moderndid 0.0.3 crashes (IndexError) on cross-sections + anticipation + not-yet, so
        # this case uses a method whose reference is csdid.
        (False, {"anticipation": 1, "control": "notyet", "method": "reg"}),
        (True, {"weights": "w"}),
        (False, {"weights": "w", "method": "ipw"}),
        (True, {"base_period": "universal", "anticipation": 1, "control": "notyet"}),
    ],
)
def test_parity_options(mpdta, csdid_reference, moderndid_reference, panel, options):
    options = {"method": "dr", "control": "never", **options}
    data = mpdta
    if options.get("anticipation"):
        # With one period of anticipation the 2004 cohort has no pre-period: R drops it with a
        # warning, we refuse (see test_did_errors), so both get the data without it.
        data = mpdta[mpdta["first.treat"] != 2004]
    ours = _fit(data, unit="countyreal" if panel else None, covariates=["lpop"], **options)
    run = _reference(csdid_reference, moderndid_reference, panel, options["method"], ["lpop"])
    _compare(ours, run(data, panel=panel, covariates=["lpop"], **options))
    if run is moderndid_reference:
        _compare_aggregates_att(
            ours, csdid_reference(data, panel=panel, covariates=["lpop"], **options)
        )
