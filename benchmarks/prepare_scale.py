"""Benchmark: the prepare stage (validation + persons, outcomes, person_months) at several sizes.

For each size the synthetic generator writes a CBS-style population (once; reused when the
folder exists), then `prepare` runs in a child process so its peak RSS is its own. Wall time,
peak memory and row counts go to stdout and benchmarks/results/prepare_scale.json. Usage:

    python benchmarks/prepare_scale.py [--sizes 20000 100000 250000] [--format sav]
                                       [--work /tmp/prepare_scale] [--threads 2]

The target (issue 4): the national configuration (250,000 persons) in under 3 minutes with
peak memory under 6 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "prepare_scale.json"


def _config(persons: int, fmt: str) -> dict:
    from inburgering.config import load_config

    config = load_config(ROOT / "config" / "config.yaml")
    config["synth"].update(persons=persons, format=fmt)
    return config


def generate(persons: int, fmt: str, folder: Path) -> None:
    """Write the synthetic files (skipped when a previous run left them)."""
    from inburgering.synth.stage import run
    from inburgering.workflow import RuleJob

    if (folder / "truth" / "estimands.csv").exists():
        return
    config = _config(persons, fmt)
    run(
        RuleJob(
            input={
                "catalogue": ROOT / "config" / "catalogue.yaml",
                "policies": ROOT / "config" / "policies.yaml",
            },
            output={"microdata": folder / "microdata", "truth": folder / "truth" / "estimands.csv"},
            params={
                "synth": config["synth"],
                "data_end": config["data"]["end"],
                "prepare": config["prepare"],
                "city_matching": config["matching"]["city"],
            },
            rule="synth",
        )
    )


def prepare(persons: int, fmt: str, folder: Path, threads: int) -> dict:
    """Run the prepare stage (in this process: the parent measures it as a child)."""
    import pandas as pd

    from inburgering.prepare.stage import OUTPUT_FILES, run
    from inburgering.workflow import RuleJob

    config = _config(persons, fmt)
    config["data"].update(root=str(folder / "microdata"), formats=[fmt])
    out = folder / "prepared"
    started = time.perf_counter()
    run(
        RuleJob(
            input={
                "catalogue": ROOT / "config" / "catalogue.yaml",
                "policies": ROOT / "config" / "policies.yaml",
            },
            output={name: out / file for name, file in OUTPUT_FILES.items()},
            params={"data": config["data"], "prepare": config["prepare"]},
            threads=threads,
            rule="prepare",
        )
    )
    seconds = time.perf_counter() - started
    import pyarrow.parquet as pq

    return {
        "seconds": round(seconds, 2),
        "persons": len(pd.read_parquet(out / "persons.parquet", columns=["person_id"])),
        "person_months": pq.ParquetFile(out / "person_months.parquet").metadata.num_rows,
    }


def child(args: argparse.Namespace) -> None:
    result = prepare(args.size, args.format, Path(args.folder), args.threads)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def measure(size: int, fmt: str, work: Path, threads: int) -> dict:
    folder = work / f"n{size}_{fmt}"
    started = time.perf_counter()
    generate(size, fmt, folder)
    generate_seconds = round(time.perf_counter() - started, 2)
    command = [sys.executable, __file__, "--child", "--size", str(size), "--format", fmt,
               "--folder", str(folder), "--threads", str(threads)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"prepare failed at size {size}:\n{completed.stderr[-4000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return {"size": size, "format": fmt, "generate_seconds": generate_seconds, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 250_000])
    parser.add_argument("--format", default="sav", choices=["sav", "parquet", "csv"])
    parser.add_argument("--work", default="/tmp/prepare_scale")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    for size in args.sizes:
        row = measure(size, args.format, Path(args.work), args.threads)
        print(
            f"{size:>8} persons: prepare {row['seconds']:7.1f} s,"
            f" peak {row['peak_rss_mb']:8.0f} MB,"
            f" {row['person_months']:>11,} person-months (generate {row['generate_seconds']:.0f} s)"
        )
        rows.append(row)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "threads": args.threads}  # fmt: skip
    RESULTS.write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
