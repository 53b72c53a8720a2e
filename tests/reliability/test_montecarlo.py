"""The Monte Carlo harness: aggregation arithmetic, and two real seeds end to end."""

from __future__ import annotations

import argparse
import math
import subprocess

import pandas as pd
import pytest

from inburgering.validation import montecarlo
from inburgering.validation.montecarlo import KEYS, aggregate, main, parse_scales

# Columns the report's validation appendix reads (inburgering.report.inputs, monte_carlo.csv).
REPORT_COLUMNS = {"design", "estimand", "estimator", "city", "outcome", "horizon", "n_reps",
                  "mean_bias", "rmse", "coverage", "mean_ci_width"}  # fmt: skip


def _rows(estimates, truth, half_width, headline=True):
    key = {"design": "reform_did", "estimand": "att_overall", "treatment": "wi2021",
           "city": "rotterdam", "comparison": "rest_nl", "outcome": "employed", "horizon": 12,
           "subgroup": "all", "event_time": float("nan"), "estimator": "dr",
           "headline": headline}  # fmt: skip
    return pd.DataFrame(
        [{**key, "seed": seed, "estimate": e, "se": half_width / 1.96, "truth": truth,
          "ci_low": e - half_width, "ci_high": e + half_width,
          "covered": str(e - half_width <= truth <= e + half_width)}
         for seed, e in enumerate(estimates)]
    )  # fmt: skip


def test_aggregate_bias_rmse_coverage():
    table = aggregate(_rows([0.1, 0.3, 0.5, 0.9], truth=0.2, half_width=0.15))
    row = table.iloc[0]
    assert row["n_reps"] == 4
    assert row["mean_bias"] == pytest.approx(0.25)
    assert row["rmse"] == pytest.approx(math.sqrt((0.01 + 0.01 + 0.09 + 0.49) / 4))
    assert row["coverage"] == pytest.approx(0.5)  # 0.1 and 0.3 cover 0.2
    assert row["mean_ci_width"] == pytest.approx(0.3)
    assert row["flag"] == "coverage_outside_90_98"  # a headline estimand far below 90 %


def test_aggregate_flags_only_headline_and_counts_missing_interval_as_miss():
    frame = pd.concat([_rows([0.2] * 10, 0.2, 0.1), _rows([0.2] * 10, 0.2, 0.1, headline=False)])
    frame.loc[frame.index[:1], ["ci_low", "ci_high"]] = float("nan")
    aggregated = aggregate(frame.reset_index(drop=True))
    assert list(aggregated.columns[: len(KEYS)]) == KEYS
    table = aggregated.set_index("headline")
    assert table.loc[True, "coverage"] == pytest.approx(0.9)  # one missing interval = a miss
    assert table.loc[True, "flag"] == ""
    assert table.loc[False, "flag"] == ""


@pytest.mark.e2e
def test_harness_two_seeds_end_to_end(tmp_path):
    out = tmp_path / "mc"
    status = main(["--seeds", "2", "--persons", "3000", "--out", str(out), "--jobs", "2"])
    logs = sorted((out / "runs").rglob("snakemake.log")) if (out / "runs").exists() else []
    assert status == 0, "\n".join(p.read_text(encoding="utf-8")[-3000:] for p in logs)
    table = pd.read_csv(out / "monte_carlo.csv")
    assert set(table.columns) >= REPORT_COLUMNS
    # In small samples the DR fit can fall back to outcome regression in one seed only (the
    # estimator column says which ran), so a few estimands have one replication.
    assert len(table) > 0 and table["n_reps"].isin([1, 2]).all()
    assert (table.loc[table["headline"], "n_reps"] == 2).any()
    assert table["coverage"].between(0, 1).all()
    seeds = out / "seeds" / "shocks_x1"  # the configured city shocks
    assert sorted(p.name for p in seeds.iterdir()) == ["seed_1.csv", "seed_2.csv"]
    assert "Headline estimands outside the band" in (out / "summary.md").read_text()
    assert not (out / "runs" / "shocks_x1" / "seed_1").exists()  # person-level data removed


def test_shock_scales_parse():
    assert parse_scales("0,1,2") == [0.0, 1.0, 2.0]
    assert parse_scales("1.5") == [1.5]
    for bad in ("", "1,1", "-1", "x2"):
        with pytest.raises(argparse.ArgumentTypeError, match="--shock-scale"):
            parse_scales(bad)


def test_aggregate_splits_by_shock_scale():
    frame = pd.concat(
        [
            _rows([0.2] * 4, 0.2, 0.1).assign(shock_scale=0),
            _rows([0.0, 0.4, 0.0, 0.4], 0.2, 0.1).assign(shock_scale=2),
        ]
    )
    table = aggregate(frame.reset_index(drop=True)).set_index("shock_scale")
    assert table.loc[0, "coverage"] == 1.0 and table.loc[2, "coverage"] == 0.0
    assert table.loc[2, "n_reps"] == 4


def test_each_scale_runs_its_own_synthetic_world(tmp_path, monkeypatch):
    """--shock-scale sets synth.city_shocks in each seed's overlay and labels its rows."""
    seen = []

    def fake_workflow(base, sections, targets, *args, **kwargs):
        seen.append(sections["synth"])
        shocks = sections["synth"]["city_shocks"]
        table = _rows([0.2 + 0.1 * shocks["scale"]], 0.2, 0.15).drop(columns="seed")
        validation = base / "results" / montecarlo.VALIDATION
        validation.parent.mkdir(parents=True)
        table.to_csv(validation, index=False)
        return subprocess.CompletedProcess([], 0)

    monkeypatch.setattr(montecarlo, "run_workflow", fake_workflow)
    table, _ = montecarlo.run_harness(
        [1, 2], 3000, tmp_path, jobs=1, extra={"synth": {"format": "parquet"}},
        shock_scales=[0.0, 2.0],
    )  # fmt: skip
    assert sorted((s["seed"], s["city_shocks"]["scale"]) for s in seen) == [
        (1, 0.0), (1, 2.0), (2, 0.0), (2, 2.0)
    ]  # fmt: skip
    assert all(s["city_shocks"]["enabled"] and s["format"] == "parquet" for s in seen)
    by_scale = table.set_index("shock_scale")
    assert by_scale.loc[0, "mean_estimate"] == pytest.approx(0.2)
    assert by_scale.loc[2, "mean_estimate"] == pytest.approx(0.4)
    assert by_scale.loc[2, "coverage"] == 0.0  # 0.4 ± 0.15 misses 0.2
    seed_table = pd.read_csv(tmp_path / "seeds" / "shocks_x2" / "seed_1.csv")
    assert (seed_table["shock_scale"] == 2).all() and (seed_table["seed"] == 1).all()
    assert "x0, x2" in (tmp_path / "summary.md").read_text()


def test_without_the_option_the_configured_scale_runs():
    assert montecarlo.configured_shock_scale({}) == 1.0  # config/config.yaml
    off = {"synth": {"city_shocks": {"enabled": False}}}
    assert montecarlo.configured_shock_scale(off) == 0.0
    assert montecarlo.configured_shock_scale({"synth": {"city_shocks": {"scale": 2}}}) == 2.0
