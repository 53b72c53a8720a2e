"""Benchmark: inburgering.did vs the newest moderndid on one staggered panel.

Workload (issue 20): att_gt, doubly robust, one covariate, 999 multiplier-bootstrap draws with
simultaneous bands, then the event-study and the simple aggregation. The newest moderndid on
PyPI is installed with ``pip install --no-deps --target`` into a folder outside the repository
(``--peer-dir``; its dependencies are the project's own pins) unless it is already there. Each
tool and size runs in its own child process; the parent samples the RSS of the child's process
tree with psutil and also takes the child's own peak (``wait4``). Reported per size: wall and
CPU seconds, peak memory, their ratios, and the agreement of the estimates (ATT(g,t), event-time
ATTs, the simple overall ATT) and of the bootstrap SEs. Usage:

    python benchmarks/did_vs_moderndid.py                          # 200,000 and 1,000,000 units
    python benchmarks/did_vs_moderndid.py --units 5000 --draws 99  # quick check

Results go to benchmarks/results/did_vs_moderndid.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from packaging.requirements import Requirement

RESULTS = Path(__file__).resolve().parent / "results" / "did_vs_moderndid.json"
PEER = "moderndid"


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


def newest_peer_version() -> str:
    """The newest moderndid release, as ``pip index versions`` reports it."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", PEER],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(rf"^{PEER} \(([^)]+)\)", proc.stdout, flags=re.MULTILINE)
    if not found:
        raise SystemExit(f"could not read the newest {PEER} version from: {proc.stdout!r}")
    return found.group(1)


def install_peer(version: str, peer_dir: Path) -> Path:
    """Install moderndid==version into its own folder (once), without its dependencies; only
    the dependencies this environment lacks are added there (also without theirs), so both
    tools run on the project's pinned numpy/scipy/pandas."""
    target = peer_dir / f"{PEER}-{version}"
    if (target / PEER / "__init__.py").exists():
        return target
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    subprocess.run([*pip, f"{PEER}=={version}"], check=True)
    dist = next(target.glob(f"{PEER}-{version}.dist-info"))
    missing = []
    for line in (dist / "METADATA").read_text().splitlines():
        if not line.startswith("Requires-Dist:") or "extra ==" in line:
            continue
        requirement = Requirement(line.split(":", 1)[1].strip())
        try:
            importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(str(requirement))
    if missing:
        subprocess.run([*pip, *missing], check=True)
    return target


def run_ours(data: pd.DataFrame, draws: int) -> dict:
    from inburgering.did import aggte, att_gt

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
    dyn = aggte(res, "dynamic")
    simple = aggte(res, "simple")
    return {
        "cell_group": res.table["group"].to_numpy(float).tolist(),
        "cell_time": res.table["time"].to_numpy(float).tolist(),
        "cell_att": res.att.tolist(),
        "cell_se": res.table["se"].to_numpy(float).tolist(),
        "event_time": dyn.levels.tolist(),
        "event_att": dyn.att.tolist(),
        "event_se": dyn.table["se"].to_numpy(float)[:-1].tolist(),
        "dynamic_overall": dyn.overall_att,
        "simple_att": simple.overall_att,
        "simple_se": simple.overall_se,
    }


def run_moderndid(data: pd.DataFrame, draws: int) -> dict:
    import moderndid

    res = moderndid.att_gt(
        data,
        yname="y",
        tname="period",
        idname="id",
        gname="g",
        xformla="~x",
        est_method="dr",
        boot=True,
        biters=draws,
        cband=True,
        random_state=1,
    )
    dyn = moderndid.aggte(res, type="dynamic", random_state=1)
    simple = moderndid.aggte(res, type="simple", random_state=1)
    # MPResult lists the cells cohort by cohort, times within a cohort, as R did (and we) do.
    cells = [(g, t) for g in np.asarray(res.groups, float) for t in np.asarray(res.times, float)]
    return {
        "cell_group": [c[0] for c in cells],
        "cell_time": [c[1] for c in cells],
        "cell_att": np.asarray(res.att_gt, float).tolist(),
        "cell_se": np.asarray(res.se_gt, float).tolist(),
        "event_time": np.asarray(dyn.event_times, float).tolist(),
        "event_att": np.asarray(dyn.att_by_event, float).tolist(),
        "event_se": np.asarray(dyn.se_by_event, float).tolist(),
        "dynamic_overall": float(dyn.overall_att),
        "simple_att": float(simple.overall_att),
        "simple_se": float(simple.overall_se),
    }


