"""reform_did with city-by-quarter shocks: the variance component enters every interval."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import pytest

from inburgering.calendar import load_calendar
from inburgering.designs.event_study import (
    EventStudySettings,
    analysis_frame,
    fit_contrast,
    shock_model,
)
from inburgering.designs.reform_did import ReformDidSettings, outcome_tables, reform_q
from inburgering.designs.shock_variance import FACTOR_COLUMN, ProbitIndex, ShockVariance
from inburgering.did.shocks import ShockModel, event_shock_vcov, index_density
from inburgering.validation.designsim import SimSpec, simulate

SHOCK_SD = 0.03


@pytest.fixture(scope="module")
def calendar(repo_root):
    return load_calendar(repo_root / "config" / "policies.yaml")


@pytest.fixture(scope="module")
def world():
    # Enough persons outside the G4 for the component (estimated from them alone) to be sharp.
    spec = SimSpec(persons=120000, instrument_effect=0.0, seed=5, city_shock_sd=SHOCK_SD)
    return simulate(spec, horizons=(12,))


@pytest.fixture(scope="module")
def tables(world, calendar):
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12],
        cities=["rotterdam"],
        alpha=0.05,
        wild_draws=99,
        ri_pool=19,
        covariates=["female", "age", "schooling_years"],
    )
    reform = ReformDidSettings.from_schema_defaults()
    return outcome_tables(
        world["persons"], world["outcomes"], "participation", 12, settings, reform, calendar
    )


def test_the_planted_shock_size_is_recovered_from_the_pre_period(tables):
    pre = tables["pretrends"]
    assert pre["shock_sd"].nunique() == 1  # one model per outcome and horizon
    assert pre["shock_sd"].iloc[0] == pytest.approx(SHOCK_SD, rel=0.35)
    assert 0.1 <= pre["shock_rho"].iloc[0] <= 0.9


def test_honest_rows_are_wider_where_one_city_is_compared_with_one_city(tables):
    est = tables["estimates"].query("estimand == 'att_overall' and subgroup == 'all'")
    honest = est[est["estimator"] == "cs_dr"].set_index("comparison")["se"]
    persons = est[est["estimator"] == "cs_dr_persons_only"].set_index("comparison")["se"]
    assert (honest / persons > 1.05).all()
    # The variance the shocks add: two cities' shocks in a G4 pair, one city's (and 120 small
    # municipalities' averaged) against the rest of NL.
    added = honest**2 - persons**2
    assert added.drop("rest_nl").min() > 1.2 * added["rest_nl"]
    head = est[est["headline"]]
    assert (head["estimator"] == "cs_dr").all()
    assert head["inference"].str.contains("shock variance").all()


@pytest.mark.parametrize("scale", ["share", "index"])
def test_fit_adds_exactly_the_shock_covariance(world, calendar, scale):
    persons = world["persons"].assign(female=world["persons"]["female"].astype(float))
    data = analysis_frame(persons, world["outcomes"], 12, ["female"])
    sub = data[data["city"].isin(["rotterdam", "amsterdam"])]
    treated = (sub["city"] == "rotterdam").to_numpy()
    event_q = reform_q(calendar)
    index = None
    if scale == "index":
        index = ProbitIndex.fit(sub, "participation", ["female"], event_q)
    model = ShockModel(sd=0.02, rho=0.4, index=index is not None)
    plain = fit_contrast(
        sub, treated, "participation", ["female"], base_quarters=4, event_q=event_q
    )
    shocks = ShockVariance(model, index)
    shocked = fit_contrast(
        shocks.annotate(sub), treated, "participation", ["female"], base_quarters=4,
        event_q=event_q, shocks=shocks,
    )  # fmt: skip
    assert shocked.estimate == plain.estimate and shocked.se_persons == pytest.approx(plain.se)
    levels = shocked.event_time
    factor = None
    if index is not None:  # each person's density at their fitted probability
        factor = index_density(index.fitted_probability(sub))
    V = event_shock_vcov(model, levels, event_q, sub["municipality"].to_numpy(),
                         sub["q"].to_numpy(), treated, factor)  # fmt: skip
    base = (levels < 0) & (levels >= -4)
    L = np.eye(levels.size) - np.where(base, 1 / base.sum(), 0.0)[None, :]
    np.testing.assert_allclose(shocked.event_vcov - plain.event_vcov, L @ V @ L.T, atol=1e-12)
    assert shocked.wald_stat < plain.wald_stat  # the same leads, a wider covariance


def test_the_switch_turns_the_component_off(world, calendar):
    covariates = ["female", "age", "schooling_years"]
    data = analysis_frame(world["persons"], world["outcomes"], 12, covariates)
    on = EventStudySettings.from_schema_defaults(
        horizons=[12], cities=["rotterdam"], alpha=0.05, covariates=covariates
    )
    off = replace(on, shock_variance=False)
    assert shock_model(data, "participation", off, reform_q(calendar)) is None
    assert shock_model(data, "participation", on, reform_q(calendar)).model.sd > 0


def test_a_fit_reads_the_factors_its_frame_carries(world, calendar):
    """The factors are computed once per analysis frame (annotate); a fit reads the column and a
    fit on a frame that was not annotated stops instead of treating every factor as 1."""
    persons = world["persons"].assign(female=world["persons"]["female"].astype(float))
    data = analysis_frame(persons, world["outcomes"], 12, ["female"])
    data = data[data["participation"].notna()]
    event_q = reform_q(calendar)
    index = ProbitIndex.fit(data, "participation", ["female"], event_q)
    shocks = ShockVariance(ShockModel(sd=0.02, rho=0.4, index=True), index)
    annotated = shocks.annotate(data)
    subset = annotated[annotated["city"].isin(["rotterdam", "utrecht"])]
    np.testing.assert_array_equal(shocks.factor(subset), index.factor(subset))
    treated = (subset["city"] == "rotterdam").to_numpy()
    fit = partial(fit_contrast, outcome="participation", covariates=["female"], base_quarters=4,
                  event_q=event_q, shocks=shocks)  # fmt: skip
    fit(subset, treated)
    with pytest.raises(ValueError, match="annotate the analysis frame"):
        fit(subset.drop(columns=FACTOR_COLUMN), treated)
    assert ShockVariance(shocks.model).annotate(data) is data  # the share scale has no factors
