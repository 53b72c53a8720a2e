# Shared definitions: config validation at start-up, result paths, per-rule log/benchmark paths.

import os

from pathlib import Path

from inburgering.config import (
    ConfigError,
    check_all,
    fill_defaults,
    layer_configs,
    read_yaml,
)
from inburgering.designs.registry import (
    DESCRIPTIVE,
    REGISTRY,
    exported_side_tables,
    side_table_designs,
)

# Every job is a Python process started from here (script directive; under SLURM the job's own
# snakemake reads this file again first), so this fixes the hash seed of every job. pyfixest 0.60
# iterates a `set` of fixed-effect names (formula/utils.py, _encode_fixed_effects), so the order
# of its alternating projections, and the last bits of TWFE standard errors, follow the hash seed.
os.environ["PYTHONHASHSEED"] = "0"


# Declared, so that Snakemake passes it on to remote (SLURM) jobs as well.
envvars:
    "PYTHONHASHSEED",


def layered_config():
    """config/config.yaml, each --configfile and --config in order, with overlays' replace/drop.

    Snakemake has already merged the same layers into `config`, but only recursively: an
    overlay's `replace:` and `drop:` lists (inburgering.config.apply_layer) need each layer on its
    own, so the layers are applied again here, before validation, and `config` is set to the
    result in place: every rule, the provenance and the config hash see the final configuration.
    """
    overlays = [Path(path).absolute() for path in workflow.overwrite_configfiles]
    bases = [
        Path(path)
        for path in workflow.configfiles
        if Path(path).absolute() not in overlays
    ]
    layers = [(str(path), read_yaml(path)) for path in bases + overlays]
    if workflow.config_settings.config:
        layers.append(("--config", dict(workflow.config_settings.config)))
    return layer_configs(layers)


try:
    final_config = layered_config()
    config.clear()
    config.update(final_config)
    check_all(config, base=workflow.basedir)
    fill_defaults(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration:\n{error}") from None


RESULTS = config["run"]["results"]
SYNTHETIC = config["data"]["source"] == "synthetic"
RULE_SCRIPT = "../scripts/rule.py"


def log_file(rule):
    return f"{RESULTS}/logs/{rule}.log"


def benchmark_file(rule):
    return f"{RESULTS}/benchmarks/{rule}.tsv"


def config_value(path):
    """A value of the configuration by dotted path ("estimate.outcomes"); a mapping gives its
    keys (in config order)."""
    value = config
    for key in path.split("."):
        value = value[key]
    return list(value)


def design_job(entry):
    """Name of a design's estimating rule and its log/benchmark name (with the scatter
    wildcards of one part job)."""
    if entry.part:
        return f"{entry.name}_part", f"{entry.name}_{entry.part}"
    return entry.name, entry.name


def design_outputs(entry):
    """{table: file} of a registered design (its estimates and side tables)."""
    return {table: f"{RESULTS}/estimates/{entry.file(table)}" for table in entry.tables}


def part_file(entry):
    """Part files of a scattered design: one per wildcard value and table."""
    return f"{RESULTS}/estimates/{entry.name}/{entry.part}_{{table}}.csv"


def design_job_outputs(entry):
    """What one job of the design writes: its outputs, or one part of them."""
    if not entry.part:
        return design_outputs(entry)
    return {table: part_file(entry).replace("{table}", table) for table in entry.tables}


def design_inputs(entry):
    """What a registered design reads: the analysis tables and the inputs it names."""
    files = {
        "persons": rules.prepare.output.persons,
        "outcomes": rules.prepare.output.outcomes,
    }
    named = {
        "policies": config["data"]["policies"],
        "policies_table": rules.prepare.output.municipality_policies,
    }
    files.update((name, named[name]) for name in entry.inputs)
    return files


def design_params(entry):
    """Narrow params: the config keys the design reads (registry), and the scatter
    wildcards of its part job."""
    params = entry.params(config)
    for scatter in entry.scatter:
        params[scatter.wildcard] = lambda wildcards, name=scatter.wildcard: wildcards[
            name
        ]
    return params


def scatter_values(entry):
    return {scatter.wildcard: config_value(scatter.config) for scatter in entry.scatter}


def parts(entry, table):
    """One part file per wildcard value (each a job of its own), in config order."""
    return expand(part_file(entry), **scatter_values(entry), table=table)


def part_benchmarks(entry):
    return expand(f"{entry.name}_{entry.part}", **scatter_values(entry))


def design_logs():
    """Log files of every design's jobs: the DiD designs record skipped cells there
    (inburgering.not_estimated.note)."""
    names = []
    for entry in REGISTRY:
        names += part_benchmarks(entry) if entry.part else [entry.name]
    return [log_file(name) for name in names]


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
    """Every table the export assembles (disclosure.assemble maps them to the export contract);
    the side tables of every design that exports them (designs.registry)."""
    files = {
        "estimates": rules.gather_estimates.output.estimates,
        "not_estimated": rules.not_estimated.output.not_estimated,
        "verdict": rules.verdict.output.verdict,
        "sample_flow": rules.prepare.output.sample_flow,
        "data_quality": rules.prepare.output.data_quality,
        "persons": rules.prepare.output.persons,
        "files_read": rules.prepare.output.files_read,
        "mergers": config["prepare"]["municipalities"]["mergers"],
        "composition": rules.process.output.composition,
        "route_mix": rules.process.output.route_mix,
        "outcome_trends": rules.process.output.outcome_trends,
        "survival": rules.process.output.survival,
        "catalogue": config["data"]["catalogue"],
        "policies": config["data"]["policies"],
    }
    for side in exported_side_tables():
        files[side] = [
            getattr(rules, entry.name).output[side]
            for entry in side_table_designs(side)
        ]
    if SYNTHETIC:
        files["validation"] = rules.validate_against_truth.output.validation
    if config["run"][
        "monte_carlo"
    ]:  # written by `make montecarlo`, outside the workflow
        files["monte_carlo"] = config["run"]["monte_carlo"]
    if config["run"]["monte_carlo_primary"]:  # benchmarks/mc_primary.py, committed
        files["monte_carlo_primary"] = config["run"]["monte_carlo_primary"]
    return files


def upstream_benchmarks():
    """Benchmark files of every rule before the export (their times go to RUNTIMES.csv)."""
    names = [entry.name for entry in REGISTRY]
    names += ["prepare", *DESCRIPTIVE, "gather_estimates", "not_estimated"]
    for entry in REGISTRY:
        if entry.part:
            names += part_benchmarks(entry)
    if SYNTHETIC:
        names += ["synth", "validate_against_truth"]
    return [benchmark_file(name) for name in sorted(names)]
