"""A small repeated-cross-section simulator with known relative reform and instrument effects.

Used by the tests in ``tests/did_designs`` and the Monte Carlo in ``benchmarks/mc_did_designs.py``.
It mimics the layout of the prepared tables (``persons`` and ``outcomes`` as written by the
prepare stage) but is independent of the synthetic CBS generator, so the designs can be checked
against closed-form truths while the generator evolves.

Model (probability scale, additive): for person i in municipality m, cohort quarter t,

    p_i = base + a_m + b_t + x_i'γ + (t - T0) * x_i'κ + reform_m 1[t >= T0] + instr_m(t)
          + slope * (t - T0) 1[m = pretrend_city, t < T0]         (pre-trend violation)
          + eta_mt                                                  (city-by-quarter shock)

``eta_mt`` is an AR(1) series per municipality (SD ``city_shock_sd``, persistence
``city_shock_rho``), the same in every potential outcome: it is not a policy effect, so the
truths do not contain it; with one treated city it does not average out.

``x_i'κ`` is a covariate-specific trend and covariate means differ by city, so parallel trends
hold conditional on covariates but not unconditionally (as in the generator's default profile).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inburgering.calendar import load_calendar
from inburgering.validation.repository import POLICIES

_CALENDAR = load_calendar(POLICIES)
G4 = dict(_CALENDAR.codes)  # city key -> municipality code, in the calendar's order
FIRST_YEAR = 2016
N_QUARTERS = 36  # 2016Q1 .. 2024Q4
# The reform's first cohort quarter (2022Q1) as a 1-based quarter index from FIRST_YEAR Q1.
REFORM_QUARTER = 4 * (_CALENDAR.reform_quarter.year - FIRST_YEAR) + _CALENDAR.reform_quarter.quarter
DATA_END_QUARTER = 40  # 2025Q4: outcomes at horizon h observed if t + h/3 <= this


@dataclass(frozen=True)
class SimSpec:
    """Knobs of the simulator (defaults: small and fast)."""

    persons: int = 20000
    other_municipalities: int = 120
    seed: int = 1
    reform_effect: dict = field(
        default_factory=lambda: {
            "rotterdam": 0.05,
            "amsterdam": 0.03,
            "den_haag": 0.02,
            "utrecht": 0.0,
        }
    )
    reform_mean: float = 0.01
    reform_sd: float = 0.01
    g4_share: dict = field(
        default_factory=lambda: {
            "rotterdam": 0.06,
            "amsterdam": 0.07,
            "den_haag": 0.05,
            "utrecht": 0.03,
        }
    )
    instrument_effect: float = 0.04
    instrument_adoption: float = 0.45
    pretrend_slope: float = 0.0
    # The city whose pre-reform quarters carry ``pretrend_slope`` (a named scenario, as the
    # generator's pretrend_violation profile; any city the simulated G4 has).
    pretrend_city: str = "rotterdam"
    covariate_trend: float = 0.004
    city_shock_sd: float = 0.0
    city_shock_rho: float = 0.5


def city_shocks(spec: SimSpec, n_municipalities: int, rng: np.random.Generator) -> np.ndarray:
    """Municipalities x quarters (1-based quarter t in column t - 1): stationary AR(1) shocks."""
    sd, rho = spec.city_shock_sd, spec.city_shock_rho
    eta = np.empty((n_municipalities, N_QUARTERS))
    eta[:, 0] = rng.normal(0.0, sd, n_municipalities)
    for t in range(1, N_QUARTERS):
        innovation = rng.normal(0.0, sd * np.sqrt(1 - rho**2), n_municipalities)
        eta[:, t] = rho * eta[:, t - 1] + innovation
    return eta


def quarter_label(t: np.ndarray) -> np.ndarray:
    """1-based quarter index -> 'YYYYQn'."""
    t = np.asarray(t) - 1
    return np.char.add(np.char.add((FIRST_YEAR + t // 4).astype(str), "Q"), (t % 4 + 1).astype(str))


def _municipalities(spec: SimSpec, rng: np.random.Generator) -> pd.DataFrame:
    codes = [f"{1000 + k:04d}" for k in range(spec.other_municipalities)]
    raw = 1.0 / np.arange(1, spec.other_municipalities + 1) ** 0.8
    rest_share = 1.0 - sum(spec.g4_share.values())
    shares = list(spec.g4_share.values()) + list(rest_share * raw / raw.sum())
    city = list(spec.g4_share) + ["rest_nl"] * spec.other_municipalities
    reform = [spec.reform_effect[c] for c in spec.g4_share]
    reform += list(rng.normal(spec.reform_mean, spec.reform_sd, spec.other_municipalities))
    # Staggered adoption of one instrument: quarters 5..36, or never (0).
    n = len(shares)
    adopt = np.where(rng.random(n) < spec.instrument_adoption, rng.integers(5, 37, n), 0)
    return pd.DataFrame(
        {
            "municipality": [G4[c] for c in spec.g4_share] + codes,
            "city": city,
            "share": shares,
            "level": rng.normal(0, 0.04, n),
            "reform": reform,
            "adopt": adopt,
        }
    )


def simulate(spec: SimSpec, horizons: tuple[int, ...] = (12, 24)) -> dict[str, pd.DataFrame]:
    """Simulate persons, outcomes and truths.

    Returns
    -------
    dict
        ``persons``, ``outcomes`` (prepare layout), ``municipalities`` (effects, adoption) and
        ``truth`` (reform relative effects per city/comparison/outcome/horizon; key columns of
        the tidy contract plus ``truth``).
    """
    rng = np.random.default_rng(spec.seed)
    mun = _municipalities(spec, rng)
    n = spec.persons
    m_idx = rng.choice(len(mun), size=n, p=mun["share"].to_numpy())
    t = rng.integers(1, N_QUARTERS + 1, size=n)
    city = mun["city"].to_numpy()[m_idx]
    g4 = city != "rest_nl"
    # Covariates whose distribution differs by city (so unconditional trends differ).
    schooling = np.clip(rng.normal(np.where(g4, 9.0, 11.0), 3.0), 0, 18).round()
    female = rng.random(n) < np.where(g4, 0.45, 0.55)
    age = rng.integers(18, 60, size=n)
    statushouder = rng.random(n) < 0.62
    x = np.column_stack([(schooling - 10) / 3, female.astype(float), (age - 35) / 10])
    gamma = np.array([0.05, -0.05, -0.03])
    kappa = spec.covariate_trend * np.array([1.0, -0.5, 0.0])
    cohort_effect = 0.006 * t + 0.02 * np.sin(t / 3.0) - 0.03 * ((t >= 17) & (t <= 22))  # COVID dip
    post = t >= REFORM_QUARTER
    reform = mun["reform"].to_numpy()[m_idx] * post
    adopt = mun["adopt"].to_numpy()[m_idx]
    instr = spec.instrument_effect * ((adopt > 0) & (t >= adopt))
    shock = (
        city_shocks(spec, len(mun), rng)[m_idx, t - 1] if spec.city_shock_sd > 0 else 0.0
    )  # no draws without shocks: earlier seeds' worlds stay as they were
    pre_violation = np.where(
        (city == spec.pretrend_city) & ~post, spec.pretrend_slope * (t - REFORM_QUARTER), 0.0
    )
    base = (
        0.35
        + mun["level"].to_numpy()[m_idx]
        + cohort_effect
        + x @ gamma
        + (t - REFORM_QUARTER) * (x @ kappa)
        + pre_violation
        + shock
        + np.where(statushouder, -0.05, 0.05)
    )
    regime = np.where(t == REFORM_QUARTER, "uncertain", np.where(post, "wi2021", "wi2013"))
    persons = pd.DataFrame(
        {
            "person_id": [f"{k:09d}" for k in range(n)],
            "group": np.where(statushouder, "statushouder", "gezinsmigrant"),
            "regime": regime,
            "wi2021": post,
            "cohort": quarter_label(t),
            "municipality": mun["municipality"].to_numpy()[m_idx],
            "city": city,
            "g4": g4,
            "female": female,
            "age": age,
            "schooling_years": schooling.astype(int),
        }
    )
    frames = []
    for h in horizons:
        observed = t + h // 3 <= DATA_END_QUARTER
        # Outcome effects: participation full, employed 0.8x, social assistance -0.6x.
        out = {"person_id": persons["person_id"], "horizon": h}
        for name, scale in (("participation", 1.0), ("employed", 0.8), ("social_assistance", -0.6)):
            level = base if name != "social_assistance" else 0.9 - 0.8 * base
            p = np.clip(level + scale * (reform + instr) + 0.002 * h, 0.01, 0.99)
            y = (rng.random(n) < p).astype(float)
            out[name] = np.where(observed, y, np.nan)
        frames.append(pd.DataFrame(out))
    outcomes = pd.concat(frames, ignore_index=True)
    truth = _reform_truth(
        persons,
        outcomes,
        mun,
        reform_scale={"participation": 1.0, "employed": 0.8, "social_assistance": -0.6},
    )
    return {"persons": persons, "outcomes": outcomes, "municipalities": mun, "truth": truth}


def _reform_truth(persons, outcomes, mun, reform_scale) -> pd.DataFrame:
    """Truth as the generator defines it: mean effect among the city's Wi2021 persons observed at
    h minus the same mean in the comparison (uncertain slice excluded)."""
    effect = persons["municipality"].map(dict(zip(mun["municipality"], mun["reform"], strict=True)))
    rows = []
    new = persons["regime"] == "wi2021"
    for h, block in outcomes.groupby("horizon"):
        for outcome, scale in reform_scale.items():
            seen = (
                block.set_index("person_id")[outcome]
                .notna()
                .reindex(persons["person_id"])
                .to_numpy()
            )
            keep = new.to_numpy() & seen
            for subgroup in ("all", "group:statushouder", "group:gezinsmigrant"):
                sub = (
                    keep
                    if subgroup == "all"
                    else keep & (persons["group"] == subgroup[6:]).to_numpy()
                )
                mean = {
                    c: scale * effect[sub & (persons["city"] == c).to_numpy()].mean()
                    for c in [*G4, "rest_nl"]
                }
                for c in G4:
                    for comp in ["rest_nl", *[o for o in G4 if o != c]]:
                        rows.append(
                            {
                                "design": "reform_did",
                                "treatment": "wi2021",
                                "city": c,
                                "comparison": comp,
                                "outcome": outcome,
                                "horizon": int(h),
                                "subgroup": subgroup,
                                "truth": mean[c] - mean[comp],
                            }
                        )
    return pd.DataFrame(rows)
