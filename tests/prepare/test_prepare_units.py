"""Definitions at their boundaries: regime, cohort, age bands, settlement spell choice."""

from __future__ import annotations

import pandas as pd
from prepare_helpers import sources, write_world

from inburgering.prepare.persons import age_bands, first_active_spell, regime


def test_regime_boundaries(tmp_path):
    settings = sources(write_world(tmp_path)).settings
    start = pd.Series(
        pd.to_datetime(["2021-12-31", "2022-01-01", "2022-03-31", "2022-04-01", None])
    )
    label, wi2021 = regime(start, settings)
    assert label.tolist()[:4] == ["wi2013", "uncertain", "uncertain", "wi2021"]
    assert pd.isna(label.iloc[4])
    assert wi2021.tolist() == [False, True, True, True, False]


def test_age_band_labels():
    bands = age_bands(
        pd.Series([17, 18, 26, 27, 29, 30, 59, 60, None], dtype="Int64"), [18, 27, 30, 60]
    )
    assert bands.tolist()[:8] == [
        "<18",
        "18-26",
        "18-26",
        "27-29",
        "27-29",
        "30-59",
        "30-59",
        "60+",
    ]
    assert pd.isna(bands.iloc[8])


def test_first_active_spell_on_or_after_start():
    people = pd.DataFrame(
        {"person_type": ["R"], "person_id": ["1"], "obligation_start": [pd.Timestamp("2022-02-10")]}
    )
    spells = pd.DataFrame(
        {
            "person_type": ["R"] * 3,
            "person_id": ["1"] * 3,
            "object_id": ["old", "current", "later"],
            "start": pd.to_datetime(["2019-01-01", "2022-02-10", "2023-01-01"]),
            "end": pd.to_datetime(["2022-02-09", "2022-12-31", "2099-12-31"]),
        }
    )
    assert first_active_spell(spells, people)["object_id"].tolist() == ["current"]
    # a spell running on the start date itself counts (end >= start)
    spells.loc[0, "end"] = pd.Timestamp("2022-02-10")
    assert first_active_spell(spells, people)["object_id"].tolist() == ["old"]
