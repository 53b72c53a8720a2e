"""Monte Carlo of the primary analysis: coverage, bias and false verdicts under city shocks.

Usage::

    .venv/bin/python benchmarks/mc_primary.py --seeds 0-49 --persons 250000 --scales 0,1,2 \\
        [--world planted|equal] [--jobs 1] [--out benchmarks/results/mc_primary]

Each (world, shock scale, seed) runs the workflow's own synth, prepare, reform_did and verdict
rules (the same code and config as ``make run``, restricted to the primary family's city,
outcomes and horizons so that only the rows the verdict reads are estimated), joins every
verdict row to its planted truth and keeps it as ``seeds/<world>_x<scale>_<seed>.csv``. A piece
that exists is not run again, so the harness resumes where it stopped and can be run in chunks
(``--seeds 0-9``, then ``--seeds 10-19``, ...). ``--summary`` only aggregates what exists.

``--engine designsim`` runs the same verdict on the design simulator's worlds instead
(``inburgering.validation.designsim``: repeated cross-sections with AR(1) city shocks of SD
``scale x 0.03``, independent of the synthetic CBS generator and much faster): the reform
design's own ``outcome_tables`` and ``verdict_table``, no workflow.

Worlds: ``planted`` is the default synthetic world (the G4 cities' planted reform effects
differ); ``equal`` gives every G4 city and every other municipality the same reform effect, so
that every primary contrast's truth is zero and any "more/less effective" verdict is false.

The summary (``summary.csv`` and printed) gives, per world x scale x comparison x outcome x
horizon: seeds, bias, RMSE, mean SE against the SD of the estimates, coverage of the honest
interval and of the person-level one, the share of each verdict, and the false-verdict rate.
Its stable, committed form is ``--summary-file`` (default
``benchmarks/results/mc_primary_summary.csv``): the same rows with the engine, the persons per
world and the family-wise false-verdict share of each world x scale, fixed column order and
precision; rows of another engine or size already in the file are kept, so one file holds
every run. The export carries it when config ``run.monte_carlo_primary`` names it, and the
methods appendix shows it (one table per engine and size).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.calendar import load_calendar
from inburgering.contracts.tidy import read_tidy
from inburgering.designs.event_study import EventStudySettings, single_threaded_blas
from inburgering.designs.reform_did import ReformDidSettings, outcome_tables
from inburgering.primary.verdict import KEY, verdict_table
from inburgering.validation.designsim import SimSpec, simulate
from inburgering.validation.montecarlo import ROOT, default_config, run_workflow
from inburgering.validation.truth import read_truth

VERDICT = "estimates/verdict.csv"
ESTIMATES = "estimates/reform_did.csv"
TRUTH = "synthetic/truth/estimands.csv"
OUT = Path(__file__).with_name("results") / "mc_primary"
SUMMARY_FILE = Path(__file__).with_name("results") / "mc_primary_summary.csv"
RUN = ["engine", "persons", "world", "scale"]
ROW = ["comparison", "outcome", "horizon"]
SUMMARY_COLUMNS = [*RUN, "seeds", *ROW, "truth", "bias", "rmse", "mean_se", "sd_estimate",
                   "coverage", "coverage_persons_only", "not_assessable", "false_verdict",
                   "family_false_verdict"]  # fmt: skip
EQUAL_EFFECT = 0.03
DESIGNSIM_SHOCK_SD = 0.03


class PieceFailed(RuntimeError):
    """A piece's workflow stopped; its Snakemake log travels with the error (the scratch folder
    it was written in does not outlive the run)."""

    def __init__(self, name: str, log: str) -> None:
        super().__init__(f"{name} failed")
        self.name, self.log = name, log


def sections(world: str, scale: float, seed: int, persons: int) -> dict:
    """The overlay of one piece: the primary family only, the world's effects, the shocks."""
    config = default_config()
    primary = config["primary"]
    synth = {"seed": seed, "persons": persons, "city_shocks": {"scale": scale}}
    if world == "equal":
        g4 = config["synth"]["reform_effect"]
        synth.update(
            reform_effect=dict.fromkeys(g4, EQUAL_EFFECT), reform_mean=EQUAL_EFFECT, reform_sd=0.0
        )
    return {
        "synth": synth,
        "run": {"seed": seed},
        "estimate": {
            "cities": [primary["city"]],
            "outcomes": list(primary["outcomes"]),
            "horizons": list(primary["horizons"]),
        },
    }


