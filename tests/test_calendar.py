"""The policy calendar as bundles: which G4 adoptions a before/after design can tell apart."""

from __future__ import annotations

import pandas as pd
import pytest

from inburgering.calendar import instrument_bundles, load_calendar
from inburgering.config import load_policies
from inburgering.designs.city_instrument_did import bundle_window
from inburgering.designs.event_study import quarter_index

CITIES = ("rotterdam", "amsterdam", "den_haag", "utrecht")


def _bundles(instruments: dict, reform: str = "2022-01-01"):
    return instrument_bundles(instruments, CITIES, reform)


def _adoptions(**dates: str) -> dict:
    """One instrument per keyword, adopted by Rotterdam on the given date."""
    return {key: {"adoption": {"rotterdam": {"start": day}}} for key, day in dates.items()}


@pytest.fixture(scope="module")
def calendar(repo_root):
    policies = load_policies(repo_root / "config" / "policies.yaml")
    return {
        (b.city, b.treatment): b
        for b in instrument_bundles(
            policies["instruments"], policies["municipalities"], policies["reform"]["date"]
        )
    }


def test_default_calendar_bundles(calendar):
    rotterdam = calendar["rotterdam", "assessment_in_intake+intensified_intake"]
    assert str(rotterdam.start) == "2018Q4"
    assert rotterdam.previous_change is None and str(rotterdam.next_change) == "2022Q1"
    utrecht = calendar["utrecht", "kansrijke_start+onderwijsroute"]
    assert str(utrecht.previous_change) == "2022Q1" and utrecht.next_change is None
    # Den Haag's instruments all start with Wi2021 (its onderwijsroute one quarter later):
    # part of its reform, no bundle of their own; the same for Rotterdam's 2022 pair.
    assert not [key for key in calendar if key[0] == "den_haag"]
    assert [t for c, t in calendar if c == "rotterdam"] == [
        "assessment_in_intake+intensified_intake"
    ]


def test_adjacent_quarters_join_and_a_gap_separates():
    joined = _bundles(_adoptions(a="2018-11-01", b="2019-03-31"))
    assert [b.treatment for b in joined] == ["a+b"]
    apart = _bundles(_adoptions(a="2018-11-01", b="2019-04-01"))
    assert [b.treatment for b in apart] == ["a", "b"]
    assert str(apart[0].next_change) == "2019Q2" and str(apart[1].previous_change) == "2018Q4"


def test_a_bundle_touching_the_reform_is_part_of_it():
    # 2021Q4 is adjacent to the reform quarter, and 2022Q2 to it from the other side.
    assert _bundles(_adoptions(a="2021-10-01", b="2022-04-01")) == []


def _q(label: str) -> int:
    return int(quarter_index(pd.Series([label]))[0])


def test_window_needs_settled_pre_quarters(calendar):
    data = (_q("2016Q1"), _q("2024Q4"))
    rotterdam = bundle_window(
        calendar["rotterdam", "assessment_in_intake+intensified_intake"], data, 4, 4
    )
    assert (rotterdam.first, rotterdam.start, rotterdam.last) == (
        _q("2016Q1"),
        _q("2018Q4"),
        _q("2021Q4"),
    )
    utrecht = calendar["utrecht", "kansrijke_start+onderwijsroute"]
    # Utrecht's 2023 bundle follows its 2022 changes by four quarters: nothing settled is left
    # before it unless the settling period is set to zero.
    assert bundle_window(utrecht, data, 4, 4) is None
    assert bundle_window(utrecht, data, 0, 4).first == _q("2022Q1")
    assert bundle_window(utrecht, data, 0, 5) is None


def test_policy_calendar_is_one_object(repo_root):
    path = repo_root / "config" / "policies.yaml"
    calendar = load_calendar(path)
    policies = load_policies(path)
    assert calendar.cities == CITIES
    assert calendar.codes == {
        "rotterdam": "0599",
        "amsterdam": "0363",
        "den_haag": "0518",
        "utrecht": "0344",
    }
    assert calendar.reform_key == "wi2021"
    assert str(calendar.reform_quarter) == "2022Q1"
    assert calendar.bundles() == instrument_bundles(
        policies["instruments"], policies["municipalities"], policies["reform"]["date"]
    )


def test_reform_quarter_follows_the_calendar_file(tmp_path, repo_root):
    text = (repo_root / "config" / "policies.yaml").read_text(encoding="utf-8")
    moved = tmp_path / "policies.yaml"
    moved.write_text(
        text.replace('  date: "2022-01-01"', '  date: "2021-07-01"', 1), encoding="utf-8"
    )
    assert str(load_calendar(moved).reform_quarter) == "2021Q3"
