"""Dependencies: exact pins, the conda file in step with the lock, pyproject covered by the lock."""

from __future__ import annotations

import re
import tomllib

import yaml


def pins(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    found = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not an exact pin"
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def normalise(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]).lower()


def test_environment_yml_pins_match_lock(repo_root):
    lock = pins(repo_root / "requirements.lock")
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = {}
    for requirement in pip_section:
        name, _, version = requirement.partition("==")
        conda_pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert conda_pins == lock


def test_lock_covers_pyproject(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    runtime = pins(repo_root / "requirements.lock")
    dev = pins(repo_root / "requirements-dev.lock")
    for requirement in project["dependencies"]:
        assert normalise(requirement) in runtime, f"{requirement} missing from requirements.lock"
    for requirement in project["optional-dependencies"]["dev"]:
        assert normalise(requirement) in dev, f"{requirement} missing from requirements-dev.lock"
    shared = set(runtime) & set(dev)
    assert {name: runtime[name] for name in shared} == {name: dev[name] for name in shared}
