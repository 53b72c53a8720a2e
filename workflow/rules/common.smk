# Shared definitions: config validation at start-up, result paths, per-rule log/benchmark paths.

from pathlib import Path

from inburgering.config import ConfigError, check_all

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


def microdata():
    """The generated files when the data are synthetic; real RA files are resolved at run time."""
    return rules.synth.output.microdata if SYNTHETIC else []


def report_outputs():
    return expand(
        f"{RESULTS}/reports/{{name}}.{{fmt}}",
        name=["main"],
        fmt=config["report"]["formats"],
    )


def validation_outputs():
    return [f"{RESULTS}/validation/estimates_vs_truth.csv"] if SYNTHETIC else []
