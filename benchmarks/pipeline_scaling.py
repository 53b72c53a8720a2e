"""Whole-pipeline time and memory against the number of persons (issue 7's budgets).

Usage::

    .venv/bin/python benchmarks/pipeline_scaling.py                 # 20k, 50k, 100k, 250k persons
    .venv/bin/python benchmarks/pipeline_scaling.py --sizes 20000   # the default configuration only

Each size runs the complete workflow (synthetic data, prepare, every design with its bootstrap
and randomization inference as configured, validation, export, all reports) with
``config/config.yaml`` and an overlay that only sets the number of persons and a private results
folder, exactly as ``--configfile config/national.yaml`` does at 250k. Measured per size:

- wall time of the Snakemake run (``--cores``, default 2);
- peak memory of the whole process tree (Snakemake and all concurrent jobs), sampled with psutil
  every 0.5 s: the number that must fit in the machine, unlike one job's max RSS;
- each rule's seconds and max RSS from its ``benchmark:`` file.

The growth exponent of each rule is the least-squares slope of log(seconds) on log(persons):
1 is linear, 2 quadratic. Rules that take under 5 s at the largest size are listed but not
judged (start-up time dominates them). Results: ``benchmarks/results/pipeline_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "pipeline_scaling.json"
SAMPLE_SECONDS = 0.5
JUDGED_SECONDS = 5.0


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants (bytes)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:  # a job finished between listing and reading
            continue
    return total


def run_workflow(persons: int, work: Path, cores: int) -> dict:
    """One complete workflow run; returns wall seconds, peak tree RSS and the per-rule table."""
    results = work / f"persons_{persons}"
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    overlay = results / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "run": {"results": str(results)},
                "data": {"root": str(results / "synthetic" / "microdata")},
                "synth": {"persons": persons},
            }
        ),
        encoding="utf-8",
    )
    snakemake = Path(sys.executable).parent / "snakemake"
    command = [str(snakemake), "--profile", "workflow/profiles/default", "--cores", str(cores)]
    command += ["--configfile", "config/config.yaml", str(overlay)]
    log_path = results / "snakemake.log"
    peak = 0
    with log_path.open("w", encoding="utf-8") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        process = psutil.Process(child.pid)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, tree_rss(process))
                except psutil.NoSuchProcess:
                    return
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    if code != 0:
        tail = log_path.read_text(encoding="utf-8")[-3000:]
        raise SystemExit(f"workflow failed at {persons} persons (log {log_path}):\n{tail}")
    return {
        "persons": persons,
        "wall_s": wall,
        "peak_tree_rss_mb": peak / 2**20,
        "rules": rule_table(results / "benchmarks"),
    }


def rule_table(folder: Path) -> list[dict]:
    """Seconds and max RSS of every rule from Snakemake's benchmark files."""
    rows = []
    for path in sorted(folder.glob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "rule": path.stem,
                "seconds": float(frame["s"].iloc[0]),
                "max_rss_mb": float(pd.to_numeric(frame["max_rss"], errors="coerce").iloc[0]),
            }
        )
    return rows


def growth(runs: list[dict]) -> pd.DataFrame:
    """Per rule: seconds at each size and the log-log slope against persons."""
    long = pd.DataFrame(
        [{"persons": run["persons"], **row} for run in runs for row in run["rules"]]
    )
    # Per-part rules (reform_did_<outcome>_h<horizon>, render_city_<city>) are summed per family
    # so the table stays readable; the family's total is what grows with persons.
    long["step"] = long["rule"].map(_family)
    table = long.pivot_table(index="step", columns="persons", values="seconds", aggfunc="sum")
    sizes = np.log(table.columns.to_numpy(float))
    if len(sizes) >= 2:
        slopes = [np.polyfit(sizes, np.log(np.maximum(r, 0.01)), 1)[0] for r in table.to_numpy()]
        table["exponent"] = slopes
        judged = table[table.columns[len(sizes) - 1]] >= JUDGED_SECONDS
        table.loc[~judged, "exponent"] = np.nan
    return table


def _family(rule: str) -> str:
    rule = re.sub(r"^reform_did_[a-z_]+_h\d+$", "reform_did_part (all)", rule)
    return re.sub(r"^render_city_report_.*$", "render_city_report (all)", rule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 50000, 100000, 250000])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/pipeline_scaling"))
    parser.add_argument("--keep", action="store_true", help="keep each size's results folder")
    args = parser.parse_args()
    runs = []
    for persons in args.sizes:
        run = run_workflow(persons, args.work, args.cores)
        runs.append(run)
        print(
            f"{persons:>8,} persons: {run['wall_s']:7.1f} s wall, "
            f"peak {run['peak_tree_rss_mb']:7.0f} MB (process tree)",
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(args.work / f"persons_{persons}", ignore_errors=True)
    table = growth(runs)
    print(table.round(2).to_string())
    OUT.parent.mkdir(exist_ok=True)
    summary = {
        "cores": args.cores,
        "cpu_count": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "runs": runs,
        "exponents": {
            step: (None if np.isnan(v) else round(float(v), 3))
            for step, v in table.get("exponent", pd.Series(dtype=float)).items()
        },
    }
    OUT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
