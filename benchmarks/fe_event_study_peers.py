"""Benchmark: fixed-effects event studies in pyfixest against linearmodels' PanelOLS.

The model is the one the estimate stage fits with pyfixest: person-level OLS with municipality
and cohort-quarter fixed effects, covariates, CRV1 standard errors clustered by municipality
(``twfe_row`` in ``inburgering.designs.event_study``, ``_twfe_rows`` in
``inburgering.designs.instrument_did``),
in two forms:

- ``event``: relative-time dummies (reference -1, never-treated all zero) built by the same
  helper as ``inburgering.did.comparison.twfe_event_study``;
- ``static``: one treated-and-adopted dummy, as in the instrument design's TWFE benchmark.

Data: ``inburgering.validation.designsim`` (the repeated-cross-section simulator the DiD designs are
tested with): persons x 36 cohort quarters x 340 municipalities, one staggered instrument.
Each (tool, model, size) runs in its own child process so its peak RSS is its own. Usage:

    python benchmarks/fe_event_study_peers.py [--sizes 20000 250000] [--repeat 5]

Results are also written to benchmarks/results/fe_event_study_peers.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

# One BLAS thread in both children (as mc_did_designs.py): with other jobs on the 2 cores,
# OpenBLAS's spinning second thread made linearmodels' fits 2-4x slower and erratic.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "fe_event_study_peers.json"
COVARIATES = ["female", "age", "schooling_years"]
TOOLS = ("pyfixest", "linearmodels")


def build_frame(persons: int, municipalities: int, horizon: int, seed: int) -> pd.DataFrame:
    """The estimate stage's analysis frame for one horizon, with adoption dummies."""
    from inburgering.designs.event_study import analysis_frame, quarter_index
    from inburgering.did.comparison import _with_dummies
    from inburgering.validation.designsim import SimSpec, simulate

    sim = simulate(
        SimSpec(persons=persons, other_municipalities=municipalities, seed=seed), (horizon,)
    )
    # include_uncertain=True: the instrument design keeps the early-2022 slice.
    frame = analysis_frame(
        sim["persons"], sim["outcomes"], horizon, COVARIATES, include_uncertain=True
    )
    mun = sim["municipalities"]
    # designsim numbers quarters from 1 = 2016Q1; the stage's q is 4 * year + quarter.
    first = int(quarter_index(pd.Series(["2016Q1"]))[0]) - 1
    adopt = np.where(mun["adopt"] > 0, first + mun["adopt"], 0)
    g = dict(zip(mun["municipality"], adopt, strict=True))
    frame["g"] = frame["municipality"].map(g).astype(int)
    frame, _ = _with_dummies(frame, "q", "g", ref=-1)
    frame = frame.rename(columns={"_treat": "D"})
    # Integer keys for linearmodels, which otherwise factorises strings inside the timed call.
    frame["pid"] = np.arange(len(frame), dtype=np.int64)
    frame["mun_code"] = frame["municipality"].astype("category").cat.codes.astype(np.int64)
    keep = ["pid", "municipality", "mun_code", "q", "g", "D", *COVARIATES]
    keep += ["participation"] + [c for c in frame.columns if c.startswith("evt_")]
    return frame.loc[frame["participation"].notna(), keep].reset_index(drop=True)


def regressors(frame: pd.DataFrame, model: str) -> list[str]:
    dummies = [c for c in frame.columns if c.startswith("evt_")] if model == "event" else ["D"]
    return [*dummies, *COVARIATES]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def fit_pyfixest(frame: pd.DataFrame, xs: list[str], aligned: bool) -> tuple[pd.Series, pd.Series]:
    """The estimate stage's call (reform.twfe_row), or with all fixed effects counted in k."""
    import pyfixest as pf

    from inburgering.did.comparison import DEMEANER

    extra = {"ssc": pf.ssc(k_fixef="full")} if aligned else {}
    fit = pf.feols(
        f"participation ~ {' + '.join(xs)} | municipality + q",
        data=frame,
        vcov={"CRV1": "municipality"},
        demeaner=DEMEANER,
        **extra,
    )
    return fit.coef(), fit.se()


