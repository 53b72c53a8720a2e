# Shared definitions: config validation at start-up, result paths, per-rule log/benchmark paths.

import os
from pathlib import Path

from inburgering.config import ConfigError, check_all

# Every job is a Python process started from here (script directive; under SLURM the job's own
# snakemake reads this file again first), so this fixes the hash seed of every job. pyfixest 0.60
# iterates a `set` of fixed-effect names (formula/utils.py, _encode_fixed_effects), so the order
# of its alternating projections, and the last bits of TWFE standard errors, follow the hash seed.
os.environ["PYTHONHASHSEED"] = "0"

try:
    check_all(config, base=workflow.basedir)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration:\n{error}") from None


RESULTS = config["run"]["results"]
SYNTHETIC = config["data"]["source"] == "synthetic"
RULE_SCRIPT = "../scripts/rule.py"


def log_file(rule):
    return f"{RESULTS}/logs/{rule}.log"


def benchmark_file(rule):
    return f"{RESULTS}/benchmarks/{rule}.tsv"


REFORM_TABLES = ["estimates", "pretrends", "honestdid", "inference", "uniform_bands"]
REFORM_PART = f"{RESULTS}/estimates/reform_did/{{outcome}}_h{{horizon}}_{{table}}.csv"


def reform_parts(table):
    """One part file per outcome x horizon (each a job of its own), in config order."""
    return expand(
        REFORM_PART,
        outcome=config["estimate"]["outcomes"],
        horizon=config["estimate"]["horizons"],
        table=table,
    )


MATCHING_TABLES = [
    "estimates",
    "balance",
    "overlap",
    "sensitivity",
    "refutations",
    "samples",
]
ROUTE_PART = f"{RESULTS}/estimates/route_matching/{{contrast}}_{{table}}.csv"


def route_parts(table):
    """One part file per route contrast (each a job of its own), in config order."""
    return expand(
        ROUTE_PART, contrast=list(config["matching"]["route"]["contrasts"]), table=table
    )


def microdata():
    """The generated files when the data are synthetic; real RA files are resolved at run time."""
    return rules.synth.output.microdata if SYNTHETIC else []


def report_outputs():
    """Main report, one report per G4 city and the appendices, in every configured format."""
    names = ["main", "appendix-methods", "appendix-reproducibility"]
    names += [f"city_{city}" for city in config["report"]["cities"]]
    return expand(
        f"{RESULTS}/reports/{{name}}.{{fmt}}",
        name=names,
        fmt=config["report"]["formats"],
    )


def validation_outputs():
    return [f"{RESULTS}/validation/estimates_vs_truth.csv"] if SYNTHETIC else []


def export_inputs(wildcards):
    """Every table the export assembles (disclosure.assemble maps them to the export contract)."""
    files = {
        "estimates": rules.gather_estimates.output.estimates,
        "sample_flow": rules.prepare.output.sample_flow,
        "data_quality": rules.prepare.output.data_quality,
        "persons": rules.prepare.output.persons,
        "composition": rules.process.output.composition,
        "route_mix": rules.process.output.route_mix,
        "outcome_trends": rules.process.output.outcome_trends,
        "survival": rules.process.output.survival,
        "catalogue": config["data"]["catalogue"],
        "policies": config["data"]["policies"],
    }
    for side in REFORM_TABLES[
        1:
    ]:  # event-study side tables of both single-city DiD designs
        files[side] = [
            getattr(rule.output, side)
            for rule in (rules.reform_did, rules.city_instrument_did)
        ]
    for side in ("balance", "overlap", "sensitivity", "refutations"):
        files[side] = [
            getattr(rule.output, side)
            for rule in (rules.route_matching, rules.city_matching, rules.heterogeneity)
            if side in rule.output.keys()
        ]
    if SYNTHETIC:
        files["validation"] = rules.validate_against_truth.output.validation
    monte_carlo = Path(RESULTS) / "montecarlo" / "monte_carlo.csv"
    if monte_carlo.exists():  # written by `make montecarlo`, outside the workflow
        files["monte_carlo"] = str(monte_carlo)
    return files


def upstream_benchmarks():
    """Benchmark files of every rule before the export (their times go to RUNTIMES.csv)."""
    names = [
        "prepare",
        "reform_did",
        "instrument_did",
        "city_instrument_did",
        "route_matching",
        "city_matching",
    ]
    names += ["heterogeneity", "process", "gather_estimates"]
    names += expand(
        "route_matching_{contrast}",
        contrast=list(config["matching"]["route"]["contrasts"]),
    )
    names += expand(
        "reform_did_{outcome}_h{horizon}",
        outcome=config["estimate"]["outcomes"],
        horizon=config["estimate"]["horizons"],
    )
    if SYNTHETIC:
        names += ["synth", "validate_against_truth"]
    return [benchmark_file(name) for name in sorted(names)]
