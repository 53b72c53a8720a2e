"""The primary Monte Carlo harness (benchmarks/mc_primary.py) counts false verdicts right: in the
equal-effects world a truth is a difference of equal planted effects, 0 only up to rounding."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "mc_primary.py"


def _harness():
    spec = importlib.util.spec_from_file_location("mc_primary", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_directional_verdict_on_a_rounding_level_truth_is_false():
    rows = pd.DataFrame(
        {
            "direction": ["higher_is_better", "lower_is_better", "higher_is_better"],
            "truth": [3.469447e-18, -3.469447e-18, 0.02],
            "verdict": ["more_effective", "more_effective", "more_effective"],
        }
    )
    assert _harness().false_verdict(rows).tolist() == [True, True, False]


def test_the_wrong_direction_is_false_and_no_verdict_never_is():
    rows = pd.DataFrame(
        {
            "direction": ["higher_is_better", "lower_is_better", "lower_is_better"],
            "truth": [0.03, -0.02, -0.02],
            "verdict": ["less_effective", "less_effective", "no_distinguishable_difference"],
        }
    )
    assert _harness().false_verdict(rows).tolist() == [True, True, False]


def test_a_failed_piece_keeps_its_log_and_does_not_stop_the_others(tmp_path):
    """A piece whose workflow stops leaves its Snakemake log in out/failed/ (its scratch folder
    is deleted with the run) and the other pieces still run."""
    mc, ran = _harness(), []

    def work(piece):
        ran.append(piece)
        if piece[2] == 35:
            raise mc.PieceFailed("planted_x1_35", "rule export stopped: ...")

    attempt = mc.keep_going(work, tmp_path)
    names = [attempt(("planted", 1.0, seed)) for seed in (34, 35, 36)]
    assert names == [None, "planted_x1_35", None] and len(ran) == 3
    assert (tmp_path / "failed" / "planted_x1_35.log").read_text() == "rule export stopped: ..."
