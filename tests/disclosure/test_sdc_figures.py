"""Figures are checked on the data they are drawn from."""

from __future__ import annotations

import pandas as pd
import pytest

from inburgering.disclosure import DisclosureError, check_figure_data, load_rules


def _event_study(control_at_minus_3: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_time": [-3, -2, -1, 0, 1],
            "estimate": [0.01, 0.0, 0.0, 0.04, 0.05],
            "n_treated": [40, 41, 42, 43, 44],
            "n_control": [control_at_minus_3, 200, 200, 200, 200],
        }
    )


@pytest.mark.parametrize(("control", "ok"), [(9, False), (10, True), (11, True)])
def test_event_study_points(rules, control, ok):
    if ok:
        checked = check_figure_data(_event_study(control), "event_study", name="es", rules=rules)
        assert len(checked.frame) == 5
    else:
        with pytest.raises(DisclosureError) as error:
            check_figure_data(_event_study(control), "event_study", name="es", rules=rules)
        message = str(error.value)
        assert "'es'" in message and "min_persons_per_bin" in message
        assert "event_time=-3" in message and "n_control=9" in message


def test_suppress_mode_drops_offending_points(rules):
    checked = check_figure_data(
        _event_study(3), "event_study", name="es", rules=rules, on_violation="suppress"
    )
    assert checked.frame["event_time"].tolist() == [-2, -1, 0, 1]
    assert checked.report.n_primary == 1


def test_histogram_bins(rules):
    bins = pd.DataFrame(
        {
            "bin_left": [0, 1000, 2000, 3000],
            "bin_right": [1000, 2000, 3000, 4000],
            "n": [25, 60, 30, 4],
        }
    )
    with pytest.raises(DisclosureError, match="bin_left=3000"):
        check_figure_data(bins, "histogram", name="wages", rules=rules)
    bins.loc[3, "n"] = 0  # an empty bin is not a person
    assert len(check_figure_data(bins, "histogram", name="wages", rules=rules).frame) == 4


def test_survival_risk_sets_and_pooled_steps(rules):
    curve = pd.DataFrame(
        {
            "city": "rotterdam",
            "time": [1, 2, 3, 4, 5, 6],
            "n_at_risk": [100, 96, 90, 60, 30, 8],
            "n_events": [4, 6, 30, 30, 22, 8],
            "survival": [0.96, 0.90, 0.60, 0.30, 0.08, 0.0],
        }
    )
    with pytest.raises(DisclosureError, match="min_at_risk"):
        check_figure_data(curve, "survival", name="km", rules=rules, by=["city"])
    checked = check_figure_data(
        curve, "survival", name="km", rules=rules, by=["city"], on_violation="suppress"
    )
    # t=1 (4 events) is pooled into t=2 (4 + 6 = 10); t=6 has a risk set of 8 and is cut.
    assert checked.frame["time"].tolist() == [2, 3, 4, 5]
    assert checked.frame["n_events"].tolist() == [10, 30, 30, 22]


def test_scatter_plots_always_refused():
    lenient = load_rules({"min_persons": 1, "figures": {"on_violation": "suppress"}})
    frame = pd.DataFrame({"x": [1.0], "y": [2.0], "n": [100]})
    for kind in ("scatter", "scatterplot", "strip", "rug"):
        with pytest.raises(DisclosureError, match="no_individual_points"):
            check_figure_data(frame, kind, name="cloud", rules=lenient)


def test_figure_with_person_ids_refused(rules):
    frame = pd.DataFrame({"rinpersoon": ["000000001"], "n": [100]})
    with pytest.raises(DisclosureError, match="person id"):
        check_figure_data(frame, "bar", name="b", rules=rules)


def test_whiskers_refused(rules):
    frame = pd.DataFrame({"city": ["a"], "n": [100], "p50": [2.0], "max": [9.0]})
    with pytest.raises(DisclosureError, match="forbid_extremes"):
        check_figure_data(frame, "bar", name="box", rules=rules)
