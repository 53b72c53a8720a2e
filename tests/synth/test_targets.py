"""Calibration targets of DOMAIN.md §4 are met by the default population."""

from __future__ import annotations

import numpy as np

from inburgering.synth.outcomes import Probabilities, indicators
from inburgering.synth.process import ROUTES


def test_rotterdam_2022_route_mix(population):
    p = population.persons
    mask = (
        (p["city"] == "rotterdam")
        & (p["group"] == "statushouder")
        & (p["regime"] == "wi2021")
        & (p["obligation_start"].dt.year == 2022)
        & (p["route_code"] > 0)
    )
    mix = pd_share(ROUTES[p.loc[mask, "route_code"]])
    assert mask.sum() > 80
    assert abs(mix.get("b1", 0) - 0.57) < 0.08
    assert abs(mix.get("onderwijs", 0) - 0.13) < 0.07
    assert abs(mix.get("z", 0) - 0.30) < 0.08


def pd_share(values: np.ndarray) -> dict[str, float]:
    names, counts = np.unique(values, return_counts=True)
    return dict(zip(names, counts / counts.sum(), strict=True))


def test_national_route_mix_mostly_b1(population):
    p = population.persons
    mask = (p["city"] == "rest_nl") & (p["regime"] == "wi2021") & (p["route_code"] > 0)
    assert pd_share(ROUTES[p.loc[mask, "route_code"]])["b1"] > 0.75


def test_sex_ratios(population):
    p = population.persons
    men = 1 - p.loc[p["group"] == "statushouder", "female"].mean()
    women = p.loc[p["group"] == "gezinsmigrant", "female"].mean()
    assert abs(men - 0.60) < 0.02
    assert abs(women - 0.68) < 0.02


def _observed_rate(population, horizon: int, outcome: str) -> float:
    pot = population.potential
    p = population.persons
    at = pot[(pot["horizon"] == horizon) & pot["observed"]]
    at = at[(p.loc[at["person"], "group"] == "statushouder").to_numpy()]
    probs = Probabilities(
        at["obs_E"].to_numpy(float), at["obs_D"].to_numpy(float), at["obs_S"].to_numpy(float)
    )
    return float(indicators(probs, at["u"].to_numpy())[outcome].mean())


def test_employment_by_months_since_start(population):
    # Statushouders: ~4% at 1.5 y, ~11% at 2.5 y, ~19-31% at 3 y (DOMAIN §4; effects included).
    assert 0.03 <= _observed_rate(population, 18, "employed") <= 0.08
    assert 0.10 <= _observed_rate(population, 36, "employed") <= 0.25
    assert _observed_rate(population, 12, "employed") < _observed_rate(population, 24, "employed")


def test_benefit_dependence_early(population):
    # 85-90% of statushouders on social assistance in the first 1.5 years (DOMAIN §4).
    assert 0.80 <= _observed_rate(population, 12, "social_assistance") <= 0.93
