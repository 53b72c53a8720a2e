"""Helpers for the matching tests: simulated data with a known ATT and an R runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TRUE_ATT = 2.0


def simulate(n: int = 4000, seed: int = 1, effect: float = TRUE_ATT) -> pd.DataFrame:
    """Confounded data: treatment and outcome both depend on x1, x2 and g; constant effect."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n)
    g = rng.choice(["a", "b", "c"], n)
    quarter = rng.integers(0, 4, n)
    lin = -1.3 + 0.8 * x1 + 0.5 * x2 + 0.4 * (g == "b")
    t = rng.binomial(1, 1 / (1 + np.exp(-lin)))
    y = 1 + effect * t + 1.5 * x1 + x2 + (g == "c") + 0.2 * quarter + rng.normal(size=n)
    return pd.DataFrame(
        {
            "t": t,
            "y": y,
            "x1": x1,
            "x2": x2,
            "g": g,
            "quarter": quarter,
            "cluster": rng.integers(0, 40, n),
        },
        index=pd.Index([f"u{i}" for i in range(n)], name="id"),
    )


def run_r(script: str, workdir: Path, packages: tuple[str, ...] = ("MatchIt",)) -> None:
    """Run an R script in workdir; skip the test when R or a package is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found (apt-get install r-base-core r-cran-matchit)")
    for package in packages:
        check = subprocess.run(
            [rscript, "-e", f"quit(status = !requireNamespace('{package}', quietly = TRUE))"],
            capture_output=True,
        )
        if check.returncode != 0:
            pytest.skip(f"R package {package} not installed")
    path = workdir / "script.R"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([rscript, str(path)], cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"R failed:\n{done.stderr}")
