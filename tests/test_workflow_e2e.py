"""The walking skeleton end to end: synthetic files -> tables -> estimates -> export -> report."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from workflow_helpers import ROOT, run_snakemake, write_overlay

from inburgering.contracts.tidy import read_tidy

pytestmark = pytest.mark.e2e


def test_reports_and_export_exist(tiny_run):
    html = (tiny_run / "reports" / "main.html").read_text(encoding="utf-8")
    assert "Relative effectiveness of civic-integration policy" in html
    assert "data:image/png;base64" in html  # figures embedded: the report is self-contained
    assert 'src="http' not in html
    manifest = pd.read_csv(tiny_run / "export" / "MANIFEST.csv")
    assert set(manifest["file"]) >= {
        "estimates.csv",
        "sample_flow.csv",
        "uniform_bands.csv",
        "outcome_trends.csv",
        "descriptives.csv",
    }
    leftovers = [p.name for p in (tiny_run / "reports").iterdir() if p.is_dir()]
    assert leftovers == []  # no render folders beside the reports


def test_event_studies_carry_uniform_bands_through_the_export(tiny_run):
    bands = pd.read_csv(tiny_run / "export" / "uniform_bands.csv")
    shown = bands[~bands["suppressed"]]
    assert len(shown) > 0 and (shown["critical_value"] > 1.96).all()
    assert (shown["band_low"] <= shown["band_high"]).all()
    # Only the reference quarter of a normalisation on one base quarter has a zero-width band.
    assert (shown["band_low"] < shown["band_high"]).mean() > 0.9
    html = (tiny_run / "reports" / "main.html").read_text(encoding="utf-8")
    assert "uniform_bands.csv" not in html  # the "not run" note names the missing file


def test_every_estimate_has_a_truth(tiny_run):
    estimates = read_tidy(tiny_run / "estimates" / "estimates.csv")
    causal = estimates[estimates["design"] != "process"]  # descriptive: no planted truth
    validation = pd.read_csv(tiny_run / "validation" / "estimates_vs_truth.csv")
    assert len(validation) == len(causal) > 0
    assert validation["truth"].notna().all()


def test_every_job_runs_with_the_fixed_hash_seed(tiny_run):
    """pyfixest's fixed-effect order follows the hash seed (common.smk): every job must fix it."""
    record = json.loads((tiny_run / "export" / "PROVENANCE.json").read_text(encoding="utf-8"))
    assert record["python_hash_seed"] == "0"


def test_every_rule_wrote_log_and_benchmark(tiny_run):
    rules = ("synth", "prepare", "reform_did", "reform_did_participation_h12", "export")
    for rule in (*rules, "render_report_main"):
        assert (tiny_run / "logs" / f"{rule}.log").stat().st_size > 0
        assert (tiny_run / "benchmarks" / f"{rule}.tsv").exists()


def test_config_error_stops_before_any_work(tmp_path):
    overlay = write_overlay(
        tmp_path / "overlay.yaml", tmp_path / "results", synth={"format": "sas"}
    )
    completed = run_snakemake("--dry-run", "--configfile", "config/config.yaml", str(overlay))
    assert completed.returncode != 0
    assert "key synth.format" in completed.stdout + completed.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("primary", "key"),
    [
        ({"horizons": [36]}, "primary.horizons"),
        ({"outcomes": {"in_education": "higher_is_better"}}, "primary.outcomes"),
        ({"comparisons": ["groningen"]}, "primary.comparisons"),
    ],
)
def test_a_primary_family_that_is_not_estimated_stops_before_any_work(tmp_path, primary, key):
    overlay = write_overlay(tmp_path / "overlay.yaml", tmp_path / "results", primary=primary)
    completed = run_snakemake("--dry-run", "--configfile", "config/config.yaml", str(overlay))
    assert completed.returncode != 0
    assert key in completed.stdout + completed.stderr
    assert not (tmp_path / "results").exists()


