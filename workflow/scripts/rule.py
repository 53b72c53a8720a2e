"""Run one Snakemake job through the package (see inburgering.workflow.run_rule)."""

from inburgering.workflow import run_rule

run_rule(snakemake)  # noqa: F821 - injected by Snakemake's script directive
