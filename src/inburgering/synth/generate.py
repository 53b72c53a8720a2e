"""Synthetic CBS-style population with planted reform effects (walking-skeleton generator).

Persons get an obligation start (cohort quarter), a settlement municipality, covariates and a
latent time to first job under both law regimes (common random numbers), so every potential
outcome and therefore every true effect is known exactly. Files are written with the real CBS
names and columns from the catalogue; ground truth goes to ``truth/estimands.csv``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.cbs.catalogue import Catalogue
from inburgering.io import atomic_path
from inburgering.synth.writers import write_table
from inburgering.tidy import tidy_frame

log = logging.getLogger(__name__)

G4_SHARES = {"0363": 0.055, "0599": 0.05, "0518": 0.04, "0344": 0.025}
G4_KEYS = {"0363": "amsterdam", "0599": "rotterdam", "0518": "den_haag", "0344": "utrecht"}


@dataclass(frozen=True)
class SynthParameters:
    """Generator parameters; each default is a documented assumption (docs/synthetic-data.md)."""

    persons: int = 20000
    seed: int = 42
    first_cohort: str = "2016Q1"
    last_cohort: str = "2024Q4"
    data_end: str = "2025-12"
    reform_date: str = "2022-01-01"
    other_municipalities: int = 60
    share_statushouder: float = 0.58
    # Monthly job-finding hazard at baseline (~11% employed 2.5 years after start, DOMAIN §4).
    base_hazard: float = 0.006
    # Log-hazard effect of the reform by city; other municipalities draw around `reform_mean`.
    reform_effect: dict[str, float] = field(
        default_factory=lambda: {
            "rotterdam": 0.35,
            "amsterdam": 0.20,
            "den_haag": 0.10,
            "utrecht": 0.0,
        }
    )
    reform_mean: float = 0.15
    reform_sd: float = 0.05
    horizons: tuple[int, ...] = (12, 24)


def _quarters(first: str, last: str) -> pd.PeriodIndex:
    return pd.period_range(pd.Period(first, "Q"), pd.Period(last, "Q"), freq="Q")


def _municipality_codes(rng: np.random.Generator, n_other: int) -> tuple[np.ndarray, np.ndarray]:
    others = np.array(
        [f"{code:04d}" for code in rng.choice(np.arange(1, 2000), n_other, replace=False)]
    )
    others = others[~np.isin(others, list(G4_SHARES))]
    sizes = rng.pareto(1.2, len(others)) + 1
    other_share = 1 - sum(G4_SHARES.values())
    codes = np.concatenate([np.array(list(G4_SHARES)), others])
    shares = np.concatenate([np.array(list(G4_SHARES.values())), other_share * sizes / sizes.sum()])
    return codes, shares


def simulate_persons(params: SynthParameters) -> pd.DataFrame:
    """Person-level truth table: covariates, dates and potential outcomes (never exported)."""
    rng = np.random.default_rng(params.seed)
    n = params.persons
    codes, shares = _municipality_codes(rng, params.other_municipalities)
    quarters = _quarters(params.first_cohort, params.last_cohort)
    cohort = quarters[rng.integers(0, len(quarters), n)]
    start = cohort.start_time + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    municipality = rng.choice(codes, n, p=shares)
    statushouder = rng.random(n) < params.share_statushouder
    female = rng.random(n) < np.where(statushouder, 0.4, 0.68)
    age = np.clip(rng.normal(np.where(statushouder, 31, 30), 9), 18, 66).astype(int)
    schooling = np.clip(rng.normal(9, 4, n), 0, 18).round().astype(int)

    reform_draws = {c: rng.normal(params.reform_mean, params.reform_sd) for c in codes}
    reform_draws.update({code: params.reform_effect[key] for code, key in G4_KEYS.items()})
    reform_log_hazard = np.array([reform_draws[c] for c in municipality])
    city_level = {c: rng.normal(0, 0.15) for c in codes}
    log_hazard = (
        np.log(params.base_hazard)
        + 0.06 * (schooling - 9)
        - 0.03 * (age - 30)
        - 0.5 * female
        + 0.3 * statushouder
        + np.array([city_level[c] for c in municipality])
    )
    exponential_draw = rng.exponential(1.0, n)  # common random number for both regimes
    months_to_job_wi2013 = exponential_draw / np.exp(log_hazard)
    months_to_job_wi2021 = exponential_draw / np.exp(log_hazard + reform_log_hazard)
    wi2021 = start >= pd.Timestamp(params.reform_date)
    # 85-90% of statushouders depend on social assistance before their first job (DOMAIN §4).
    assisted = rng.random(n) < np.where(statushouder, 0.88, 0.3)
    return pd.DataFrame(
        {
            "person_id": [
                f"{i:09d}" for i in rng.permutation(np.arange(10_000_000, 10_000_000 + n))
            ],
            "obligation_start": start,
            "cohort": cohort.astype(str),
            "municipality": municipality,
            "statushouder": statushouder,
            "female": female,
            "birth_year": start.year - age,
            "schooling_years": schooling,
            "wi2021": wi2021,
            "months_to_job_wi2013": months_to_job_wi2013,
            "months_to_job_wi2021": months_to_job_wi2021,
            "assisted": assisted,
        }
    )


def job_start(persons: pd.DataFrame, regime: str) -> pd.Series:
    months = np.minimum(persons[f"months_to_job_{regime}"], 600)
    return (
        persons["obligation_start"] + pd.to_timedelta(months * 30.4375, unit="D")
    ).dt.normalize()


def observed_job_start(persons: pd.DataFrame) -> pd.Series:
    return job_start(persons, "wi2021").where(persons["wi2021"], job_start(persons, "wi2013"))


def benefit_spell(persons: pd.DataFrame, first_job: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Social assistance from one month after the obligation start until the day before work."""
    return persons["obligation_start"] + pd.DateOffset(months=1), first_job - pd.Timedelta(days=1)


