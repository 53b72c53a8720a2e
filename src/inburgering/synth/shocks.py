"""City-by-period shocks: a municipality's labour market and caseworker state per cohort quarter.

Each municipality m has, per channel (employment, social assistance), a stationary AR(1) series
over the cohort quarters t, a[m, t] = rho a[m, t-1] + sqrt(1 - rho^2) e[m, t], a ~ N(0, 1) in
every quarter (the first quarter is drawn from the stationary law). The recorded shock is
s = sd x a in probability points. A person of cohort quarter t settled in m meets the shock of
(m, t) in every month of their trajectory (the generator works in months since the obligation
start, so the shock is the state their municipality was in for their cohort; every horizon of a
cohort shares it).

The shock moves the person's state probability p on the probit scale,

    p' = Phi(c Phi^-1(p) + x),   x = s / phi(0),   c = sqrt(1 + (sd / phi(0))^2),

so a 50 % probability moves by about s, probabilities near 0 or 1 move less (by
phi(Phi^-1(p)) / phi(0) of it, as a share's binomial spread does), p' stays in [0, 1], and,
because x ~ N(0, (sd / phi(0))^2) in every quarter, E_x[p'] = p exactly (the probit
random-intercept identity). An additive shift of p would be clipped at 0 for the many persons
with employment probabilities of a few percent and then no longer average out.

Shocks are not policy effects: every potential-outcome world of a person uses the shock of the
person's settlement municipality and cohort quarter (common random numbers), so the expected
effects - the `truth` column - do not change, while realised effects (`truth_sample`) do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from inburgering.synth.dates import quarter_label
from inburgering.synth.outcomes import Probabilities
from inburgering.synth.params import SHOCK_CHANNELS, CityShocks

PHI_AT_ZERO = 1.0 / np.sqrt(2.0 * np.pi)  # standard normal density at 0


@dataclass(frozen=True)
class ShockSeries:
    """Realised shocks, probability points: values[channel, municipality, cohort quarter]."""

    values: np.ndarray
    first_quarter: int  # quarter index (since 2000Q1) of values[:, :, 0]
    sd: dict[str, float]  # the planted SD per channel (0: that channel has no shock)

    def of_persons(self, muni: np.ndarray, cohort_q: np.ndarray) -> dict[str, np.ndarray]:
        """Each person's shock per channel (their municipality, their cohort quarter)."""
        column = np.asarray(cohort_q) - self.first_quarter
        if column.min(initial=0) < 0 or column.max(initial=0) >= self.values.shape[2]:
            raise ValueError(
                f"city shocks: cohort quarter index {column.min()}..{column.max()} outside the "
                f"{self.values.shape[2]} generated quarters (synth.first_cohort..last_cohort)"
            )
        return {c: self.values[i, muni, column] for i, c in enumerate(SHOCK_CHANNELS)}

    def table(self, codes: np.ndarray) -> pd.DataFrame:
        """truth/city_shocks.csv: municipality, cohort, channel, shock (probability points)."""
        n_channels, n_munis, n_quarters = self.values.shape
        channel, muni, quarter = np.meshgrid(
            np.arange(n_channels), np.arange(n_munis), np.arange(n_quarters), indexing="ij"
        )
        return pd.DataFrame(
            {
                "municipality": np.asarray(codes)[muni.ravel()],
                "cohort": quarter_label(self.first_quarter + quarter.ravel()),
                "channel": np.array(SHOCK_CHANNELS)[channel.ravel()],
                "shock": self.values.ravel(),
            }
        )


def standard_ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """Unit-variance stationary AR(1) along the last axis (the first value from N(0, 1))."""
    innovations = rng.standard_normal(shape)
    series = np.empty(shape)
    series[..., 0] = innovations[..., 0]
    scale = np.sqrt(1.0 - rho**2)
    for t in range(1, shape[-1]):
        series[..., t] = rho * series[..., t - 1] + scale * innovations[..., t]
    return series


def draw_shocks(
    rng: np.random.Generator,
    n_municipalities: int,
    first_quarter: int,
    last_quarter: int,
    shocks: CityShocks,
) -> ShockSeries:
    """The shock series of every municipality and cohort quarter, from the synth seed.

    The standardised series is drawn whatever the switch and scale, so that scale 2 is exactly
    twice scale 1 and scale 0 (or off) is exactly zero.
    """
    shape = (len(SHOCK_CHANNELS), n_municipalities, last_quarter - first_quarter + 1)
    standard = standard_ar1(rng, shape, shocks.rho)
    sd = {c: shocks.effective_sd(c) for c in SHOCK_CHANNELS}
    values = np.zeros(shape)
    for i, channel in enumerate(SHOCK_CHANNELS):
        if sd[channel] > 0:
            values[i] = standard[i] * sd[channel]
    return ShockSeries(values, first_quarter, sd)


