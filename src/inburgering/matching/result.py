"""The result of a matching or weighting estimate, and its tidy estimate rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from inburgering.contracts.tidy import tidy_frame
from inburgering.matching.sensitivity import EValue, critical_gamma, rosenbaum_bounds

SAMPLE_COLUMNS = ("step", "rule", "treated", "control", "treated_remaining", "control_remaining")


@dataclass
class MatchingResult:
    """ATT estimate with diagnostics.

    Attributes
    ----------
    att, se, ci_low, ci_high, p_value : float
        Point estimate, standard error, normal-approximation interval and two-sided p-value.
    n_treated, n_control : int
        Units with positive weight in the analysed sample.
    ess : float
        Effective sample size of the controls (Kish); ``ess_treated`` for the treated.
    balance : DataFrame
        Covariate balance before/after (see :func:`inburgering.matching.balance.balance_table`).
    overlap : DataFrame
        One row per input unit: treated, ps, distance, weight, status (why a unit is out).
    sample : DataFrame
        Sample accounting: units removed at each step and by which rule.
    evalue : EValue
        E-values for the estimate and its confidence limit.
    matches : DataFrame or None
        Matched sets (nearest-neighbour only): subclass, treated id, control id, round.
    """

    method: str
    estimand: str
    att: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    ess: float
    ess_treated: float
    inference: str
    balance: pd.DataFrame
    overlap: pd.DataFrame
    sample: pd.DataFrame
    evalue: EValue
    weights: pd.Series
    matches: pd.DataFrame | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def estimator(self) -> str:
        return self.extras.get("estimator", self.method)

    def to_rows(
        self,
        *,
        design: str,
        treatment: str,
        outcome: str,
        city: str = "",
        comparison: str = "matched",
        horizon: int | None = None,
        subgroup: str = "all",
        headline: bool = False,
        n_clusters: int | None = None,
    ) -> pd.DataFrame:
        """Tidy estimate row(s) (``inburgering.contracts.tidy``) with estimand ``"att"``."""
        row = {
            "design": design,
            "estimand": "att",
            "treatment": treatment,
            "city": city,
            "comparison": comparison,
            "outcome": outcome,
            "horizon": horizon,
            "subgroup": subgroup,
            "event_time": None,
            "estimator": self.estimator,
            "headline": headline,
            "estimate": self.att,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "inference": self.inference,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "n_clusters": n_clusters,
        }
        return tidy_frame([row])

    def rosenbaum(self, gammas: list[float] | None = None, alpha: float = 0.05) -> pd.DataFrame:
        """Rosenbaum bounds on the matched pairs (nearest-neighbour matching only).

        The differences are oriented so that the bound tests the sign of the estimate; the
        ``critical_gamma`` column repeats the Gamma at which the upper bound reaches ``alpha``.
        """
        if "pair_differences" not in self.extras:
            raise ValueError("Rosenbaum bounds need matched pairs: use method='nearest'")
        d = self.extras["pair_differences"] * (1 if self.att >= 0 else -1)
        table = rosenbaum_bounds(d, gammas)
        table["critical_gamma"] = critical_gamma(d, alpha)
        return table

    def summary(self) -> str:
        worst = self.balance["smd_after"].abs().max()
        return (
            f"{self.method} {self.estimand}: {self.att:.4g} (SE {self.se:.3g}, "
            f"95% CI {self.ci_low:.4g} to {self.ci_high:.4g}); n_treated={self.n_treated}, "
            f"n_control={self.n_control}, ESS(control)={self.ess:.1f}; max |SMD| after "
            f"{worst:.3f}; E-value {self.evalue.point:.2f} (CI {self.evalue.ci:.2f})"
        )


def sample_table(steps: list[tuple[str, str, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Accounting table from (step, rule, removed mask, treated mask) tuples, in order."""
    rows = []
    remaining_t = remaining_c = None
    for step, rule, removed, treated in steps:
        n_t, n_c = int((removed & treated).sum()), int((removed & ~treated).sum())
        if remaining_t is None:  # the first step is the input itself
            remaining_t, remaining_c = n_t, n_c
        else:
            remaining_t -= n_t
            remaining_c -= n_c
        rows.append((step, rule, n_t, n_c, remaining_t, remaining_c))
    return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