def potential_outcomes(persons: pd.DataFrame, horizon: int, regime: str) -> dict[str, np.ndarray]:
    """Outcomes at `horizon` months under a regime, measured exactly as prepare measures them."""
    date = persons["obligation_start"] + pd.DateOffset(months=horizon)
    first_job = job_start(persons, regime)
    benefit_start, benefit_end = benefit_spell(persons, first_job)
    employed = (first_job <= date).to_numpy(dtype=float)
    assisted = (persons["assisted"] & (benefit_start <= date) & (date <= benefit_end)).to_numpy(
        dtype=float
    )
    return {"employed": employed, "participation": employed, "social_assistance": assisted}


def _observable(persons: pd.DataFrame, horizon: int, data_end: str) -> np.ndarray:
    end = pd.Period(data_end, "M").end_time.normalize()
    return (persons["obligation_start"] + pd.DateOffset(months=horizon)) <= end


def truth_table(persons: pd.DataFrame, params: SynthParameters) -> pd.DataFrame:
    """Relative reform effect per G4 city vs the rest of NL (reform_did, att_overall)."""
    rows = []
    for horizon in params.horizons:
        seen = _observable(persons, horizon, params.data_end)
        treated = persons["wi2021"] & seen
        rest = treated & ~persons["municipality"].isin(list(G4_KEYS))
        new_law = potential_outcomes(persons, horizon, "wi2021")
        old_law = potential_outcomes(persons, horizon, "wi2013")
        for outcome, y1 in new_law.items():
            effect = pd.Series(y1 - old_law[outcome], index=persons.index)
            for code, city in G4_KEYS.items():
                in_city = treated & (persons["municipality"] == code)
                rows.append(
                    {
                        "design": "reform_did",
                        "estimand": "att_overall",
                        "treatment": "wi2021",
                        "city": city,
                        "comparison": "rest_nl",
                        "outcome": outcome,
                        "horizon": horizon,
                        "subgroup": "all",
                        "truth_sample": effect[in_city].mean() - effect[rest].mean(),
                    }
                )
    truth = pd.DataFrame(rows)
    # Population value: the generator's hazard model evaluated on the realised sample covariates
    # equals the sample value here because both regimes share the random draw; kept as a column
    # so later designs can report genuinely different population values.
    truth["truth"] = truth["truth_sample"]
    keys = tidy_frame(truth.drop(columns=["truth", "truth_sample"]))
    return pd.concat([keys.loc[:, :"event_time"], truth[["truth", "truth_sample"]]], axis=1)