@dataclass(frozen=True)
class PersonShocks:
    """Each person's probit-scale shift x and stretch c per state (E employment, S assistance);
    arrays broadcast against the probabilities they move (persons, or persons x 1)."""

    shift_E: np.ndarray
    stretch_E: np.ndarray
    shift_S: np.ndarray
    stretch_S: np.ndarray

    @classmethod
    def of(cls, series: ShockSeries, muni: np.ndarray, cohort_q: np.ndarray) -> PersonShocks:
        shock = series.of_persons(muni, cohort_q)
        fields = {}
        for channel, state in zip(SHOCK_CHANNELS, "ES", strict=True):
            latent_sd = series.sd[channel] / PHI_AT_ZERO
            fields[f"shift_{state}"] = shock[channel] / PHI_AT_ZERO
            fields[f"stretch_{state}"] = np.full(len(shock[channel]), np.sqrt(1.0 + latent_sd**2))
        return cls(**fields)

    def columns(self) -> dict[str, np.ndarray]:
        """The potential-outcome table's shock columns (truth recomputes indicators from them)."""
        return {f"shock_{name}": getattr(self, name) for name in SHOCK_COLUMNS}

    @classmethod
    def from_table(cls, frame: pd.DataFrame) -> PersonShocks:
        return cls(**{name: frame[f"shock_{name}"].to_numpy(float) for name in SHOCK_COLUMNS})

    @classmethod
    def none(cls, persons: int) -> PersonShocks:
        """No city shock for ``persons`` persons (shift 0, stretch 1): a world without them."""
        zero, one = np.zeros(persons), np.ones(persons)
        return cls(shift_E=zero, stretch_E=one, shift_S=zero, stretch_S=one)

    def per_row(self) -> PersonShocks:
        """Shapes persons x 1, to move persons x months probabilities."""
        return PersonShocks(**{name: getattr(self, name)[:, None] for name in SHOCK_COLUMNS})


SHOCK_COLUMNS = ("shift_E", "stretch_E", "shift_S", "stretch_S")


def probit_shift(p: np.ndarray, shift: np.ndarray, stretch: np.ndarray) -> np.ndarray:
    """Phi(stretch Phi^-1(p) + shift); p itself (bit for bit) where there is no shock."""
    moved = ndtr(stretch * ndtri(p) + shift)
    return np.where((shift == 0) & (stretch == 1), p, moved)


def shocked(p: Probabilities, shocks: PersonShocks) -> Probabilities:
    """The state probabilities a person meets under their city shock.

    The states partition [0, 1] (synth/outcomes.py). Employment moves on the probit scale;
    education keeps its share of the rest, pD (1 - pE') / (1 - pE); assistance's share of what
    neither works nor studies moves on the probit scale, r' = shift(pS / (1 - pE - pD)), times
    the moved rest. Each is linear in one shock whose probit shift averages out, and the two
    channels are independent, so E[p'] = p for every state, without any clipping; a better labour
    market also takes some persons off benefits. Without a shock the probabilities stay bit
    for bit.
    """
    employed = probit_shift(p.employed, shocks.shift_E, shocks.stretch_E)
    # pE <= MAX_EMPLOYMENT < 1 (outcomes.py); the guard keeps the division defined regardless.
    not_employed = 1.0 - p.employed
    kept = np.divide(
        1.0 - employed, not_employed, out=np.ones_like(employed), where=not_employed > 0
    )
    rest = 1.0 - p.employed - p.education
    # Stored probabilities are float32: pS may exceed the recomputed rest by a rounding step.
    share = np.clip(np.divide(p.assistance, rest, out=np.zeros_like(rest), where=rest > 0), 0, 1)
    assistance = probit_shift(share, shocks.shift_S, shocks.stretch_S) * rest * kept
    still = (shocks.shift_E == 0) & (shocks.stretch_E == 1)
    still = still & (shocks.shift_S == 0) & (shocks.stretch_S == 1)
    return Probabilities(
        employed,
        np.where(still, p.education, p.education * kept),
        np.where(still, p.assistance, assistance),
    )
