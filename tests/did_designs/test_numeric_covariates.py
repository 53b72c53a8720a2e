"""Text covariates of the DiD designs become 0/1 columns; composition shifts are adjusted away."""

from __future__ import annotations

import numpy as np
import pandas as pd

from inburgering.designs.event_study import fit_contrast, numeric_covariates, quarter_index


def test_levels_reference_rare_and_missing():
    group = ["statushouder"] * 60 + ["gezinsmigrant"] * 36 + ["overig"] * 3 + [None]
    persons = pd.DataFrame(
        {"group": pd.array(group, dtype="string"), "age": np.arange(100), "female": True}
    )
    out, names = numeric_covariates(persons, ["age", "group", "female"])
    # The most frequent level is the reference; 'overig' (3 %) is too rare for a column of its own.
    assert names == ["age", "group_gezinsmigrant", "female"]
    column = out["group_gezinsmigrant"]
    assert column.iloc[60:96].eq(1).all() and column.iloc[:60].eq(0).all()
    assert column.iloc[96:99].eq(0).all() and np.isnan(column.iloc[99])
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
    raw = fit_contrast(data, treated, "y", [], event_q=event)
    adjusted_data, covariates = numeric_covariates(data, ["group"])
    adjusted = fit_contrast(adjusted_data, treated, "y", covariates, event_q=event)
    assert raw.estimate < -0.15  # the share drop times the 0.7 level gap: -0.21
    assert abs(adjusted.estimate) < 3 * adjusted.se and abs(adjusted.estimate) < 0.02
