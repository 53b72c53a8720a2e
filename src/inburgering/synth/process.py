"""The integration process: regime, koppeling and housing, intake, test, PIP, route, exams.

Route assignment follows the documented rules (DOMAIN §4: test score >31/40 → B1; schooling
>8 years → B1, <6 → not; Z mostly older with little schooling; onderwijsroute young and educated)
as a multinomial choice with consultant noise and a city style. The same noise draws are reused
when a route is re-assigned under another city's rules or without the onderwijsroute, so route
counterfactuals are exact (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inburgering.synth.dates import DAY, add_months
from inburgering.synth.municipalities import Municipalities
from inburgering.synth.params import SynthParameters

ROUTES = np.array(["", "b1", "onderwijs", "z", "b1_entree"])
EXAM_COMPONENTS = ("lezen", "luisteren", "schrijven", "spreken", "knm")


@dataclass(frozen=True)
class RouteContext:
    """Per-person inputs of the route choice that depend on the municipality (counterfactuals)."""

    z_propensity: np.ndarray
    onderwijs_propensity: np.ndarray
    onderwijs_available: np.ndarray
    entree_available: np.ndarray


def route_context(persons: pd.DataFrame, munis: Municipalities, muni: np.ndarray) -> RouteContext:
    table = munis.table
    return RouteContext(
        z_propensity=table["z_propensity"].to_numpy()[muni],
        onderwijs_propensity=table["onderwijs_propensity"].to_numpy()[muni],
        onderwijs_available=persons["cohort_q"].to_numpy()
        >= munis.adoption["onderwijsroute"][muni],
        entree_available=table["b1_entree"].to_numpy()[muni],
    )


def assign_routes(persons: pd.DataFrame, ctx: RouteContext, params: SynthParameters) -> np.ndarray:
    """Initial route code index into ROUTES (0 = no route) for persons who get one."""
    s = persons["schooling_years"].to_numpy()
    age = persons["age"].to_numpy()
    score = persons["test_score"].to_numpy()
    hidden = persons["hidden"].to_numpy() * params.hidden_confounder
    family = persons["group"].to_numpy() != "statushouder"
    noise = params.consultant_noise
    u_z = (
        -3.2
        + 1.3 * (score <= 24)
        + 0.9 * (s < 6)
        + 0.08 * np.maximum(age - 45, 0)
        + 0.7 * (~persons["literate"].to_numpy())
        + ctx.z_propensity
        + noise * persons["eps_z"].to_numpy()
        - hidden
    )
    u_o = (
        -2.0
        + 1.4 * (age < 30)
        + 0.30 * (s - 10)
        + 0.06 * (score - 30)
        - 0.8 * family
        + ctx.onderwijs_propensity
        + noise * persons["eps_o"].to_numpy()
        + hidden
    )
    u_e = -1.6 + 1.0 * (age < 27) - 0.25 * np.abs(s - 8) + noise * persons["eps_e"].to_numpy()
    utilities = np.stack(
        [
            np.zeros(len(s)),
            np.where(ctx.onderwijs_available & (age < 40), u_o, -np.inf),
            u_z,
            np.where(ctx.entree_available, u_e, -np.inf),
        ]
    )
    chosen = np.argmax(utilities, axis=0) + 1
    return np.where(persons["routed"].to_numpy(), chosen, 0)


def _gamma_days(
    rng: np.random.Generator, mean: np.ndarray | float, shape: float, n: int
) -> np.ndarray:
    return np.round(rng.gamma(shape, np.asarray(mean) / shape, n)).astype(np.int64)


def _maybe(dates: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, dates, np.datetime64("NaT"))


def simulate_process(
    rng: np.random.Generator, persons: pd.DataFrame, munis: Municipalities, params: SynthParameters
) -> pd.DataFrame:
    """Add regime, process dates, test, route and exemption columns (returns a new frame)."""
    out = persons.copy()
    n = len(out)
    start = out["obligation_start"].to_numpy().astype(DAY)
    reform = np.datetime64(params.reform_date, "D")
    uncertain_end = np.datetime64(params.uncertain_until, "D")
    uncertain = (start >= reform) & (start <= uncertain_end)
    out["regime"] = np.where(uncertain, "uncertain", np.where(start >= reform, "wi2021", "wi2013"))
    # DUO's false start: in the uncertain slice the law applied is a coin flip (DOMAIN §2).
    out["new_law"] = (start >= reform) & (~uncertain | (rng.random(n) < 0.5))
    statushouder = out["group"].to_numpy() == "statushouder"
    code = munis.table["code"].to_numpy()[out["muni"].to_numpy()]
    year = start.astype("datetime64[Y]").astype(np.int64) + 1970

    # Koppeling -> housing wait by city, longer in the 2022-23 housing crisis (DOMAIN §4).
    by_code = {munis.g4_codes[c]: d for c, d in params.housing_wait_days.items()}
    wait_mean = np.array([by_code.get(c, params.housing_wait_other_days) for c in code])
    wait_mean = wait_mean * np.where((year >= 2022) & (year <= 2023), 1.4, 1.0)
    wait = _gamma_days(rng, wait_mean, 3.0, n)
    out["housing_date"] = _maybe(start, statushouder)
    out["koppeling_date"] = _maybe(start - wait, statushouder)
    out["permit_date"] = _maybe(start - wait - _gamma_days(rng, 21.0, 2.0, n), statushouder)
    azc = np.flatnonzero(munis.table["azc"].to_numpy())
    out["azc_muni"] = np.where(statushouder, rng.choice(azc, n), -1)
    out["arrival_date"] = np.where(
        statushouder,
        out["permit_date"].to_numpy() - _gamma_days(rng, 150.0, 2.0, n),
        start - _gamma_days(rng, 60.0, 2.0, n),
    )

    new_law = out["new_law"].to_numpy()
    exempt = rng.random(n) < np.where(
        new_law, params.exemption_share_wi2021, params.exemption_share_wi2013
    )
    out["exempt"] = exempt
    # Family-migrant no-shows in 2022 delay intakes (DOMAIN §4).
    no_show = ~statushouder & (year == 2022) & (rng.random(n) < 0.4)
    intake = (
        start
        + _gamma_days(rng, 35.0, 2.0, n)
        + np.where(no_show, _gamma_days(rng, 60.0, 2.0, n), 0)
    )
    out["intake_date"] = _maybe(intake, new_law)
    # Test version changes over time: pilot/binary (v1) until mid-2022, score (v2), lowered
    # cut-off from mid-2023 (v3); v1 judged far more people "B1 not feasible" (DOMAIN §4).
    version = np.where(
        intake < np.datetime64("2022-07-01"),
        1,
        np.where(intake < np.datetime64("2023-07-01"), 2, 3),
    )
    score = (
        13
        + 1.2 * out["schooling_years"].to_numpy()
        + 3.0 * out["literate"].to_numpy()
        + 2.0 * out["digital"].to_numpy()
        + rng.normal(0, 4, n)
        - 5.0 * (version == 1)
        + 2.0 * (version == 3)
    )
    tested = new_law & ~exempt
    out["test_version"] = np.where(tested, version, 0)
    out["test_score"] = np.where(tested, np.clip(np.round(score), 0, 40), np.nan)
    # PIP: legal norm 10 weeks after intake, mostly missed in 2022, improving after; Rotterdam's
    # 10-week Taalstart comes before the PIP.
    pip_year = np.clip(intake.astype("datetime64[Y]").astype(np.int64) + 1970, 2022, 2025)
    weeks = np.array([params.pip_weeks_by_year[str(y)] for y in pip_year]) + 4.0 * (code == "0599")
    pip = intake + _gamma_days(rng, weeks * 7, 4.0, n)
    out["pip_date"] = _maybe(pip, tested)
    out["routed"] = tested
    for name in ("eps_z", "eps_o", "eps_e"):
        out[name] = rng.gumbel(0.0, 1.0, n)
    route = assign_routes(out, route_context(out, munis, out["muni"].to_numpy()), params)
    out["route_code"] = route
    # Onderwijsroute starts wait for intake moments (2 per year); others for provider intakes.
    route_start = pip + _gamma_days(rng, np.where(route == 2, 120.0, 70.0), 2.0, n)
    out["route_start"] = _maybe(route_start, route > 0)
    switch = (route > 0) & (rng.random(n) < params.route_switch_share)
    out["route_switch"] = _maybe(route_start + rng.integers(60, 540, n), switch)
    out["route_after_switch"] = np.where(switch, np.where(route == 1, 3, 1), route)
    out["deadline"] = add_months(np.where(new_law, pip, start), 36)
    out["self_employed"] = rng.random(n) < 0.05
    return out


def exams(rng: np.random.Generator, persons: pd.DataFrame, data_end: np.datetime64) -> pd.DataFrame:
    """Exam rows (person x component) with level, date and result, up to the data end."""
    new_law = persons["new_law"].to_numpy()
    route = persons["route_code"].to_numpy()
    takes = np.where(new_law, np.isin(route, [1, 2, 4]), ~persons["exempt"].to_numpy())
    base = np.where(
        new_law, persons["route_start"].to_numpy(), persons["obligation_start"].to_numpy()
    )
    rows = []
    for component in EXAM_COMPONENTS:
        when = base.astype(DAY) + rng.integers(360, 900, len(persons))
        keep = takes & (when <= data_end)
        logit = -1.0 + 0.25 * (persons["schooling_years"].to_numpy() - 8) + 0.8 * new_law
        passed = rng.random(len(persons)) < 1 / (1 + np.exp(-logit))
        rows.append(
            pd.DataFrame(
                {
                    "person": np.flatnonzero(keep),
                    "component": component,
                    "level": np.where(component == "knm", "", np.where(new_law, "B1", "A2"))[keep],
                    "date": when[keep],
                    "passed": passed[keep],
                }
            )
        )
    return pd.concat(rows, ignore_index=True).sort_values(["person", "date"], kind="mergesort")
