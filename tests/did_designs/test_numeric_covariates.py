"""Text covariates of the DiD designs become 0/1 columns; composition shifts are adjusted away."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.designs.event_study import (
    fit_contrast,
    numeric_covariates,
    quarter_index,
    without_covariate,
)
from inburgering.workflow import StageError


def test_levels_reference_rare_and_missing():
    group = ["statushouder"] * 60 + ["gezinsmigrant"] * 36 + ["overig"] * 3 + [None]
    persons = pd.DataFrame(
        {"group": pd.array(group, dtype="string"), "age": np.arange(100), "female": True}
    )
    out, names = numeric_covariates(persons, ["age", "group", "female"])
    # The most frequent level is the reference; 'overig' (3 %) is too rare for a column of its own,
    # the person without a group is imputed and flagged by an indicator; the constant `female`
    # cannot adjust anything and is dropped.
    assert names == ["age", "group_gezinsmigrant", "group_gezinsmigrant_missing"]
    column = out["group_gezinsmigrant"]
    assert column.iloc[60:96].eq(1).all() and column.iloc[:60].eq(0).all()
    assert column.iloc[96:99].eq(0).all() and column.iloc[99] == 0  # the median
    assert out["group_gezinsmigrant_missing"].tolist() == [0.0] * 99 + [1.0]
    assert list(persons.columns) == ["group", "age", "female"]  # the input is left alone


def _shifting_composition(seed: int = 5) -> pd.DataFrame:
    """Two groups with outcome levels 0.8 and 0.1 and no effect at all; the treated city's share
    of the first group falls from 0.6 to 0.3 at the event, the comparison's stays at 0.6."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2018, 2019):
        for quarter in range(1, 5):
            for city, n in (("city", 400), ("rest", 4000)):
                share = 0.3 if city == "city" and year == 2019 else 0.6
                first = rng.random(n) < share
                y = np.where(first, 0.8, 0.1) + rng.normal(0, 0.05, n)
                municipality = "c" if city == "city" else rng.choice(["a", "b"], n)
                rows.append(
                    pd.DataFrame(
                        {
                            "cohort": f"{year}Q{quarter}",
                            "city": city,
                            "municipality": municipality,
                            "group": np.where(first, "statushouder", "gezinsmigrant"),
                            "y": y,
                        }
                    )
                )
    frame = pd.concat(rows, ignore_index=True)
    frame["group"] = frame["group"].astype("string")
    return frame.assign(q=quarter_index(frame["cohort"]))


def test_group_adjustment_removes_a_composition_trend():
    data = _shifting_composition()
    treated = (data["city"] == "city").to_numpy()
    event = int(quarter_index(pd.Series(["2019Q1"]))[0])
    raw = fit_contrast(data, treated, "y", [], base_quarters=4, event_q=event)
    adjusted_data, covariates = numeric_covariates(data, ["group"])
    adjusted = fit_contrast(adjusted_data, treated, "y", covariates, base_quarters=4, event_q=event)
    assert raw.estimate < -0.15  # the share drop times the 0.7 level gap: -0.21
    assert abs(adjusted.estimate) < 3 * adjusted.se and abs(adjusted.estimate) < 0.02


