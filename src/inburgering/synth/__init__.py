"""Synthetic CBS-style population with planted causal effects and ground truth."""

from inburgering.synth.generate import SynthParameters, generate, simulate_persons, truth_table

__all__ = ["SynthParameters", "generate", "simulate_persons", "truth_table"]
