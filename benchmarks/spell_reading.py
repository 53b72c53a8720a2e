"""Benchmark: reading register spell files and aggregating them to person-months, by engine.

The prepare stage reads SECMBUS (socio-economic category spells) and ONDERWIJSINSCHRTAB
(education enrolments) with the project's chunked readers, then builds ``person_months``
(person x calendar month from the obligation start to the data end, states at month end) in
DuckDB. This script runs that path and peers on the same national-size synthetic files, each
tool in its own child process (so each peak RSS is its own), and checks the outputs agree:

- ``project``: ``prepare.sources.state_spells`` (reader + validation) then
  ``prepare.outcomes.connect/register/write_person_months`` (DuckDB);
- ``pandas``: ``pd.read_parquet`` then a vectorised pandas/NumPy aggregation (spells expanded to
  the months they cover, flags scattered into the person-month grid);
- ``polars``: the same expansion in polars;
- ``pandas_naive`` (``--naive``): the literal pandas translation of the DuckDB query (merge
  every person-month with every spell of the person, filter the range, group), under an
  address-space cap so it cannot take the shared machine down.

Every tool writes person_months as zstd parquet, as the stage does. Usage:

    python benchmarks/spell_reading.py [--persons 250000] [--rounds 2] [--naive]
                                       [--work /tmp/spell_bench]

The synthetic population (parquet) is generated once under ``--work`` and reused. Results go
to benchmarks/results/spell_reading.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "spell_reading.json"
TOOLS = ("project", "pandas", "polars")
STATES = ("employed", "in_education", "social_assistance")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def stage_setup(microdata: Path):
    """Catalogue, settings and sources exactly as ``prepare.stage.run`` builds them."""
    from inburgering.cbs import Catalogue
    from inburgering.config import load_config, load_policies
    from inburgering.prepare import sources as s
    from inburgering.prepare.quality import DataQuality
    from inburgering.prepare.settings import Settings

    config = load_config(ROOT / "config" / "config.yaml")
    data = {**config["data"], "root": str(microdata), "formats": ["parquet"],
            "catalogue": ROOT / "config" / "catalogue.yaml"}  # fmt: skip
    prepare = config["prepare"]
    catalogue = Catalogue.from_config({"data": data, "prepare": prepare})
    policies = load_policies(ROOT / "config" / "policies.yaml")
    cities = {city: spec["code"] for city, spec in policies["municipalities"].items()}
    settings = Settings.from_config(prepare, data, cities)
    src = s.Sources(catalogue, settings, DataQuality(settings.max_repair_share, "prepare"))
    return catalogue, settings, src


def ensure_population(persons: int, work: Path) -> Path:
    """Generate the synthetic CBS-style files once; build the persons table once."""
    folder = work / f"n{persons}"
    microdata = folder / "microdata"
    if not (folder / "truth" / "estimands.csv").exists():
        cmd = [sys.executable, "-m", "inburgering.synth", "--persons", str(persons),
               "--out", str(folder), "--format", "parquet"]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=ROOT)
    path = folder / "persons.parquet"
    if not path.exists():
        # The obligated persons and their obligation start: the stage's own build_persons.
        from inburgering.prepare.persons import build_persons

        _, _, src = stage_setup(microdata)
        persons, _ = build_persons(src)
        persons[["person_id", "obligation_start"]].to_parquet(path, index=False)
    return folder


# --- project: the prepare stage's functions ------------------------------------------------


def project_read(setup, ids: pd.Series):
    from inburgering.prepare import sources as s

    catalogue, _, src = setup
    secm = s.state_spells(src, "socio_economic", ids, ["category"])
    secm = secm[secm["person_type"] == catalogue.codes["person_type_resident"]]
    education = None
    if src.present("education_enrolment"):
        education = s.state_spells(src, "education_enrolment", ids, [])
    return secm, education


def project_aggregate(setup, persons, spells, out: Path, threads: int) -> int:
    from inburgering.prepare.outcomes import connect, register, write_person_months

    catalogue, settings, _ = setup
    secm, education = spells
    scratch = out.parent / "duckdb_tmp"
    scratch.mkdir(exist_ok=True)
    con = connect(settings, threads, scratch)
    register(con, persons, secm, education, catalogue.codes)
    rows = write_person_months(con, settings, education is not None, out)
    con.close()
    return rows


# --- what the peers need to know, taken from the stage's catalogue and settings -------------


@dataclass(frozen=True)
class Source:
    """One spell file: path, raw CBS column names, and whether only residents count."""

    path: Path
    columns: dict[str, str]
    residents_only: bool


@dataclass(frozen=True)
class Plan:
    sources: list[Source]
    states: dict[str, str]  # SECM category -> state (employed / social_assistance)
    resident: str
    data_end: pd.Timestamp

    @property
    def last_month(self) -> int:
        return self.data_end.year * 12 + self.data_end.month - 1


def make_plan(setup) -> Plan:
    """As prepare.stage.run: SECM spells of residents, education spells of everyone listed."""
    catalogue, settings, src = setup
    codes = catalogue.codes
    states = {c: "employed" for c in codes["secm_employed"]}
    states |= {c: "social_assistance" for c in codes["secm_social_assistance"]}
    sources = [
        Source(
            catalogue.resolve(table)[-1].path,
            catalogue.spec(table).columns,
            residents_only=table == "socio_economic",
        )
        for table in ("socio_economic", "education_enrolment")
        if table == "socio_economic" or src.present(table)
    ]
    return Plan(sources, states, codes["person_type_resident"], settings.data_end)


def _month(ts: pd.Series) -> np.ndarray:
    """Month ordinal (12 * year + month - 1)."""
    return (ts.dt.year * 12 + ts.dt.month - 1).to_numpy(np.int64)


# --- pandas --------------------------------------------------------------------------------


def pandas_read(plan: Plan, ids: pd.Series) -> pd.DataFrame:
    """person_id, state, start, end of the population's spells (dates parsed, YYYYMMDD)."""
    keep = set(ids)
    frames = []
    for source in plan.sources:
        col = source.columns
        raw = pd.read_parquet(source.path, columns=list(col.values()))
        mask = raw[col["person_id"]].isin(keep)
        if source.residents_only:
            mask &= raw[col["person_type"]] == plan.resident
        raw = raw[mask]
        state = raw[col["category"]].map(plan.states) if "category" in col else "in_education"
        frames.append(
            pd.DataFrame(
                {
                    "person_id": raw[col["person_id"]],
                    "state": state,
                    "start": pd.to_datetime(raw[col["start"]], format="%Y%m%d"),
                    "end": pd.to_datetime(raw[col["end"]], format="%Y%m%d"),
                }
            ).dropna(subset=["state"])
        )
    return pd.concat(frames, ignore_index=True)


