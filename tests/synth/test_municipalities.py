"""Per-city municipality settings are keyed by city, not by position in the G4 list: the policy
calendar's order cannot hand a city its neighbour's B1-Entree, azc or shares, and a city the
parameters do not cover stops the generator with a message naming the parameter."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from synth_helpers import CALENDAR

from inburgering.synth.municipalities import build_municipalities
from inburgering.synth.params import SynthParameters

PER_CITY = [
    "g4_share_statushouder",
    "g4_share_gezinsmigrant",
    "reform_effect",
    "settlement_effect",
    "z_city_propensity",
    "onderwijs_city_propensity",
    "g4_b1_entree",
    "g4_azc",
]
COLUMNS = {
    "share_statushouder": "g4_share_statushouder",
    "share_gezinsmigrant": "g4_share_gezinsmigrant",
    "reform": "reform_effect",
    "settlement": "settlement_effect",
    "z_propensity": "z_city_propensity",
    "onderwijs_propensity": "onderwijs_city_propensity",
    "b1_entree": "g4_b1_entree",
    "azc": "g4_azc",
}


def _g4_rows(calendar, params=None):
    munis = build_municipalities(np.random.default_rng(1), params or SynthParameters(), calendar)
    return munis.table[munis.table["city"] != "rest_nl"].set_index("city")


def test_defaults_follow_the_documented_cities():
    """docs/synthetic-data.md §3.1: B1-Entree in Amsterdam and Den Haag, azc near Amsterdam and
    Utrecht."""
    g4 = _g4_rows(CALENDAR)
    assert sorted(g4.index[g4["b1_entree"]]) == ["amsterdam", "den_haag"]
    assert sorted(g4.index[g4["azc"]]) == ["amsterdam", "utrecht"]


def test_every_city_keeps_its_own_values_in_any_calendar_order():
    params = SynthParameters()
    reversed_calendar = replace(CALENDAR, cities=CALENDAR.cities[::-1])
    g4 = _g4_rows(reversed_calendar, params)
    assert list(g4.index) == list(CALENDAR.cities[::-1])
    for column, name in COLUMNS.items():
        expected = getattr(params, name)
        assert {c: g4.at[c, column] for c in g4.index} == expected, column


@pytest.mark.parametrize("name", PER_CITY)
def test_a_city_without_a_value_stops_the_generator(name):
    params = SynthParameters()
    fewer = {c: v for c, v in getattr(params, name).items() if c != "utrecht"}
    with pytest.raises(ValueError, match=rf"synth parameter {name} .*\['utrecht'\]"):
        build_municipalities(np.random.default_rng(1), replace(params, **{name: fewer}), CALENDAR)
