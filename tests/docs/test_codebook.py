"""The codebook covers every column prepare writes and every process indicator, and
docs/codebook.md is the current rendering of it (a stale page fails)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "prepare"))

from prepare_helpers import job, write_world  # noqa: E402

from inburgering import codebook  # noqa: E402
from inburgering.prepare.outcomes import OUTCOMES  # noqa: E402
from inburgering.prepare.persons import PERSON_COLUMNS  # noqa: E402
from inburgering.prepare.policies import COLUMNS as POLICY_COLUMNS  # noqa: E402
from inburgering.prepare.stage import run  # noqa: E402
from inburgering.process.indicators import INDICATORS  # noqa: E402

TABLES = ("persons", "outcomes", "person_months", "municipality_policies")


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, list[str]]:
    """Columns of every parquet table a prepare run on the crafted world writes."""
    base = tmp_path_factory.mktemp("codebook_world")
    write_world(base / "data", "parquet")
    run(job(base / "data", base / "out"))
    return {
        table: list(pd.read_parquet(base / "out" / f"{table}.parquet").columns) for table in TABLES
    }


@pytest.mark.parametrize("table", TABLES)
def test_every_written_column_has_an_entry(written, table):
    missing = [c for c in written[table] if c not in codebook.CODEBOOK[table]]
    assert not missing, f"codebook lacks {table} columns {missing}"


@pytest.mark.parametrize("table", TABLES)
def test_no_entry_for_a_column_prepare_does_not_write(written, table):
    stale = [c for c in codebook.CODEBOOK[table] if c not in written[table]]
    assert not stale, f"codebook has {table} entries for columns prepare does not write: {stale}"


def test_declared_column_lists_are_covered():
    assert set(PERSON_COLUMNS) <= set(codebook.CODEBOOK["persons"])
    assert set(OUTCOMES) <= set(codebook.CODEBOOK["outcomes"])
    assert set(POLICY_COLUMNS) <= set(codebook.CODEBOOK["municipality_policies"])


def test_every_process_indicator_has_an_entry():
    names = [indicator.name for indicator in INDICATORS]
    assert sorted(names) == sorted(codebook.CODEBOOK["process"])


def test_entries_are_complete():
    for table, entries in codebook.CODEBOOK.items():
        for name, entry in entries.items():
            assert entry.definition.strip(), f"{table}.{name}: no definition"
            assert entry.sources, f"{table}.{name}: no source"
            assert entry.missing.strip(), f"{table}.{name}: no missing-value rule"


def test_sources_resolve_in_the_catalogue():
    text = codebook.render()  # raises KeyError on a source the catalogue does not know
    assert "DATUMSTARTINBURGERINGSPLICHT" in text
    assert "AANVSECM" in text


def test_docs_codebook_is_current():
    page = ROOT / "docs" / "codebook.md"
    assert page.read_text(encoding="utf-8") == codebook.render(), (
        "docs/codebook.md is stale: run `python -m inburgering.codebook`"
    )


def test_indicator_windows_come_from_the_code():
    text = codebook.render()
    for indicator in INDICATORS:
        assert f"{indicator.days} days" in text