def test_lint_is_clean():
    completed = run_snakemake("--lint", cwd=ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_export_and_rendered_reports_pass_the_leak_scan(tiny_run, repo_root):
    """No person identifier or individual date of the inputs appears in anything published."""
    from inburgering.config import load_config, load_policies
    from inburgering.disclosure.leaks import scan_for_leaks
    from inburgering.disclosure.rules import load_rules
    from inburgering.disclosure.stage import PERSON_DATES, public_dates

    config = load_config(repo_root / "config" / "config.yaml")
    persons = pd.read_parquet(tiny_run / "data" / "persons.parquet")
    published = [
        *sorted((tiny_run / "export").iterdir()),
        *sorted((tiny_run / "reports").glob("*.html")),
    ]
    assert len(published) > 10
    findings = scan_for_leaks(
        published,
        person_keys=persons["person_id"].astype(str),
        person_values={c: persons[c] for c in PERSON_DATES if c in persons.columns},
        rules=load_rules(config["disclosure"]),
        allow=public_dates(
            load_policies(repo_root / "config" / "policies.yaml"),
            config["prepare"],
            config["data"]["end"],
        ),
    )
    assert findings == []


def test_the_export_passes_the_cross_table_audit(tiny_run, repo_root):
    """The export rule audited the staged export with the withheld counts (its log says so),
    and the published folder alone gives an attacker no withheld cell either."""
    from inburgering.config import load_config
    from inburgering.disclosure.audit import audit_export
    from inburgering.disclosure.rules import load_rules

    log = (tiny_run / "logs" / "export.log").read_text(encoding="utf-8")
    summary = re.search(r"export audit: (\d+) withheld cells, \d+ identities .* (\d+) finding", log)
    assert summary is not None, "the export rule did not run the audit"
    assert int(summary[1]) > 0 and int(summary[2]) == 0
    config = load_config(repo_root / "config" / "config.yaml")
    report = audit_export(tiny_run / "export", load_rules(config["disclosure"]))
    assert report.findings == [] and report.withheld > 0


def test_exported_estimates_respect_the_threshold(tiny_run):
    estimates = read_tidy(tiny_run / "export" / "estimates.csv")
    shown = estimates[estimates["estimate"].notna()]
    assert len(shown) > 0
    # Treated and comparison groups are counted separately (disclosure.count_groups_separately).
    assert (shown["n_treated"] >= 10).all() and (shown["n_control"] >= 10).all()


def test_fewer_city_reports_rerender_nothing_else(tiny_run, tmp_path):
    """The render rules receive the report settings a render reads, not report.cities or
    report.formats: dropping a city report leaves every other report up to date."""
    overlay = write_overlay(
        tmp_path / "overlay.yaml",
        tiny_run,
        synth={"persons": 4000},
        report={"cities": ["rotterdam"]},
    )
    completed = run_snakemake(
        "--dry-run", "--cores", "1", "--configfile", "config/config.yaml", str(overlay)
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Nothing to be done" in completed.stdout + completed.stderr, completed.stdout


def test_heterogeneity_settings_rerun_no_other_matching_design(tiny_run, tmp_path):
    """The matching rules receive only their own keys (designs.registry): a change to
    matching.heterogeneity schedules heterogeneity, and neither route_matching nor
    city_matching."""
    overlay = write_overlay(
        tmp_path / "overlay.yaml",
        tiny_run,
        synth={"persons": 4000},
        matching={"heterogeneity": {"target": "att"}},
    )
    completed = run_snakemake(
        "--dry-run", "--cores", "1", "--configfile", "config/config.yaml", str(overlay)
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    scheduled = set(re.findall(r"^(?:local)?rule (\w+):", output, flags=re.MULTILINE))
    assert "heterogeneity" in scheduled, output
    assert not scheduled & {"route_matching", "route_matching_part", "city_matching"}, output
