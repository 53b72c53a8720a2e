"""Monte Carlo validation: the whole pipeline over many synthetic samples with known truth.

    python -m inburgering.validation --seeds 50 --persons 4000 --out results/montecarlo
    python -m inburgering.validation --seeds 50 --shock-scale 0,1,2  # shocks x0, x1, x2

For each seed the workflow runs (generation, preparation, every estimator) up to
``results/validation/estimates_vs_truth.csv`` in its own results and working folder, with
``synth.seed = run.seed = seed``. The per-seed tables are then aggregated per estimand key:
mean bias, RMSE, interval coverage, mean CI width, the spread of the estimates against the mean
standard error, and the number of seeds, separately per city-shock scale (``shock_scale``:
``--shock-scale 0,1,2`` runs every seed with ``synth.city_shocks`` scaled by 0, 1 and 2; without
it, each seed runs the configured shocks). Headline estimands whose coverage falls outside
90–98 % are flagged in ``summary.md``: with well-calibrated 95 % intervals that is rare enough
(at 50 seeds) to be a bug to find, not noise.

Outputs (below ``--out``): ``monte_carlo.csv`` (one row per estimand, estimator and shock
scale), ``summary.md``, ``seeds/shocks_x<scale>/seed_<n>.csv`` (each seed's validation table,
with its ``seed`` and ``shock_scale``) and ``runs/`` (per-seed results, removed after success
unless ``--keep-runs``). No person data leave the run folders.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from inburgering.config import load_config
from inburgering.io import atomic_path, write_text_atomic
from inburgering.validation.repository import POLICIES, ROOT

DEFAULT_CONFIG = ROOT / "config" / "config.yaml"

log = logging.getLogger("inburgering.validation.montecarlo")

KEYS = [
    "design", "estimand", "treatment", "city", "comparison", "outcome", "horizon", "subgroup",
    "event_time", "estimator", "headline",
]  # fmt: skip
SPLIT = "shock_scale"  # city-shock scale of the seed's synthetic world (synth.city_shocks)
COVERAGE_BAND = (0.90, 0.98)
VALIDATION = "validation/estimates_vs_truth.csv"


@dataclass(frozen=True)
class SeedRun:
    """The outcome of one seed's workflow run."""

    seed: int
    ok: bool
    seconds: float
    table: Path | None
    log: Path
    shock_scale: float


def default_config() -> dict[str, Any]:
    """The repository's config/config.yaml, as every run layers its overlay on it: validated,
    with the schema's defaults filled (as the workflow loads it)."""
    return load_config(DEFAULT_CONFIG)


def overlay_for(results: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A --configfile overlay that sends a run below `results` and works from any folder
    (catalogue, policy, merger-table and Monte Carlo summary paths absolute: the run has its own
    working folder)."""
    run: dict[str, Any] = {"results": str(results)}
    defaults = default_config()
    for key in ("monte_carlo", "monte_carlo_primary"):
        if defaults["run"].get(key):
            run[key] = str(ROOT / defaults["run"][key])
    overlay: dict[str, Any] = {
        "run": run,
        "data": {
            "root": str(results / "synthetic" / "microdata"),
            "catalogue": str(ROOT / "config" / "catalogue.yaml"),
            "policies": str(POLICIES),
        },
        "prepare": {
            "municipalities": {"mergers": str(ROOT / "config" / "municipal_mergers.csv")},
        },
    }
    for name, values in sections.items():
        overlay[name] = {**overlay.get(name, {}), **values}
    return overlay


def snakemake_command(
    workdir: Path, configfiles: Sequence[Path], targets: Sequence[str], *args: str
) -> list[str]:
    """A Snakemake call on this repository's workflow, run in its own working folder so that
    its .snakemake state (locks, incomplete markers) is not shared with other runs."""
    snakemake = Path(sys.executable).parent / "snakemake"
    files = [str(DEFAULT_CONFIG), *map(str, configfiles)]
    return [
        str(snakemake), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
        "--configfile", *files, *args, *(["--", *targets] if targets else []),
    ]  # fmt: skip


def _link_sources(workdir: Path) -> None:
    """Rules name a few inputs relative to the working folder (the report sources): link them
    so the whole DAG resolves from a separate working folder."""
    for name in ("reports",):
        link = workdir / name
        if not link.exists() and (ROOT / name).exists():
            try:
                link.symlink_to(ROOT / name, target_is_directory=True)
            except OSError:  # no symlinks (Windows without privilege): copy instead
                shutil.copytree(ROOT / name, link)


def run_workflow(
    base: Path,
    sections: dict[str, dict[str, Any]],
    targets: Sequence[str],
    *args: str,
    cores: int | None = 1,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run the workflow with results in ``base/results`` and state in ``base/workdir``.

    ``targets`` are paths relative to the results folder (none: the default target).
    ``cores=None`` leaves ``--cores`` to ``args``. Output goes to ``base/snakemake.log``.
    """
    results = base / "results"
    workdir = base / "workdir"
    workdir.mkdir(parents=True, exist_ok=True)
    _link_sources(workdir)
    overlay = base / "overlay.yaml"
    overlay.write_text(yaml.safe_dump(overlay_for(results, **sections)), encoding="utf-8")
    command = snakemake_command(
        workdir, [overlay], [str(results / t) for t in targets],
        *(["--cores", str(cores)] if cores is not None else []), *args,
    )  # fmt: skip
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with open(base / "snakemake.log", "w", encoding="utf-8") as output:
        return subprocess.run(
            command, cwd=base, stdout=output, stderr=subprocess.STDOUT, env=env, timeout=timeout,
            check=False,
        )  # fmt: skip


def configured_shock_scale(extra: dict) -> float:
    """The city-shock scale a run gets without --shock-scale: config.yaml under the overlay
    (0 when the shocks are switched off)."""
    config = default_config()
    shocks = {
        **config["synth"]["city_shocks"],
        **(extra.get("synth", {}).get("city_shocks") or {}),
    }
    return float(shocks["scale"]) if shocks["enabled"] else 0.0


def scale_label(scale: float) -> str:
    return f"shocks_x{scale:g}"


def parse_scales(text: str) -> list[float]:
    """``0,1,2`` -> [0.0, 1.0, 2.0] (the --shock-scale option)."""
    try:
        scales = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"--shock-scale {text!r}: expected numbers like 0,1,2"
        ) from error
    if not scales or any(s < 0 for s in scales) or len(set(scales)) < len(scales):
        raise argparse.ArgumentTypeError(
            f"--shock-scale {text!r}: expected distinct scales >= 0, like 0,1,2"
        )
    return scales