def test_reform_did_estimates_every_contrast_with_planted_missing_covariates(repo_root):
    """Schooling and age unknown for the same 6 % of persons: one indicator, every contrast
    estimated (complete-case dropping would lose them; a stop would lose the design)."""
    from inburgering.calendar import load_calendar
    from inburgering.designs.event_study import EventStudySettings
    from inburgering.designs.reform_did import ReformDidSettings, outcome_tables
    from inburgering.validation.designsim import SimSpec, simulate

    data = simulate(SimSpec(persons=20000, instrument_effect=0.0, seed=3), horizons=(12,))
    persons = data["persons"].copy()
    gap = np.random.default_rng(4).random(len(persons)) < 0.06
    persons["schooling_years"] = persons["schooling_years"].astype(float).where(~gap)
    persons["age"] = persons["age"].astype(float).where(~gap)
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12], cities=["rotterdam", "amsterdam"], alpha=0.05, wild_draws=19, ri_pool=9
    )
    reform = ReformDidSettings.from_schema_defaults()
    calendar = load_calendar(repo_root / "config" / "policies.yaml")
    complete = outcome_tables(
        data["persons"], data["outcomes"], "participation", 12, settings, reform, calendar
    )
    planted = outcome_tables(
        persons, data["outcomes"], "participation", 12, settings, reform, calendar
    )
    # A sparse (g, t) cell where an indicator is constant falls back along the engine's
    # documented chain (cs_dr -> cs_reg -> cs_unadj), named in `estimator`; no contrast is lost.
    keys = ["city", "comparison"]
    rows = {
        name: out["estimates"].query("estimand == 'att_overall' and headline").set_index(keys)
        for name, out in (("complete", complete), ("planted", planted))
    }
    assert {c for c, _ in rows["planted"].index} == {"rotterdam", "amsterdam"}
    assert rows["planted"].index.equals(rows["complete"].index)
    assert rows["planted"]["estimate"].notna().all() and rows["planted"]["se"].gt(0).all()
    # nobody is dropped: the same persons enter both runs
    assert rows["planted"]["n_treated"].equals(rows["complete"]["n_treated"])
    _, names = numeric_covariates(persons, settings.covariates)
    assert names == ["female", "age", "schooling_years", "age_missing"]


def _group_specific_slopes(seed: int) -> pd.DataFrame:
    """No effect anywhere. Statushouders' outcome falls with x (0.8 - 0.15 x), family migrants'
    does not depend on it (0.1). At the event the treated city's statushouder share drops from 0.6
    to 0.3 and its statushouders' x rises by one: conditional on group and x nothing changes."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2018, 2019):
        for quarter in range(1, 5):
            for city, n in (("city", 600), ("rest", 4000)):
                treated_post = city == "city" and year == 2019
                first = rng.random(n) < (0.3 if treated_post else 0.6)
                centre = np.where(first & treated_post, 2.0, 1.0)
                x = rng.normal(centre, 1.0, n)
                y = np.where(first, 0.8 - 0.15 * x, 0.1) + rng.normal(0, 0.05, n)
                rows.append(
                    pd.DataFrame(
                        {
                            "cohort": f"{year}Q{quarter}",
                            "city": city,
                            "municipality": "c" if city == "city" else rng.choice(["a", "b"], n),
                            "group": np.where(first, "statushouder", "gezinsmigrant"),
                            "x": x,
                            "y": y,
                        }
                    )
                )
    frame = pd.concat(rows, ignore_index=True)
    frame["group"] = frame["group"].astype("string")
    return frame.assign(q=quarter_index(frame["cohort"]))


@pytest.mark.parametrize("seed", [5, 6])
def test_group_interactions_remove_what_additive_covariates_leave(seed):
    data = _group_specific_slopes(seed)
    treated = (data["city"] == "city").to_numpy()
    event = int(quarter_index(pd.Series(["2019Q1"]))[0])
    additive_data, additive = numeric_covariates(data, ["x", "group"])
    interacted_data, interacted = numeric_covariates(data, ["x", "group"], ["group"])
    assert interacted == ["x", "group_gezinsmigrant", "x_x_group_gezinsmigrant"]
    assert np.allclose(
        interacted_data["x_x_group_gezinsmigrant"],
        data["x"] * (data["group"] == "gezinsmigrant").astype(float),
    )
    biased = fit_contrast(additive_data, treated, "y", additive, base_quarters=4, event_q=event)
    fixed = fit_contrast(interacted_data, treated, "y", interacted, base_quarters=4, event_q=event)
    assert biased.estimate < -0.025 and abs(biased.estimate) > 6 * biased.se
    assert abs(fixed.estimate) < 3 * fixed.se


def test_interactions_name_a_text_covariate_and_subgroups_drop_them():
    persons = pd.DataFrame(
        {"group": pd.array(["a", "b"] * 50, dtype="string"), "age": np.arange(100.0)}
    )
    with pytest.raises(StageError, match="covariate_interactions: 'sex'"):
        numeric_covariates(persons, ["age", "group"], ["sex"])
    _, names = numeric_covariates(persons, ["age", "group"], ["group"])
    assert names == ["age", "group_b", "age_x_group_b"]
    assert without_covariate(names, "group") == ["age"]
    assert without_covariate(names, "age") == ["group_b"]