def _grid(persons: pd.DataFrame, last: int):
    """Person-month grid in person_id order: persons, row person, row month, first, offsets."""
    persons = persons.sort_values("person_id", kind="mergesort").reset_index(drop=True)
    first = _month(persons["obligation_start"])
    n = np.clip(last - first + 1, 0, None)
    offset = np.concatenate([[0], np.cumsum(n)[:-1]])
    person = np.repeat(np.arange(len(persons)), n)
    month = first[person] + (np.arange(n.sum()) - offset[person])
    return persons, person, month, first, offset


def _first_of_month(month: np.ndarray) -> pd.Series:
    return pd.to_datetime({"year": month // 12, "month": month % 12 + 1, "day": 1})


def pandas_aggregate(plan: Plan, persons: pd.DataFrame, spells: pd.DataFrame, out: Path) -> int:
    """Same rows as write_person_months: state true if a spell runs on the month's last day."""
    last = plan.last_month
    persons, person, month, first, offset = _grid(persons, last)
    code = pd.Index(persons["person_id"]).get_indexer(spells["person_id"])
    # A spell covers month m iff start <= last day of m <= end: from the start's month to the
    # end's month, minus that one when the spell ends before its last day.
    lo = np.maximum(_month(spells["start"]), first[code])
    ends_early = (spells["end"] + pd.Timedelta(days=1)).dt.day.to_numpy() != 1
    hi = np.minimum(_month(spells["end"]) - ends_early, last)
    ok = (code >= 0) & (hi >= lo)
    code, lo, hi, state = code[ok], lo[ok], hi[ok], spells["state"].to_numpy()[ok]
    k = hi - lo + 1
    rep = np.repeat(np.arange(len(k)), k)
    covered = lo[rep] + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
    row = offset[code[rep]] + covered - first[code[rep]]
    flags = {}
    for name in STATES:
        flag = np.zeros(len(person), dtype=bool)
        flag[row[state[rep] == name]] = True
        flags[name] = flag
    frame = pd.DataFrame(
        {
            "person_id": persons["person_id"].to_numpy()[person],
            "month": _first_of_month(month).dt.date,
            "months_since_start": (month - first[person]).astype(np.int32),
            "employed": flags["employed"],
            "in_education": flags["in_education"],
            "participation": flags["employed"] | flags["in_education"],
            "social_assistance": flags["social_assistance"],
        }
    )
    frame.to_parquet(out, index=False, compression="zstd")
    return len(frame)


def pandas_naive_aggregate(
    plan: Plan, persons: pd.DataFrame, spells: pd.DataFrame, out: Path
) -> int:
    """Literal translation of the SQL: grid LEFT JOIN spells ON person, filter, GROUP BY."""
    persons, person, month, first, _ = _grid(persons, plan.last_month)
    grid = pd.DataFrame(
        {
            "person_id": persons["person_id"].to_numpy()[person],
            "month": month,
            "months_since_start": (month - first[person]).astype(np.int32),
            "date": _first_of_month(month) + pd.offsets.MonthEnd(0),
        }
    )
    joined = grid.merge(spells, on="person_id", how="left")
    running = (joined["start"] <= joined["date"]) & (joined["end"] >= joined["date"])
    for name in STATES:
        joined[name] = running & (joined["state"] == name)
    frame = (
        joined.groupby(["person_id", "month", "months_since_start"], sort=True)[list(STATES)]
        .any()
        .reset_index()
    )
    frame["participation"] = frame["employed"] | frame["in_education"]
    frame["month"] = _first_of_month(frame["month"].to_numpy()).dt.date
    frame.to_parquet(out, index=False, compression="zstd")
    return len(frame)


# --- polars --------------------------------------------------------------------------------


def polars_read(plan: Plan, ids: pd.Series):
    import polars as pl

    keep = pl.Series(ids.astype(str).to_numpy()).implode()
    frames = []
    for source in plan.sources:
        col = source.columns
        mask = pl.col(col["person_id"]).is_in(keep)
        if source.residents_only:
            mask &= pl.col(col["person_type"]) == plan.resident
        state = (
            pl.col(col["category"]).replace_strict(plan.states, default=None)
            if "category" in col
            else pl.lit("in_education")
        )
        frames.append(
            pl.scan_parquet(source.path)
            .filter(mask)
            .select(
                person_id=pl.col(col["person_id"]),
                state=state,
                start=pl.col(col["start"]).str.to_date("%Y%m%d"),
                end=pl.col(col["end"]).str.to_date("%Y%m%d"),
            )
            .drop_nulls("state")
        )
    return pl.concat(frames).collect()


def polars_aggregate(plan: Plan, persons: pd.DataFrame, spells, out: Path) -> int:
    import polars as pl

    last = plan.last_month

    def month(col: str) -> pl.Expr:
        return pl.col(col).dt.year().cast(pl.Int64) * 12 + pl.col(col).dt.month() - 1

    people = pl.from_pandas(persons[["person_id", "obligation_start"]]).select(
        pl.col("person_id").cast(pl.String), first=month("obligation_start")
    )
    grid = people.with_columns(m=pl.int_ranges("first", last + 1)).explode("m").drop_nulls("m")
    covered = (
        spells.join(people, on="person_id", how="inner")
        .with_columns(
            lo=pl.max_horizontal(month("start"), "first"),
            hi=pl.min_horizontal(
                month("end") - (pl.col("end") != pl.col("end").dt.month_end()).cast(pl.Int64),
                pl.lit(last),
            ),
        )
        .filter(pl.col("hi") >= pl.col("lo"))
        .with_columns(m=pl.int_ranges("lo", pl.col("hi") + 1))
        .explode("m")
        .group_by("person_id", "m")
        .agg(**{name: (pl.col("state") == name).any() for name in STATES})
    )
    frame = (
        grid.join(covered, on=["person_id", "m"], how="left")
        .with_columns(pl.col(list(STATES)).fill_null(False))
        .select(
            "person_id",
            month=pl.date(pl.col("m") // 12, pl.col("m") % 12 + 1, 1),
            months_since_start=(pl.col("m") - pl.col("first")).cast(pl.Int32),
            employed="employed",
            in_education="in_education",
            participation=pl.col("employed") | pl.col("in_education"),
            social_assistance="social_assistance",
        )
        .sort("person_id", "month")
    )
    frame.write_parquet(out, compression="zstd")
    return frame.height


PEERS = {
    "pandas": (pandas_read, pandas_aggregate),
    "pandas_naive": (pandas_read, pandas_naive_aggregate),
    "polars": (polars_read, polars_aggregate),
}


# --- children and comparison ---------------------------------------------------------------


def child(tool: str, folder: Path, threads: int, cap_gb: float) -> None:
    if tool == "pandas_naive":
        # The literal join holds (person-months x spells of the person) rows at once; cap the
        # address space so running out is a MemoryError here, not a shared machine swapping.
        cap = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    persons = pd.read_parquet(folder / "persons.parquet")
    setup = stage_setup(folder / "microdata")
    plan = make_plan(setup)
    out = folder / "out" / f"person_months_{tool}.parquet"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    if tool == "project":
        import duckdb  # noqa: F401  (imported before the clock starts, as polars below)

        read = partial(project_read, setup)
        aggregate = partial(project_aggregate, setup, threads=threads)
    else:
        if tool == "polars":
            import polars  # noqa: F401
        read, aggregate = (partial(f, plan) for f in PEERS[tool])
    baseline = _peak_mb()
    t0, c0 = time.perf_counter(), _cpu()
    spells = read(persons["person_id"])
    t1, c1 = time.perf_counter(), _cpu()
    result: dict = {"baseline_mb": baseline, "read_seconds": t1 - t0, "read_cpu": c1 - c0,
                    "read_peak_mb": _peak_mb()}  # fmt: skip
    if tool == "pandas_naive":
        months = np.clip(plan.last_month - _month(persons["obligation_start"]) + 1, 0, None)
        per_person = persons["person_id"].map(spells["person_id"].value_counts())
        result["join_rows"] = int(np.sum(months * per_person.fillna(0).clip(lower=1)))
        t1, c1 = time.perf_counter(), _cpu()
    try:
        rows = aggregate(persons, spells, out)
    except MemoryError:
        result["error"] = f"MemoryError under a {cap_gb:g} GB address-space cap"
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return
    t2, c2 = time.perf_counter(), _cpu()
    result |= {"aggregate_seconds": t2 - t1, "aggregate_cpu": c2 - c1, "rows": rows,
               "peak_mb": _peak_mb(), "output": str(out)}  # fmt: skip
    print(json.dumps(result))


def run_child(tool: str, folder: Path, threads: int, cap_gb: float) -> dict:
    cmd = [sys.executable, __file__, "--child", tool, "--folder", str(folder),
           "--threads", str(threads), "--naive-cap-gb", str(cap_gb)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        tail = proc.stderr[-3000:]
        return {"error": f"exit {proc.returncode}: {tail.strip().splitlines()[-1] if tail else ''}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def canonical(path: str):
    """person_months as one Arrow table with fixed types, sorted by person and month."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [("person_id", pa.string()), ("month", pa.date32()), ("months_since_start", pa.int32())]
        + [(c, pa.bool_()) for c in ("employed", "in_education", "participation")]
        + [("social_assistance", pa.bool_())]
    )
    table = pq.read_table(path).select(schema.names).cast(schema)
    return table.sort_by([("person_id", "ascending"), ("month", "ascending")])


def best(runs: list[dict]) -> dict:
    """Fastest time of each phase over the rounds, largest peak (memory barely varies)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    out = dict(ok[0])
    for key in ("read_seconds", "read_cpu", "aggregate_seconds", "aggregate_cpu"):
        out[key] = min(r[key] for r in ok)
    out["peak_mb"] = max(r["peak_mb"] for r in ok)
    out["rounds"] = runs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=250_000)
    parser.add_argument("--work", default="/tmp/spell_bench")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (prepare: 2)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tool (best kept)")
    parser.add_argument("--naive", action="store_true", help="also run pandas_naive")
    parser.add_argument("--naive-cap-gb", type=float, default=8.0)
    parser.add_argument("--child", choices=[*TOOLS, "pandas_naive"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.folder), args.threads, args.naive_cap_gb)
        return
    folder = ensure_population(args.persons, Path(args.work))
    tools = [*TOOLS, "pandas_naive"] if args.naive else list(TOOLS)
    load = {"before": os.getloadavg()}
    # Rounds interleave the tools, so a burst of load from other jobs does not hit one only.
    rounds: dict[str, list[dict]] = {tool: [] for tool in tools}
    for k in range(args.rounds):
        for tool in tools:
            if tool != "pandas_naive" or k == 0:  # one try is enough for the memory verdict
                rounds[tool].append(run_child(tool, folder, args.threads, args.naive_cap_gb))
    load["after"] = os.getloadavg()
    res = {tool: best(runs) for tool, runs in rounds.items()}
    reference = canonical(res["project"]["output"])
    for tool in tools:
        r = res[tool]
        if "error" in r:
            held = f" (join of {r['join_rows']:,} rows)" if "join_rows" in r else ""
            print(f"{tool:13s} FAILED{held}: {r['error']}")
            continue
        if tool != "project":
            other = canonical(r["output"])
            r["identical"] = bool(other.equals(reference))
            if not r["identical"] and other.num_rows == reference.num_rows:
                diff = [c for c in reference.column_names if not other[c].equals(reference[c])]
                r["differing_columns"] = diff
        r["total_seconds"] = r["read_seconds"] + r["aggregate_seconds"]
        same = "reference" if tool == "project" else f"identical={r['identical']}"
        print(
            f"{tool:13s} read {r['read_seconds']:6.1f} s"
            f" + aggregate {r['aggregate_seconds']:6.1f} s"
            f" = {r['total_seconds']:6.1f} s (CPU {r['read_cpu'] + r['aggregate_cpu']:6.1f} s),"
            f" peak {r['peak_mb']:6.0f} MB (after read {r['read_peak_mb']:5.0f},"
            f" start {r['baseline_mb']:4.0f}), {r['rows']:,} rows, {same}"
        )
    ref = res["project"]
    ratios = {}
    for tool in tools[1:]:
        if "error" in res[tool]:
            continue
        ratios[tool] = {
            "aggregate_time": res[tool]["aggregate_seconds"] / ref["aggregate_seconds"],
            "read_time": res[tool]["read_seconds"] / ref["read_seconds"],
            "total_time": res[tool]["total_seconds"] / ref["total_seconds"],
            "peak_memory": res[tool]["peak_mb"] / ref["peak_mb"],
        }
        q = ratios[tool]
        print(
            f"{tool} / project: aggregate time x{q['aggregate_time']:.2f}, read time"
            f" x{q['read_time']:.2f}, total x{q['total_time']:.2f}, peak memory"
            f" x{q['peak_memory']:.2f}"
        )
    if "join_rows" in res.get("pandas_naive", {}):
        print(f"pandas_naive: the join holds {res['pandas_naive']['join_rows']:,} rows")
    import duckdb
    import polars

    meta = {
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "load_average_1_5_15": load,
        "args": {k: v for k, v in vars(args).items() if k not in ("child", "folder")},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"meta": meta, "runs": res, "ratios": ratios}, indent=2) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
