"""Benchmark: inburgering.did vs moderndid on one staggered panel (att_gt + event study).

Runs both estimators in separate child processes (so each peak RSS is its own), doubly robust
with one covariate and 999 multiplier-bootstrap draws, and prints estimates side by side with the
time and peak-memory ratios. Usage:

    python benchmarks/did_vs_moderndid.py [--units 200000] [--periods 8] [--draws 999]

Results are also written to benchmarks/results/did_vs_moderndid.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "did_vs_moderndid.json"


def simulate_panel(units: int, periods: int, seed: int = 20260101) -> pd.DataFrame:
    """Staggered adoption with dynamic effects and a covariate that drives trends and timing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=units)
    cohorts = np.arange(3, periods + 1)  # first treated in periods 3..T
    probs = np.exp(0.3 * x[:, None] * (cohorts[None, :] - 4) / periods)
    probs = probs / probs.sum(axis=1, keepdims=True)
    choice = (rng.random(units)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    group = cohorts[np.minimum(choice, cohorts.size - 1)].astype(float)
    group[rng.random(units) < 0.3 + 0.1 * (x > 0)] = 0.0  # never treated
    t = np.arange(1, periods + 1)
    unit_fe = rng.normal(size=units) + 0.5 * x
    y = unit_fe[:, None] + 0.1 * t[None, :] + 0.2 * x[:, None] * t[None, :] / periods
    event = t[None, :] - group[:, None]
    treated = (group[:, None] > 0) & (event >= 0)
    y = y + np.where(treated, 1.0 + 0.2 * event, 0.0) + rng.normal(size=(units, periods))
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(units), periods),
            "period": np.tile(t, units).astype(float),
            "y": y.ravel(),
            "g": np.repeat(group, periods),
            "x": np.repeat(x, periods),
        }
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(data: pd.DataFrame, draws: int) -> dict:
    from inburgering.did import att_gt

    start = time.perf_counter()
    res = att_gt(
        data,
        outcome="y",
        time="period",
        group="g",
        unit="id",
        covariates=["x"],
        method="dr",
        bootstrap=draws,
        seed=1,
    )
    dyn = res.aggte("dynamic")
    elapsed = time.perf_counter() - start
    return {
        "event_time": dyn.levels.tolist(),
        "att": dyn.att.tolist(),
        "se": dyn.table["se"].to_numpy(float)[:-1].tolist(),
        "overall": dyn.overall_att,
        "seconds": elapsed,
    }


def run_moderndid(data: pd.DataFrame, draws: int) -> dict:
    import moderndid

    start = time.perf_counter()
    res = moderndid.att_gt(
        data,
        yname="y",
        tname="period",
        idname="id",
        gname="g",
        xformla="~x",
        est_method="dr",
        bstrap=True,
        biters=draws,
        cband=True,
        random_state=1,
    )
    dyn = moderndid.aggte(res, type="dynamic", random_state=1)
    elapsed = time.perf_counter() - start
    return {
        "event_time": np.asarray(dyn.event_times, float).tolist(),
        "att": np.asarray(dyn.att_by_event, float).tolist(),
        "se": np.asarray(dyn.se_by_event, float).tolist(),
        "overall": float(dyn.overall_att),
        "seconds": elapsed,
    }


def child(which: str, units: int, periods: int, draws: int) -> None:
    warnings.simplefilter("ignore")
    data = simulate_panel(units, periods)
    baseline = _peak_mb()
    out = (run_ours if which == "ours" else run_moderndid)(data, draws)
    out["peak_mb"] = _peak_mb()
    out["baseline_mb"] = baseline
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--periods", type=int, default=8)
    parser.add_argument("--draws", type=int, default=999)
    parser.add_argument("--child", choices=["ours", "moderndid"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.units, args.periods, args.draws)
        return
    results = {}
    for which in ("ours", "moderndid"):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            which,
            "--units",
            str(args.units),
            "--periods",
            str(args.periods),
            "--draws",
            str(args.draws),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours, ref = results["ours"], results["moderndid"]
    table = pd.DataFrame(
        {
            "event_time": ours["event_time"],
            "att_ours": ours["att"],
            "att_moderndid": ref["att"],
            "se_ours": ours["se"],
            "se_moderndid": ref["se"],
        }
    )
    table["abs_diff_att"] = (table.att_ours - table.att_moderndid).abs()
    print(
        f"panel: {args.units} units x {args.periods} periods, DR, 1 covariate, "
        f"{args.draws} bootstrap draws\n"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    ratio_t = ref["seconds"] / ours["seconds"]
    ratio_m = ours["peak_mb"] / ref["peak_mb"]
    print(f"\noverall dynamic ATT: ours {ours['overall']:.6f}  moderndid {ref['overall']:.6f}")
    print(
        f"time: ours {ours['seconds']:.1f}s  moderndid {ref['seconds']:.1f}s  "
        f"speed-up x{ratio_t:.1f}"
    )
    print(
        f"peak RSS: ours {ours['peak_mb']:.0f} MB  moderndid {ref['peak_mb']:.0f} MB  "
        f"ratio {ratio_m:.2f} (data alone ~{ours['baseline_mb']:.0f} MB)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"args": vars(args), **results, "speedup": ratio_t, "memory_ratio": ratio_m}, indent=2
        )
    )


if __name__ == "__main__":
    main()
