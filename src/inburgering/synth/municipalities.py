"""Municipalities: codes, inflow shares, planted municipal effects and instrument adoption.

The G4 keep their real codes and calibrated shares; the other municipalities get random distinct
4-digit codes and a log-normal size distribution (Dutch municipalities range from ~1k to ~250k
inhabitants; the housing quota is proportional to population).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inburgering.calendar import PolicyCalendar
from inburgering.synth.dates import quarter_from_label
from inburgering.synth.params import SynthParameters

NEVER = 10_000  # adoption quarter index of municipalities that never adopt
# Quarters in which other municipalities adopt: before the reform (rare, municipalities had a
# tiny role under Wi2013) or from the reform on (Wi2021 made them responsible).
EARLY_ADOPTION = ("2017Q1", "2021Q4")
LATE_ADOPTION = ("2022Q1", "2025Q4")


@dataclass(frozen=True)
class Municipalities:
    table: pd.DataFrame  # one row per municipality, index 0..M-1
    adoption: dict[str, np.ndarray]  # instrument -> adoption quarter index per municipality

    def index_of(self, code: str) -> int:
        return int(np.flatnonzero(self.table["code"].to_numpy() == code)[0])

    @property
    def g4_codes(self) -> dict[str, str]:
        """City key -> municipality code of the G4 cities (the calendar's, in its order)."""
        g4 = self.table[self.table["city"] != "rest_nl"]
        return dict(zip(g4["city"], g4["code"], strict=True))


def _other_codes(rng: np.random.Generator, n: int, g4_codes: Iterable[str]) -> np.ndarray:
    pool = np.setdiff1d(np.arange(1, 2000), [int(c) for c in g4_codes])
    return np.sort(rng.choice(pool, n, replace=False))


def _adoption_quarter(policy_adoption: dict, city: str) -> int:
    start = policy_adoption.get(city, {}).get("start")
    if start is None:
        return NEVER
    stamp = pd.Timestamp(start)
    return (stamp.year - 2000) * 4 + (stamp.month - 1) // 3


def _draw_adoption(rng: np.random.Generator, params: SynthParameters, n: int) -> np.ndarray:
    early = [quarter_from_label(q) for q in EARLY_ADOPTION]
    late = [quarter_from_label(q) for q in LATE_ADOPTION]
    adopts = rng.random(n) < params.instrument_adoption_probability
    is_early = rng.random(n) < params.instrument_early_share
    quarter = np.where(
        is_early,
        rng.integers(early[0], early[1] + 1, n),
        rng.integers(late[0], late[1] + 1, n),
    )
    return np.where(adopts, quarter, NEVER)


def _per_city(params: SynthParameters, name: str, cities: list[str]) -> list[Any]:
    """The G4 cities' values of the per-city parameter `name`, in the calendar's order: keyed
    by city, so another order or a fifth city can never receive a neighbour's value."""
    values = getattr(params, name)
    missing = [c for c in cities if c not in values]
    if missing:
        raise ValueError(
            f"synth parameter {name} has no value for the policy calendar's cities {missing} "
            f"(it has {sorted(values)}; config/policies.yaml lists {cities})"
        )
    return [values[c] for c in cities]


def build_municipalities(
    rng: np.random.Generator, params: SynthParameters, calendar: PolicyCalendar
) -> Municipalities:
    n_other = params.other_municipalities
    cities = list(calendar.cities)

    def g4(name: str) -> list[Any]:
        return _per_city(params, name, cities)

    size = rng.lognormal(np.log(25_000), 0.9, n_other)
    other_sh = (1 - sum(params.g4_share_statushouder.values())) * size / size.sum()
    other_gm = (1 - sum(params.g4_share_gezinsmigrant.values())) * size / size.sum()
    table = pd.DataFrame(
        {
            "code": [calendar.codes[c] for c in cities]
            + [f"{c:04d}" for c in _other_codes(rng, n_other, calendar.codes.values())],
            "city": cities + ["rest_nl"] * n_other,
            "share_statushouder": g4("g4_share_statushouder") + list(other_sh),
            "share_gezinsmigrant": g4("g4_share_gezinsmigrant") + list(other_gm),
            "reform": g4("reform_effect")
            + list(rng.normal(params.reform_mean, params.reform_sd, n_other)),
            "settlement": g4("settlement_effect")
            + list(rng.normal(0.0, params.settlement_sd, n_other)),
            "z_propensity": g4("z_city_propensity") + list(rng.normal(0.0, 0.3, n_other)),
            "onderwijs_propensity": g4("onderwijs_city_propensity")
            + list(rng.normal(0.0, 0.3, n_other)),
            "b1_entree": g4("g4_b1_entree")
            + list(rng.random(n_other) < params.b1_entree_other_share),
            "azc": g4("g4_azc") + list(rng.random(n_other) < params.azc_other_share),
        }
    )
    adoption = {}
    for key, spec in calendar.instruments.items():
        g4_quarters = [_adoption_quarter(spec.get("adoption", {}), c) for c in cities]
        adoption[key] = np.concatenate(
            [np.array(g4_quarters), _draw_adoption(rng, params, n_other)]
        )
    return Municipalities(table=table, adoption=adoption)