def run_seed(
    seed: int, persons: int, out: Path, extra: dict, keep: bool, shock_scale: float
) -> SeedRun:
    """One seed end to end up to the validation table, copied to ``out/seeds`` with its seed
    and city-shock scale."""
    base = out / "runs" / scale_label(shock_scale) / f"seed_{seed}"
    shutil.rmtree(base, ignore_errors=True)  # a previous, interrupted attempt
    sections = {**extra}
    synth = extra.get("synth", {})
    shocks = {**(synth.get("city_shocks") or {}), "enabled": True, "scale": shock_scale}
    sections["synth"] = {**synth, "seed": seed, "persons": persons, "city_shocks": shocks}
    sections["run"] = {**extra.get("run", {}), "seed": seed}
    started = time.perf_counter()
    completed = run_workflow(base, sections, [VALIDATION])
    seconds = time.perf_counter() - started
    validation = base / "results" / VALIDATION
    if completed.returncode != 0 or not validation.is_file():
        log.error("seed %d failed after %.0f s; see %s", seed, seconds, base / "snakemake.log")
        return SeedRun(seed, False, seconds, None, base / "snakemake.log", shock_scale)
    table = out / "seeds" / scale_label(shock_scale) / f"seed_{seed}.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    rows = pd.read_csv(validation, keep_default_na=False, dtype=str)
    with atomic_path(table) as tmp:
        rows.assign(seed=seed, shock_scale=f"{shock_scale:g}").to_csv(tmp, index=False)
    if not keep:
        shutil.rmtree(base)
    log.info("seed %d (city shocks x%g) done in %.0f s", seed, shock_scale, seconds)
    return SeedRun(seed, True, seconds, table, base / "snakemake.log", shock_scale)


def read_seed(path: Path) -> pd.DataFrame:
    """A seed's validation table (with its seed and shock_scale columns)."""
    numbers = ("estimate", "se", "ci_low", "ci_high", "truth")
    return pd.read_csv(path, keep_default_na=False, na_values={column: [""] for column in numbers})


def _covered(frame: pd.DataFrame) -> pd.Series:
    """Coverage as the validation stage decided it (it knows which truth each design targets);
    a missing interval counts as not covering, so suppressed or failed CIs lower coverage."""
    covered = frame["covered"].astype(str).str.strip().str.lower().eq("true")
    return covered & frame["ci_low"].notna() & frame["ci_high"].notna()


