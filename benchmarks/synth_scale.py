"""Time and peak memory of the synthetic generator at 20k persons and national scale (~250k).

Each size runs in a fresh subprocess (`python -m inburgering.synth`) so peak RSS is that run's
own; results go to benchmarks/results/synth_scale.json. Usage:

    .venv/bin/python benchmarks/synth_scale.py [--sizes 20000 250000] [--format sav]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "synth_scale.json"


def measure(persons: int, fmt: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "inburgering.synth", "--persons", str(persons), "--out", out,
             "--format", fmt],
            check=True,
            capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    return {
        "persons": persons,
        "format": fmt,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1
        ),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 0),
        "output_mb": round(size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 250_000])
    parser.add_argument("--format", default="sav", choices=["sav", "parquet", "csv"])
    args = parser.parse_args()
    rows = [measure(n, args.format) for n in args.sizes]
    for row in rows:
        print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
