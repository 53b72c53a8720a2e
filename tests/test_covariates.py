"""Missing covariates get one indicator per missingness pattern; collinear covariates are
dropped with a logged reason (inburgering.covariates)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from inburgering.covariates import impute_with_indicators, numeric_with_indicators, prune_collinear
from inburgering.matching._design import check_rank, covariate_matrices


def _persons(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "test_score": rng.integers(0, 41, n).astype(float),
            "test_version": rng.choice(["1", "2", "3"], n),
            "schooling_years": rng.integers(0, 18, n).astype(float),
            "female": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        }
    )


def test_complete_covariates_get_no_indicator():
    persons = _persons()
    frame, used = impute_with_indicators(persons, list(persons.columns))
    assert used == list(persons.columns)
    assert list(frame.columns) == list(persons.columns)
    assert frame["female"].dtype == float


def test_no_test_taken_gives_one_indicator_and_a_full_rank_design(caplog):
    persons = _persons()
    untested = np.arange(len(persons)) % 7 == 0
    persons.loc[untested, "test_score"] = np.nan
    persons["test_version"] = persons["test_version"].where(~untested, None)
    persons.loc[np.arange(len(persons)) % 11 == 0, "schooling_years"] = np.nan
    with caplog.at_level(logging.INFO, logger="inburgering.covariates"):
        frame, used = impute_with_indicators(
            persons, ["test_score", "test_version", "schooling_years"]
        )
    assert used == [
        "test_score",
        "test_score_missing",
        "test_version",
        "schooling_years",
        "schooling_years_missing",
    ]
    assert not frame[used].isna().any().any()
    assert "missing" not in set(frame["test_version"])  # no level duplicating the indicator
    assert "same persons as test_score_missing" in caplog.text
    X, names, *_ = covariate_matrices(frame, used)
    check_rank(X, names)  # raises MatchingInputError when collinear


def test_a_band_carries_the_pattern_of_its_covariate():
    persons = _persons()
    untested = np.arange(len(persons)) % 5 == 0
    persons.loc[untested, "test_score"] = np.nan
    persons["test_version"] = persons["test_version"].where(~untested, None)
    persons["test_score_band"] = np.where(untested, "missing", "scored")
    covariates = ["test_score", "test_version", "test_score_band"]
    frame, used = impute_with_indicators(persons, covariates)
    assert used == covariates
    assert "missing" not in set(frame["test_version"])
    X, names, *_ = covariate_matrices(frame, used)
    check_rank(X, names)


def test_separate_patterns_keep_their_own_missing_level():
    persons = _persons()
    persons.loc[:9, "test_version"] = None
    frame, used = impute_with_indicators(persons, ["test_version", "test_score"])
    assert used == ["test_version", "test_score"]
    assert (frame.loc[:9, "test_version"] == "missing").all()


def test_collinear_blocks_are_dropped_with_the_reason(caplog):
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    blocks = {
        "x": x,
        "twice_x": 2 * x + 1,
        "level": np.column_stack([x > 0, rng.random(200) < 0.5]).astype(float),
        "constant": np.full(200, 3.0),
    }
    with caplog.at_level(logging.INFO, logger="inburgering.covariates"):
        kept, dropped = prune_collinear(blocks, list(blocks))
    assert kept == ["x", "level"]
    assert set(dropped) == {"twice_x", "constant"}
    assert "adds rank 0 of its 1" in dropped["twice_x"]
    assert "covariate twice_x not used" in caplog.text
    partly = {"x": x, "pair": np.column_stack([2 * x, rng.normal(size=200)])}
    assert prune_collinear(partly, ["x", "pair"])[1]["pair"].startswith("partly collinear")


def test_numeric_columns_share_an_indicator_per_pattern():
    persons = _persons()
    gap = np.arange(len(persons)) % 9 == 0
    persons.loc[gap, ["test_score", "schooling_years"]] = np.nan
    frame, names = numeric_with_indicators(persons, ["test_score", "schooling_years"])
    assert names == ["test_score", "schooling_years", "test_score_missing"]
    assert frame["test_score_missing"].sum() == gap.sum()
    assert not frame[names].isna().any().any()
    assert frame.loc[gap, "schooling_years"].nunique() == 1  # the median
