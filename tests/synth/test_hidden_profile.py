"""The hidden_confounder profile: the trait drives route choice and untreated employment, but
the route effects (and hence the truth) do not depend on it: the confounder biases estimates,
never the truth."""

from __future__ import annotations

import numpy as np
import pytest
from synth_helpers import CALENDAR

from inburgering.synth import outcomes as oc
from inburgering.synth.generate import potential_table, simulate
from inburgering.synth.params import HIDDEN_CONFOUNDER, SynthParameters
from inburgering.synth.process import ROUTES

HORIZON = 24
Z, B1 = list(ROUTES).index("z"), list(ROUTES).index("b1")


@pytest.fixture(scope="module")
def hidden():
    params = SynthParameters(persons=20_000, seed=5, profile="hidden_confounder").with_profile()
    return params, simulate(params, CALENDAR)


def test_profile_sets_the_documented_strength():
    profile = SynthParameters(profile="hidden_confounder").with_profile()
    assert profile.hidden_confounder == HIDDEN_CONFOUNDER > 0
    assert SynthParameters().with_profile().hidden_confounder == 0.0
    explicit = SynthParameters(profile="hidden_confounder", hidden_confounder=0.3)
    assert explicit.with_profile().hidden_confounder == 0.3


def test_trait_drives_route_choice_and_untreated_employment(hidden):
    _, pop = hidden
    persons = pop.persons
    trait = persons["hidden"].to_numpy()
    route = persons["route_code"].to_numpy()
    assert trait[route == Z].mean() < trait[route == B1].mean() - 0.3
    assert trait[route == list(ROUTES).index("onderwijs")].mean() > trait[route == B1].mean() + 0.3
    at = pop.potential[pop.potential["horizon"] == HORIZON]
    untreated = at["route_b1_E"].to_numpy(dtype=float)
    assert np.corrcoef(untreated, trait[at["person"].to_numpy()])[0, 1] > 0.15


def test_route_effect_is_the_planted_shift_whatever_the_trait(hidden):
    params, pop = hidden
    pot = potential_table(pop)
    at = pot["horizon"].to_numpy() == HORIZON
    people = pop.persons.loc[pop.potential["person"].to_numpy()[at]]
    planted, _ = oc._route_shifts(people, np.full(len(people), Z), np.array([[HORIZON]]), params)
    p_z = pot.loc[at, "route_z_E"].to_numpy(dtype=float)
    p_b1 = pot.loc[at, "route_b1_E"].to_numpy(dtype=float)
    # Where no probability bound binds, Y(z) - Y(b1) is exactly the route shift, so the trait
    # (which scales untreated employment) cannot leak into the truth. Margins: stored as float32.
    low, high = np.minimum(p_z, p_b1), np.maximum(p_z, p_b1)
    inside = (low > 1e-6) & (high < oc.MAX_EMPLOYMENT - 1e-6)
    assert inside.mean() > 0.8
    np.testing.assert_allclose((p_z - p_b1)[inside], planted[inside, 0], atol=1e-6)
