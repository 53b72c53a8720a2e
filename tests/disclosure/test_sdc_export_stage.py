"""The export stage's allow list: public settings are not person data."""

from inburgering.disclosure.stage import config_values


def test_configuration_scalars_are_allowed_values():
    config = {"matching": {"seed": 20260311, "covariates": ["age", "female"]}, "run": {"x": 1.5}}
    assert config_values(config) == {"20260311", "age", "female", "1.5"}
