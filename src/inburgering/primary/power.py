"""What can the primary analysis detect? Minimum detectable differences before going into RA.

``python -m inburgering.primary.power --persons-per-year 1400`` answers "with N persons per city
per year, what difference between Rotterdam and another city could we detect?" from the same
variance the verdict uses (``did.shocks.contrast_variance``: person-level sampling plus AR(1)
city-by-quarter shocks), for the configured primary family (family-wise alpha, power). The
shock size comes from a finished run (``--run RESULTS``: the model reform_did estimated from the
pre-reform quarters, in ``estimates/pretrends.csv``) or is given (``--shock-sd``, ``--shock-rho``;
DOMAIN.md gives 2-4 pp and 0.3-0.7 as the plausible range for newcomers' employment).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.config import load_config
from inburgering.did.shocks import ShockModel, contrast_variance
from inburgering.primary.verdict import minimum_detectable, primary_family

# The rest of the Netherlands as a comparison: this many municipalities share its persons.
REST_NL_MUNICIPALITIES = 338


def design_contrast(base_quarters: int, post_quarters: int) -> tuple[np.ndarray, np.ndarray]:
    """Quarters and weights of the reform contrast: mean of the post quarters minus the mean of
    the last ``base_quarters`` pre quarters (reform_did's att_overall with equal cohorts)."""
    quarters = np.arange(-base_quarters, post_quarters)
    weights = np.where(quarters < 0, -1.0 / base_quarters, 1.0 / post_quarters)
    return quarters, weights


def minimum_detectable_differences(
    persons_per_year: float,
    comparison_persons_per_year: float,
    rest_persons_per_year: float,
    shocks: ShockModel,
    rate: float,
    base_quarters: int,
    post_quarters: int,
    alpha: float,
    family: int,
    power: float,
) -> pd.DataFrame:
    """MDE (outcome scale) against another city and against the rest of the Netherlands; a
    shock model of a probit index is taken at ``rate``."""
    shocks = shocks.at_share(rate)
    quarters, weights = design_contrast(base_quarters, post_quarters)
    per_quarter = np.full(quarters.size, persons_per_year / 4)
    comparisons = {
        "G4 city": (comparison_persons_per_year, 1),
        "rest of NL": (rest_persons_per_year, REST_NL_MUNICIPALITIES),
    }
    rows = []
    for name, (persons, units) in comparisons.items():
        control = np.full(quarters.size, persons / 4)
        variance = contrast_variance(
            shocks, quarters, weights, per_quarter, control, rate * (1 - rate), units
        )
        se = float(np.sqrt(variance))
        rows.append(
            {
                "comparison": name,
                "se": se,
                "mde": float(minimum_detectable(np.array([se]), alpha, family, power)[0]),
            }
        )
    return pd.DataFrame(rows)


def shock_model_of_run(results: Path, outcome: str, horizon: int) -> ShockModel:
    """The shock model reform_did estimated for one outcome and horizon in a finished run."""
    pretrends = pd.read_csv(results / "estimates" / "pretrends.csv")
    rows = pretrends[(pretrends["outcome"] == outcome) & (pretrends["horizon"] == horizon)]
    if rows.empty or rows["shock_sd"].isna().all():
        raise SystemExit(
            f"{results / 'estimates' / 'pretrends.csv'}: no shock model for {outcome} at "
            f"{horizon} months (run reform_did with estimate.inference.shock_variance.enabled)"
        )
    first = rows.iloc[0]
    index = first.get("shock_scale") == "index"
    return ShockModel(sd=float(first["shock_sd"]), rho=float(first["shock_rho"]), index=index)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons-per-year", type=float, required=True,
                        help="focal city's persons per yearly cohort")  # fmt: skip
    parser.add_argument("--comparison-persons-per-year", type=float,
                        help="the other G4 city's (default: same as the focal city)")  # fmt: skip
    parser.add_argument("--rest-persons-per-year", type=float, default=40000.0)
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--run", type=Path, help="results folder of a run to take shocks from")
    parser.add_argument("--shock-sd", type=float, default=0.03)
    parser.add_argument("--shock-rho", type=float, default=0.5)
    parser.add_argument("--rate", type=float, default=0.3, help="outcome share (variance p(1-p))")
    parser.add_argument("--post-quarters", type=int, default=8)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    primary = config["primary"]
    base = int(config["estimate"]["reform_did"]["base_quarters"])
    family = len(primary_family(primary))
    rows = []
    for outcome in primary["outcomes"]:
        for horizon in primary["horizons"]:
            shocks = (
                shock_model_of_run(args.run, outcome, int(horizon))
                if args.run
                else ShockModel(args.shock_sd, args.shock_rho)
            )
            table = minimum_detectable_differences(
                args.persons_per_year,
                args.comparison_persons_per_year or args.persons_per_year,
                args.rest_persons_per_year,
                shocks,
                args.rate,
                base,
                args.post_quarters,
                primary["alpha"],
                family,
                primary["power"],
            )
            at_rate = shocks.at_share(args.rate)  # share points at the outcome's rate
            rows.append(table.assign(outcome=outcome, horizon=horizon, shock_sd=at_rate.sd,
                                     shock_rho=at_rate.rho))  # fmt: skip
    out = pd.concat(rows, ignore_index=True)
    out[["se", "mde", "shock_sd"]] = (out[["se", "mde", "shock_sd"]] * 100).round(2)
    print(
        f"Minimum detectable difference (percentage points), {primary['power']:.0%} power, "
        f"family-wise alpha {primary['alpha']} over {family} primary rows, "
        f"{args.persons_per_year:g} persons per year in {primary['city']}:"
    )
    print(out[["outcome", "horizon", "comparison", "shock_sd", "shock_rho", "se", "mde"]]
          .to_string(index=False))  # fmt: skip


if __name__ == "__main__":
    main()
