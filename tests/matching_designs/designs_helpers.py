"""Simulated prepared tables (persons, outcomes) with known route and city effects.

Independent of the synthetic generator: route choice is a multinomial logit with threshold
rules (DOMAIN §4), outcomes are probabilities shifted additively by route and city, and one
latent uniform per person gives every potential outcome (common random numbers), so the truth
of each estimand is the mean of probability differences over the persons it names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from inburgering.config import load_config

CODES = {"0599": "rotterdam", "0363": "amsterdam", "0518": "den_haag", "0344": "utrecht"}
CITY_EFFECT = {"rotterdam": 0.06, "amsterdam": 0.0, "den_haag": 0.02, "utrecht": -0.02}
HORIZONS = (12, 24)


@dataclass
class Simulated:
    persons: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame  # design, treatment, outcome, horizon, subgroup, truth


def _quarters() -> list[str]:
    return [str(q) for q in pd.period_range("2022Q2", "2024Q4", freq="Q")]


def simulate(
    n: int = 6000,
    seed: int = 1,
    hidden: float = 0.0,
    z_effect: float = 0.03,
    onderwijs_effect: float = 0.10,
    z_low_schooling_bonus: float = 0.05,
) -> Simulated:
    """Persons and outcomes as the prepare stage writes them, plus the truth of each estimand.

    ``hidden`` is the strength of an unobserved trait that makes Z less and onderwijs more
    likely and raises participation (as the generator's hidden_confounder profile).
    """
    rng = np.random.default_rng(seed)
    others = [f"{code:04d}" for code in rng.choice(np.arange(1, 1000), 36, replace=False)]
    codes = np.array([*CODES, *others])
    quarters = _quarters()
    q_index = rng.integers(0, len(quarters), n)
    group = np.where(rng.random(n) < 0.6, "statushouder", "gezinsmigrant")
    statushouder = group == "statushouder"
    # Dispersal: the G4 share of statushouders depends on arrival timing only (Rotterdam's rises).
    p_rdam = 0.06 + 0.012 * q_index
    draw = rng.random(n)
    municipality = rng.choice(codes[4:], n)
    municipality = np.where(draw < p_rdam, "0599", municipality)
    municipality = np.where((draw >= p_rdam) & (draw < p_rdam + 0.12), "0363", municipality)
    municipality = np.where((draw >= p_rdam + 0.12) & (draw < p_rdam + 0.20), "0518", municipality)
    municipality = np.where((draw >= p_rdam + 0.20) & (draw < p_rdam + 0.26), "0344", municipality)
    female = rng.random(n) < np.where(statushouder, 0.4, 0.68)
    age = np.clip(18 + rng.gamma(2.8, 5.0, n), 18, 66).astype(int)
    schooling = np.clip(np.round(rng.normal(9 - 0.04 * (age - 30), 3.5)), 0, 18).astype(int)
    # Amsterdam's student housing takes young, educated statushouders (DOMAIN §6).
    student = statushouder & (age < 30) & (schooling >= 10) & (rng.random(n) < 0.15)
    municipality = np.where(student, "0363", municipality)
    city = pd.Series(municipality).map(CODES).fillna("rest_nl").to_numpy()
    literacy = rng.random(n) < 1 / (1 + np.exp(-(schooling - 3.5)))
    children = np.where(rng.random(n) < 0.5, rng.integers(1, 4, n), 0)
    household = np.where(children > 0, "paar_kinderen", rng.choice(["alleen", "paar"], n))
    origin = rng.choice(["SYR", "ERI", "AFG", "TUR", "OTH"], n)
    version = np.where(q_index < 2, 1, np.where(q_index < 6, 2, 3))
    score = np.clip(np.round(13 + 1.2 * schooling + 3 * literacy + rng.normal(0, 4, n)), 0, 40)
    h = rng.normal(size=n)

    # Route: multinomial logit (Gumbel noise) with the documented threshold rules.
    u_z = (
        -2.6 + 1.3 * (score <= 24) + 0.9 * (schooling < 6) + 0.08 * np.maximum(age - 45, 0)
        + 0.7 * ~literacy + 1.2 * (city == "rotterdam") - hidden * h
    )  # fmt: skip
    u_o = -2.2 + 1.4 * (age < 30) + 0.3 * (schooling - 10) - 0.8 * ~statushouder + hidden * h
    utilities = np.stack([np.zeros(n), u_o, u_z]) + 0.8 * rng.gumbel(size=(3, n))
    route = np.array(["b1", "onderwijs", "z"])[np.argmax(utilities, axis=0)]
    regime = np.where(rng.random(n) < 0.1, "wi2013", "wi2021")
    route = np.where(regime == "wi2021", route, None)
    test_score = np.where(rng.random(n) < 0.04, np.nan, score)

    persons = pd.DataFrame(
        {
            "person_id": [f"{i:09d}" for i in range(n)],
            "group": group,
            "regime": regime,
            "wi2021": regime == "wi2021",
            "cohort": np.array(quarters)[q_index],
            "municipality": pd.array(municipality, dtype="string"),
            "city": city,
            "g4": city != "rest_nl",
            "female": pd.array(female, dtype="bool[pyarrow]"),
            "age": pd.array(age, dtype="Int64"),
            "schooling_years": schooling,
            "literacy": literacy,
            "household_type": household,
            "children": children,
            "origin_region": origin,
            "test_score": test_score,
            "test_version": version.astype(str),
            "route": route,
        }
    )
    u = rng.random(n)
    rows, truth = [], []
    for horizon in HORIZONS:
        observed = q_index + horizon // 3 <= len(quarters) + 1
        base = (
            0.25 + 0.02 * (schooling - 9) - 0.006 * np.maximum(age - 35, 0) - 0.06 * female
            + 0.08 * literacy + 0.015 * q_index + 0.03 * (horizon == 24) + 0.04 * hidden * h
        )  # fmt: skip
        city_shift = pd.Series(city).map(CITY_EFFECT).fillna(0.0).to_numpy()
        z_shift = z_effect + z_low_schooling_bonus * (schooling < 6)
        p = {
            "b1": np.clip(base + city_shift, 0.01, 0.95),
            "z": np.clip(base + city_shift + z_shift, 0.01, 0.95),
            "onderwijs": np.clip(base + city_shift + onderwijs_effect, 0.01, 0.95),
        }
        p_obs = np.select([route == "z", route == "onderwijs"], [p["z"], p["onderwijs"]], p["b1"])
        y = np.where(observed, (u < p_obs).astype(float), np.nan)
        rows.append(pd.DataFrame({"person_id": persons["person_id"], "horizon": horizon,
                                  "participation": y}))  # fmt: skip
        wi = (regime == "wi2021") & observed
        for contrast, code in (("z_vs_b1", "z"), ("onderwijs_vs_b1", "onderwijs")):
            mask = wi & (route == code)
            effect = (p[code] - p["b1"])[mask].mean()
            truth.append(("route_matching", contrast, "participation", horizon, "all", effect))
        pool = wi & np.isin(route, ["z", "b1"])
        bands = {
            "age:18-26": age <= 26, "age:27-39": (age >= 27) & (age <= 39), "age:40-66": age >= 40,
            "sex:man": ~female, "sex:vrouw": female,
            "schooling:0-5": schooling <= 5, "schooling:6-8": (schooling >= 6) & (schooling <= 8),
            "schooling:9+": schooling >= 9,
            "group:statushouder": statushouder, "group:gezinsmigrant": ~statushouder,
        }  # fmt: skip
        for label, member in bands.items():
            effect = (p["z"] - p["b1"])[pool & member].mean()
            truth.append(("heterogeneity", "z_vs_b1", "participation", horizon, label, effect))
        rdam = wi & statushouder & (city == "rotterdam")
        for other in ("amsterdam", "den_haag", "utrecht"):
            effect = CITY_EFFECT["rotterdam"] - CITY_EFFECT[other]
            p_r = np.clip(base + CITY_EFFECT["rotterdam"], 0.01, 0.95)
            p_o = np.clip(base + CITY_EFFECT[other], 0.01, 0.95)
            route_r = np.select(
                [route == "z", route == "onderwijs"], [z_shift, onderwijs_effect], 0
            )
            p_r = np.clip(p_r + route_r, 0.01, 0.95)
            p_o = np.clip(p_o + route_r, 0.01, 0.95)
            effect = (p_r - p_o)[rdam].mean()
            truth.append(("city_matching", f"rotterdam_vs_{other}", "participation", horizon,
                          "all", effect))  # fmt: skip
    outcomes = pd.concat(rows, ignore_index=True)
    columns = ["design", "treatment", "outcome", "horizon", "subgroup", "truth"]
    return Simulated(persons, outcomes, pd.DataFrame(truth, columns=columns))


def design_config(**matching_overrides) -> dict:
    """The shipped config, narrowed to what the fixtures simulate and kept fast."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = copy.deepcopy(load_config(root / "config" / "config.yaml"))
    config["estimate"]["outcomes"] = ["participation"]
    config["estimate"]["horizons"] = list(HORIZONS)
    matching = config["matching"]
    matching["refute"]["num_simulations"] = 5
    for key, value in matching_overrides.items():
        matching[key] = value
    return {"matching": matching, "estimate": config["estimate"]}


def joined(estimates: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Estimates joined to the simulated truth on the keys the fixtures vary."""
    keys = ["design", "treatment", "outcome", "horizon", "subgroup"]
    frame = estimates.assign(horizon=estimates["horizon"].astype(int))
    out = frame.merge(truth, on=keys, how="left", validate="many_to_one")
    assert out["truth"].notna().all(), out[out["truth"].isna()]
    return out


def limited(function, *args, **kwargs):
    """Run a design with one BLAS thread, as its rule does (see ``run_design``)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return function(*args, **kwargs)


PERSON_LEVEL = {"person_id", "ps", "distance", "weight", "weights", "cate", "status", "_treated"}


def assert_person_free(frame, declared, n_persons: int) -> None:
    """A side table: only its declared columns, none of them person-level, and aggregated."""
    assert list(frame.columns) == list(declared)
    assert not PERSON_LEVEL & set(frame.columns)
    assert len(frame) < n_persons / 5


def generated(out, persons: int, seed: int, profile: str, **parameters: float) -> Simulated:
    """The synthetic generator's files, prepared by the prepare stage (parquet, in-process).

    ``truth`` holds the generator's route_matching truth (the estimand's population value).
    """
    from pathlib import Path

    from inburgering.calendar import load_calendar
    from inburgering.cbs.catalogue import Catalogue
    from inburgering.config import load_catalogue
    from inburgering.prepare.stage import OUTPUT_FILES, run
    from inburgering.synth.generate import generate
    from inburgering.synth.params import SynthParameters
    from inburgering.synth.truth import CityMatchingContrasts
    from inburgering.validation.truth import read_truth
    from inburgering.workflow import RuleJob

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "config" / "config.yaml")
    catalogue_file = root / "config" / "catalogue.yaml"
    policies_file = root / "config" / "policies.yaml"
    microdata = Path(out) / "microdata"
    catalogue = Catalogue(load_catalogue(catalogue_file), microdata, ["parquet"])
    params = SynthParameters(persons=persons, seed=seed, profile=profile, **parameters)
    city_matching = CityMatchingContrasts.from_config(config["matching"]["city"])
    generate(params, catalogue, Path(out), "parquet", load_calendar(policies_file), city_matching)
    job = RuleJob(
        input={"catalogue": catalogue_file, "policies": policies_file},
        output={name: Path(out) / "data" / file for name, file in OUTPUT_FILES.items()},
        params={
            "data": {**config["data"], "root": str(microdata), "formats": ["parquet"]},
            "prepare": config["prepare"],
        },
        rule="prepare",
    )
    run(job)
    truth = read_truth(Path(out) / "truth" / "estimands.csv")
    truth = truth[truth["design"] == "route_matching"]
    return Simulated(
        pd.read_parquet(job.output["persons"]),
        pd.read_parquet(job.output["outcomes"]),
        truth[["design", "treatment", "outcome", "horizon", "subgroup", "truth"]],
    )
