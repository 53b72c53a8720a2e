"""The city-by-period shock variance component: recovery, and the covariance it implies."""

from __future__ import annotations

import numpy as np
import pytest

from inburgering.did.shocks import (
    NO_SHOCKS,
    ShockModel,
    contrast_variance,
    estimate_shock_model,
    event_shock_vcov,
)


def _world(sd: float, rho: float, seed: int, quarters: int = 24, base: float = 0.3):
    """Person rows of 120 municipalities (sizes 5..400 per quarter) with AR(1) shocks."""
    rng = np.random.default_rng(seed)
    sizes = np.round(np.geomspace(5, 400, 120)).astype(int)
    eta = np.empty((sizes.size, quarters))
    eta[:, 0] = rng.normal(0, sd, sizes.size)
    for t in range(1, quarters):
        eta[:, t] = rho * eta[:, t - 1] + rng.normal(0, sd * np.sqrt(1 - rho**2), sizes.size)
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
