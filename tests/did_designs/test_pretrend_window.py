"""The reform's pre-trend tests use only the policy-free quarters before the reform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.calendar import PolicyCalendar
from inburgering.designs.event_study import fit_contrast, pretrend_window, quarter_index
from inburgering.workflow import StageError


def _calendar(rotterdam_adoption: str) -> PolicyCalendar:
    return PolicyCalendar(
        cities=("rotterdam", "amsterdam"),
        codes={"rotterdam": "0599", "amsterdam": "0363"},
        reform_key="wi2021",
        reform_date="2022-01-01",
        instruments={
            "taalstart": {"adoption": {"rotterdam": {"start": rotterdam_adoption}}},
            "caseload": {"adoption": {"amsterdam": {"start": "2016-01-01"}}},
            "later": {"adoption": {"rotterdam": {"start": "2022-04-01"}}},
        },
    )


def test_window_starts_settle_quarters_after_the_last_change_of_either_city():
    calendar = _calendar("2019-01-01")
    # 2019Q1 + 4 quarters = 2020Q1, eight quarters before 2022Q1; changes from the reform on
    # (2022Q2) and the rest of the Netherlands (not in the calendar) do not count.
    assert pretrend_window(calendar, "rotterdam", "amsterdam", 4) == -8
    assert pretrend_window(calendar, "rotterdam", "rest_nl", 4) == -8
    assert pretrend_window(calendar, "amsterdam", "rest_nl", 4) == -20
    assert pretrend_window(calendar, "amsterdam", "rest_nl", 0) == -24
    assert pretrend_window(calendar, "utrecht", "rest_nl", 4) is None  # no change: every quarter


def test_a_change_too_close_to_the_reform_stops_with_the_keys():
    with pytest.raises(StageError, match=r"pretrend_settle_quarters.*fewer than two"):
        pretrend_window(_calendar("2021-01-01"), "rotterdam", "amsterdam", 4)


def test_wald_test_ignores_quarters_before_the_window():
    """The treated city's outcome is 0.1 higher before 2019 (its own earlier policy), parallel
    from then on: the test over every pre-quarter rejects, the test over the window does not."""
    rng = np.random.default_rng(0)
    rows = []
    for year in range(2016, 2023):
        for quarter in range(1, 5):
            for city, n in (("city", 300), ("rest", 3000)):
                shift = 0.1 if city == "city" and year < 2019 else 0.0
                rows.append(
                    pd.DataFrame(
                        {
                            "cohort": f"{year}Q{quarter}",
                            "city": city,
                            "municipality": "c" if city == "city" else rng.choice(["a", "b"], n),
                            "y": 0.3 + shift + rng.normal(0, 0.1, n),
                        }
                    )
                )
    data = pd.concat(rows, ignore_index=True)
    data = data.assign(q=quarter_index(data["cohort"]))
    treated = (data["city"] == "city").to_numpy()
    event = int(quarter_index(pd.Series(["2022Q1"]))[0])
    every = fit_contrast(data, treated, "y", [], base_quarters=4, event_q=event)
    window = fit_contrast(data, treated, "y", [], base_quarters=4, event_q=event, pretrend_from=-12)
    assert every.wald_df == 23 and every.wald_p < 1e-6
    assert window.wald_df == 11 and window.wald_p > 0.01
    assert abs(window.slope) < 3 * window.slope_se
    assert every.estimate == window.estimate  # the estimate does not depend on the test window
