"""The Snakemake → RuleJob adapter turns named inputs (single files and lists) into paths."""

from __future__ import annotations

from pathlib import Path

from snakemake.iocontainers import Namedlist

from inburgering.workflow import RuleJob, _named


def test_named_lists_and_positional_inputs():
    # Built the way Snakemake builds a rule's input: a named list spans several positions.
    files = Namedlist()
    files.append("a/persons.parquet")
    files._add_name("persons")
    files.extend(["b/1.csv", "b/2.csv"])
    files._set_name("parts", 1, 3)
    files.append("c/unnamed.csv")
    named = _named(files)
    assert named["persons"] == Path("a/persons.parquet")
    assert named["parts"] == [Path("b/1.csv"), Path("b/2.csv")]
    assert named["_3"] == Path("c/unnamed.csv")
    job = RuleJob(input=named, output={})
    assert job.inputs("parts") == [Path("b/1.csv"), Path("b/2.csv")]
