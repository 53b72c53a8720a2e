"""Simulated data with a known ATT: every method recovers it, balance improves, errors are clear."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matching_helpers import TRUE_ATT, simulate
from sklearn.linear_model import LinearRegression, LogisticRegression
from statsmodels.tools.numdiff import approx_fprime

from inburgering.contracts.tidy import TIDY_COLUMNS
from inburgering.matching import (
    MatchingInputError,
    _design,
    balance,
    estimate_att,
    inference,
    love_plot_data,
    propensity,
    weighting,
)

COVS = ["x1", "x2", "g"]
SPECS = {
    "nearest": {"method": "nearest"},
    "nearest_2to1_replace": {"method": "nearest", "ratio": 2, "replace": True},
    "nearest_exact": {"method": "nearest", "exact": ["quarter"], "adjust": True},
    "ipw": {"method": "ipw"},
    "aipw": {"method": "aipw"},
    "entropy": {"method": "entropy"},
}


@pytest.mark.parametrize("name", list(SPECS))
def test_each_method_recovers_the_att(name: str, sim: pd.DataFrame) -> None:
    res = estimate_att(sim, treatment="t", outcome="y", covariates=COVS, **SPECS[name])
    assert abs(res.att - TRUE_ATT) < max(4 * res.se, 0.05), res.summary()
    assert 0 < res.se < 0.2
    assert res.ci_low < res.att < res.ci_high
    before = res.balance["smd_before"].abs().max()
    after = res.balance["smd_after"].abs().max()
    assert after < 0.1 < before
    assert res.n_treated > 0 and res.n_control > 0 and 0 < res.ess <= res.n_control + 1e-9
    rows = res.to_rows(design="route_matching", treatment="z_vs_b1", outcome="y", horizon=12)
    assert list(rows.columns) == list(TIDY_COLUMNS)
    assert rows.loc[0, "estimand"] == "att" and rows.loc[0, "estimate"] == res.att


def test_sample_accounting_adds_up(sim: pd.DataFrame) -> None:
    res = estimate_att(
        sim, treatment="t", outcome="y", covariates=COVS, caliper=0.05, trim=0.05, discard="both"
    )
    sample = res.sample.set_index("step")
    n_t = int(sim["t"].sum())
    assert sample.loc["input", "treated"] == n_t
    removed = sample.loc[["common support", "trim", "unmatched"], "treated"].sum()
    assert sample.loc["zero weight", "treated_remaining"] == n_t - removed == res.n_treated
    assert sample.loc["zero weight", "control_remaining"] == res.n_control
    counts = res.overlap["status"].value_counts()
    assert counts.get("analysed", 0) == res.n_treated + res.n_control


def test_caliper_bounds_pair_distances(sim: pd.DataFrame) -> None:
    res = estimate_att(sim, treatment="t", outcome="y", covariates=COVS, caliper=0.05)
    d = res.overlap["distance"]
    gaps = d.loc[res.matches["treated_id"]].to_numpy() - d.loc[res.matches["control_id"]].to_numpy()
    assert np.abs(gaps).max() <= res.extras["caliper_width"]
    assert res.extras["caliper_width"] == pytest.approx(0.05 * d.std(ddof=1))


def test_exact_matching_keeps_strata(sim: pd.DataFrame) -> None:
    res = estimate_att(
        sim, treatment="t", outcome="y", covariates=COVS, exact=["quarter"], ratio=2, replace=True
    )
    q = sim["quarter"]
    assert (
        q.loc[res.matches["treated_id"]].to_numpy() == q.loc[res.matches["control_id"]].to_numpy()
    ).all()
    # with replacement a control may serve many treated, but never twice in one matched set
    assert not res.matches.duplicated(["treated_id", "control_id"]).any()


def test_entropy_balancing_matches_treated_means_exactly(sim: pd.DataFrame) -> None:
    res = estimate_att(sim, treatment="t", outcome="y", covariates=COVS, method="entropy")
    w, t = res.weights, sim["t"] == 1
    x = pd.get_dummies(sim[COVS], columns=["g"], dtype=float)
    treated_means = x[t].mean()
    control_means = x[~t].mul(w[~t], axis=0).sum() / w[~t].sum()
    np.testing.assert_allclose(control_means, treated_means, atol=1e-8)


def test_ipw_equals_independent_wls_and_sklearn_logit(sim: pd.DataFrame) -> None:
    res = estimate_att(sim, treatment="t", outcome="y", covariates=COVS, method="ipw")
    X = pd.get_dummies(sim[COVS], columns=["g"], drop_first=True, dtype=float).to_numpy()
    ps = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, sim["t"])
    e = ps.predict_proba(X)[:, 1]
    w = np.where(sim["t"] == 1, 1.0, e / (1 - e))
    wls = sm.WLS(sim["y"], sm.add_constant(sim["t"].astype(float)), weights=w).fit()
    assert res.att == pytest.approx(wls.params["t"], abs=1e-6)


def test_aipw_equals_independent_dr_formula(sim: pd.DataFrame) -> None:
    res = estimate_att(sim, treatment="t", outcome="y", covariates=COVS, method="aipw")
    X = pd.get_dummies(sim[COVS], columns=["g"], drop_first=True, dtype=float).to_numpy()
    t, y = sim["t"].to_numpy() == 1, sim["y"].to_numpy()
    e = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, t)
    e = e.predict_proba(X)[:, 1]
    m0 = LinearRegression().fit(X[~t], y[~t]).predict(X)
    odds = e / (1 - e)
    expected = np.mean((y - m0)[t]) - np.average((y - m0)[~t], weights=odds[~t])
    assert res.att == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", ["ipw", "aipw", "entropy"])
@pytest.mark.parametrize("cluster", [None, "quarter"])
def test_closed_form_jacobian_equals_finite_differences(
    method: str, cluster: str | None, sim: pd.DataFrame, monkeypatch
) -> None:
    """The sandwich's closed-form Jacobians (a derivative slip would change every weighting SE)
    agree with central finite differences of the same estimating equations, and so do the
    covariances built on them (to the ~1e-10 relative error of the differences)."""
    seen = []

    def both(moments, theta, clusters=None, jacobian=None):
        closed = inference.sandwich(moments, theta, clusters, jacobian)
        numeric = inference.sandwich(moments, theta, clusters)
        differences = approx_fprime(theta, lambda t: moments(t).mean(axis=0), centered=True)
        seen.append((jacobian(theta), differences, closed, numeric))
        return closed

    monkeypatch.setattr(weighting, "sandwich", both)
    estimate_att(sim, treatment="t", outcome="y", covariates=COVS, method=method, cluster=cluster)
    (jacobian, differences, closed, numeric), *_ = seen
    assert jacobian.shape == differences.shape
    scale = np.abs(differences).max()
    np.testing.assert_allclose(jacobian, differences, rtol=1e-6, atol=1e-8 * scale)
    np.testing.assert_allclose(closed, numeric, rtol=1e-6, atol=1e-12)


@pytest.mark.slow
def test_weighting_standard_errors_match_bootstrap() -> None:
    data = simulate(n=2000, seed=3)
    rng = np.random.default_rng(0)
    for method in ("ipw", "aipw", "entropy"):
        se = estimate_att(data, treatment="t", outcome="y", covariates=COVS, method=method).se
        draws = [
            estimate_att(
                data.sample(len(data), replace=True, random_state=rng).reset_index(drop=True),
                treatment="t",
                outcome="y",
                covariates=COVS,
                method=method,
            ).att
            for _ in range(200)
        ]
        assert se == pytest.approx(np.std(draws, ddof=1), rel=0.2), method


def test_love_plot_data_has_both_samples(sim: pd.DataFrame) -> None:
    res = estimate_att(sim, treatment="t", outcome="y", covariates=COVS)
    love = love_plot_data(res.balance)
    assert set(love["sample"]) == {"before", "after"}
    assert len(love) == 2 * len(res.balance)


def test_no_treated_units_is_an_error(sim: pd.DataFrame) -> None:
    with pytest.raises(MatchingInputError, match="'t' has no treated"):
        estimate_att(sim.assign(t=0), treatment="t", outcome="y", covariates=COVS)


def test_no_control_units_is_an_error(sim: pd.DataFrame) -> None:
    with pytest.raises(MatchingInputError, match="'t' has no control"):
        estimate_att(sim.assign(t=1), treatment="t", outcome="y", covariates=COVS)


def test_constant_covariate_is_named(sim: pd.DataFrame) -> None:
    with pytest.raises(MatchingInputError, match="covariate 'x3' is constant"):
        estimate_att(sim.assign(x3=1.0), treatment="t", outcome="y", covariates=[*COVS, "x3"])


def test_perfect_separation_is_named(sim: pd.DataFrame) -> None:
    data = sim.assign(sep=sim["t"] * 10 + sim["x1"].abs() * 0.01)
    with pytest.raises(MatchingInputError, match=r"perfect separation.*'sep'"):
        estimate_att(data, treatment="t", outcome="y", covariates=[*COVS, "sep"])


def test_missing_covariate_names_column_and_row(sim: pd.DataFrame) -> None:
    data = sim.copy()
    data.loc["u5", "x1"] = np.nan
    with pytest.raises(MatchingInputError, match=r"covariate 'x1' has missing values.*u5"):
        estimate_att(data, treatment="t", outcome="y", covariates=COVS)


def test_all_treated_dropped_by_caliper_is_an_error(sim: pd.DataFrame) -> None:
    # Controls only far from every treated unit on x1: nothing lies within a tiny caliper.
    data = sim.copy()
    data.loc[data["t"] == 0, "x1"] += 50 * (data.loc[data["t"] == 0, "x1"] > 0) - 50 * (
        data.loc[data["t"] == 0, "x1"] <= 0
    )
    with pytest.raises(MatchingInputError, match=r"no treated unit could be matched.*caliper"):
        estimate_att(
            data, treatment="t", outcome="y", covariates=["x1"], caliper=1e-6, distance="ps"
        )


def test_non_binary_treatment_is_an_error(sim: pd.DataFrame) -> None:
    with pytest.raises(MatchingInputError, match="treatment column 't' must be coded 0/1"):
        estimate_att(sim.assign(t=sim["t"] * 2), treatment="t", outcome="y", covariates=COVS)


def test_propensity_fit_is_shared_only_within_one_sample(sim: pd.DataFrame, monkeypatch) -> None:
    """The estimators of one sample share one logit fit; another sample (fewer persons, as at a
    longer horizon, or one person's treatment changed) gets its own fit, never those scores."""
    fits = []
    original = propensity.fit_logit

    def counting(X, treated, names):
        fits.append(len(X))
        return original(X, treated, names)

    monkeypatch.setattr(propensity, "fit_logit", counting)
    monkeypatch.setattr(propensity, "_FITS", propensity.OrderedDict())
    for method in ("nearest", "ipw", "aipw"):
        estimate_att(sim, treatment="t", outcome="y", covariates=COVS, method=method)
    assert fits == [len(sim)]
    shared = propensity.fit_propensity(*_design_arrays(sim))
    with pytest.raises(ValueError):
        shared.ps[0] = 0.5  # read-only: one estimator cannot change another's scores
    fewer = sim.iloc[: len(sim) - 1]
    flipped = sim.assign(t=np.where(np.arange(len(sim)) == 0, 1 - sim["t"], sim["t"]))
    for other in (fewer, flipped):
        result = estimate_att(other, treatment="t", outcome="y", covariates=COVS, method="ipw")
        X, treated, _ = _design_arrays(other)
        independent = sm.GLM(
            treated.astype(float), sm.add_constant(X), family=sm.families.Binomial()
        )
        np.testing.assert_allclose(
            result.overlap["ps"].to_numpy(), independent.fit(tol=1e-12).predict(), rtol=1e-8
        )
    assert fits == [len(sim), len(sim) - 1, len(sim)]


def _design_arrays(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from inburgering.matching._design import build_design

    design = build_design(data, treatment="t", outcome="y", covariates=COVS)
    return design.X, design.treated, design.x_names


def test_unadjusted_balance_is_reused_only_for_the_same_sample(
    sim: pd.DataFrame, monkeypatch
) -> None:
    """The before-adjustment half of a balance table is computed once per sample; a sample with
    one treatment changed gets its own (it would show the first sample's means otherwise)."""
    monkeypatch.setattr(balance, "_UNADJUSTED", balance.OrderedDict())
    X, treated, names = _design_arrays(sim)
    weights = np.ones(len(sim))
    first = balance.balance_table(X, names, treated, weights)
    assert len(balance._UNADJUSTED) == 1
    again = balance.balance_table(X, names, treated, weights * 2)
    assert len(balance._UNADJUSTED) == 1
    pd.testing.assert_frame_equal(first.filter(like="_before"), again.filter(like="_before"))
    flipped = treated.copy()
    flipped[: len(flipped) // 10] = ~flipped[: len(flipped) // 10]
    reused = balance.balance_table(X, names, flipped, weights)
    monkeypatch.setattr(balance, "_UNADJUSTED", balance.OrderedDict())
    fresh = balance.balance_table(X, names, flipped, weights)
    pd.testing.assert_frame_equal(reused, fresh)
    assert not np.allclose(first["mean_treated_before"], fresh["mean_treated_before"])


def test_rank_check_remembers_only_full_rank_matrices(sim: pd.DataFrame, monkeypatch) -> None:
    """A full-rank verdict is kept per matrix; a collinear matrix of the same shape still fails."""
    monkeypatch.setattr(_design, "_FULL_RANK", _design.OrderedDict())
    X, _, names = _design_arrays(sim)
    _design.check_rank(X, names)
    _design.check_rank(X, names)
    assert len(_design._FULL_RANK) == 1
    collinear = X.copy()
    collinear[:, -1] = collinear[:, 0] * 2
    for _ in range(2):
        with pytest.raises(MatchingInputError, match=names[-1]):
            _design.check_rank(collinear, names)
    assert len(_design._FULL_RANK) == 1
