"""City-by-period shocks: the series, their switch and scale, and that they are not effects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.polynomial.hermite_e import hermegauss
from synth_helpers import CALENDAR, write_run

from inburgering.synth.dates import quarter_from_label
from inburgering.synth.generate import _streams, persons_facts, simulate
from inburgering.synth.outcomes import Probabilities, expected, indicators
from inburgering.synth.params import SHOCK_CHANNELS, CityShocks, SynthParameters
from inburgering.synth.shocks import PHI_AT_ZERO, PersonShocks, draw_shocks, probit_shift, shocked

FIRST, LAST = quarter_from_label("2016Q1"), quarter_from_label("2024Q4")
OFF = CityShocks(enabled=False)


def _lag1(series: np.ndarray) -> float:
    """Pooled lag-1 autocorrelation along the last axis (the series have mean zero)."""
    return float((series[:, 1:] * series[:, :-1]).mean() / (series**2).mean())


def test_series_have_the_configured_sd_and_persistence():
    shocks = CityShocks(sd={"employment": 0.04, "social_assistance": 0.01}, rho=0.6)
    series = draw_shocks(np.random.default_rng(3), 4000, FIRST, LAST, shocks)
    assert series.values.shape == (2, 4000, LAST - FIRST + 1)
    for i, channel in enumerate(SHOCK_CHANNELS):
        values = series.values[i]
        assert values.std() == pytest.approx(shocks.sd[channel], rel=0.03)
        # Stationary start: the first quarter already has the full SD.
        assert values[:, 0].std() == pytest.approx(shocks.sd[channel], rel=0.05)
        assert _lag1(values) == pytest.approx(0.6, abs=0.03)
    channels = np.corrcoef(series.values[0].ravel(), series.values[1].ravel())[0, 1]
    assert abs(channels) < 0.03  # independent channels


def test_scale_multiplies_the_series_and_zero_is_off():
    def draw(shocks: CityShocks) -> np.ndarray:
        return draw_shocks(_streams(42)["city_shocks"], 342, FIRST, LAST, shocks).values

    once = draw(CityShocks())
    assert np.array_equal(draw(CityShocks(scale=2.0)), 2.0 * once)
    assert np.array_equal(draw(CityShocks()), once)  # deterministic by seed
    assert not np.array_equal(
        draw_shocks(_streams(43)["city_shocks"], 342, FIRST, LAST, CityShocks()).values, once
    )
    zero = draw(CityShocks(scale=0.0))
    assert np.array_equal(zero, draw(OFF)) and not zero.any()
    assert not np.signbit(zero).any()  # no -0.0 written to truth/city_shocks.csv


def test_bad_shock_settings_are_refused():
    with pytest.raises(ValueError, match="rho"):
        CityShocks(rho=1.0)
    with pytest.raises(ValueError, match="channels"):
        CityShocks(sd={"employment": 0.03})
    with pytest.raises(ValueError, match="scale"):
        CityShocks(scale=-1.0)
    params = SynthParameters.from_mapping(
        {
            "city_shocks": {
                "enabled": True,
                "sd": {"employment": 0.01, "social_assistance": 0.0},
                "rho": 0.3,
                "scale": 2,
            }
        }
    )
    assert params.city_shocks.effective_sd("employment") == pytest.approx(0.02)
    assert params.city_shocks.effective_sd("social_assistance") == 0.0


@pytest.mark.parametrize("p", [0.0, 1e-4, 0.01, 0.1, 0.5, 0.8, 0.999, 1.0])
def test_a_shock_keeps_the_expected_probability(p):
    """Over the stationary law of the shock the moved probability averages back to p exactly,
    which is why the truth (expected effects) does not change."""
    latent_sd = 0.03 / PHI_AT_ZERO
    nodes, weights = hermegauss(60)
    moved = probit_shift(np.full(nodes.shape, p), latent_sd * nodes, np.sqrt(1 + latent_sd**2))
    assert np.dot(weights, moved) / weights.sum() == pytest.approx(p, abs=1e-12)
    assert probit_shift(np.array([p]), np.zeros(1), np.ones(1))[0] == p  # no shock: p itself


def test_shocked_states_keep_their_expected_probabilities():
    """All three states together, over both channels' shocks (2-D quadrature): employment,
    education and assistance average back to their probabilities, and the states still
    partition [0, 1] under every shock."""
    sd_e, sd_s = (CityShocks().sd[c] * 2 / PHI_AT_ZERO for c in SHOCK_CHANNELS)
    nodes, weights = hermegauss(40)
    x_e, x_s = (a.ravel() for a in np.meshgrid(nodes, nodes, indexing="ij"))
    weight = np.outer(weights, weights).ravel() / weights.sum() ** 2
    for pe, pd_, ps in [(0.01, 0.02, 0.9), (0.3, 0.1, 0.5), (0.85, 0.1, 0.05), (0.0, 0.4, 0.6)]:
        ones = np.ones_like(x_e)
        shocks = PersonShocks(
            sd_e * x_e, np.sqrt(1 + sd_e**2) * ones, sd_s * x_s, np.sqrt(1 + sd_s**2) * ones
        )
        moved = shocked(Probabilities(pe * ones, pd_ * ones, ps * ones), shocks)
        for state, p in zip(
            (moved.employed, moved.education, moved.assistance), (pe, pd_, ps), strict=True
        ):
            assert np.dot(weight, state) == pytest.approx(p, abs=1e-9)
        total = moved.employed + moved.education + moved.assistance
        assert (moved.education >= 0).all() and (total <= 1 + 1e-12).all()


def test_recorded_series_come_from_the_synth_seed(parquet_run):
    out, _ = parquet_run
    table = pd.read_csv(out / "truth" / "city_shocks.csv", dtype={"municipality": str})
    assert list(table.columns) == ["municipality", "cohort", "channel", "shock"]
    assert table["channel"].unique().tolist() == list(SHOCK_CHANNELS)
    assert table["cohort"].min() == "2016Q1" and table["cohort"].max() == "2024Q4"
    redraw = draw_shocks(_streams(7)["city_shocks"], 342, FIRST, LAST, CityShocks())
    assert np.allclose(table["shock"].to_numpy(), redraw.values.ravel(), rtol=1e-9, atol=0)
    for channel, sd in CityShocks().sd.items():
        assert table.loc[table["channel"] == channel, "shock"].std() == pytest.approx(sd, rel=0.1)
    recorded = json.loads((out / "truth" / "parameters.json").read_text())["city_shocks"]
    assert recorded == {"enabled": True, "sd": CityShocks().sd, "rho": 0.5, "scale": 1.0}


@pytest.fixture(scope="module")
def written_worlds(tmp_path_factory) -> dict[str, object]:
    """Three small runs of one seed: shocks on, scaled by 0, and switched off."""
    runs = {}
    for name, shocks in (("on", CityShocks()), ("zero", CityShocks(scale=0.0)), ("off", OFF)):
        out = tmp_path_factory.mktemp(f"shocks_{name}")
        write_run(out, 1500, "parquet", seed=5, city_shocks=shocks)
        runs[name] = out
    return runs


def _files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_scale_zero_writes_exactly_the_files_of_shocks_off(written_worlds):
    zero, off = _files(written_worlds["zero"]), _files(written_worlds["off"])
    assert zero.keys() == off.keys()
    differ = [name for name in zero if zero[name] != off[name]]
    assert differ == ["truth/parameters.json"]  # which records the switch and the scale


def test_truth_is_the_same_with_shocks_and_realised_effects_move(written_worlds):
    def read(name: str, table: str) -> pd.DataFrame:
        return pd.read_csv(written_worlds[name] / "truth" / table, dtype=str, keep_default_na=False)

    for table in ("estimands.csv", "instrument_cells.csv"):
        on, off = read("on", table), read("off", table)
        assert on.drop(columns="truth_sample").equals(off.drop(columns="truth_sample")), table
        # truth_sample is the realised effect under the realised shocks: the same persons and
        # latent uniforms, indicators drawn from the shocked probabilities.
        moved = on["truth_sample"] != off["truth_sample"]
        assert moved.any() and not moved.all(), table
    on_files, off_files = (
        _files(written_worlds["on"] / "microdata"),
        _files(written_worlds["off"] / "microdata"),
    )
    assert on_files.keys() == off_files.keys()
    assert any(on_files[name] != off_files[name] for name in on_files)


def test_worlds_with_equal_probabilities_realise_equal_outcomes(parquet_run):
    """Common random numbers: a person's shock is the same in every world, so wherever a
    treatment leaves the probabilities alone it leaves the realised outcome alone."""
    out, _ = parquet_run
    pot = pd.read_parquet(out / "truth" / "potential_outcomes.parquet")
    shocks = PersonShocks.from_table(pot)
    assert (shocks.shift_E != 0).mean() > 0.99
    u = pot["u"].to_numpy()

    def realised(world: str) -> dict[str, np.ndarray]:
        p = Probabilities(*(pot[f"{world}_{s}"].to_numpy(float) for s in "EDS"))
        return indicators(shocked(p, shocks), u)

    observed = realised("obs")
    worlds = sorted(
        {c[:-2] for c in pot.columns if c.endswith("_E") and c != "obs_E"}
        - {"shock_shift", "shock_stretch"}
    )
    compared = 0
    for world in worlds:
        same = np.all(
            [pot[f"{world}_{s}"].to_numpy() == pot[f"obs_{s}"].to_numpy() for s in "EDS"], axis=0
        )
        compared += int(same.sum())
        for outcome, values in realised(world).items():
            assert np.array_equal(values[same], observed[outcome][same]), (world, outcome)
    assert compared > 0


# A scale above the default so that the planted variance stands out of the flip noise (below)
# in a test-sized population; the relation holds at any scale.
PAIRED_SCALE = 2.0


@pytest.fixture(scope="module")
def paired_populations():
    """One seed with and without shocks: the same persons and latent uniforms."""
    pops = {}
    for name, shocks in (("on", CityShocks(scale=PAIRED_SCALE)), ("off", OFF)):
        params = SynthParameters(persons=30_000, seed=3, city_shocks=shocks)
        pop = simulate(params, CALENDAR)
        pops[name] = (pop, persons_facts(pop, params))
    return pops


def _cells(pop, facts: pd.DataFrame, outcome: str, horizon: int) -> pd.DataFrame:
    """Per municipality x cohort quarter: the mean of the person-level outcome the files give
    (truth/persons.parquet, which prepare reproduces), and the mean probability without and
    with the city shock."""
    persons = pop.persons
    pot = pop.potential[pop.potential["horizon"] == horizon].set_index("person").loc[persons.index]
    p = Probabilities(*(pot[f"obs_{s}"].to_numpy(float) for s in "EDS"))
    outcomes = facts.set_index("person_id").loc[persons["person_id"].astype(str)]
    frame = pd.DataFrame(
        {
            "muni": persons["muni"].to_numpy(),
            "cohort_q": persons["cohort_q"].to_numpy(),
            "y": outcomes[f"{outcome}_{horizon}"].to_numpy(float),
            "p": expected(p)[outcome],
            "shocked": expected(shocked(p, PersonShocks.from_table(pot)))[outcome],
        }
    ).dropna()
    grouped = frame.groupby(["muni", "cohort_q"])
    return grouped.mean().assign(n=grouped.size())


@pytest.mark.parametrize(
    ("outcome", "horizon", "check_variance"),
    [
        ("employed", 24, True),
        ("participation", 24, True),
        ("employed", 36, True),
        # Assistance shares sit near 0.95 (statushouders) or 0.1 (family migrants) of those not
        # participating, where the probit shift is small: against the flip noise of a test-sized
        # population its planted variance is too small for a variance check.
        ("social_assistance", 24, False),
    ],
)
def test_city_quarter_outcome_means_move_by_the_planted_shocks(
    paired_populations, outcome, horizon, check_variance
):
    """Through the real outcome generation: the between-cell variance of the change of the
    municipality x cohort-quarter outcome means is the planted variance (plus flip noise)."""
    on = _cells(*paired_populations["on"], outcome, horizon)
    off = _cells(*paired_populations["off"], outcome, horizon)
    big = on["n"] >= 20
    on, off = on[big], off[big]
    assert len(on) > 100
    planted = on["shocked"] - on["p"]  # the shock's shift of each cell's expected share
    # The same persons and latent uniforms, so the change of a cell mean is the planted shift
    # plus the noise of which persons' indicators flip (each with probability |shift|: a
    # variance of mean |shift| / n). The sampling noise common to both worlds cancels.
    change = on["y"] - off["y"]
    flip_noise = (planted.abs() / on["n"]).mean()
    slope = np.polyfit(planted, change, 1)[0]
    assert slope == pytest.approx(1.0, abs=0.25 if check_variance else 0.4)
    if check_variance:
        assert change.var() - flip_noise == pytest.approx(planted.var(), rel=0.3)
        # The planted variance is the configured one, seen through the probit scale: shares
        # below a half move by less than the shift of a 50 % share.
        sd = PAIRED_SCALE * CityShocks().sd["employment"]
        assert 0.1 * sd**2 < planted.var() < sd**2