def _yyyymmdd(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y%m%d")


def cbs_files(persons: pd.DataFrame, params: SynthParameters) -> dict[str, pd.DataFrame]:
    """The person table rendered as CBS-style logical tables (logical column names)."""
    key = {"person_type": "R", "person_id": persons["person_id"]}
    gba = pd.DataFrame(
        {
            **key,
            "sex": np.where(persons["female"], "2", "1"),
            "birth_year": persons["birth_year"].astype(str),
            "birth_month": "01",
            "birth_country": "5009",
            "generation": "1",
        }
    )
    swi_basis = pd.DataFrame(
        {
            **key,
            "obligation_start": _yyyymmdd(persons["obligation_start"]),
            "deadline": _yyyymmdd(persons["obligation_start"] + pd.DateOffset(years=3)),
            "target_group": np.where(persons["statushouder"], "1", "2"),
            "law": np.where(persons["wi2021"], "2021", "2013"),
            "test_score": "",
            "test_version": "",
            "schooling_years": persons["schooling_years"].astype(str),
            "literacy": "1",
            "exemption": "0",
        }
    )
    swi_municipality = pd.DataFrame(
        {
            **key,
            "municipality": persons["municipality"],
            "intake_date": "",
            "pip_date": "",
            "route": "",
            "route_start": "",
            "route_switch": "",
        }
    )
    data_end = pd.Period(params.data_end, "M").end_time.normalize()
    first_job = observed_job_start(persons)
    working = first_job <= data_end
    work_spells = pd.DataFrame(
        {
            "person_type": "R",
            "person_id": persons["person_id"][working],
            "start": _yyyymmdd(first_job[working]),
            "end": "20991231",
            "category": "11",
        }
    )
    benefit_start, benefit_end = benefit_spell(persons, first_job)
    assisted = persons["assisted"] & (benefit_start <= benefit_end) & (benefit_start <= data_end)
    benefit_spells = pd.DataFrame(
        {
            "person_type": "R",
            "person_id": persons["person_id"][assisted],
            "start": _yyyymmdd(benefit_start[assisted]),
            "end": _yyyymmdd(benefit_end[assisted].clip(upper=pd.Timestamp("2099-12-31"))),
            "category": "22",
        }
    )
    secm = pd.concat([work_spells, benefit_spells], ignore_index=True)
    return {
        "gba_persons": gba,
        "swi_basis": swi_basis,
        "swi_municipality": swi_municipality,
        "socio_economic": secm,
    }


def generate(params: SynthParameters, catalogue: Catalogue, out_dir: Path, fmt: str) -> list[Path]:
    """Write the CBS-style files, the truth table and the parameters; return written paths."""
    persons = simulate_persons(params)
    data_year = int(params.data_end[:4])
    written = [
        write_table(frame, catalogue.spec(table), catalogue.root, data_year, fmt)
        for table, frame in cbs_files(persons, params).items()
    ]
    truth_dir = out_dir / "truth"
    with atomic_path(truth_dir / "estimands.csv") as tmp:
        truth_table(persons, params).to_csv(tmp, index=False, float_format="%.10g")
    with atomic_path(truth_dir / "parameters.json") as tmp:
        tmp.write_text(json.dumps(asdict(params), indent=2, sort_keys=True, default=list))
    log.info("generated %d persons into %s", len(persons), catalogue.root)
    return written