def fit_linearmodels(
    frame: pd.DataFrame, xs: list[str], aligned: bool
) -> tuple[pd.Series, pd.Series]:
    """PanelOLS on (person, cohort quarter): time effects = quarter, other effect = municipality.

    Persons are the entities (one row each, no entity effects) because PanelOLS rejects a
    repeated (entity, time) pair, which (municipality, quarter) would be.
    """
    from linearmodels import PanelOLS

    panel = frame.set_index(["pid", "q"])
    model = PanelOLS(
        panel["participation"],
        panel[xs],
        time_effects=True,
        other_effects=panel["mun_code"],
    )
    if aligned:
        # Same scale as pyfixest's ssc(k_fixef="full"): (n-1)/(n-k-d) * G/(G-1), d = all FE.
        res = model.fit(
            cov_type="clustered",
            clusters=panel["mun_code"],
            group_debias=True,
            auto_df=False,
            count_effects=True,
        )
    else:
        res = model.fit(cov_type="clustered", clusters=panel["mun_code"])
    return res.params, res.std_errors


def child(tool: str, model: str, path: Path, repeat: int) -> None:
    warnings.simplefilter("ignore")  # pyfixest and linearmodels warnings would garble the timings
    frame = pd.read_parquet(path)
    xs = regressors(frame, model)
    fit = fit_pyfixest if tool == "pyfixest" else fit_linearmodels
    baseline = _peak_mb()
    seconds, cpu, peaks = [], [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu()
        coef, se = fit(frame, xs, aligned=False)
        seconds.append(time.perf_counter() - t0)
        cpu.append(_cpu() - c0)
        peaks.append(_peak_mb())
        # pyfixest's fit objects sit in reference cycles: without a collection their arrays
        # pile up over the repeats (1.2 GB -> 2.6 GB RSS after 4 fits at 250k persons).
        gc.collect()
    _, se_aligned = fit(frame, xs, aligned=True)
    out = {
        "names": list(xs),
        "coef": coef[xs].tolist(),
        "se": se[xs].tolist(),
        "se_aligned": se_aligned[xs].tolist(),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peaks[0],  # the first fit: one model, as the stage fits it
        "peak_mb_after_repeats": peaks[-1],
        "baseline_mb": baseline,
    }
    print(json.dumps(out))


def run_child(tool: str, model: str, path: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--child", tool, "--model", model,
           "--data", str(path), "--repeat", str(repeat)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{tool} {model} {path.name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def predicted_se_ratio(n: int, k: int, quarters: int, munis: int) -> float:
    """linearmodels / pyfixest SE at each library's defaults (same sandwich, other scale).

    pyfixest (fixest's ssc, k_fixef="nonnested"): (n-1)/(n-k-T) * G/(G-1); the municipality
    effects are nested in the clusters, so only the quarter effects count (T - 1, plus one for
    the nested effect). linearmodels (debiased=True, group_debias=False): n/(n-k-d) with every
    effect counted when there are two, d = T + M - 1.
    """
    g = munis
    pyfixest = (n - 1) / (n - k - quarters) * g / (g - 1)
    linearmodels = n / (n - k - (quarters + munis - 1))
    return float(np.sqrt(linearmodels / pyfixest))


def compare(size: int, model: str, frame_info: dict, res: dict) -> dict:
    pf_, lm = res["pyfixest"], res["linearmodels"]
    b_pf, b_lm = np.array(pf_["coef"]), np.array(lm["coef"])
    s_pf, s_lm = np.array(pf_["se"]), np.array(lm["se"])
    a_pf, a_lm = np.array(pf_["se_aligned"]), np.array(lm["se_aligned"])
    k = len(b_pf)
    ratio = s_lm / s_pf
    expect = predicted_se_ratio(frame_info["rows"], k, frame_info["quarters"], frame_info["munis"])
    # Cold = first call in a fresh process (imports done, numba functions not yet compiled);
    # warm = best of the repeats, as inside a stage that fits many models.
    cold = {t: res[t]["seconds"][0] for t in TOOLS}
    warm = {t: min(res[t]["seconds"][1:] or res[t]["seconds"]) for t in TOOLS}
    warm_cpu = {t: min(res[t]["cpu_seconds"][1:] or res[t]["cpu_seconds"]) for t in TOOLS}
    return {
        "size": size,
        "model": model,
        **frame_info,
        "regressors": k,
        "max_abs_coef_diff": float(np.max(np.abs(b_pf - b_lm))),
        "max_rel_coef_diff": float(np.max(np.abs(b_pf - b_lm) / np.abs(b_pf))),
        "se_ratio_default_min": float(ratio.min()),
        "se_ratio_default_max": float(ratio.max()),
        "se_ratio_predicted": expect,
        "max_rel_se_diff_aligned": float(np.max(np.abs(a_pf - a_lm) / a_pf)),
        "seconds_cold": cold,
        "seconds_warm": warm,
        "cpu_seconds_warm": warm_cpu,
        "peak_mb": {t: res[t]["peak_mb"] for t in TOOLS},
        "baseline_mb": {t: res[t]["baseline_mb"] for t in TOOLS},
        "time_ratio_warm": warm["linearmodels"] / warm["pyfixest"],
        "time_ratio_cold": cold["linearmodels"] / cold["pyfixest"],
        "cpu_ratio_warm": warm_cpu["linearmodels"] / warm_cpu["pyfixest"],
        "memory_ratio": res["linearmodels"]["peak_mb"] / res["pyfixest"]["peak_mb"],
        "raw": res,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 250_000])
    parser.add_argument("--municipalities", type=int, default=336, help="besides the G4")
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--models", nargs="+", default=["event", "static"])
    parser.add_argument("--repeat", type=int, default=5, help="fits per child (first = cold)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default="/tmp/fe_event_study_peers")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, Path(args.data), args.repeat)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    load = {"before": os.getloadavg()}
    for size in args.sizes:
        path = work / f"n{size}_m{args.municipalities}_h{args.horizon}_s{args.seed}.parquet"
        if not path.exists():
            build_frame(size, args.municipalities, args.horizon, args.seed).to_parquet(path)
        info = pd.read_parquet(path, columns=["municipality", "q", "g"])
        frame_info = {
            "rows": len(info),
            "quarters": int(info["q"].nunique()),
            "munis": int(info["municipality"].nunique()),
            "adopting_munis": int(info.loc[info["g"] > 0, "municipality"].nunique()),
        }
        for model in args.models:
            res = {tool: run_child(tool, model, path, args.repeat) for tool in TOOLS}
            row = compare(size, model, frame_info, res)
            rows.append(row)
            print(
                f"{size:>7} persons {model:6s} k={row['regressors']:<3d}"
                f" pyfixest {row['seconds_warm']['pyfixest']:6.2f} s"
                f" (cold {row['seconds_cold']['pyfixest']:5.2f})"
                f" {row['peak_mb']['pyfixest']:6.0f} MB |"
                f" linearmodels {row['seconds_warm']['linearmodels']:6.2f} s"
                f" (cold {row['seconds_cold']['linearmodels']:5.2f})"
                f" {row['peak_mb']['linearmodels']:6.0f} MB |"
                f" time x{row['time_ratio_warm']:.1f} (CPU x{row['cpu_ratio_warm']:.1f}),"
                f" memory x{row['memory_ratio']:.2f}"
            )
            print(
                f"{'':16s}coef max |diff| {row['max_abs_coef_diff']:.1e};"
                f" SE lm/pf at defaults {row['se_ratio_default_min']:.6f}"
                f"..{row['se_ratio_default_max']:.6f} (predicted {row['se_ratio_predicted']:.6f});"
                f" aligned SE max rel diff {row['max_rel_se_diff_aligned']:.1e}"
            )
    import linearmodels
    import pyfixest

    load["after"] = os.getloadavg()
    meta = {
        "load_average_1_5_15": load,
        "python": platform.python_version(),
        "pyfixest": pyfixest.__version__,
        "linearmodels": linearmodels.__version__,
        "args": {k: v for k, v in vars(args).items() if k not in ("child", "model", "data")},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
