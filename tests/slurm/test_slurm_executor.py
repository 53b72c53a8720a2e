"""The default workflow through the SLURM executor, end to end, on a real (local) Slurm cluster.

Needs a cluster that answers `sinfo` with the `debug` partition of the slurm-local profile: start
one with `tools/slurm/start-local-cluster.sh` (root) or run `make test-slurm`, which starts it and
runs only this test. Without a cluster the test skips, so `make test` stays fast and independent;
with INBURGERING_REQUIRE_SLURM=1 (set by `make test-slurm`) a missing cluster is a failure.

What it proves: every non-local job of the DAG was submitted with sbatch, allocated and completed
with exit status 0 by slurmctld (its log, since sacct needs accounting storage), and the
estimates and the export are byte-identical to a local run of the same configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from workflow_helpers import ROOT, run_snakemake, write_overlay

pytestmark = pytest.mark.slurm

PROFILE = "workflow/profiles/slurm-local"
PARTITION = "debug"  # default-resources.slurm_partition of the slurm-local profile
PERSONS = 3000
# A hung snakemake ignores SIGTERM: `timeout -k` sends SIGKILL 10 s after the limit.
SLURM_RUN_SECONDS = 480  # a hang guard; the default DAG (~20 jobs) takes 2-4 min
LOCAL_RUN_SECONDS = 300

# The plugin's submission message, e.g. "Job 5 has been submitted with SLURM jobid 2 (log: ...)".
SUBMITTED = re.compile(
    r"Job \d+ has been submitted with SLURM jobid (?P<slurm_id>\d+) \(log: (?P<log>[^)]+)\)"
)
LOCALRULE = re.compile(r"^\s*localrule (\w+):", re.MULTILINE)


def _no_cluster(reason: str) -> None:
    hint = "start one with `make test-slurm` or tools/slurm/start-local-cluster.sh"
    if os.environ.get("INBURGERING_REQUIRE_SLURM") == "1":
        pytest.fail(f"SLURM test required but {reason} ({hint})")
    pytest.skip(f"no SLURM cluster: {reason} ({hint})")


def _slurm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=20, check=False)


def _controller_down() -> str | None:
    """Why the controller in slurm.conf refuses connections, if it does (sinfo takes ~10 s to give
    up on a stopped controller: with Slurm installed but not running, `make test` skips at once)."""
    conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    if not conf.is_file():
        return None  # configless or elsewhere: let sinfo decide
    text = conf.read_text(errors="replace")
    host = re.search(r"^\s*SlurmctldHost\s*=\s*([^\s(]+)", text, re.MULTILINE | re.IGNORECASE)
    port = re.search(r"^\s*SlurmctldPort\s*=\s*(\d+)", text, re.MULTILINE | re.IGNORECASE)
    if host is None:
        return None
    address = (host.group(1), int(port.group(1)) if port else 6817)
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as error:
        return f"slurmctld at {address[0]}:{address[1]} ({conf}) does not answer: {error}"
    return None


@pytest.fixture(scope="module")
def cluster() -> dict[str, str]:
    """Skip (or fail, when required) unless a Slurm controller answers with a usable node."""
    if shutil.which("sinfo") is None:
        _no_cluster("`sinfo` not found")
    if (reason := _controller_down()) is not None:
        _no_cluster(reason)
    try:
        info = _slurm("sinfo", "-h", "-p", PARTITION, "-o", "%T")
    except subprocess.TimeoutExpired:
        _no_cluster("`sinfo` did not answer within 20 s")
    if info.returncode != 0:
        detail = (info.stderr.strip() or "no output").splitlines()[-1]
        _no_cluster(f"`sinfo -p {PARTITION}` failed: {detail}")
    states = info.stdout.split()
    if not states:
        _no_cluster(f"no partition {PARTITION!r} (the slurm-local profile submits to it)")
    if not {"idle", "mixed", "allocated", "completing"} & set(states):
        _no_cluster(f"partition {PARTITION!r} has no usable node (states: {', '.join(states)})")
    config = _slurm("scontrol", "show", "config").stdout
    match = re.search(r"^SlurmctldLogFile\s*=\s*(\S+)", config, re.MULTILINE)
    return {"slurmctld_log": match.group(1) if match else ""}


def _job_stats(output: str) -> Counter:
    """The 'Job stats' table Snakemake prints before running: rule -> number of jobs."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Job stats:")
    stats: Counter = Counter()
    for line in lines[start + 1 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue  # the header and the dashes under it
        if parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


def _cancel(slurm_ids: list[str]) -> None:
    """Cancel the jobs this test submitted (a killed snakemake leaves them queued)."""
    if slurm_ids and shutil.which("scancel"):
        _slurm("scancel", *slurm_ids)


def _failures(output: str) -> str:
    """Snakemake's 'Error in rule' blocks (rule, log path): what matters in a long output."""
    lines = output.splitlines()
    blocks = [
        "\n".join(lines[i : i + 12]) for i, line in enumerate(lines) if "Error in rule" in line
    ]
    return "\n".join(blocks[:5]) or output[-4000:]


def _rule_logs(results: Path) -> str:
    logs = sorted((results / "logs").glob("*.log")) if (results / "logs").is_dir() else []
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs)


