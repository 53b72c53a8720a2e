"""Provenance records tie an export to its code, configuration, inputs and packages."""

from __future__ import annotations

import csv
import json

import pytest

from inburgering.config import load_config
from inburgering.provenance import (
    PROVENANCE_NAME,
    RUNTIMES_NAME,
    input_checksums,
    provenance,
    provenance_block,
    stage_times,
    write_provenance,
)


@pytest.fixture(scope="module")
def config(repo_root):
    return load_config(repo_root / "config" / "config.yaml")


def _bench(path, seconds="1.5", rss="120.3"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\tcpu_time\n{seconds}\t0:00:01\t{rss}\t400\t1.2\n")
    return path


def test_input_checksums_walk_directories(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.sav").write_bytes(b"one")
    (tmp_path / "y.csv").write_bytes(b"two")
    sums = input_checksums([tmp_path / "a", tmp_path / "y.csv"], root=tmp_path)
    assert list(sums) == ["a/x.sav", "y.csv"]
    (tmp_path / "y.csv").write_bytes(b"changed")
    assert input_checksums([tmp_path / "y.csv"], root=tmp_path)["y.csv"] != sums["y.csv"]


def test_input_checksums_skip_snakemake_markers_and_partial_files(tmp_path):
    (tmp_path / "x.sav").write_bytes(b"one")
    (tmp_path / ".snakemake_timestamp").write_bytes(b"")
    (tmp_path / ".x.partial-123.sav").write_bytes(b"half")
    assert list(input_checksums([tmp_path], root=tmp_path)) == ["x.sav"]


def test_stage_times_read_snakemake_benchmarks(tmp_path):
    _bench(tmp_path / "prepare.tsv")
    (tmp_path / "synth.tsv").write_text("s\th:m:s\tmax_rss\n0.5\t0:00:00\t-\n")
    times = stage_times([*sorted(tmp_path.glob("*.tsv")), tmp_path / "not_run.tsv"])
    assert [(t["rule"], t["seconds"], t["max_rss_mb"]) for t in times] == [
        ("prepare", 1.5, 120.3),
        ("synth", 0.5, None),
    ]
    assert times[0]["cpu_seconds"] == 1.2 and times[0]["finished"].endswith("+00:00")


def test_provenance_names_config_packages_and_commit(config, tmp_path):
    (tmp_path / "f.sav").write_bytes(b"data")
    record = provenance(config, inputs=[tmp_path], input_root=tmp_path, benchmarks=[])
    assert len(record["config_hash"]) == 16
    assert record["packages"]["pandas"] not in ("", "not installed")
    assert record["git_commit"]  # a commit hash here, "unknown" without git
    assert len(record["code_hash"]) == 64
    digest = input_checksums([tmp_path / "f.sav"], tmp_path)["f.sav"]
    assert record["inputs"] == [{"file": "f.sav", "sha256": digest}]


def test_primary_hash_follows_the_primary_analysis_only(config):
    record = provenance(config, inputs=[], input_root=None)
    other_seed = {**config, "run": {**config["run"], "seed": config["run"]["seed"] + 1}}
    changed = {**config, "primary": {**config["primary"], "horizons": [12]}}
    again = provenance(other_seed, inputs=[], input_root=None)["primary_hash"]
    assert len(record["primary_hash"]) == 16 and again == record["primary_hash"]
    assert provenance(changed, inputs=[], input_root=None)["primary_hash"] != again


def test_config_hash_ignores_locations_but_not_values(config, tmp_path):
    mergers = {**config["prepare"]["municipalities"], "mergers": "/abs/municipal_mergers.csv"}
    moved = {**config, "run": {**config["run"], "results": "/elsewhere"},
             "data": {**config["data"], "root": "/other/root"},
             "prepare": {**config["prepare"], "municipalities": mergers}}  # fmt: skip
    reseeded = {**config, "run": {**config["run"], "seed": config["run"]["seed"] + 1}}
    hashes = [provenance(c, inputs=[], input_root=None)["config_hash"]
              for c in (config, moved, reseeded)]  # fmt: skip
    assert hashes[0] == hashes[1] != hashes[2]


def _write(export, config, data, bench_dir):
    return write_provenance(
        export, config, inputs=[data, "config/catalogue.yaml"], input_root=data,
        benchmarks=[bench_dir / "synth.tsv", bench_dir / "prepare.tsv"],
    )  # fmt: skip


def test_write_provenance_is_byte_identical_across_locations(
    config, tmp_path, repo_root, monkeypatch
):
    # Two runs of the same data in different folders, at different times, with other timings.
    monkeypatch.chdir(repo_root)  # Snakemake jobs run in the workflow folder
    written = []
    for run, seconds in (("one", "1.5"), ("two", "9.0")):
        data = tmp_path / run / "microdata"
        data.mkdir(parents=True)
        (data / "SWI.sav").write_bytes(b"same bytes")
        bench = tmp_path / run / "benchmarks"
        _bench(bench / "synth.tsv", seconds)
        _bench(bench / "prepare.tsv", seconds)
        located = {**config, "run": {**config["run"], "results": str(tmp_path / run)}}
        written.append(_write(tmp_path / run / "export", located, data, bench))
    first, second = (w["provenance"].read_bytes() for w in written)
    assert first == second
    record = json.loads(first)
    assert [i["file"] for i in record["inputs"]] == ["SWI.sav", "config/catalogue.yaml"]
    assert record["stages"] == ["prepare", "synth"]
    assert str(tmp_path) not in first.decode("utf-8")
    with open(written[1]["runtimes"], encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["rule"], r["seconds"]) for r in rows] == [("prepare", "9.0"), ("synth", "9.0")]


def test_provenance_block_shows_facts_and_runtimes(config, tmp_path, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    data = tmp_path / "microdata"
    data.mkdir()
    (data / "a.sav").write_bytes(b"x")
    _bench(tmp_path / "bench" / "prepare.tsv")
    export = tmp_path / "export"
    _write(export, config, data, tmp_path / "bench")
    block = provenance_block(export)
    assert "config_hash" in block and "| prepare | 1.5 | 120.3 |" in block
    assert {p.name for p in export.iterdir()} == {PROVENANCE_NAME, RUNTIMES_NAME}
    assert "not recorded" in provenance_block(tmp_path / "nothing")
