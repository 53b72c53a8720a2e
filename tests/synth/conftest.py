"""Shared synthetic runs: one in-memory population and small written runs (sav, parquet)."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_helpers import CALENDAR, write_run

from inburgering.synth.generate import simulate
from inburgering.synth.params import SynthParameters


@pytest.fixture(scope="session")
def population():
    """A population large enough for calibration targets (Rotterdam 2022 route mix)."""
    return simulate(SynthParameters(persons=60_000, seed=11), CALENDAR)


@pytest.fixture(scope="session")
def parquet_run(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("synth_parquet")
    return out, write_run(out, 6000, "parquet")


@pytest.fixture(scope="session")
def sav_run(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("synth_sav")
    return out, write_run(out, 1500, "sav")
