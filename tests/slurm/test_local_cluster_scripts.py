"""tools/slurm/stop-local-cluster.sh takes away the configuration its start script rendered: left
behind, it names a stopped controller, and `scontrol show config` (which the Snakemake SLURM
plugin runs at import) then waits 9 s in every later `snakemake` call."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "slurm"

# The stop script also ends the local cluster's daemons: never while one runs (KEEP_CLUSTER=1).
RUNNING = [pid for pid in (Path("/run/slurmctld.pid"), Path("/run/slurmd.pid")) if pid.exists()]
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the cluster scripts need root"),
    pytest.mark.skipif(bool(RUNNING), reason=f"a local cluster is running ({RUNNING})"),
]


def _stop(conf: Path) -> None:
    subprocess.run(["bash", str(TOOLS / "stop-local-cluster.sh")], check=True,
                   env={**os.environ, "SLURM_CONF": str(conf)}, capture_output=True)  # fmt: skip


def test_stop_removes_the_configuration_the_start_script_rendered(tmp_path):
    rendered = tmp_path / "slurm.conf"
    rendered.write_text((TOOLS / "slurm.conf.in").read_text(encoding="utf-8"), encoding="utf-8")
    _stop(rendered)
    assert not rendered.exists()


def test_stop_leaves_a_configuration_it_did_not_write(tmp_path):
    foreign = tmp_path / "slurm.conf"
    foreign.write_text("# the site's own cluster\nSlurmctldHost=head\n", encoding="utf-8")
    _stop(foreign)
    assert foreign.read_text(encoding="utf-8").startswith("# the site's own cluster")
