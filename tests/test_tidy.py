"""The tidy estimate row contract (DESIGN.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from inburgering.contracts.tidy import (
    TIDY_COLUMNS,
    TidyContractError,
    read_tidy,
    tidy_frame,
    write_tidy,
)


def row(**overrides):
    base = {
        "design": "reform_did",
        "estimand": "att_overall",
        "treatment": "wi2021",
        "city": "rotterdam",
        "comparison": "rest_nl",
        "outcome": "participation",
        "horizon": 12,
        "subgroup": "all",
        "estimator": "cs_dr",
        "headline": True,
        "estimate": 0.05,
        "se": 0.01,
        "ci_low": 0.03,
        "ci_high": 0.07,
        "n_treated": 120,
        "n_control": 4000,
        "n_clusters": 300,
    }
    return {**base, **overrides}


def test_round_trip_keeps_empty_keys_empty(tmp_path):
    frame = tidy_frame([row(), row(estimator="twfe", headline=False)])
    assert list(frame.columns) == list(TIDY_COLUMNS)
    write_tidy(frame, tmp_path / "e.csv")
    back = read_tidy(tmp_path / "e.csv")
    assert back["event_time"].isna().all()
    assert (back["inference"] == "").all()
    assert "nan" not in (tmp_path / "e.csv").read_text()
    pd.testing.assert_frame_equal(
        back.sort_values("estimator").reset_index(drop=True),
        frame.sort_values("estimator").reset_index(drop=True),
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([row(design="regression")], "design must be one of"),
        ([row(city="Rotterdam")], "city must be one of"),
        ([row(), row()], "must be unique"),
        ([row(), row(estimator="twfe")], "at most one headline"),
        ([row(ci_low=0.1, ci_high=0.0)], "ci_low must not exceed ci_high"),
        ([{**row(), "comment": "x"}], "unknown columns"),
    ],
)
def test_contract_violations_are_named(rows, message):
    with pytest.raises(TidyContractError, match=message):
        tidy_frame(rows)


def test_write_is_deterministic(tmp_path):
    rows = [row(city=c) for c in ("utrecht", "rotterdam", "amsterdam")]
    write_tidy(tidy_frame(rows), tmp_path / "a.csv")
    write_tidy(tidy_frame(list(reversed(rows))), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_gather_parts_concatenates_each_table(tmp_path):
    from inburgering.designs.gather import gather_parts
    from inburgering.workflow import RuleJob

    parts = {"estimates": [], "balance": []}
    for name, horizon in (("b", 24), ("a", 12)):
        estimates, balance = tmp_path / f"{name}_estimates.csv", tmp_path / f"{name}_balance.csv"
        write_tidy(tidy_frame([row(horizon=horizon)]), estimates)
        frame = pd.DataFrame({"covariate": ["age"], "smd": [horizon / 10]})
        (frame if name == "b" else frame.iloc[:0]).to_csv(balance, index=False)
        parts["estimates"].append(estimates)
        parts["balance"].append(balance)
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")  # a part without any columns
    parts["balance"].append(tmp_path / "empty.csv")
    out = {"estimates": tmp_path / "all.csv", "balance": tmp_path / "all_balance.csv"}
    gather_parts(RuleJob(input=parts, output=out))
    assert sorted(read_tidy(out["estimates"])["horizon"]) == [12, 24]
    assert pd.read_csv(out["balance"]).to_dict("list") == {"covariate": ["age"], "smd": [2.4]}
