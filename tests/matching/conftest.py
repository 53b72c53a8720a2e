"""Fixtures for the matching tests."""

from __future__ import annotations

import pandas as pd
import pytest
from matching_helpers import simulate


@pytest.fixture(scope="session")
def sim() -> pd.DataFrame:
    return simulate()
