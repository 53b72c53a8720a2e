"""heterogeneity: Z-vs-B1 effects by age, sex, schooling and group, against the truth."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from designs_helpers import assert_person_free, joined, limited, simulate

from inburgering.designs import cells
from inburgering.designs.heterogeneity import (
    SUMMARY_COLUMNS,
    dr_att_scores,
    heterogeneity_rows,
    ratio_att,
)
from inburgering.workflow import StageError

SUBGROUPS = {
    "age:18-26",
    "age:27-39",
    "age:40-66",
    "sex:man",
    "sex:vrouw",
    "schooling:0-5",
    "schooling:6-8",
    "schooling:9+",
    "group:statushouder",
    "group:gezinsmigrant",
}


@pytest.fixture(scope="module")
def het(sim, config):
    narrowed = copy.deepcopy(config)
    narrowed["estimate"]["horizons"] = [24]  # the smaller (less censored) sample keeps it fast
    return limited(heterogeneity_rows, sim.persons, sim.outcomes, narrowed)


def test_subgroups_match_the_truth_contract(het):
    rows = het.estimates
    assert set(rows["subgroup"]) == SUBGROUPS
    assert set(rows["estimand"]) == {"cate"} and set(rows["treatment"]) == {"z_vs_b1"}
    assert set(rows["city"]) == {"all"} and set(rows["comparison"]) == {"matched"}
    headline = rows[rows["headline"]]
    assert len(headline) == len(SUBGROUPS)
    assert (headline["n_clusters"] == 40).all()


def test_subgroup_intervals_cover(het, sim):
    table = joined(het.estimates, sim.truth)
    headline = table[table["headline"]]
    z = (headline["estimate"] - headline["truth"]) / headline["se"]
    assert (z.abs() < 3.5).all(), headline[["subgroup", "horizon", "estimate", "truth", "se"]]
    covered = (headline["ci_low"] <= headline["truth"]) & (headline["truth"] <= headline["ci_high"])
    assert covered.mean() >= 0.8


def test_side_tables_are_person_free(het, sim):
    n = len(sim.persons)
    assert_person_free(het.sensitivity, cells.SENSITIVITY_COLUMNS, n)
    assert_person_free(het.cate_summary, SUMMARY_COLUMNS, n)
    assert len(het.sensitivity) == len(het.estimates)


def test_dr_att_scores_recover_an_att_unlike_the_ate():
    # Effect 2 for x > 0 and 0 otherwise; treatment is likelier for x > 0, so ATT > ATE.
    rng = np.random.default_rng(4)
    n = 4000
    x = rng.normal(size=n)
    t = rng.random(n) < 1 / (1 + np.exp(-1.5 * x))
    y = x + 2.0 * (x > 0) * t + rng.normal(size=n)
    groups = rng.integers(0, 30, n)
    scores = dr_att_scores(y, t, x[:, None], groups, seed=0)
    att, se, n_clusters = ratio_att(scores, t.astype(float), groups)
    truth = 2.0 * float((x[t] > 0).mean())
    assert abs(att - truth) < 3 * se and n_clusters == 30
    assert truth - 3 * se > 2.0 * float((x > 0).mean())  # the ATE (1.0) is outside


def test_att_target_is_a_headline_estimator(config):
    small = simulate(n=2500, seed=2)
    narrowed = copy.deepcopy(config)
    narrowed["estimate"]["horizons"] = [12]
    narrowed["matching"]["heterogeneity"]["target"] = "att"
    narrowed["matching"]["heterogeneity"]["subgroups"] = {
        "sex": {"column": "female", "edges": [0, 1], "labels": ["man", "vrouw"]}
    }
    rows = limited(heterogeneity_rows, small.persons, small.outcomes, narrowed).estimates
    headline = rows[rows["headline"]]
    assert set(headline["subgroup"]) == {"sex:man", "sex:vrouw"}
    assert set(headline["estimator"]) == {"dr_att_scores_gbm"}
    assert np.isfinite(headline[["estimate", "se", "ci_low", "ci_high"]].to_numpy()).all()


def test_unknown_contrast_names_the_key(sim, config):
    broken = copy.deepcopy(config)
    broken["matching"]["heterogeneity"]["contrast"] = "entree_vs_b1"
    with pytest.raises(StageError, match=r"matching\.heterogeneity\.contrast"):
        heterogeneity_rows(sim.persons, sim.outcomes, broken)


def test_unit_cates_only_fill_the_econml_summary_columns(het, sim, config):
    """econml's unit-level CATEs (matching.heterogeneity.unit_cates, off in the shipped config)
    feed only the summary's econml columns: switching them on leaves every estimate as it is."""
    econml = ["econml_mean_cate_treated", "econml_mean_cate_all"]
    assert config["matching"]["heterogeneity"]["unit_cates"] is False
    assert het.cate_summary[econml].isna().all().all()
    assert het.cate_summary[["gate_all", "gate_all_se"]].notna().all().all()
    with_cates = copy.deepcopy(config)
    with_cates["estimate"]["horizons"] = [24]
    with_cates["matching"]["heterogeneity"]["unit_cates"] = True
    full = limited(heterogeneity_rows, sim.persons, sim.outcomes, with_cates)
    assert full.estimates.equals(het.estimates)
    assert full.cate_summary[econml].notna().all().all()
    summary = full.cate_summary.drop(columns=econml)
    assert summary.equals(het.cate_summary.drop(columns=econml))
