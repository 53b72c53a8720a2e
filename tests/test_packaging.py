"""A non-editable install works: the schemas are package data, found without the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

SCHEMAS = ("catalogue", "config", "disclosure", "policies")


@pytest.mark.slow
def test_wheel_carries_the_schemas_and_validates_config(repo_root, tmp_path):
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run(
        [*pip, "wheel", str(repo_root), "--no-deps", "-q", "-w", str(tmp_path / "wheel")],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("inburgering-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"inburgering/schemas/{name}.schema.yaml" for name in SCHEMAS} <= names
    site = tmp_path / "site"
    installed = subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    script = (
        "import inburgering, inburgering.config as c;"
        f"cfg = c.load_config({str(repo_root / 'config' / 'config.yaml')!r});"
        f"c.check_all(cfg, base={str(repo_root)!r});"
        "print(inburgering.__file__, c.SCHEMA_DIR)"
    )
    checked = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert checked.stdout.split() == [
        str(site / "inburgering" / "__init__.py"),
        str(site / "inburgering" / "schemas"),
    ]
