"""Dress rehearsal of Remote Access (issue 19): CBS-style files written by cbs_style (not by
inburgering.synth), read with config/cbs_ra.yaml plus an overlay that sets only data.root and
the catalogue mapping. No safety cap raised, no design changed, config/config.yaml untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cbs_style import EDITION, PATTERNS, overlay, truncate, write_rehearsal

from inburgering.config import load_config
from inburgering.prepare.stage import OUTPUT_FILES, run
from inburgering.workflow import RuleJob, StageError

ROOT = Path(__file__).resolve().parents[2]


def prepare_job(root: Path, out: Path, base: Path) -> RuleJob:
    """The prepare job Snakemake would run with config.yaml + cbs_ra.yaml + the overlay."""
    path = base / "rehearsal.yaml"
    path.write_text(yaml.safe_dump(overlay(root)), encoding="utf-8")
    config = load_config(ROOT / "config/config.yaml", ROOT / "config/cbs_ra.yaml", path)
    assert set(yaml.safe_load(path.read_text())) == {"data", "prepare"}
    assert set(yaml.safe_load(path.read_text())["prepare"]) == {"catalogue_overrides"}
    inputs = {
        "catalogue": ROOT / config["data"]["catalogue"],
        "policies": ROOT / config["data"]["policies"],
        "mergers": ROOT / config["prepare"]["municipalities"]["mergers"],
    }
    return RuleJob(
        input=inputs,
        output={name: out / file for name, file in OUTPUT_FILES.items()},
        params={"data": config["data"], "prepare": config["prepare"]},
        threads=1,
        rule="prepare",
    )


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    base = tmp_path_factory.mktemp("rehearsal")
    expected = write_rehearsal(base / "G")
    return base, expected


@pytest.fixture(scope="module")
def prepared(delivery):
    base, expected = delivery
    out = base / "out"
    run(prepare_job(base / "G", out, base))
    return out, expected


def test_prepare_runs_on_the_mapping_overlay_only(prepared):
    out, expected = prepared
    persons = pd.read_parquet(out / "persons.parquet").set_index("person_id")
    assert sorted(persons.index) == sorted(expected.city)
    assert persons["city"].to_dict() == expected.city


def test_merged_weesp_counts_as_amsterdam(prepared):
    out, expected = prepared
    persons = pd.read_parquet(out / "persons.parquet").set_index("person_id")
    assert expected.weesp  # the fixture has Weesp settlers
    weesp = persons.loc[expected.weesp]
    assert set(weesp["municipality"]) == {"0363"} and set(weesp["city"]) == {"amsterdam"}


def test_unknown_sex_is_missing(prepared):
    out, expected = prepared
    female = pd.read_parquet(out / "persons.parquet").set_index("person_id")["female"]
    unknown = [p for p, value in expected.female.items() if value is None]
    assert unknown and female[unknown].isna().all()
    known = {p: v for p, v in expected.female.items() if v is not None}
    assert female[list(known)].astype(bool).to_dict() == known


def test_newest_versions_read_and_listed(prepared):
    out, expected = prepared
    listed = pd.read_csv(out / "files_read.csv", dtype=str)
    names = {Path(f).name for f in listed["file"]}
    assert names == set(expected.newest.values())
    assert not any("geconverteerde" in f or f.endswith(".dta") for f in listed["file"])


def test_variants_are_normalised_and_imperfections_counted(prepared):
    out, _ = prepared
    quality = pd.read_csv(out / "data_quality.csv", keep_default_na=False)
    counts = quality.groupby(["rule", "table"])["count"].sum()
    assert counts["municipality_code_format", "swi_municipality"] > 100  # GM0599 throughout
    assert counts["municipality_code_format", "swi_coa"] > 10  # numbers
    assert counts["duplicate_rows", "gba_persons"] == 3
    assert counts["multiple_reports", "swi_municipality"] == 5
    assert counts["spell_inverted", "socio_economic"] == 2
    assert counts["municipality_boundary", "settlement"] > 0
    assert (quality.query("rule == 'table_before_data_end'")["count"] == 0).all()


def _copy(delivery, name: str) -> Path:
    base, _ = delivery
    target = base / name
    shutil.copytree(base / "G", target / "G")
    return target


def test_missing_newest_secmbus_stops_naming_the_file(delivery):
    base = _copy(delivery, "stale")
    for version in (1, 2):
        (base / "G" / PATTERNS["socio_economic"].format(
            year=EDITION, version=version, ext="sav")).unlink()  # fmt: skip
    with pytest.raises(StageError, match=rf"SECMBUS{EDITION - 1}V1.sav is from {EDITION - 1}"):
        run(prepare_job(base / "G", base / "out", base))


def test_truncated_newest_file_says_incomplete(delivery):
    base = _copy(delivery, "truncated")
    truncate(base / "G" / PATTERNS["socio_economic"].format(year=EDITION, version=2, ext="sav"))
    with pytest.raises(StageError, match=rf"SECMBUS{EDITION}V2.sav: the file is incomplete"):
        run(prepare_job(base / "G", base / "out", base))


def test_mixed_swi_editions_stop_naming_both_files(delivery):
    """A newer SWI basisbestand next to last edition's other SWI files: both cover data.end,
    but they are not one delivery."""
    base = _copy(delivery, "mixed")
    newest = base / "G" / PATTERNS["swi_basis"].format(year=EDITION, version=1, ext="sav")
    newer = base / "G" / PATTERNS["swi_basis"].format(year=EDITION + 1, version=1, ext="sav")
    newer.parent.mkdir(parents=True)
    shutil.copy(newest, newer)
    with pytest.raises(StageError) as stopped:
        run(prepare_job(base / "G", base / "out", base))
    message = str(stopped.value)
    assert "'editions_differ'" in message
    assert f"SWI_gemeente_{EDITION}_V1.sav is the {EDITION} edition" in message
    assert f"SWI_basisbestand_{EDITION + 1}_V1.sav (swi_basis) is the {EDITION + 1}" in message


@pytest.mark.slow
def test_whole_workflow_runs_on_the_rehearsal_files(tmp_path):
    """End to end with cbs_ra.yaml + the mapping overlay (+ where results go); PROVENANCE.json
    hashes exactly the files prepare read and the configuration files."""
    from workflow_helpers import run_snakemake

    write_rehearsal(tmp_path / "G", persons=3000)
    settings = {**overlay(tmp_path / "G"), "run": {"results": str(tmp_path / "results")}}
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    completed = run_snakemake(
        "--cores", "2", "--configfile", "config/config.yaml", "config/cbs_ra.yaml", str(path),
        timeout=3600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-6000:]
    results = tmp_path / "results"
    read = pd.read_csv(results / "data" / "files_read.csv", dtype=str)["file"]
    record = yaml.safe_load((results / "export" / "PROVENANCE.json").read_text(encoding="utf-8"))
    hashed = {entry["file"] for entry in record["inputs"]}
    configs = {"config/catalogue.yaml", "config/policies.yaml", "config/municipal_mergers.csv"}
    assert hashed == set(read) | configs
