"""A run killed in the middle of a rule leaves nothing that looks complete, and resumes.

The prepare rule of a run on a larger synthetic population is SIGKILLed (the whole process
group and every descendant: a power cut or an OOM kill, not a polite Ctrl-C) once its log shows
it is working. Then: every prepare output is either absent or marked incomplete by Snakemake,
any temporary file carries the atomic-write name ``.<stem>.partial-<pid><suffix>``, a plain
rerun refuses (the kill left Snakemake's lock), and after ``--unlock`` a rerun with
``--rerun-incomplete`` finishes with a result equal to a clean run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from runs import incomplete_markers, kill_hard, start_workflow, wait_for

from inburgering.io import atomic_path
from inburgering.validation.montecarlo import run_workflow

# Large enough that prepare runs for seconds even on a fast machine, so the kill lands inside it.
SECTIONS = {"synth": {"persons": 120_000, "seed": 5, "format": "parquet"}}
TARGETS = ["data/persons.parquet", "data/outcomes.parquet"]
PARTIAL = re.compile(r"^\.[^/]+\.partial-\d+(\.[A-Za-z0-9]+)?$")


def _started(log: Path) -> bool:
    return log.is_file() and "rule prepare:" in log.read_text(encoding="utf-8", errors="replace")


@pytest.mark.e2e
@pytest.mark.slow
def test_killed_run_leaves_no_complete_looking_output_and_resumes(tmp_path):
    clean: dict = {}
    reference = threading.Thread(
        target=lambda: clean.update(done=run_workflow(tmp_path / "clean", SECTIONS, TARGETS))
    )
    reference.start()  # the clean run for comparison, alongside

    base = tmp_path / "killed"
    results = base / "results"
    process = start_workflow(base, SECTIONS, TARGETS, "--cores", "2")
    try:
        started = wait_for(lambda: _started(results / "logs" / "prepare.log"), process, 900)
        assert started, (base / "snakemake.log").read_text(encoding="utf-8")[-3000:]
        wait_for(lambda: False, process, 1.0)  # let it get going
        assert process.poll() is None, "prepare finished before the kill: make SECTIONS larger"
    finally:
        kill_hard(process)

    names = ("persons.parquet", "outcomes.parquet", "sample_flow.csv", "data_quality.csv")
    outputs = [results / "data" / name for name in names]
    marked = incomplete_markers(base / "workdir")
    looks_complete = [p.name for p in outputs if p.exists() and str(p) not in marked]
    assert not looks_complete, f"outputs present and not marked incomplete: {looks_complete}"
    data = results / "data"
    stray = [p.name for p in data.iterdir() if p.name.startswith(".")] if data.exists() else []
    assert all(PARTIAL.match(name) or name.startswith(".tmp") for name in stray), stray

    # The kill left Snakemake's lock behind: a plain rerun must refuse rather than guess.
    refused = run_workflow(base, SECTIONS, TARGETS)
    assert refused.returncode != 0
    assert "--unlock" in (base / "snakemake.log").read_text(encoding="utf-8")
    # The documented recovery (docs/reliability.md): unlock this folder, rerun incomplete jobs.
    assert run_workflow(base, SECTIONS, TARGETS, "--unlock").returncode == 0
    resumed = run_workflow(base, SECTIONS, TARGETS, "--rerun-incomplete", cores=2)
    log = (base / "snakemake.log").read_text(encoding="utf-8")
    assert resumed.returncode == 0, log[-4000:]

    reference.join()
    assert clean["done"].returncode == 0
    for name in ("persons.parquet", "outcomes.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(results / "data" / name),
            pd.read_parquet(tmp_path / "clean" / "results" / "data" / name),
        )
    for name in ("sample_flow.csv", "data_quality.csv"):
        reference_file = tmp_path / "clean" / "results" / "data" / name
        if reference_file.exists():
            assert (results / "data" / name).read_bytes() == reference_file.read_bytes()


def test_atomic_write_killed_mid_write_leaves_only_a_hidden_partial(tmp_path):
    """The mechanism under every output: SIGKILL inside atomic_path never exposes the name."""
    target = tmp_path / "estimates.csv"
    script = (
        "import sys, time\n"
        "from inburgering.io import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_text('half a table')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == [f".estimates.partial-{child.pid}.csv"]
    with atomic_path(target) as tmp:  # a rerun writes the real file over the leftover's head
        tmp.write_text("whole table")
    assert target.read_text() == "whole table"
