"""Provenance records tie an export to its code, configuration, inputs and packages."""

from __future__ import annotations

from inburgering.config import load_config
from inburgering.provenance import input_checksums, provenance, stage_times


def test_input_checksums_walk_directories(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.sav").write_bytes(b"one")
    (tmp_path / "y.csv").write_bytes(b"two")
    sums = input_checksums([tmp_path / "a", tmp_path / "y.csv"], root=tmp_path)
    assert list(sums) == ["a/x.sav", "y.csv"]
    (tmp_path / "y.csv").write_bytes(b"changed")
    assert input_checksums([tmp_path / "y.csv"], root=tmp_path)["y.csv"] != sums["y.csv"]


def test_stage_times_read_snakemake_benchmarks(tmp_path):
    bench = tmp_path / "prepare.tsv"
    bench.write_text("s\th:m:s\tmax_rss\tmax_vms\n1.5\t0:00:01\t120.3\t400\n")
    (tmp_path / "synth.tsv").write_text("s\th:m:s\tmax_rss\n0.5\t0:00:00\t-\n")
    times = stage_times(sorted(tmp_path.glob("*.tsv")))
    assert times == [
        {"rule": "prepare", "seconds": 1.5, "max_rss_mb": 120.3},
        {"rule": "synth", "seconds": 0.5, "max_rss_mb": None},
    ]


def test_provenance_names_config_packages_and_commit(repo_root, tmp_path):
    config = load_config(repo_root / "config" / "config.yaml")
    (tmp_path / "f.sav").write_bytes(b"data")
    record = provenance(config, inputs=[tmp_path], input_root=tmp_path, benchmarks=[])
    assert len(record["config_hash"]) == 16
    assert record["packages"]["pandas"] not in ("", "not installed")
    assert record["git_commit"]  # a commit hash here, "unknown" without git
    assert record["inputs"] == {"f.sav": input_checksums([tmp_path / "f.sav"], tmp_path)["f.sav"]}
