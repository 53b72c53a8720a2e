"""Run one Snakemake job through the package (see inburgering.workflow.run_rule)."""

from inburgering.workflow import run_rule

# A stage's spawned worker processes (synth's file writers) import this file as their main
# module again, without Snakemake's preamble: only the job's own process runs the rule.
if __name__ == "__main__":
    run_rule(snakemake)  # noqa: F821 - injected by Snakemake's script directive
