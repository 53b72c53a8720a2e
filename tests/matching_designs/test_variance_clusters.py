"""Cluster-robust variance when one large cluster has its own fixed effect (a G4 city).

The route design clusters by municipality, but each G4 city is also its own level of the
``city`` covariate. Clustered as one unit, such a city made the sandwich degenerate (its fixed
effect's equation sums to zero within it) and let one cluster dominate the variance: standard
errors too small on average and very noisy from sample to sample, so intervals under-covered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.designs.cells import (
    SPLIT_NOTE,
    Cell,
    MethodSpec,
    absorbed_clusters,
    estimate_cell,
    with_variance_clusters,
)

MUNICIPALITIES = ["big", *[f"m{i:02d}" for i in range(39)]]


def test_only_clusters_that_are_a_level_by_themselves_are_absorbed():
    data = pd.DataFrame(
        {
            "municipality": ["a", "a", "b", "b", "c", "c", "d"],
            "city": ["rdam", "rdam", "rest", "rest", "rest", "rest", "adam"],
            "band": ["x", "y", "x", "y", "x", "y", "x"],  # spans clusters: absorbs none
            "age": [20, 30, 40, 50, 60, 70, 80],  # numeric: never a fixed effect level
        }
    )
    absorbed = absorbed_clusters(data, "municipality", ["city", "band", "age"])
    assert absorbed.tolist() == [True, True, False, False, False, False, True]
    assert not absorbed_clusters(data, "municipality", ["band", "age"]).any()


def test_absorbed_persons_become_their_own_cluster():
    data = pd.DataFrame(
        {
            "municipality": ["a", "a", "b", "b", "c", "d"],
            "city": ["rdam", "rdam", "rest", "rest", "rest", "adam"],
        },
        index=pd.Index(["p1", "p2", "p3", "p4", "p5", "p6"], name="person_id"),
    )
    out, column, split = with_variance_clusters(data, "municipality", ["city"])
    assert split == 3
    assert out[column].nunique() == 5  # p1, p2 and p6 alone; b and c stay clusters
    assert out.loc["p3", column] == out.loc["p4", column] != out.loc["p5", column]
    unchanged, column, split = with_variance_clusters(data, None, ["city"])
    assert unchanged is data and column is None and split == 0


def _population(n: int = 3000, seed: int = 5):
    """30% of persons in one big city (own `city` level) holding most of the treated."""
    rng = np.random.default_rng(seed)
    muni = np.where(rng.random(n) < 0.3, "big", rng.choice(MUNICIPALITIES[1:], n))
    big = muni == "big"
    x1 = rng.normal(size=n)
    treated = rng.random(n) < 1 / (1 + np.exp(-(-2.0 + 0.7 * x1 + 1.8 * big)))
    shock = pd.Series(rng.normal(0, 0.03, len(MUNICIPALITIES)), index=MUNICIPALITIES)
    p0 = np.clip(0.3 + 0.08 * x1 + 0.1 * big + shock[muni].to_numpy(), 0.02, 0.98)
    data = pd.DataFrame(
        {
            "_treated": treated.astype(float),
            "x1": x1,
            "city": np.where(big, "big", "rest"),
            "municipality": muni,
        },
        index=pd.Index([f"p{i}" for i in range(n)], name="person_id"),
    )
    return data, p0 + 0.05 * treated, rng


CELL = Cell("route_matching", "x_vs_b1", "all", "matched", "y", 12)


def _spec(*methods: str) -> MethodSpec:
    """The route design's settings with the given estimators, the first the headline."""
    section = {
        "headline": methods[0],
        "methods": list(methods),
        "nearest": {"ratio": 1, "caliper": None, "replace": False, "adjust": True},
        "cluster": "municipality",
        "trim": None,
        "exact": [],
    }
    matching = {
        "sensitivity": {"evalue_min": 2.0, "gamma_min": 1.5},
        "seed": 0,
        "min_treated": 20,
        "min_control": 20,
        "overlap_bins": 10,
    }
    return MethodSpec.from_config(section, matching, 0.05)


@pytest.fixture(scope="module")
def replications():
    """AIPW estimate and SE over 80 outcome draws of one population (persons fixed)."""
    spec = _spec("aipw")
    data, p, rng = _population()
    rows = []
    for _ in range(80):
        draw = data.assign(y=(rng.random(len(data)) < p).astype(float))
        out = estimate_cell(draw, CELL, "_treated", ["x1", "city"], spec)
        rows += [row for row in out.rows if row["estimator"] == "aipw"]
    return pd.DataFrame(rows)


def test_standard_errors_match_the_spread_and_are_stable(replications):
    se, estimate = replications["se"], replications["estimate"]
    # The SE targets the unconditional variance, so it may exceed this outcome-noise spread;
    # with the big city as one cluster the ratio was 0.61 and the SE's CV 0.28.
    assert se.mean() / estimate.std() > 0.8
    assert se.std() / se.mean() < 0.1


def test_rows_say_how_they_cluster(replications):
    assert replications["inference"].str.endswith(SPLIT_NOTE).all()
    assert (replications["n_clusters"] == len(MUNICIPALITIES)).all()


def test_a_cell_the_headline_cannot_fit_is_recorded_not_estimated():
    # Perfect separation: every person with x1 > 0 is treated (a small cell at 4,000 persons
    # stopped the whole Monte Carlo run here before).
    spec = _spec("aipw", "ipw")
    data, _, _ = _population(600)
    data = data.assign(_treated=(data["x1"] > 0).astype(float), y=0.5)
    out = estimate_cell(data, CELL, "_treated", ["x1"], spec)
    assert out.rows == [] and out.sensitivity == []
    (sample,) = out.samples
    assert sample["step"].eq("not estimated").all()
    assert sample["rule"].str.contains("headline aipw not estimable: perfect separation").all()
