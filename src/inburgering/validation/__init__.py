"""Validation against a known truth: above the stages and engines, never imported by them.

- ``truth``: every estimate of a synthetic run joined to its planted truth (the workflow's
  ``validate`` rule, ``results/validation/estimates_vs_truth.csv``).
- ``montecarlo``: the whole workflow over many seeds, bias/RMSE/coverage per estimand
  (``python -m inburgering.validation``, ``make montecarlo``).
- ``designsim``: a small repeated-cross-section simulator with closed-form truths for the DiD
  designs (tests and benchmarks), independent of the synthetic CBS generator.
"""

from inburgering.validation.designsim import SimSpec, simulate
from inburgering.validation.montecarlo import aggregate, run_harness, run_workflow
from inburgering.validation.truth import compare, read_truth

__all__ = [
    "SimSpec",
    "aggregate",
    "compare",
    "read_truth",
    "run_harness",
    "run_workflow",
    "simulate",
]
