"""CATEs and subgroup effects on simulated data with known heterogeneity; dowhy refuters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.contracts.tidy import TIDY_COLUMNS
from inburgering.heterogeneity import estimate_cate
from inburgering.matching.refute import refute


def _simulate(n: int = 3000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    sex = rng.choice(["f", "m"], n)
    municipality = rng.integers(0, 30, n)
    t = rng.binomial(1, 1 / (1 + np.exp(-(0.5 * x1))))
    effect = np.where(sex == "f", 1.0, 3.0)  # subgroup truths: f = 1, m = 3
    y = x1 + effect * t + 0.3 * municipality / 30 + rng.normal(size=n)
    return pd.DataFrame({"t": t, "y": y, "x1": x1, "sex": sex, "municipality": municipality})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _simulate()


def test_subgroup_effects_recover_truth_with_cluster_folds(data: pd.DataFrame) -> None:
    res = estimate_cate(
        data,
        treatment="t",
        outcome="y",
        covariates=["x1", "sex"],
        subgroups=["sex"],
        cluster="municipality",
        learner="dr",
    )
    table = res.subgroups.set_index("subgroup")
    for subgroup, truth in (("sex:f", 1.0), ("sex:m", 3.0)):
        row = table.loc[subgroup]
        assert row["ci_low"] - 0.1 < truth < row["ci_high"] + 0.1, row.to_dict()
        assert row["n_clusters"] == 30
    assert table.loc["sex:m", "estimate"] > table.loc["sex:f", "estimate"] + 1
    unit = res.cate.assign(sex=data["sex"]).groupby("sex")["cate"].mean()
    assert unit["m"] - unit["f"] > 1
    rows = res.to_rows(treatment="z_vs_b1", outcome="y", horizon=12)
    assert list(rows.columns) == list(TIDY_COLUMNS) and set(rows["estimand"]) == {"cate"}


def test_subgroup_effects_do_not_need_the_unit_level_learner(data: pd.DataFrame) -> None:
    options = dict(
        treatment="t",
        outcome="y",
        covariates=["x1", "sex"],
        subgroups=["sex"],
        cluster="municipality",
        learner="dr",
    )
    with_cates = estimate_cate(data, **options)
    without = estimate_cate(data, **options, unit_cates=False)
    assert without.cate is None and len(with_cates.cate) == len(data)
    assert without.subgroups.equals(with_cates.subgroups)


@pytest.mark.slow
def test_causal_forest_learner(data: pd.DataFrame) -> None:
    res = estimate_cate(
        data,
        treatment="t",
        outcome="y",
        covariates=["x1", "sex"],
        subgroups=["sex"],
        cluster="municipality",
        learner="forest",
    )
    unit = res.cate.assign(sex=data["sex"]).groupby("sex")["cate"].mean()
    assert unit["m"] - unit["f"] > 1


def test_refuters_return_rows(data: pd.DataFrame) -> None:
    rows = refute(
        data.head(1500), treatment="t", outcome="y", common_causes=["x1"], num_simulations=10
    )
    assert list(rows["refuter"]) == [
        "placebo_treatment_refuter",
        "random_common_cause",
        "data_subset_refuter",
    ]
    by = rows.set_index("refuter")
    assert abs(by.loc["placebo_treatment_refuter", "new_effect"]) < 0.3
    estimate = by["estimate"].iloc[0]
    assert abs(by.loc["random_common_cause", "new_effect"] - estimate) < 0.1
    assert abs(by.loc["data_subset_refuter", "new_effect"] - estimate) < 0.2


def test_pygraphviz_fallback_message_is_silenced(data: pd.DataFrame, caplog) -> None:
    """dowhy's harmless "Pygraphviz cannot be loaded" ERROR (pydot takes over) is not logged;
    other dowhy errors still are."""
    import logging

    caplog.set_level(logging.INFO)
    graph = "digraph { x1 -> t; x1 -> y; t -> y; }"
    refute(data.head(300), treatment="t", outcome="y", common_causes=["x1"], graph=graph,
           num_simulations=2)  # fmt: skip
    assert not [r for r in caplog.records if "Pygraphviz" in r.getMessage()]
    logging.getLogger("dowhy.causal_graph").error("Error: Pydot cannot be loaded.")
    assert any("Pydot cannot be loaded" in r.getMessage() for r in caplog.records)
