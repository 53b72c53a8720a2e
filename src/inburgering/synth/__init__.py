"""Synthetic CBS-style population with planted causal effects and ground truth."""

from inburgering.synth.generate import generate, simulate, truth_tables
from inburgering.synth.params import SynthParameters

__all__ = ["SynthParameters", "generate", "simulate", "truth_tables"]
