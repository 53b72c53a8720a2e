"""Generator parameters: every default is a documented assumption (docs/synthetic-data.md).

Effects are on the probability scale (additive shifts of the monthly state probabilities), so
every true effect is a difference of probabilities and unconditional and covariate-adjusted
estimands coincide wherever an effect is constant within a municipality.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

PROFILES = ("default", "pretrend_violation", "hidden_confounder")
# Outcome channels a city shock moves: employment (and with it participation = employed or in
# education) and social assistance (synth/shocks.py).
SHOCK_CHANNELS = ("employment", "social_assistance")
# Strength s of the hidden_confounder profile's unobserved trait H ~ N(0, 1): Z utility -s H,
# onderwijs utility +s H (Gumbel noise of scale 0.8: route odds x exp(s/0.8) = 4.8 per SD of H),
# employment x exp(0.4 s H) = 1.65 per SD. The bias grows with s squared (H acts on both sides).
# At 0.6 it was at most one standard error of the default 20k-person run, indistinguishable
# from noise; at 1.25 it is 2-5 standard errors on employment and participation in both route
# contrasts (Z: about -0.05 on a true effect near 0), a visible bias that still looks like a
# modest effect, which is what sensitivity analysis can flag. Much stronger confounding (s = 2.5:
# biases of 0.1-0.2) produces spurious effects with E-values above 3 that no plausible-strength
# threshold flags (docs/synthetic-data.md, "Hidden-confounder strength").
HIDDEN_CONFOUNDER = 1.25

T = TypeVar("T")  # a per-city value: a share, an effect, a flag


def _g4(rotterdam: T, amsterdam: T, den_haag: T, utrecht: T) -> dict[str, T]:
    return {
        "rotterdam": rotterdam,
        "amsterdam": amsterdam,
        "den_haag": den_haag,
        "utrecht": utrecht,
    }


@dataclass(frozen=True)
class CityShocks:
    """Municipality x cohort-quarter shocks (DOMAIN.md §6; docs/synthetic-data.md).

    Per channel, the shock of a municipality's cohort quarter is `sd` x `scale` x a stationary
    AR(1) series in cohort quarters with lag-1 correlation `rho`; `sd` is in probability points
    (the shift of a 50 % probability). Off (`enabled` false) and `scale` 0 are the same world.
    """

    enabled: bool = True
    # DOMAIN.md §6: SD of a cohort-quarter share beyond binomial noise ~2-4 pp (employment,
    # participation), ~1-3 pp (social assistance), persistence 0.3-0.7. Shares away from 50 %
    # move less (probit scale), so these defaults put the realised SD of the G4 cities' cohort-
    # quarter shares in the middles of the ranges: ~3 pp and ~2 pp (docs/synthetic-data.md).
    sd: dict[str, float] = field(
        default_factory=lambda: {"employment": 0.045, "social_assistance": 0.08}
    )
    rho: float = 0.5
    scale: float = 1.0

    def __post_init__(self) -> None:
        if set(self.sd) != set(SHOCK_CHANNELS):
            raise ValueError(
                f"synth.city_shocks.sd: channels {sorted(self.sd)}; expected {list(SHOCK_CHANNELS)}"
            )
        if not -1.0 < self.rho < 1.0:
            raise ValueError(
                f"synth.city_shocks.rho = {self.rho}; a stationary AR(1) needs |rho| < 1"
            )
        if self.scale < 0 or any(v < 0 for v in self.sd.values()):
            raise ValueError(f"synth.city_shocks: sd {self.sd} and scale {self.scale} must be >= 0")

    def effective_sd(self, channel: str) -> float:
        """The SD the generator plants in `channel` (0 when off or scaled by 0)."""
        return self.sd[channel] * self.scale if self.enabled else 0.0


@dataclass(frozen=True)
class SynthParameters:
    """All knobs of the generative model (dumped to truth/parameters.json)."""

    persons: int = 20000
    seed: int = 42
    first_cohort: str = "2016Q1"
    last_cohort: str = "2024Q4"
    data_end: str = "2025-12"
    reform_date: str = "2022-01-01"
    uncertain_until: str = "2022-03-31"
    horizons: tuple[int, ...] = (6, 12, 18, 24, 36)
    profile: str = "default"
    chunk_persons: int = 25000
    # Municipalities (DOMAIN §3/§4): 342 municipalities in 2025 = G4 + 338 others.
    other_municipalities: int = 338
    # Shares of national inflow settled in each G4 city (Rotterdam 2022: 752 of 18.9k asylum,
    # 617 of 7.3k family migrants, DOMAIN §4; others proportional to population).
    g4_share_statushouder: dict[str, float] = field(
        default_factory=lambda: _g4(0.040, 0.048, 0.033, 0.021)
    )
    g4_share_gezinsmigrant: dict[str, float] = field(
        default_factory=lambda: _g4(0.085, 0.100, 0.075, 0.030)
    )
    # B1-Entree is a fourth route in Amsterdam and Den Haag (DOMAIN §2); some others offer it too.
    g4_b1_entree: dict[str, bool] = field(default_factory=lambda: _g4(False, True, True, False))
    b1_entree_other_share: float = 0.20
    # Asylum centre in the region (DOMAIN §3): where statushouders wait before housing.
    g4_azc: dict[str, bool] = field(default_factory=lambda: _g4(False, True, False, True))
    azc_other_share: float = 0.15
    # Group mix (national Wi2021 inflow 2022: 18.9k asylum of 26.2k, DOMAIN §4).
    share_statushouder: float = 0.62
    share_overig: float = 0.03
    share_men_statushouder: float = 0.60
    share_women_gezinsmigrant: float = 0.68
    # Employment profile of statushouders by months since start (logistic; ~4% at 18 m,
    # ~11% at 30 m, ~18% at 36 m, ~45% at 72 m; DOMAIN §4).
    employment_ceiling: float = 0.50
    employment_midpoint: float = 42.0
    employment_scale: float = 10.0
    # Family migrants: higher, earlier employment (assumption; sponsors' networks).
    family_employment_start: float = 0.12
    family_employment_ceiling: float = 0.42
    # Benefit dependence of statushouders 85-90% in the first 1.5 years (DOMAIN §4).
    assistance_share_statushouder: float = 0.95
    assistance_share_gezinsmigrant: float = 0.12
    assistance_offset_weight: float = 0.9
    # Calendar shocks (multiplicative on employment): COVID 2020-03..2021-06, tight labour
    # market 2022-2023 (DOMAIN §6).
    covid_factor: float = 0.80
    tight_market_factor: float = 1.15
    # (a) Wi2021 reform effect per municipality (probability points on employment at full
    # effect; education gets `reform_education_ratio` of it); others ~ N(mean, sd).
    reform_effect: dict[str, float] = field(default_factory=lambda: _g4(0.05, 0.03, 0.02, 0.0))
    reform_mean: float = 0.01
    reform_sd: float = 0.01
    reform_education_ratio: float = 0.3
    # (b) City instruments: effect at full ramp (probability points on employment), ramp over
    # `instrument_ramp_quarters` cohort quarters after adoption; other municipalities adopt with
    # `instrument_adoption_probability`, `instrument_early_share` of them before the reform.
    instrument_effect: dict[str, float] = field(
        default_factory=lambda: {
            "intensified_intake": 0.03,
            "assessment_in_intake": 0.01,
            "dedicated_caseload": 0.03,
            "early_start": 0.02,
            "participation_hours": 0.02,
            "onderwijsroute": 0.0,
            "kansrijke_start": 0.02,
        }
    )
    instrument_ramp_quarters: int = 4
    instrument_adoption_probability: float = 0.45
    instrument_early_share: float = 0.10
    # (c) Route effects relative to B1 (probability points at full effect; see outcomes.py).
    z_employment_effect: float = -0.03
    z_low_schooling_bonus: float = 0.04
    z_older_bonus: float = 0.02
    z_female_bonus: float = 0.01
    onderwijs_education_effect: float = 0.35
    onderwijs_employment_early: float = -0.04
    onderwijs_employment_late: float = 0.06
    entree_education_effect: float = 0.05
    # Route assignment: city style (Rotterdam's 2022 mix ~57/13/30; national 83/14/3).
    z_city_propensity: dict[str, float] = field(default_factory=lambda: _g4(1.25, 0.0, 0.3, 0.2))
    onderwijs_city_propensity: dict[str, float] = field(
        default_factory=lambda: _g4(-0.8, -0.5, -0.1, 0.0)
    )
    consultant_noise: float = 0.8
    # (d) Settlement-city effect on employment (labour-market level); others ~ N(0, sd).
    settlement_effect: dict[str, float] = field(
        default_factory=lambda: _g4(-0.01, 0.02, -0.01, 0.02)
    )
    settlement_sd: float = 0.015
    # Profiles: differential pre-trend (rotterdam, per cohort quarter before the reform) and
    # hidden confounder strength s (route choice and employment; see HIDDEN_CONFOUNDER).
    pretrend_slope: float = 0.0
    hidden_confounder: float = 0.0
    # Process (DOMAIN §4): koppeling -> housing (days; Rotterdam ~6 months), PIP after intake.
    housing_wait_days: dict[str, float] = field(
        default_factory=lambda: _g4(180.0, 150.0, 120.0, 110.0)
    )
    housing_wait_other_days: float = 100.0
    pip_weeks_by_year: dict[str, float] = field(
        default_factory=lambda: {"2022": 22.0, "2023": 15.0, "2024": 11.0, "2025": 10.0}
    )
    route_switch_share: float = 0.08
    exemption_share_wi2013: float = 0.19
    exemption_share_wi2021: float = 0.02
    # City-by-period shocks to the outcome probabilities (not policy effects; synth/shocks.py).
    city_shocks: CityShocks = field(default_factory=CityShocks)

    def with_profile(self) -> SynthParameters:
        """Apply the named profile's overrides (explicit non-zero values win)."""
        if self.profile not in PROFILES:
            raise ValueError(f"synth profile {self.profile!r}; expected one of {PROFILES}")
        if self.profile == "pretrend_violation" and self.pretrend_slope == 0.0:
            return replace(self, pretrend_slope=0.002)
        if self.profile == "hidden_confounder" and self.hidden_confounder == 0.0:
            return replace(self, hidden_confounder=HIDDEN_CONFOUNDER)
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=list)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SynthParameters:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        if "horizons" in known:
            known["horizons"] = tuple(known["horizons"])
        if isinstance(known.get("city_shocks"), dict):
            known["city_shocks"] = CityShocks(**known["city_shocks"])
        return cls(**known).with_profile()
