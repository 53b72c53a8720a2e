"""Monte Carlo of the G4 cities' own instrument bundles (designs.city_instrument_did) on the
synth data.

Usage::

    .venv/bin/python benchmarks/mc_city_bundles.py --seeds 50 --persons 20000 [--jobs 2]

Each seed runs the workflow's synth, prepare and city_instrument_did rules (the same code and
config as ``make run``, results in a scratch folder), joins the rows to the planted truth with
the validation stage's own ``compare`` and keeps them; the summary (``montecarlo.aggregate``)
gives bias, RMSE, the spread of the estimates against the mean SE, and coverage per estimator
for ``att_overall``, and the pooled coverage of the headline ``att_event`` rows. Written to
``benchmarks/results/mc_city_bundles.csv``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from inburgering.contracts.tidy import read_tidy
from inburgering.validation.montecarlo import aggregate, run_workflow
from inburgering.validation.truth import compare, read_truth

ESTIMATES = "estimates/city_instrument_did.csv"
TRUTH = "synthetic/truth/estimands.csv"
OUT = Path(__file__).with_name("results") / "mc_city_bundles.csv"


def seed_rows(seed: int, persons: int, scratch: Path) -> pd.DataFrame:
    base = scratch / f"seed_{seed}"
    sections = {"synth": {"seed": seed, "persons": persons}, "run": {"seed": seed}}
    started = time.perf_counter()
    completed = run_workflow(base, sections, [ESTIMATES, TRUTH])
    if completed.returncode != 0:
        raise RuntimeError(f"seed {seed} failed; see {base / 'snakemake.log'}")
    results = base / "results"
    rows = compare(read_tidy(results / ESTIMATES), read_truth(results / TRUTH))
    shutil.rmtree(base)
    print(f"seed {seed}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return rows.assign(seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with (
        tempfile.TemporaryDirectory(prefix="mc_city_bundles_") as scratch,
        ThreadPoolExecutor(max_workers=args.jobs) as pool,
    ):
        frames = list(pool.map(lambda s: seed_rows(s, args.persons, Path(scratch)), seeds))
    rows = pd.concat(frames, ignore_index=True)
    table = aggregate(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT, index=False, float_format="%.6g")
    overall = table[table["estimand"] == "att_overall"]
    columns = ["treatment", "outcome", "horizon", "estimator", "n_reps", "mean_truth"]
    columns += ["mean_bias", "rmse", "sd_estimate", "mean_se", "coverage"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(overall[columns].round(4).to_string(index=False))
    events = rows[(rows["estimand"] == "att_event") & rows["headline"]]
    for label, part in (("pre", events["event_time"] < 0), ("post", events["event_time"] >= 0)):
        print(f"att_event {label}: coverage {events.loc[part, 'covered'].mean():.3f}", end=" ")
        print(f"over {int(part.sum())} rows")
    print(f"{len(frames)} seeds x {args.persons} persons -> {OUT}")


if __name__ == "__main__":
    main()
