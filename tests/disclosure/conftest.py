"""Shared fixtures for the disclosure tests."""

from __future__ import annotations

import pytest

from inburgering.disclosure import DisclosureRules, load_rules


@pytest.fixture(scope="session")
def rules() -> DisclosureRules:
    return load_rules()