def piece_rows(world: str, scale: float, seed: int, persons: int, scratch: Path) -> pd.DataFrame:
    """One piece's verdict rows with truth and the person-level interval beside them."""
    base = scratch / f"{world}_x{scale:g}_{seed}"
    started = time.perf_counter()
    completed = run_workflow(base, sections(world, scale, seed, persons), [VERDICT, TRUTH])
    if completed.returncode != 0:
        raise PieceFailed(base.name, (base / "snakemake.log").read_text(encoding="utf-8"))
    results = base / "results"
    verdict = pd.read_csv(results / VERDICT)
    truth = read_truth(results / TRUTH)
    truth = truth[(truth["design"] == "reform_did") & (truth["estimand"] == "att_overall")
                  & (truth["subgroup"] == "all")]  # fmt: skip
    rows = verdict.merge(truth[[*KEY, "truth"]], on=KEY, how="left", validate="one_to_one")
    if rows["truth"].isna().any():
        raise RuntimeError(f"{base.name}: verdict rows without a truth")
    persons_only = read_tidy(results / ESTIMATES)
    persons_only = persons_only[persons_only["estimator"].str.endswith("_persons_only")
                                & (persons_only["subgroup"] == "all")]  # fmt: skip
    persons_only = persons_only[[*KEY, "ci_low", "ci_high"]].rename(
        columns={"ci_low": "persons_ci_low", "ci_high": "persons_ci_high"}
    )
    rows = rows.merge(persons_only.assign(horizon=lambda f: f["horizon"].astype(int)), on=KEY,
                      how="left")  # fmt: skip
    shutil.rmtree(base)
    print(f"{base.name}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return rows.assign(world=world, scale=scale, seed=seed, engine="workflow", persons=persons)


def designsim_rows(world: str, scale: float, seed: int, persons: int, _scratch: Path):
    """One piece on the design simulator: reform_did's tables and the verdict, in memory."""
    started = time.perf_counter()
    config = default_config()
    primary = config["primary"]
    spec = SimSpec(persons=persons, seed=seed, instrument_effect=0.0,
                   city_shock_sd=scale * DESIGNSIM_SHOCK_SD)  # fmt: skip
    if world == "equal":
        spec = replace(spec, reform_effect=dict.fromkeys(spec.reform_effect, EQUAL_EFFECT),
                       reform_mean=EQUAL_EFFECT, reform_sd=0.0)  # fmt: skip
    data = simulate(spec, tuple(primary["horizons"]))
    estimate = {**config["estimate"], "cities": [primary["city"]], "horizons": primary["horizons"]}
    # The simulator's covariates (it has no `group` column).
    estimate["covariates"] = ["female", "age", "schooling_years"]
    # The verdict reads the headline rows only: fewer placebos and draws keep a seed cheap.
    settings = replace(EventStudySettings.from_config(estimate), ri_pool=9, wild_draws=99,
                       band_draws=999)  # fmt: skip
    reform = replace(ReformDidSettings.from_config(estimate), covariate_interactions=[])
    calendar = load_calendar(ROOT / config["data"]["policies"])
    tables: dict[str, list[pd.DataFrame]] = {
        "estimates": [], "pretrends": [], "honestdid": [], "inference": []
    }  # fmt: skip
    with single_threaded_blas():
        for outcome in primary["outcomes"]:
            for h in primary["horizons"]:
                out = outcome_tables(
                    data["persons"], data["outcomes"], outcome, h, settings, reform, calendar
                )
                for name in tables:
                    tables[name].append(out[name])
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
    verdict = verdict_table(frames["estimates"], frames["pretrends"], frames["honestdid"], primary,
                            inference=frames["inference"])  # fmt: skip
    truth = data["truth"].query("subgroup == 'all'")[[*KEY, "truth"]]
    rows = verdict.merge(truth, on=KEY, how="left", validate="one_to_one")
    est = frames["estimates"]
    persons_only = est[est["estimator"].str.endswith("_persons_only") & (est["subgroup"] == "all")]
    persons_only = persons_only[[*KEY, "ci_low", "ci_high"]].rename(
        columns={"ci_low": "persons_ci_low", "ci_high": "persons_ci_high"}
    )
    rows = rows.merge(persons_only.assign(horizon=lambda f: f["horizon"].astype(int)), on=KEY,
                      how="left")  # fmt: skip
    name = f"{world}_x{scale:g}_{seed}"
    print(f"{name}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return rows.assign(world=world, scale=scale, seed=seed, engine="designsim", persons=persons)


def false_verdict(frame: pd.DataFrame) -> pd.Series:
    """A directional verdict whose direction the truth contradicts (or any, when truth is 0).

    A truth that is a difference of equal planted effects is 0 only up to rounding (±1e-17):
    it counts as 0, so any directional verdict on it is false."""
    truth = frame["truth"].where(~np.isclose(frame["truth"], 0.0, rtol=0.0, atol=1e-12), 0.0)
    sign = np.where(frame["direction"] == "higher_is_better", 1, -1) * np.sign(truth)
    claimed = frame["verdict"].map({"more_effective": 1, "less_effective": -1}).fillna(0)
    return (claimed != 0) & (claimed != sign)


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(
        error=frame["estimate"] - frame["truth"],
        covered=(frame["ci_low"] <= frame["truth"]) & (frame["truth"] <= frame["ci_high"]),
        persons_covered=(frame["persons_ci_low"] <= frame["truth"])
        & (frame["truth"] <= frame["persons_ci_high"]),
        false_verdict=false_verdict(frame),
    )
    rows = []
    for key, g in frame.groupby(["world", "scale", "comparison", "outcome", "horizon"]):
        shares = g["verdict"].value_counts(normalize=True)
        rows.append({
            **dict(zip(["world", "scale", "comparison", "outcome", "horizon"], key, strict=True)),
            "seeds": len(g), "truth": g["truth"].mean(), "bias": g["error"].mean(),
            "rmse": float(np.sqrt(np.mean(g["error"] ** 2))), "mean_se": g["se"].mean(),
            "sd_estimate": g["estimate"].std(ddof=1), "coverage": g["covered"].mean(),
            "coverage_persons_only": g["persons_covered"].mean(),
            "more": shares.get("more_effective", 0.0), "less": shares.get("less_effective", 0.0),
            "no_difference": shares.get("no_distinguishable_difference", 0.0),
            "not_assessable": shares.get("not_assessable", 0.0),
            "false_verdict": g["false_verdict"].mean(),
        })  # fmt: skip
    return pd.DataFrame(rows)


def family_false_verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of seeds with at least one false verdict in the family (family-wise error)."""
    flagged = frame.assign(false_verdict=false_verdict(frame))
    per_seed = flagged.groupby(["world", "scale", "seed"])["false_verdict"].any()
    return per_seed.groupby(["world", "scale"]).agg(["mean", "size"]).reset_index()


def stable_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The committed summary of every engine x persons x world x scale in ``frame``: the
    per-row summary with the family-wise false-verdict share of its world x scale."""
    parts = []
    for (engine, persons), pieces in frame.groupby(["engine", "persons"], sort=True):
        rows = summarise(pieces).assign(engine=engine, persons=int(persons))
        family = family_false_verdicts(pieces).rename(columns={"mean": "family_false_verdict"})
        parts.append(rows.merge(family[["world", "scale", "family_false_verdict"]],
                                on=["world", "scale"], how="left"))  # fmt: skip
    return pd.concat(parts, ignore_index=True)[SUMMARY_COLUMNS]


def update_summary_file(path: Path, summary: pd.DataFrame) -> pd.DataFrame:
    """Replace the rows of the runs in ``summary`` and keep every other run's rows, sorted so
    that the file changes only where a result did."""
    if path.exists():
        kept = pd.read_csv(path)
        runs = summary[RUN].drop_duplicates().assign(_replaced=True)
        kept = kept.merge(runs, on=RUN, how="left")
        summary = pd.concat([kept[kept["_replaced"].isna()][SUMMARY_COLUMNS], summary])
    summary = summary.sort_values([*RUN, *ROW], kind="stable").reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    summary.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
    tmp.replace(path)
    return summary


def read_pieces(pieces: Path, engine: str, persons: int) -> pd.DataFrame:
    """Every piece; pieces written before the engine and persons were recorded in them take
    the ``--engine`` and ``--persons`` they were run with."""
    frames = [pd.read_csv(p) for p in sorted(pieces.glob("*.csv"))]
    if not frames:
        raise SystemExit(f"no pieces below {pieces}: run some seeds first")
    frame = pd.concat(frames, ignore_index=True)
    for column, value in (("engine", engine), ("persons", persons)):
        frame[column] = frame[column].fillna(value) if column in frame else value
    return frame


def seeds_of(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def keep_going(work, out: Path):
    """``work`` that, when a piece's workflow fails, keeps its log in ``out/failed/`` and
    returns the piece's name instead of stopping the other pieces."""

    def attempt(piece: tuple[str, float, int]) -> str | None:
        try:
            work(piece)
        except PieceFailed as failure:
            (out / "failed").mkdir(parents=True, exist_ok=True)
            (out / "failed" / f"{failure.name}.log").write_text(failure.log, encoding="utf-8")
            print(f"{failure.name}: FAILED, log in {out / 'failed'}", flush=True)
            return failure.name
        return None

    return attempt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-49", help="a seed or a range, e.g. 0-9")
    parser.add_argument("--persons", type=int, default=250000)
    parser.add_argument("--scales", default="0,1,2")
    parser.add_argument("--world", choices=["planted", "equal"], default="planted")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summary", action="store_true", help="only aggregate existing pieces")
    parser.add_argument("--engine", choices=["workflow", "designsim"], default="workflow")
    parser.add_argument("--summary-file", type=Path, default=SUMMARY_FILE,
                        help="the committed summary this run's rows are written into")  # fmt: skip
    args = parser.parse_args()
    pieces = args.out / "seeds"
    pieces.mkdir(parents=True, exist_ok=True)
    if not args.summary:
        todo = [
            (args.world, float(scale), seed)
            for scale in args.scales.split(",")
            for seed in seeds_of(args.seeds)
            if not (pieces / f"{args.world}_x{float(scale):g}_{seed}.csv").exists()
        ]
        with tempfile.TemporaryDirectory(prefix="mc_primary_") as scratch:

            def work(piece: tuple[str, float, int]) -> None:
                run = piece_rows if args.engine == "workflow" else designsim_rows
                rows = run(*piece, args.persons, Path(scratch))
                target = pieces / f"{piece[0]}_x{piece[1]:g}_{piece[2]}.csv"
                rows.to_csv(target.with_suffix(".tmp"), index=False)
                target.with_suffix(".tmp").replace(target)

            with ThreadPoolExecutor(args.jobs) as pool:
                failures = [f for f in pool.map(keep_going(work, args.out), todo) if f]
        if failures:  # the other pieces are kept: rerunning the command retries only these
            raise SystemExit(f"{len(failures)} piece(s) failed: {', '.join(failures)}")
    frame = read_pieces(pieces, args.engine, args.persons)
    update_summary_file(args.summary_file, stable_summary(frame))
    summary = summarise(frame)
    summary.to_csv(args.out / "summary.csv", index=False, float_format="%.4f")
    family = family_false_verdicts(frame)
    family.to_csv(args.out / "family_false_verdicts.csv", index=False, float_format="%.4f")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.round(3).to_string(index=False))
        print(family.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
