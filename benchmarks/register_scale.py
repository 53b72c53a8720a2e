"""Benchmark: reading SPOLISBUS-size .sav registers down to the study persons' person-months.

Real yearly SPOLISBUS files hold every job in the Netherlands (well over 100 M rows a year); the
study persons own a few percent of the rows. This script writes SPOLISBUS-like ``.sav`` files
(the catalogue's ``jobs`` columns: RINPERSOONS, RINPERSOON as 9-digit text, IKVID, SBEID, job
start/end dates, SBASISLOON, SBASISUREN, SCONTRACTSOORT; one row per job and month as in the
SPOLIS income periods) and then, each approach in its own child process, reads every year,
keeps the study persons' rows and aggregates them to person-months (wage, hours, jobs, any
open-ended contract). Approaches:

- ``prepare``: the stage's reader as it is (``cbs.readers.read_file``, chunked, text columns);
- ``chunks``: ``pyreadstat.read_file_in_chunks`` filtering each raw chunk (pyarrow ``is_in``);
- ``multiprocess``: the same with ``multiprocess=True`` (``num_processes`` readers per chunk);
- ``parquet_duckdb``: a one-off chunked conversion of each file to Parquet, then one DuckDB
  query (semi-join on the persons, group by person-month) over the Parquet files.

Each child's wall and CPU time (its own plus its children's), peak RSS of its process tree
(psutil, sampled every 0.2 s) and rows/s are reported; all outputs must equal the ``chunks``
result. Memory flat in register size: the growth check reads a small and a large year with the
same study rows through the default reader and compares the peaks. Files are written to
``--work`` (default: the system temp folder; never the repository) and deleted at the end
unless ``--keep``. Usage:

    python benchmarks/register_scale.py                                  # 30 M + 2 x 10 M rows
    python benchmarks/register_scale.py --rows 2000000 1000000 --study-rows 60000   # quick

Results: benchmarks/results/register_scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

RESULTS = Path(__file__).resolve().parent / "results" / "register_scale.json"
COLUMNS = {  # catalogue tables.jobs: logical -> SPOLISBUS column
    "person_type": "RINPERSOONS",
    "person_id": "RINPERSOON",
    "job_id": "IKVID",
    "employer_id": "SBEID",
    "start": "SDATUMAANVANGIKO",
    "end": "SDATUMEINDEIKO",
    "base_wage": "SBASISLOON",
    "base_hours": "SBASISUREN",
    "contract": "SCONTRACTSOORT",
}
READ = ["RINPERSOON", "SDATUMAANVANGIKO", "SBASISLOON", "SBASISUREN", "SCONTRACTSOORT"]
APPROACHES = ("prepare", "chunks", "multiprocess", "parquet_duckdb")
PERSON_MONTH = ["person_id", "month", "wage", "hours", "jobs", "open_ended"]


def study_ids(persons: int) -> np.ndarray:
    """9-digit ids of the study persons (a fixed, spread-out subset of the id space)."""
    return np.char.zfill((np.arange(persons, dtype=np.int64) * 3_999 + 17).astype(str), 9)


def generate(path: Path, rows: int, year: int, persons: int, study_rows: int, seed: int) -> None:
    """One SPOLISBUS-like year in one frame (pyreadstat writes whole frames only)."""
    import pyreadstat

    rng = np.random.default_rng(seed)
    ids = study_ids(persons)
    others = rng.integers(400_000_000, 999_999_999, rows - study_rows)
    person = np.concatenate([rng.choice(ids, study_rows), others.astype(str)])
    order = rng.permutation(rows)
    month = rng.integers(1, 13, rows)
    start = pd.to_datetime(
        {"year": np.full(rows, year), "month": month, "day": rng.integers(1, 8, rows)}
    )
    end = start + pd.offsets.MonthEnd(0)
    frame = pd.DataFrame(
        {
            "RINPERSOONS": np.full(rows, "R", dtype=object),
            "RINPERSOON": person[order].astype(object),
            "IKVID": rng.integers(1, 9, rows).astype(float),
            "SBEID": rng.integers(1, 2_000_000, rows).astype(float),
            "SDATUMAANVANGIKO": start.to_numpy(),
            "SDATUMEINDEIKO": end.to_numpy(),
            "SBASISLOON": np.round(rng.lognormal(7.5, 0.5, rows), 2),
            "SBASISUREN": rng.choice([48.0, 80.0, 104.0, 139.0, 165.0], rows),
            "SCONTRACTSOORT": rng.choice(np.array(["O", "B", "N"], dtype=object), rows),
        }
    )
    del person, others, order, start, end
    pyreadstat.write_sav(frame, str(path))


def aggregate_pandas(kept: pd.DataFrame) -> pd.DataFrame:
    """Person-months from kept job rows (any reader's columns, already typed)."""
    start = kept["SDATUMAANVANGIKO"]
    if not pd.api.types.is_datetime64_any_dtype(start):  # the stage's reader gives YYYYMMDD text
        start = pd.to_datetime(start, format="%Y%m%d")
    frame = pd.DataFrame(
        {
            "person_id": kept["RINPERSOON"].astype(str),
            "month": start.dt.to_period("M").dt.start_time,
            "wage": pd.to_numeric(kept["SBASISLOON"]),
            "hours": pd.to_numeric(kept["SBASISUREN"]),
            "open_ended": (kept["SCONTRACTSOORT"].astype(str) == "O").astype(np.int64),
        }
    )
    out = frame.groupby(["person_id", "month"], sort=True).agg(
        wage=("wage", "sum"),
        hours=("hours", "sum"),
        jobs=("wage", "size"),
        open_ended=("open_ended", "max"),
    )
    return out.reset_index()[PERSON_MONTH]


def _filter_chunks(path: Path, wanted, multiprocess: bool, chunk_rows: int):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyreadstat

    options = {"multiprocess": True, "num_processes": 2} if multiprocess else {}
    for chunk, _ in pyreadstat.read_file_in_chunks(
        pyreadstat.read_sav,
        str(path),
        chunksize=chunk_rows,
        usecols=READ,
        apply_value_formats=False,
        dates_as_pandas_datetime=True,
        **options,
    ):
        key = pa.array(chunk["RINPERSOON"].to_numpy(object), type=pa.string())
        yield len(chunk), chunk[pc.is_in(key, value_set=wanted).to_numpy(zero_copy_only=False)]


def read_pyreadstat(files: list[Path], ids: np.ndarray, multiprocess: bool, chunk_rows: int):
    import pyarrow as pa

    wanted = pa.array(ids)
    kept, read = [], 0
    for path in files:
        for rows, part in _filter_chunks(path, wanted, multiprocess, chunk_rows):
            kept.append(part)
            read += rows
    return aggregate_pandas(pd.concat(kept, ignore_index=True)), read


def read_prepare(files: list[Path], ids: np.ndarray, chunk_rows: int):
    from inburgering.cbs.readers import read_file

    kept, read = [], 0
    for path in files:
        kept.append(read_file(path, "sav", READ, keep=("RINPERSOON", ids), chunk_rows=chunk_rows))
        read += _row_count(path)
    return aggregate_pandas(pd.concat(kept, ignore_index=True)), read


def _row_count(path: Path) -> int:
    import pyreadstat

    return pyreadstat.read_sav(str(path), metadataonly=True)[1].number_rows


def to_parquet(path: Path, target: Path, chunk_rows: int) -> int:
    """One-off conversion of a .sav to Parquet, chunk by chunk (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyreadstat

    writer, rows = None, 0
    for chunk, _ in pyreadstat.read_file_in_chunks(
        pyreadstat.read_sav,
        str(path),
        chunksize=chunk_rows,
        usecols=READ,
        apply_value_formats=False,
        dates_as_pandas_datetime=True,
    ):
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        writer = writer or pq.ParquetWriter(target, table.schema, compression="zstd")
        writer.write_table(table)
        rows += len(chunk)
    writer.close()
    return rows


def read_duckdb(parquet: list[Path], ids: np.ndarray, temp: Path) -> pd.DataFrame:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{temp.as_posix()}'")
    con.register("persons", pa.table({"person_id": ids}))
    files = ", ".join(f"'{p.as_posix()}'" for p in parquet)
    return con.execute(
        f"""
        SELECT RINPERSOON AS person_id,
               date_trunc('month', SDATUMAANVANGIKO)::TIMESTAMP AS month,
               sum(SBASISLOON) AS wage, sum(SBASISUREN) AS hours, count(*) AS jobs,
               max((SCONTRACTSOORT = 'O')::BIGINT) AS open_ended
        FROM read_parquet([{files}])
        WHERE RINPERSOON IN (SELECT person_id FROM persons)
        GROUP BY ALL ORDER BY person_id, month
        """
    ).df()


def child(args) -> None:
    files = [Path(p) for p in args.files]
    ids = study_ids(args.persons)
    wall, cpu = time.perf_counter(), time.process_time()
    timings = {}
    if args.child == "prepare":
        result, read = read_prepare(files, ids, args.chunk_rows)
    elif args.child in ("chunks", "multiprocess"):
        multiprocess = args.child == "multiprocess"
        result, read = read_pyreadstat(files, ids, multiprocess, args.chunk_rows)
    else:
        parquet = [Path(args.work) / f"{p.stem}.parquet" for p in files]
        read = sum(to_parquet(p, q, args.chunk_rows) for p, q in zip(files, parquet, strict=True))
        timings["convert_seconds"] = time.perf_counter() - wall
        query = time.perf_counter()
        result = read_duckdb(parquet, ids, Path(args.work))
        timings["query_seconds"] = time.perf_counter() - query
    result = result.sort_values(["person_id", "month"], ignore_index=True)
    result.to_parquet(Path(args.work) / f"out_{args.child}.parquet")
    children = resource_children_cpu()
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - wall,
                "cpu_seconds": time.process_time() - cpu + children,
                "rows_read": int(read),
                "person_months": len(result),
                "kept_jobs": int(result["jobs"].sum()),
                **timings,
            }
        )
    )


def resource_children_cpu() -> float:
    """CPU seconds of finished child processes (pyreadstat's multiprocessing readers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def run_child(args: list[str]) -> dict:
    """Run this script as a child; sample its process tree's RSS; return its JSON + peak."""
    with tempfile.TemporaryFile("w+") as out:
        popen = subprocess.Popen([sys.executable, __file__, *args], stdout=out)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            proc = psutil.Process(popen.pid)
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], _tree_rss(proc))
                except psutil.NoSuchProcess:
                    return
                done.wait(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(popen.pid, 0)
        done.set()
        sampler.join()
        code = popen.returncode = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"child {args[:2]} failed with exit code {code}")
        out.seek(0)
        result = json.loads(out.read().strip().splitlines()[-1])
    result["peak_mb"] = max(peak[0] / 2**20, usage.ru_maxrss / 1024)
    return result


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if len(a) != len(b):
        return False
    a = a.assign(month=pd.to_datetime(a["month"]).astype("datetime64[ns]"))
    b = b.assign(month=pd.to_datetime(b["month"]).astype("datetime64[ns]"))
    exact = ["person_id", "month", "jobs", "open_ended"]
    if not all((a[c].to_numpy() == b[c].to_numpy()).all() for c in exact):
        return False
    return all(np.allclose(a[c], b[c], rtol=1e-12, atol=1e-9) for c in ("wage", "hours"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[30_000_000, 10_000_000, 10_000_000])
    parser.add_argument("--persons", type=int, default=250_000, help="study persons")
    parser.add_argument(
        "--study-rows", type=int, default=900_000, help="study persons' rows per year"
    )
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--approaches", nargs="+", choices=APPROACHES, default=list(APPROACHES))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "register_scale")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--child", choices=[*APPROACHES, "generate", "growth"])
    parser.add_argument("--files", nargs="*")
    parser.add_argument("--year", type=int)
    args = parser.parse_args()
    if args.child == "generate":
        generate(Path(args.files[0]), args.rows[0], args.year, args.persons, args.study_rows, 0)
        print(json.dumps({}))
        return
    if args.child:
        child(args)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    common = ["--persons", str(args.persons), "--study-rows", str(args.study_rows)]
    common += ["--chunk-rows", str(args.chunk_rows), "--work", str(args.work)]
    files, generation = [], []
    try:
        for index, rows in enumerate(args.rows):
            year = 2015 + index
            path = args.work / f"SPOLISBUS{year}V1.sav"
            generate_args = ["--child", "generate", "--files", str(path), "--rows", str(rows)]
            gen = run_child([*generate_args, "--year", str(year), *common])
            gen.update(rows=rows, megabytes=path.stat().st_size / 2**20)
            generation.append(gen)
            print(f"generated {path.name}: {rows:,} rows, {gen['megabytes']:,.0f} MB", flush=True)
            files.append(path)
        runs = {}
        for approach in args.approaches:
            runs[approach] = run_child(["--child", approach, "--files", *map(str, files), *common])
            r = runs[approach]
            r["rows_per_second"] = r["rows_read"] / r["seconds"]
            print(
                f"{approach:>15}: {r['seconds']:7.1f} s wall, {r['cpu_seconds']:7.1f} s CPU, "
                f"{r['rows_per_second']:12,.0f} rows/s, peak {r['peak_mb']:6,.0f} MB, "
                f"{r['person_months']:,} person-months",
                flush=True,
            )
        reference = pd.read_parquet(args.work / "out_chunks.parquet")
        for approach in runs:
            other = pd.read_parquet(args.work / f"out_{approach}.parquet")
            runs[approach]["same_output_as_chunks"] = _same(reference, other)
        growth = {}
        sizes = sorted({(rows, path) for rows, path in zip(args.rows, files, strict=True)})
        for rows, path in (sizes[0], sizes[-1]):
            growth[rows] = run_child(["--child", "prepare", "--files", str(path), *common])
            print(f"growth, prepare reader, {rows:,} rows: peak {growth[rows]['peak_mb']:,.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in vars(args).items() if k not in ("child", "files", "year")}
    meta = {**meta, "work": "(temp)", "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    out = {"args": meta, "generation": generation, "runs": runs, "growth": growth}
    RESULTS.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