def child(which: str, units: int, periods: int, draws: int, peer_path: str | None) -> None:
    warnings.simplefilter("ignore")
    if peer_path and which == PEER:
        sys.path.insert(0, peer_path)
    data = simulate_panel(units, periods)
    baseline_mb = psutil.Process().memory_info().rss / 2**20
    run = run_ours if which == "ours" else run_moderndid
    if which == PEER:
        import moderndid  # imported before the clock starts, as ours is by the import below

        version = moderndid.__version__
    else:
        import inburgering.did  # noqa: F401

        version = "working tree"
    wall, cpu = time.perf_counter(), time.process_time()
    out = run(data, draws)
    out["seconds"] = time.perf_counter() - wall
    out["cpu_seconds"] = time.process_time() - cpu
    out["baseline_mb"] = baseline_mb
    out["version"] = version
    print(json.dumps(out))


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def run_child(args: list[str], env: dict, cap_gb: float) -> dict:
    """Run one child, sampling its process tree's RSS every 0.2 s and stopping it when that
    exceeds cap_gb; return its JSON + peaks, or ``failed`` with the reason."""
    cap = cap_gb * 2**30
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        popen = subprocess.Popen([sys.executable, __file__, *args], stdout=out, stderr=err, env=env)
        peak = [0]
        capped = threading.Event()
        done = threading.Event()

        def sample() -> None:
            proc = psutil.Process(popen.pid)
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], _tree_rss(proc))
                except psutil.NoSuchProcess:
                    return
                if peak[0] > cap:
                    capped.set()
                    for p in [*proc.children(recursive=True), proc]:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            p.kill()
                    return
                done.wait(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(popen.pid, 0)
        done.set()
        sampler.join()
        popen.returncode = os.waitstatus_to_exitcode(status)
        peak_mb = max(peak[0] / 2**20, usage.ru_maxrss / 1024)
        if capped.is_set():
            return {"failed": f"stopped at the {cap_gb:g} GB memory cap", "peak_mb": peak_mb}
        if popen.returncode != 0:
            err.seek(0)
            lines = err.read().strip().splitlines() or [""]
            return {"failed": f"exit code {popen.returncode}: {lines[-1]}", "peak_mb": peak_mb}
        out.seek(0)
        result = json.loads(out.read().strip().splitlines()[-1])
    result["peak_mb"] = peak_mb
    return result


def _max_abs_diff(a: list, b: list) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("nan")
    both = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("nan")
    return float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0


def compare(ours: dict, ref: dict) -> dict:
    return {
        "att_gt_max_abs_diff": _max_abs_diff(ours["cell_att"], ref["cell_att"]),
        "event_att_max_abs_diff": _max_abs_diff(ours["event_att"], ref["event_att"]),
        "simple_att_abs_diff": abs(ours["simple_att"] - ref["simple_att"]),
        "dynamic_overall_abs_diff": abs(ours["dynamic_overall"] - ref["dynamic_overall"]),
        "cells_match": ours["cell_group"] == ref["cell_group"]
        and ours["cell_time"] == ref["cell_time"],
        "event_times_match": ours["event_time"] == ref["event_time"],
        "event_se_max_rel_diff": float(
            np.nanmax(
                np.abs(np.subtract(ours["event_se"], ref["event_se"])) / np.asarray(ref["event_se"])
            )
        ),
        "speedup_wall": ref["seconds"] / ours["seconds"],
        "speedup_cpu": ref["cpu_seconds"] / ours["cpu_seconds"],
        "memory_ratio": ours["peak_mb"] / ref["peak_mb"],
    }


def report(units: int, args, ours: dict, ref: dict, cmp: dict) -> None:
    print(
        f"\n== {units:,} units x {args.periods} periods, DR, 1 covariate, {args.draws} draws; "
        f"ours ({ours['version']}) vs {PEER} {ref['version']}"
    )
    table = pd.DataFrame(
        {
            "event_time": ours["event_time"],
            "att_ours": ours["event_att"],
            f"att_{PEER}": ref["event_att"],
            "se_ours": ours["event_se"],
            f"se_{PEER}": ref["event_se"],
        }
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    print(
        f"max |diff|: ATT(g,t) {cmp['att_gt_max_abs_diff']:.2e}, event ATT "
        f"{cmp['event_att_max_abs_diff']:.2e}, simple ATT {cmp['simple_att_abs_diff']:.2e}; "
        f"event SEs differ by <= {cmp['event_se_max_rel_diff']:.1%} (bootstrap noise)"
    )
    for label, key, unit in (("wall", "seconds", "s"), ("CPU", "cpu_seconds", "s")):
        print(
            f"{label:>4}: ours {ours[key]:.2f}{unit}  {PEER} {ref[key]:.2f}{unit}  "
            f"x{ref[key] / ours[key]:.1f}"
        )
    print(
        f"peak RSS (process tree): ours {ours['peak_mb']:.0f} MB  {PEER} {ref['peak_mb']:.0f} MB"
        f"  ratio {cmp['memory_ratio']:.2f} (data alone ~{ours['baseline_mb']:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--periods", type=int, default=8)
    parser.add_argument("--draws", type=int, default=999)
    parser.add_argument(
        "--peer-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "did_vs_moderndid",
        help="folder for the moderndid install (outside the repository)",
    )
    parser.add_argument("--peer-version", help="default: the newest on the package index")
    parser.add_argument(
        "--blas-threads",
        default="1",
        help="BLAS threads in both children (1: on a shared machine a second spinning thread "
        "makes times erratic); 'inherit' leaves the environment as it is",
    )
    parser.add_argument(
        "--memory-cap-gb",
        type=float,
        default=12.0,
        help="process-tree RSS at which a child is stopped (and reported as failed), so a run "
        "cannot push the shared machine into the OOM killer",
    )
    parser.add_argument("--child", choices=["ours", PEER])
    parser.add_argument("--peer-path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.units[0], args.periods, args.draws, args.peer_path)
        return
    version = args.peer_version or newest_peer_version()
    peer_path = install_peer(version, args.peer_dir)
    env = dict(os.environ)
    if args.blas_threads != "inherit":
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = args.blas_threads
    runs = []
    for units in args.units:
        results = {}
        for which in ("ours", PEER):
            child_args = ["--child", which, "--units", str(units), "--periods", str(args.periods)]
            child_args += ["--draws", str(args.draws), "--peer-path", str(peer_path)]
            results[which] = run_child(child_args, env, args.memory_cap_gb)
        failed = {k: v["failed"] for k, v in results.items() if "failed" in v}
        if failed:
            print(f"\n== {units:,} units: failed {failed}")
            runs.append({"units": units, **results})
        else:
            cmp = compare(results["ours"], results[PEER])
            report(units, args, results["ours"], results[PEER], cmp)
            runs.append({"units": units, **results, "comparison": cmp})
        meta = {
            "periods": args.periods,
            "draws": args.draws,
            "peer_version": version,
            "blas_threads": args.blas_threads,
            "memory_cap_gb": args.memory_cap_gb,
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({**meta, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
