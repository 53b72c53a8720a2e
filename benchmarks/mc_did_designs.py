"""Monte Carlo of the reform_did and instrument_did headline estimands (small scale).

Usage::

    .venv/bin/python benchmarks/mc_did_designs.py --seeds 50 --persons 20000 \
        [--profile pretrend_violation] [--out results/validation/monte_carlo_did.csv]

Each seed simulates repeated cross-sections with known effects (inburgering.validation.designsim),
runs the headline estimators and records estimate, interval and truth; the summary reports bias,
RMSE and coverage per design/estimator (target coverage 90-98%) and, for the pre-trend-violation
profile, how often Rotterdam's estimate is flagged fragile by the HonestDiD sensitivity.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from inburgering.calendar import load_calendar
from inburgering.designs.event_study import (
    EventStudySettings,
    analysis_frame,
    fit_contrast,
    placebo_t,
    ri_pool,
)
from inburgering.designs.instrument_did import adoption_table, instrument_rows
from inburgering.designs.reform_did import ReformDidSettings, reform_q
from inburgering.did.honest import is_fragile
from inburgering.did.inference import ri_t_test
from inburgering.validation.designsim import G4, SimSpec, quarter_label, simulate

Z = 1.959963984540054
# The simulated data follow the default policy calendar's reform date.
REFORM_Q = reform_q(load_calendar(Path(__file__).resolve().parents[1] / "config" / "policies.yaml"))
# reform_did's base (the last pre-reform quarters every contrast is measured from), as configured
# by default.
BASE_QUARTERS = ReformDidSettings.from_schema_defaults().base_quarters


def reform_seed(seed: int, persons: int, slope: float) -> list[dict]:
    data = simulate(
        SimSpec(persons=persons, seed=seed, instrument_effect=0.0, pretrend_slope=slope), (12,)
    )
    frame = analysis_frame(
        data["persons"], data["outcomes"], 12, ["female", "age", "schooling_years"]
    )
    truth = data["truth"].query(
        "subgroup == 'all' and outcome == 'participation' and comparison == 'rest_nl'"
    )
    truth = truth.set_index("city")["truth"]
    rest = frame[frame["city"] == "rest_nl"]
    t_pl = placebo_t(
        rest,
        ri_pool(frame, 39),
        "participation",
        ["female", "age", "schooling_years"],
        base_quarters=BASE_QUARTERS,
        event_q=REFORM_Q,
    )
    rows = []
    for city in G4:
        sub = frame[frame["city"].isin([city, "rest_nl"])]
        tr = (sub["city"] == city).to_numpy()
        fit = fit_contrast(
            sub,
            tr,
            "participation",
            ["female", "age", "schooling_years"],
            base_quarters=BASE_QUARTERS,
            event_q=REFORM_Q,
        )
        rfit = fit_contrast(
            sub,
            tr,
            "participation",
            ["female", "age", "schooling_years"],
            method="reg",
            base_quarters=BASE_QUARTERS,
            event_q=REFORM_Q,
        )
        ri = ri_t_test(rfit.estimate, rfit.se, t_pl, 0.05)
        fragile = is_fragile(fit.honest.window(5, 3), 0.05)
        for est, lo, hi, name in (
            (fit.estimate, fit.estimate - Z * fit.se, fit.estimate + Z * fit.se, "cs_dr"),
            (rfit.estimate, ri.ci_low, ri.ci_high, "cs_reg_ri"),
        ):
            rows.append(
                {
                    "design": "reform_did",
                    "seed": seed,
                    "city": city,
                    "estimator": name,
                    "estimate": est,
                    "ci_low": lo,
                    "ci_high": hi,
                    "truth": truth[city],
                    "fragile": fragile,
                    "pretrend_p": fit.wald_p,
                    "slope_p": 2 * (1 - _phi(abs(fit.slope / fit.slope_se))),
                }
            )
    return rows


def _phi(x: float) -> float:
    from scipy.stats import norm

    return float(norm.cdf(x))


def instrument_seed(seed: int, persons: int) -> list[dict]:
    spec = SimSpec(
        persons=persons,
        seed=seed,
        reform_sd=0.0,
        other_municipalities=60,
        reform_effect={c: 0.01 for c in G4},
    )
    data = simulate(spec, (12,))
    mun = data["municipalities"]
    adopt = mun[mun["adopt"] > 0]
    table = pd.DataFrame(
        {
            "municipality": adopt["municipality"],
            "instrument": "x",
            "start": pd.PeriodIndex(quarter_label(adopt["adopt"].to_numpy()), freq="Q").start_time,
        }
    )
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12], cities=[], alpha=0.05, wild_draws=99
    )
    rows = instrument_rows(
        data["persons"],
        data["outcomes"],
        adoption_table({"municipalities": {}}, table),
        ["x"],
        ["participation"],
        settings,
        exclude=list(G4.values()),  # as the instrument_did rule: G4 adoptions are not estimated
    )
    head = rows[(rows["estimand"] == "att_overall") & rows["headline"]]
    return [
        {
            "design": "instrument_did",
            "seed": seed,
            "city": "all",
            "estimator": r.estimator,
            "estimate": r.estimate,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "truth": spec.instrument_effect,
        }
        for r in head.itertuples()
    ]


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw.assign(
        covered=(raw["ci_low"] <= raw["truth"]) & (raw["truth"] <= raw["ci_high"]),
        err=raw["estimate"] - raw["truth"],
    )
    return (
        raw.groupby(["design", "estimator", "city"])
        .agg(
            seeds=("seed", "nunique"),
            bias=("err", "mean"),
            rmse=("err", lambda e: float(np.sqrt(np.mean(e**2)))),
            coverage=("covered", "mean"),
        )
        .reset_index()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--profile", choices=["default", "pretrend_violation"], default="default")
    parser.add_argument("--out", default="benchmarks/results/monte_carlo_did.csv")
    args = parser.parse_args()
    slope = 0.004 if args.profile == "pretrend_violation" else 0.0
    raw = []
    for seed in range(args.seeds):
        raw += reform_seed(seed, args.persons, slope)
        if args.profile == "default":
            raw += instrument_seed(seed, args.persons)
    frame = pd.DataFrame(raw)
    summary = summarise(frame)
    if args.profile == "pretrend_violation":
        flags = frame[frame["estimator"] == "cs_dr"].groupby("city")[["fragile"]].mean()
        summary = summary.merge(flags.reset_index(), on="city", how="left")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    summary.assign(profile=args.profile).to_csv(args.out, index=False, float_format="%.6g")
    frame.to_csv(args.out.replace(".csv", "_raw.csv"), index=False, float_format="%.6g")
    print(summary.to_string())


if __name__ == "__main__":
    main()