def _run_through_slurm(overlay: Path, slurm_logdir: Path) -> subprocess.CompletedProcess:
    snakemake = Path(sys.executable).parent / "snakemake"
    command = [
        "timeout", "-k", "10", str(SLURM_RUN_SECONDS),
        str(snakemake), "--profile", PROFILE, "--slurm-logdir", str(slurm_logdir),
        "--configfile", "config/config.yaml", str(overlay),
    ]  # fmt: skip
    env = {**os.environ, "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env=env,
        timeout=SLURM_RUN_SECONDS + 30, check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        _cancel([m["slurm_id"] for m in SUBMITTED.finditer(output)])
    return completed


# Run times differ between any two runs by nature; every other export file must be identical.
TIMINGS = Path("export/RUNTIMES.csv")


def _compared_files(results: Path) -> list[Path]:
    files = [Path("estimates/estimates.csv")]
    files += sorted(p.relative_to(results) for p in (results / "export").rglob("*") if p.is_file())
    return [f for f in files if f != TIMINGS]


def test_default_workflow_runs_through_slurm_and_matches_local(tmp_path, cluster, monkeypatch):
    # Both runs (and, through sbatch --export=ALL, every SLURM job) get the same hash seed, so
    # this test isolates SLURM vs local execution; hash-seed independence itself is tested in
    # tests/reliability/test_determinism.py (pyfixest fits use did.comparison.DEMEANER).
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    # Reports with the built-in renderer in both runs: this test is about the scheduler, and the
    # Quarto CLI (on PATH in CI, where tests/report/test_quarto.py renders with it) would take
    # the SLURM run past its hang guard.
    path = os.environ.get("PATH", "").split(os.pathsep)
    monkeypatch.setenv(
        "PATH", os.pathsep.join(d for d in path if not (Path(d) / "quarto").exists())
    )

    # Reference: the same configuration run locally.
    local = tmp_path / "local" / "results"
    local_overlay = write_overlay(tmp_path / "local.yaml", local, synth={"persons": PERSONS})
    completed = run_snakemake(
        "--profile", "workflow/profiles/default", "--cores", "2",
        "--configfile", "config/config.yaml", str(local_overlay),
        timeout=LOCAL_RUN_SECONDS,
    )  # fmt: skip
    local_output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        pytest.fail(
            "the LOCAL run failed, so this is not a SLURM problem:\n"
            f"{_failures(local_output)}\n{_rule_logs(local)}"
        )

    # The same configuration through the scheduler.
    slurm = tmp_path / "slurm" / "results"
    slurm_overlay = write_overlay(tmp_path / "slurm.yaml", slurm, synth={"persons": PERSONS})
    slurm_logdir = tmp_path / "slurm_logs"
    completed = _run_through_slurm(slurm_overlay, slurm_logdir)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        reason = "timed out" if completed.returncode in (124, 137) else "failed"
        pytest.fail(
            f"snakemake --profile {PROFILE} {reason} (exit {completed.returncode}):\n"
            f"{_failures(output)}\n{output[-3000:]}\n{_rule_logs(slurm)}"
        )

    # One SLURM job per job of the DAG, except the local rules (`all`).
    submitted = [m.groupdict() for m in SUBMITTED.finditer(output)]
    by_rule = Counter(re.search(r"rule_([^/]+)/", s["log"]).group(1) for s in submitted)
    expected = _job_stats(output) - Counter(LOCALRULE.findall(output))
    assert by_rule == expected, f"SLURM jobs per rule {dict(by_rule)} != DAG {dict(expected)}"
    assert _job_stats(output) == _job_stats(local_output), "SLURM and local DAGs differ"

    # ... each allocated and completed by slurmctld with exit status 0 ...
    slurm_ids = [s["slurm_id"] for s in submitted]
    assert len(set(slurm_ids)) == len(slurm_ids), "a SLURM job id was reused"
    ctld_log = Path(cluster["slurmctld_log"]) if cluster["slurmctld_log"] else None
    if ctld_log is not None and os.access(ctld_log, os.R_OK):
        text = ctld_log.read_text(errors="replace")
        for job_id in slurm_ids:
            for event in (
                rf"_slurm_rpc_submit_batch_job: JobId={job_id}\b",
                # The main scheduler logs "sched: Allocate JobId=N ... Partition=P"; a job that
                # the backfill scheduler starts is logged "Started JobId=N in P" instead.
                rf"(sched: Allocate JobId={job_id}\b .*Partition={PARTITION}"
                rf"|sched/backfill: _start_job: Started JobId={job_id} in {PARTITION}\b)",
                rf"_job_complete: JobId={job_id} WEXITSTATUS 0\b",
            ):
                assert re.search(event, text), f"slurmctld log {ctld_log} lacks /{event}/"
    else:
        # Not root: ask the controller, which keeps finished jobs for MinJobAge (600 s here).
        for job_id in slurm_ids:
            shown = _slurm("scontrol", "show", "job", job_id).stdout
            assert "JobState=COMPLETED" in shown and "ExitCode=0:0" in shown, (
                f"slurmctld log unreadable and scontrol does not show job {job_id} completed:\n"
                f"{shown}"
            )

    # ... and each wrote its SLURM job log, in which the rule ran inside the allocation.
    for s in submitted:
        log = Path(s["log"])
        assert log.is_file(), f"SLURM job log {log} missing"
        # <logdir>/rule_<name>[/<wildcards>]/<jobid>.log
        assert log.is_relative_to(slurm_logdir), log
        assert log.name == f"{s['slurm_id']}.log", log
        rule = log.relative_to(slurm_logdir).parts[0].removeprefix("rule_")
        job_text = log.read_text(errors="replace")
        assert f"(Rule: {rule})" in job_text and "100%) done" in job_text, (
            f"SLURM job {s['slurm_id']} ({rule}) did not finish its rule:\n{job_text[-2000:]}"
        )

    # Same inputs, config and seed: byte-identical estimates and export (DESIGN: determinism).
    compared = _compared_files(local)
    assert _compared_files(slurm) == compared, "the SLURM export has other files than the local one"
    differing = [str(f) for f in compared if (local / f).read_bytes() != (slurm / f).read_bytes()]
    assert not differing, f"SLURM results differ from the local run: {differing}"
