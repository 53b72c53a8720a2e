"""Potential outcomes: monthly state probabilities, treatment shifts and the monthly states.

Each person has one latent uniform per month since the obligation start, U_m = Φ(Z_m) with
Z an AR(1) process (so states persist and form spells). The monthly state partitions [0, 1]:
employed if U < pE, in education if pE <= U < pE + pD, social assistance if U >= 1 - pS,
otherwise none. Every treatment shifts pE and pD additively (pS falls by `assistance_offset_weight`
times the participation shift), so with common U across worlds

    Y_h(d) = 1[U_h < pE_h(d)]  (employed),  E[Y_h(d1) - Y_h(d0) | X] = pE_h(d1) - pE_h(d0).

A *world* fixes everything municipal and legal: law regime, settlement municipality, which
instruments are on, and the route; `probabilities` evaluates any world at any months.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtr

from inburgering.synth.municipalities import Municipalities
from inburgering.synth.params import SynthParameters

AR_RHO = 0.97  # month-to-month correlation of the latent state (long spells)
MAX_EMPLOYMENT = 0.9
ORIGIN_EMPLOYMENT = {
    "ERI": -0.25,
    "SOM": -0.3,
    "AFG": -0.1,
    "IRN": 0.1,
    "TUR": 0.1,
    "SUR": 0.2,
    "IND": 0.2,
}
COVID = (np.datetime64("2020-03"), np.datetime64("2021-06"))
TIGHT_MARKET = (np.datetime64("2022-01"), np.datetime64("2023-12"))


@dataclass(frozen=True)
class World:
    """Per-person treatment state: which law, which municipality, instruments off, route."""

    new_law: np.ndarray
    muni: np.ndarray
    route: np.ndarray
    instruments_off: tuple[str, ...] = ()
    post_reform_instruments: bool = True


def origin_effects(origin: pd.Series) -> np.ndarray:
    """Employment log-multiplier of the origin country (assumption; CBS Asiel en integratie)."""
    return origin.map(ORIGIN_EMPLOYMENT).fillna(0.0).to_numpy(dtype=float)


def observed_world(persons: pd.DataFrame) -> World:
    return World(
        new_law=persons["new_law"].to_numpy(),
        muni=persons["muni"].to_numpy(),
        route=persons["route_code"].to_numpy(),
    )


def old_law_world(persons: pd.DataFrame) -> World:
    """Y(wi2013): no reform effect, no routes, no instruments adopted from the reform on."""
    n = len(persons)
    return replace(
        observed_world(persons),
        new_law=np.zeros(n, dtype=bool),
        route=np.zeros(n, dtype=np.int64),
        post_reform_instruments=False,
    )


def ramp(months: np.ndarray | int) -> np.ndarray:
    """Time-since-start profile of municipal effects: full effect from 12 months on."""
    return np.clip(np.asarray(months, dtype=float) / 12.0, 0.0, 1.0)


def _base_employment(
    persons: pd.DataFrame, months: np.ndarray, params: SynthParameters
) -> np.ndarray:
    statushouder = (persons["group"].to_numpy() == "statushouder")[:, None]
    m = np.asarray(months, dtype=float)
    refugee = params.employment_ceiling / (
        1 + np.exp(-(m - params.employment_midpoint) / params.employment_scale)
    )
    family = params.family_employment_start + (
        params.family_employment_ceiling - params.family_employment_start
    ) * (1 - np.exp(-m / 24.0))
    profile = np.where(statushouder, refugee, family)
    female = persons["female"].to_numpy()
    origin = persons["origin_effect"].to_numpy()
    log_mult = (
        0.07 * (persons["schooling_years"].to_numpy() - 9)
        - 0.03 * np.maximum(persons["age"].to_numpy() - 35, 0)
        - np.where(statushouder[:, 0], 0.5, 0.25) * female
        - 0.3 * ~persons["literate"].to_numpy()
        - 0.2 * female * (persons["children"].to_numpy() > 0)
        + 0.1 * persons["digital"].to_numpy()
        + origin
        + 0.4 * params.hidden_confounder * persons["hidden"].to_numpy()
    )
    return profile * np.exp(log_mult)[:, None]


def _calendar_factor(
    persons: pd.DataFrame, months: np.ndarray, params: SynthParameters
) -> np.ndarray:
    calendar = persons["obligation_start"].to_numpy().astype("datetime64[M]")[:, None] + np.asarray(
        months
    )
    covid = (calendar >= COVID[0]) & (calendar <= COVID[1])
    tight = (calendar >= TIGHT_MARKET[0]) & (calendar <= TIGHT_MARKET[1])
    return np.where(covid, params.covid_factor, np.where(tight, params.tight_market_factor, 1.0))


def _pretrend(
    persons: pd.DataFrame,
    munis: Municipalities,
    world: World,
    params: SynthParameters,
    reform_q: int,
) -> np.ndarray:
    """pretrend_violation profile: Rotterdam's untreated outcome drifts by cohort quarter."""
    rotterdam = munis.table["code"].to_numpy()[world.muni] == munis.g4_codes["rotterdam"]
    return params.pretrend_slope * rotterdam * (persons["cohort_q"].to_numpy() - reform_q)


def instrument_ramps(
    persons: pd.DataFrame,
    munis: Municipalities,
    world: World,
    params: SynthParameters,
    reform_q: int,
) -> dict[str, np.ndarray]:
    """Dynamic instrument exposure per person: 0 before adoption, ramping to 1 over R quarters."""
    cohort = persons["cohort_q"].to_numpy()
    out = {}
    for key, adoption in munis.adoption.items():
        adopted = adoption[world.muni]
        exposure = np.clip((cohort - adopted + 1) / params.instrument_ramp_quarters, 0.0, 1.0)
        if key in world.instruments_off:
            exposure = np.zeros_like(exposure)
        if not world.post_reform_instruments:
            exposure = np.where(adopted >= reform_q, 0.0, exposure)
        out[key] = exposure
    return out