def _rmse(errors: pd.Series) -> float:
    return math.sqrt(float(np.mean(np.square(errors.dropna())))) if errors.notna().any() else np.nan


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per estimand key and estimator (and city-shock scale, when the frame has one):
    bias, RMSE, coverage, CI width, seeds."""
    keys = [*KEYS, SPLIT] if SPLIT in frame else KEYS
    frame = frame.assign(
        error=frame["estimate"] - frame["truth"],
        width=frame["ci_high"] - frame["ci_low"],
        hit=_covered(frame).astype(float),
    )
    grouped = frame.groupby(keys, dropna=False, sort=True)
    table = grouped.agg(
        n_reps=("seed", "nunique"),
        n_estimated=("estimate", "count"),
        mean_truth=("truth", "mean"),
        mean_estimate=("estimate", "mean"),
        mean_bias=("error", "mean"),
        rmse=("error", _rmse),
        sd_estimate=("estimate", "std"),
        mean_se=("se", "mean"),
        coverage=("hit", "mean"),
        mean_ci_width=("width", "mean"),
    ).reset_index()
    p = table["coverage"]
    table["coverage_mcse"] = np.sqrt(p * (1 - p) / table["n_reps"])
    low, high = COVERAGE_BAND
    headline = table["headline"].astype(str).str.lower().eq("true")
    table["flag"] = np.where(headline & ((p < low) | (p > high)), "coverage_outside_90_98", "")
    return table


def summary_markdown(table: pd.DataFrame, runs: Sequence[SeedRun], persons: int) -> str:
    """A short report: what ran, which headline estimands miss the coverage band."""
    ok = [r for r in runs if r.ok]
    failed = [r for r in runs if not r.ok]
    headline = table[table["headline"].astype(str).str.lower().eq("true")]
    flagged = headline[headline["flag"] != ""]
    lines = [
        "# Monte Carlo validation",
        "",
        f"{len(ok)} of {len(runs)} seed runs completed ({persons} synthetic persons each); "
        f"{len(table)} estimand × estimator × shock-scale rows, {len(headline)} headline.",
        "",
        "City-shock scales (`shock_scale`, multiplying `synth.city_shocks.sd`): "
        + ", ".join(f"x{s:g}" for s in sorted({r.shock_scale for r in runs}))
        + ".",
        "",
        f"Headline coverage band: {COVERAGE_BAND[0]:.0%}–{COVERAGE_BAND[1]:.0%} for nominal "
        "95 % intervals. Coverage ± its Monte Carlo standard error is shown.",
        "",
    ]
    if failed:
        lines += ["## Failed seeds (not in the table)", ""]
        lines += [f"- seed {r.seed} (x{r.shock_scale:g}): see {r.log}" for r in failed] + [""]
    lines += [f"## Headline estimands outside the band: {len(flagged)}", ""]
    columns = [
        SPLIT, "design", "city", "comparison", "outcome", "horizon", "subgroup", "event_time",
        "estimator", "n_reps", "mean_bias", "rmse", "sd_estimate", "mean_se", "coverage",
        "coverage_mcse",
    ]  # fmt: skip
    if len(flagged):
        lines += [_markdown_table(flagged[columns]), ""]
    lines += ["## All headline estimands", "", _markdown_table(headline[columns]), ""]
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.4g}"
        return "" if value is pd.NA else str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *rows])


def run_harness(
    seeds: Sequence[int], persons: int, out: Path, *, jobs: int = 2, extra: dict | None = None,
    keep: bool = False, shock_scales: Sequence[float] | None = None,
) -> tuple[pd.DataFrame, list[SeedRun]]:  # fmt: skip
    """Run every seed at every city-shock scale (default: the configured one; at most `jobs`
    workflows at once, each on one core) and aggregate per scale."""
    out.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    scales = list(shock_scales) if shock_scales else [configured_shock_scale(extra)]
    work = [(scale, seed) for scale in scales for seed in seeds]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(lambda w: run_seed(w[1], persons, out, extra, keep, w[0]), work))
    tables = [read_seed(r.table) for r in runs if r.ok and r.table is not None]
    if not tables:
        raise RuntimeError(f"no seed completed; see the logs below {out / 'runs'}")
    table = aggregate(pd.concat(tables, ignore_index=True))
    with atomic_path(out / "monte_carlo.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    write_text_atomic(out / "summary.md", summary_markdown(table, runs, persons))
    return table, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inburgering.validation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, default=50, help="number of seeds (default 50)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--persons", type=int, default=4000, help="synthetic persons per seed")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "montecarlo")
    cores = min(2, os.cpu_count() or 1)
    parser.add_argument("--jobs", type=int, default=cores, help="workflows at once, 1 core each")
    parser.add_argument("--overlay", type=Path, help="extra config sections (YAML), e.g. bootstrap")
    parser.add_argument("--keep-runs", action="store_true", help="keep per-seed results folders")
    parser.add_argument(
        "--shock-scale",
        type=parse_scales,
        help="city-shock scales to run every seed at, e.g. 0,1,2 (synth.city_shocks.scale; "
        "default: the configured shocks)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    extra = yaml.safe_load(args.overlay.read_text(encoding="utf-8")) if args.overlay else {}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    table, runs = run_harness(seeds, args.persons, args.out.resolve(), jobs=args.jobs,
                              extra=extra, keep=args.keep_runs,
                              shock_scales=args.shock_scale)  # fmt: skip
    flagged = int((table["flag"] != "").sum())
    failed = [f"{r.seed} (x{r.shock_scale:g})" for r in runs if not r.ok]
    log.info("wrote %s (%d rows); %d headline estimands flagged; failed seeds: %s",
             args.out / "monte_carlo.csv", len(table), flagged, failed or "none")  # fmt: skip
    return 1 if failed else 0
