"""Municipalities: codes, inflow shares, planted municipal effects and instrument adoption.

The G4 keep their real codes and calibrated shares; the other municipalities get random distinct
4-digit codes and a log-normal size distribution (Dutch municipalities range from ~1k to ~250k
inhabitants; the housing quota is proportional to population).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


def build_municipalities(
    rng: np.random.Generator, params: SynthParameters, calendar: PolicyCalendar
) -> Municipalities:
    n_other = params.other_municipalities
    cities = list(calendar.cities)
    size = rng.lognormal(np.log(25_000), 0.9, n_other)
    other_sh = (1 - sum(params.g4_share_statushouder.values())) * size / size.sum()
    other_gm = (1 - sum(params.g4_share_gezinsmigrant.values())) * size / size.sum()
    table = pd.DataFrame(
        {
            "code": [calendar.codes[c] for c in cities]
            + [f"{c:04d}" for c in _other_codes(rng, n_other, calendar.codes.values())],
            "city": cities + ["rest_nl"] * n_other,
            "share_statushouder": [params.g4_share_statushouder[c] for c in cities]
            + list(other_sh),
            "share_gezinsmigrant": [params.g4_share_gezinsmigrant[c] for c in cities]
            + list(other_gm),
            "reform": [params.reform_effect[c] for c in cities]
            + list(rng.normal(params.reform_mean, params.reform_sd, n_other)),
            "settlement": [params.settlement_effect[c] for c in cities]
            + list(rng.normal(0.0, params.settlement_sd, n_other)),
            "z_propensity": [params.z_city_propensity[c] for c in cities]
            + list(rng.normal(0.0, 0.3, n_other)),
            "onderwijs_propensity": [params.onderwijs_city_propensity[c] for c in cities]
            + list(rng.normal(0.0, 0.3, n_other)),
            # B1-Entree is a fourth route in Amsterdam and Den Haag (DOMAIN §2); some others too.
            "b1_entree": [False, True, True, False, *list(rng.random(n_other) < 0.2)],
            # Asylum centre in the region (DOMAIN §3): where statushouders wait before housing.
            "azc": [False, True, False, True, *list(rng.random(n_other) < 0.15)],
        }
    )
    adoption = {}
    for key, spec in calendar.instruments.items():
        g4 = [_adoption_quarter(spec.get("adoption", {}), c) for c in cities]
        adoption[key] = np.concatenate([np.array(g4), _draw_adoption(rng, params, n_other)])
    return Municipalities(table=table, adoption=adoption)
