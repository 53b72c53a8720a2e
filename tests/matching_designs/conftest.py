"""Fixtures for the design tests: simulated prepared tables and the shipped config, narrowed."""

from __future__ import annotations

import pytest
from designs_helpers import Simulated, design_config, simulate


@pytest.fixture(scope="session")
def sim() -> Simulated:
    return simulate(n=6000, seed=1)


@pytest.fixture(scope="session")
def config() -> dict:
    return design_config()