def _route_shifts(
    persons: pd.DataFrame, route: np.ndarray, months: np.ndarray, params: SynthParameters
) -> tuple[np.ndarray, np.ndarray]:
    """Route effects relative to B1 on (pE, pD); they vary with age, schooling and sex."""
    m = np.asarray(months, dtype=float)
    s = persons["schooling_years"].to_numpy()[:, None]
    age = persons["age"].to_numpy()[:, None]
    female = persons["female"].to_numpy()[:, None]
    r = route[:, None]
    z_e = ramp(m) * (
        params.z_employment_effect
        + params.z_low_schooling_bonus * (s < 6)
        + params.z_older_bonus * (age >= 40)
        + params.z_female_bonus * female
    )
    course = np.clip((m - 3) / 3, 0, 1) * np.clip((42 - m) / 12, 0, 1)  # in class months 6-30
    fit = np.clip(1 + 0.05 * (s - 10) + 0.2 * (age < 27), 0.5, 1.5)
    o_d = params.onderwijs_education_effect * course * fit
    o_e = (
        np.where(
            m < 30,
            params.onderwijs_employment_early * ramp(m),
            params.onderwijs_employment_late * np.clip((m - 30) / 12, 0, 1),
        )
        * fit
    )
    e_d = params.entree_education_effect * course
    shift_e = np.where(r == 3, z_e, 0.0) + np.where(r == 2, o_e, 0.0)
    shift_d = (
        np.where(r == 3, -0.01 * ramp(m), 0.0)
        + np.where(r == 2, o_d, 0.0)
        + np.where(r == 4, e_d, 0.0)
    )
    return shift_e, shift_d


@dataclass(frozen=True)
class Probabilities:
    employed: np.ndarray
    education: np.ndarray
    assistance: np.ndarray


def probabilities(
    persons: pd.DataFrame,
    munis: Municipalities,
    world: World,
    months: np.ndarray,
    params: SynthParameters,
    reform_q: int,
) -> Probabilities:
    """State probabilities (persons x months) in a world; months since the obligation start."""
    months = np.atleast_2d(months)
    statushouder = (persons["group"].to_numpy() == "statushouder")[:, None]
    base_e = _base_employment(persons, months, params) * _calendar_factor(persons, months, params)
    base_e = base_e + _pretrend(persons, munis, world, params, reform_q)[:, None]
    young = (persons["age"].to_numpy() < 30) & (persons["schooling_years"].to_numpy() >= 9)
    base_d = (0.02 + 0.05 * young[:, None]) * ramp(months)
    table = munis.table
    reform = table["reform"].to_numpy()[world.muni] * world.new_law
    municipal = reform + table["settlement"].to_numpy()[world.muni]
    instrument = sum(
        params.instrument_effect[k] * v
        for k, v in instrument_ramps(persons, munis, world, params, reform_q).items()
    )
    route_e, route_d = _route_shifts(persons, world.route, months, params)
    shift_e = ramp(months) * (municipal + instrument)[:, None] + route_e
    shift_d = ramp(months) * (params.reform_education_ratio * reform)[:, None] + route_d
    employed = np.clip(base_e + shift_e, 0.0, MAX_EMPLOYMENT)
    education = np.clip(base_d + shift_d, 0.0, 1.0 - employed)
    share = np.where(
        statushouder, params.assistance_share_statushouder, params.assistance_share_gezinsmigrant
    )
    # Statushouders come onto social assistance within ~2 months of housing.
    onset = np.where(statushouder, np.clip((months + 1) / 3, 0, 1), 1.0)
    assistance = share * onset * (1 - base_e - base_d) - params.assistance_offset_weight * (
        shift_e + shift_d
    )
    assistance = np.clip(assistance, 0.0, 1.0 - employed - education)
    return Probabilities(employed, education, assistance)


def latent_uniforms(rng: np.random.Generator, n: int, months: int) -> np.ndarray:
    """U (n x months): uniform margins, AR(1) persistence over months."""
    z = np.empty((n, months))
    z[:, 0] = rng.standard_normal(n)
    innovation = np.sqrt(1 - AR_RHO**2)
    for m in range(1, months):
        z[:, m] = AR_RHO * z[:, m - 1] + innovation * rng.standard_normal(n)
    return ndtr(z)


def states(p: Probabilities, u: np.ndarray) -> np.ndarray:
    """Monthly state codes: 0 none, 1 employed, 2 in education, 3 social assistance."""
    out = np.zeros(u.shape, dtype=np.int8)
    out[u >= 1 - p.assistance] = 3
    out[(u >= p.employed) & (u < p.employed + p.education)] = 2
    out[u < p.employed] = 1
    return out


def indicators(p: Probabilities, u: np.ndarray) -> dict[str, np.ndarray]:
    """Outcome indicators in a world given the latent uniforms (same partition as `states`)."""
    employed = u < p.employed
    participation = u < p.employed + p.education
    return {
        "employed": employed.astype(float),
        "in_education": (participation & ~employed).astype(float),
        "participation": participation.astype(float),
        "social_assistance": (u >= 1 - p.assistance).astype(float),
    }


def expected(p: Probabilities) -> dict[str, np.ndarray]:
    """Outcome probabilities in a world (the expectation of `indicators` over U)."""
    return {
        "employed": p.employed,
        "in_education": p.education,
        "participation": p.employed + p.education,
        "social_assistance": p.assistance,
    }
