"""The reform_did design: each G4 city's Wi2021 reform effect relative to the rest of NL.

Estimand (att_overall, comparison rest_nl): for new-law (Wi2021) cohorts, the mean effect of the
reform on the outcome in city c minus the mean effect in the rest of the Netherlands, at a
horizon in months since obligation start. Everyone is reformed on the same date, so the
city-vs-rest difference-in-differences identifies this *relative* effect under parallel trends.
Cohorts in the uncertain early-2022 slice are excluded.
"""

from __future__ import annotations

import logging

import pandas as pd
import pyfixest as pf

from inburgering.tidy import tidy_frame, write_tidy
from inburgering.workflow import RuleJob, StageError

log = logging.getLogger(__name__)


def analysis_sample(persons: pd.DataFrame, outcomes: pd.DataFrame, horizon: int) -> pd.DataFrame:
    sample = persons[persons["regime"] != "uncertain"].merge(
        outcomes[outcomes["horizon"] == horizon], on="person_id", how="inner"
    )
    log.info(
        "horizon %d: %d persons (%d uncertain-regime persons excluded)",
        horizon,
        len(sample),
        int((persons["regime"] == "uncertain").sum()),
    )
    return sample


def city_vs_rest(sample: pd.DataFrame, city: str, outcome: str, alpha: float) -> dict:
    """Two-way fixed-effects 2x2 DiD (municipality and cohort effects), CRV1 by municipality."""
    data = sample[sample["city"].isin([city, "rest_nl"]) & sample[outcome].notna()].copy()
    data["treated_post"] = ((data["city"] == city) & data["wi2021"]).astype(float)
    n_treated = int(data["treated_post"].sum())
    n_control = int(((data["city"] == "rest_nl") & data["wi2021"]).sum())
    if n_treated == 0 or data["cohort"].nunique() < 2:
        raise StageError(f"reform_did {city} {outcome}: no new-law persons in {city}")
    fit = pf.feols(
        f"{outcome} ~ treated_post | municipality + cohort",
        data=data,
        vcov={"CRV1": "municipality"},
    )
    tidy = fit.tidy(alpha=alpha).loc["treated_post"]
    return {
        "estimate": tidy["Estimate"],
        "se": tidy["Std. Error"],
        "ci_low": tidy[f"{alpha / 2 * 100:.1f}%"],
        "ci_high": tidy[f"{(1 - alpha / 2) * 100:.1f}%"],
        "p_value": tidy["Pr(>|t|)"],
        "n_treated": n_treated,
        "n_control": n_control,
        "n_clusters": int(data["municipality"].nunique()),
    }


def reform_rows(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    cities: list[str],
    outcome_names: list[str],
    horizons: list[int],
    alpha: float,
) -> pd.DataFrame:
    rows = []
    for horizon in horizons:
        sample = analysis_sample(persons, outcomes, horizon)
        for outcome in outcome_names:
            for city in cities:
                result = city_vs_rest(sample, city, outcome, alpha)
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
                        "estimator": "twfe_2x2",
                        "headline": True,
                        "inference": "crv1_municipality",
                        **result,
                    }
                )
    return tidy_frame(rows)


def run(job: RuleJob) -> None:
    persons = pd.read_parquet(job.input["persons"])
    outcomes = pd.read_parquet(job.input["outcomes"])
    estimate = job.params["estimate"]
    rows = reform_rows(
        persons,
        outcomes,
        cities=estimate["cities"],
        outcome_names=estimate["outcomes"],
        horizons=estimate["horizons"],
        alpha=estimate["alpha"],
    )
    write_tidy(rows, job.output["estimates"])
