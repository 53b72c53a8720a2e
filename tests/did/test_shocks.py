"""The city-by-period shock variance component: recovery, and the covariance it implies."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from inburgering.did.shocks import (
    NO_SHOCKS,
    ShockModel,
    contrast_variance,
    estimate_shock_model,
    event_shock_vcov,
    index_density,
)


def _ar1(rng: np.random.Generator, units: int, quarters: int, sd: float, rho: float) -> np.ndarray:
    """Units x quarters of a stationary AR(1) with SD ``sd`` and persistence ``rho``."""
    eta = np.empty((units, quarters))
    eta[:, 0] = rng.normal(0, sd, units)
    for t in range(1, quarters):
        eta[:, t] = rho * eta[:, t - 1] + rng.normal(0, sd * np.sqrt(1 - rho**2), units)
    return eta


def _world(sd: float, rho: float, seed: int, quarters: int = 24, base: float = 0.3):
    """Person rows of 120 municipalities (sizes 5..400 per quarter) with AR(1) shocks."""
    rng = np.random.default_rng(seed)
    sizes = np.round(np.geomspace(5, 400, 120)).astype(int)
    eta = _ar1(rng, sizes.size, quarters, sd, rho)
    level = rng.uniform(-0.05, 0.05, sizes.size)[:, None]
    p = np.clip(base + level + 0.002 * np.arange(quarters) + eta, 0.01, 0.99)
    cell_m, cell_q = np.meshgrid(np.arange(sizes.size), np.arange(quarters), indexing="ij")
    per_cell = np.repeat(sizes, quarters)
    mun, q = np.repeat(cell_m.ravel(), per_cell), np.repeat(cell_q.ravel(), per_cell)
    y = (rng.random(per_cell.sum()) < np.repeat(p.ravel(), per_cell)).astype(float)
    return y, mun, q


@pytest.mark.parametrize(("sd", "rho"), [(0.03, 0.5), (0.02, 0.3), (0.04, 0.7)])
def test_shock_model_recovers_the_planted_size_and_persistence(sd, rho):
    fits = [estimate_shock_model(*_world(sd, rho, seed)) for seed in range(4)]
    assert np.mean([f.sd for f in fits]) == pytest.approx(sd, rel=0.15)
    assert np.mean([f.rho for f in fits]) == pytest.approx(rho, abs=0.15)


def test_no_shocks_gives_a_component_near_zero():
    fit = estimate_shock_model(*_world(0.0, 0.0, seed=1))
    # Binomial noise alone: the subtracted sampling variances leave (almost) nothing.
    assert fit.sd < 0.008


def test_event_covariance_matches_simulated_shocks():
    """Coefficient e = gap(q_e) - gap(ref): simulate shocks, compare the empirical covariance."""
    model = ShockModel(sd=0.03, rho=0.6)
    event_time = np.arange(-4, 3)
    event_q = 100
    quarters = event_q + event_time
    # Treated: one municipality; comparison: two municipalities, 1:3 persons in every quarter.
    municipality = np.repeat(np.array(["t", "a", "b", "b", "b"]), quarters.size)
    q = np.tile(quarters, 5)
    treated = municipality == "t"
    V = event_shock_vcov(model, event_time, event_q, municipality, q, treated)
    rng = np.random.default_rng(0)
    cov = model.covariance(quarters)
    draws = rng.multivariate_normal(np.zeros(quarters.size), cov, size=(40000, 3))
    gap = draws[:, 0] - (0.25 * draws[:, 1] + 0.75 * draws[:, 2])
    ref = quarters.size - 4  # event time -1
    coef = gap - gap[:, [ref]]
    np.testing.assert_allclose(V, np.cov(coef.T), atol=4e-5)
    assert V[ref, ref] == 0.0


def test_contrast_variance_adds_shocks_to_sampling_noise():
    quarters = np.arange(8)
    contrast = np.r_[np.full(4, -0.25), np.full(4, 0.25)]
    n = np.full(8, 250.0)
    sampling = contrast_variance(NO_SHOCKS, quarters, contrast, n, n, outcome_var=0.21)
    assert sampling == pytest.approx(0.21 * 2 / 250 * 8 * 0.25**2, rel=1e-12)
    shocked = contrast_variance(ShockModel(0.03, 0.5), quarters, contrast, n, n, 0.21)
    assert shocked > sampling
    # A rest-of-NL pool of 300 municipalities averages its own shocks away.
    pool = contrast_variance(ShockModel(0.03, 0.5), quarters, contrast, n, n * 300, 0.21, 300)
    single = contrast_variance(ShockModel(0.03, 0.5), quarters, contrast, n, n * 300, 0.21, 1)
    assert pool < single


def test_no_cell_large_enough_gives_no_shocks():
    y, mun, q = _world(0.03, 0.5, seed=2)
    fit = estimate_shock_model(y, mun, q, min_cell=10_000)
    assert (fit.sd, fit.n_pairs, fit.n_municipalities) == (0.0, 0, 0)


def _index_world(sd: float, rho: float, seed: int, quarters: int = 24):
    """As _world, but the shocks move a probit index (share points at a 50 % share) and half
    of every municipality's persons are near a share of 0.5, half near 0.03 (a group with
    almost no benefit to lose): their shares move by 1 and 0.16 of the shock."""
    rng = np.random.default_rng(seed)
    sizes = np.round(np.geomspace(5, 400, 120)).astype(int)
    eta = _ar1(rng, sizes.size, quarters, sd, rho)
    cell_m, cell_q = np.meshgrid(np.arange(sizes.size), np.arange(quarters), indexing="ij")
    per_cell = np.repeat(sizes, quarters)
    mun, q = np.repeat(cell_m.ravel(), per_cell), np.repeat(cell_q.ravel(), per_cell)
    base = np.where(rng.random(mun.size) < 0.5, 0.5, 0.03)
    latent = norm.ppf(base) + eta[mun, q] / norm.pdf(0.0)
    y = (rng.random(mun.size) < norm.cdf(latent)).astype(float)
    return y, mun, q, index_density(base)


def test_index_model_recovers_the_latent_size_where_the_share_model_sees_its_average():
    fits = {"index": [], "share": []}
    for seed in range(4):
        y, mun, q, factor = _index_world(0.04, 0.5, seed)
        fits["index"].append(estimate_shock_model(y, mun, q, factor=factor).sd)
        fits["share"].append(estimate_shock_model(y, mun, q).sd)
    assert np.mean(fits["index"]) == pytest.approx(0.04, rel=0.15)
    # Persons near 0.03 barely move: on the share scale the cells move by ~(1 + 0.16) / 2.
    assert np.mean(fits["share"]) == pytest.approx(0.04 * 0.58, rel=0.15)


def test_index_covariance_weights_each_person_by_their_factor():
    """A treated city whose persons all sit at 0.5 against one whose persons sit at 0.03: the
    gap moves by the first city's shock in full and a sixth of the second's."""
    model = ShockModel(sd=0.03, rho=0.6, index=True)
    event_time = np.arange(-4, 3)
    quarters = 100 + event_time
    municipality = np.repeat(np.array(["t", "c"]), quarters.size)
    q = np.tile(quarters, 2)
    treated = municipality == "t"
    factor = np.where(treated, 1.0, index_density(np.array([0.03]))[0])
    V = event_shock_vcov(model, event_time, 100, municipality, q, treated, factor)
    share = event_shock_vcov(ShockModel(0.03, 0.6), event_time, 100, municipality, q, treated)
    ratio = (1.0 + factor[~treated][0] ** 2) / 2.0
    np.testing.assert_allclose(V, share * ratio, atol=1e-14)
    with pytest.raises(ValueError, match="factors"):
        event_shock_vcov(model, event_time, 100, municipality, q, treated)


def test_index_density_is_one_at_half_and_symmetric():
    d = index_density(np.array([0.5, 0.05, 0.95, 0.0]))
    assert d[0] == 1.0 and d[1] == pytest.approx(d[2]) and d[1] == pytest.approx(0.2585, abs=1e-4)
    assert 0 < d[3] < 1e-4  # a share at 0 moves (almost) not at all
