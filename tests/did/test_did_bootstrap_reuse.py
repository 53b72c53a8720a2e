"""att_gt's stored multiplier draws: aggregations that reuse them equal a fresh bootstrap."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inburgering.did import aggte, att_gt
from inburgering.did.bootstrap import _float32_threshold, multiplier_draws


def _fit(data, **kw):
    return att_gt(
        data,
        outcome="lemp",
        time="year",
        group="first.treat",
        unit="countyreal",
        covariates=["lpop"],
        bootstrap=299,
        seed=5,
        **kw,
    )


@pytest.mark.parametrize("cluster", [None, "state"])
@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_aggregations_from_stored_draws_equal_a_fresh_bootstrap(mpdta, kind, cluster):
    res = _fit(mpdta, cluster=cluster)
    assert res.bootstrap_draws is not None
    reused = aggte(res, kind)
    fresh = aggte(dataclasses.replace(res, bootstrap_draws=None), kind)
    np.testing.assert_allclose(reused.table["se"], fresh.table["se"], rtol=1e-12)
    assert reused.crit_val == pytest.approx(fresh.crit_val, rel=1e-12)
    np.testing.assert_allclose(reused.influence, fresh.influence, rtol=1e-12, atol=1e-12)


def test_other_seed_or_draw_count_draws_anew(mpdta):
    res = _fit(mpdta)
    same = aggte(res, "dynamic").table["se"]
    assert not np.allclose(aggte(res, "dynamic", seed=6).table["se"], same)
    assert not np.allclose(aggte(res, "dynamic", bootstrap=199).table["se"], same)
    stored = res.bootstrap_draws
    assert stored.serves(299, np.int64(5), "mammen")
    assert not stored.serves(299, np.random.SeedSequence(5), "mammen")
    assert not stored.serves(299, 5, "rademacher")


@pytest.mark.parametrize("kind", ["mammen", "rademacher"])
def test_extra_columns_get_the_same_multipliers(kind):
    rng = np.random.default_rng(0)
    inf, extra = rng.normal(size=(500, 3)), rng.normal(size=(500, 2))
    both, m = multiplier_draws(inf, draws=50, seed=1, kind=kind, extra=extra)
    alone, _ = multiplier_draws(inf, draws=50, seed=1, kind=kind)
    other, _ = multiplier_draws(extra, draws=50, seed=1, kind=kind)
    assert m == 500
    np.testing.assert_allclose(both, np.hstack([alone, other]), rtol=1e-12)


def test_multipliers_follow_the_float64_comparison_of_float32_uniforms():
    """Comparing float32 uniforms with the float32 threshold is the float64 comparison."""
    for p in (np.float64((np.sqrt(5) + 1) / (2 * np.sqrt(5))), 0.5, 0.1, 1 / 3):
        threshold = _float32_threshold(p)
        grid = np.nextafter(threshold, np.float32(0)), threshold, np.nextafter(threshold, 1)
        for u in np.array(grid, dtype=np.float32):
            assert (u < threshold) == (np.float64(u) < p)
    # The multipliers themselves: what np.where(u < p, low, high) gives for the same uniforms.
    m = 2_000
    draws, _ = multiplier_draws(np.eye(m), draws=3, seed=3)
    u = np.random.default_rng(3).random((3, m), dtype=np.float32)
    p_low = (np.sqrt(5) + 1) / (2 * np.sqrt(5))
    expected = np.where(u < p_low, (1 - np.sqrt(5)) / 2, (1 + np.sqrt(5)) / 2)
    np.testing.assert_allclose(draws * np.sqrt(m), expected, rtol=1e-12)
