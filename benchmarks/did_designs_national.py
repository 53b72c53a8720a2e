"""Runtime of the DiD design stage on a national-scale population (~250k persons).

Usage::

    .venv/bin/python benchmarks/did_designs_national.py [--persons 250000] [--municipalities 338]

Uses prepared tables from --data (default results/national/data, written by
``snakemake --configfile config/national.yaml``) when present, else simulates
national-size repeated cross-sections with inburgering.validation.designsim. Times each
reform_did job (the rule is scattered per outcome x horizon), instrument_did and
city_instrument_did, and estimates the stage's wall time on 2 cores by longest-first scheduling
of those jobs.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd
import yaml

from inburgering.calendar import load_calendar
from inburgering.config import load_config
from inburgering.designs.city_instrument_did import CityBundleSettings, city_instrument_tables
from inburgering.designs.event_study import EventStudySettings
from inburgering.designs.instrument_did import adoption_table, instrument_rows
from inburgering.designs.reform_did import ReformDidSettings, outcome_tables
from inburgering.validation.designsim import SimSpec, simulate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=250000)
    parser.add_argument("--municipalities", type=int, default=338)
    parser.add_argument("--data", type=Path, default=Path("results/national/data"))
    args = parser.parse_args()
    cfg = load_config("config/config.yaml")["estimate"]
    settings = EventStudySettings.from_config(cfg)
    reform = ReformDidSettings.from_config(cfg)
    calendar = load_calendar("config/policies.yaml")
    data_dir = args.data
    if (data_dir / "persons.parquet").exists():
        persons = pd.read_parquet(data_dir / "persons.parquet")
        outcomes = pd.read_parquet(data_dir / "outcomes.parquet")
        policies_table = pd.read_parquet(data_dir / "municipality_policies.parquet")
        source = str(data_dir)
    else:
        sim = simulate(
            SimSpec(persons=args.persons, other_municipalities=args.municipalities),
            tuple(settings.horizons),
        )
        persons, outcomes, source = sim["persons"], sim["outcomes"], "designsim"
        policies_table = None
    timings = {}
    for outcome in cfg["outcomes"]:
        for horizon in settings.horizons:
            t0 = time.perf_counter()
            outcome_tables(persons, outcomes, outcome, horizon, settings, reform, calendar)
            timings[f"reform_did_{outcome}_h{horizon}"] = time.perf_counter() - t0
    policies = yaml.safe_load(Path("config/policies.yaml").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    instrument_rows(
        persons,
        outcomes,
        adoption_table(policies, policies_table),
        list(cfg["instrument_did"]["instruments"]),
        cfg["instrument_did"]["outcomes"],
        settings,
        exclude=[str(v["code"]) for v in policies["municipalities"].values()],  # as the rule
    )
    timings["instrument_did"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    city_instrument_tables(
        persons,
        outcomes,
        policies,
        adoption_table(policies, policies_table),
        list(cfg["outcomes"]),
        settings,
        CityBundleSettings.from_config(cfg),
    )
    timings["city_instrument_did"] = time.perf_counter() - t0
    workers = [0.0, 0.0]
    for seconds in sorted(timings.values(), reverse=True):  # longest first, to the idle worker
        workers[workers.index(min(workers))] += seconds
    wall_2_cores = max(workers)
    print(f"source={source} persons={len(persons)}")
    for name, sec in timings.items():
        print(f"{name:35s} {sec:8.1f} s")
    print(f"{'estimated stage wall time (2 cores)':35s} {wall_2_cores:8.1f} s")


if __name__ == "__main__":
    main()
