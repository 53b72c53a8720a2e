"""The city-by-quarter shock component of one outcome and horizon, as the event-study designs
add it to every single-city interval (``did.shocks`` has the model and its covariance).

For a binary outcome the shocks move a probit index, not the share (``estimate.inference.
shock_variance.scale: index``): each person's share moves by the normal density at their fitted
index. The index is a probit of the outcome on the covariates, the city and the period (before
or after the change, and its interaction with the city), fitted once per outcome and horizon on
every person of the analysis frame, so that the factor of the municipalities the model is
estimated from and of the cities it is applied to come from the same fit. On the synthetic CBS
world, whose shocks act on the probit scale, the G4 cities' participation shocks are a third
larger in share points than the other municipalities' and their social-assistance shocks
smaller (half the G4's family migrants have no benefit to lose); with shares on the outcome's
scale (``scale: share``) the G4 pairs' participation intervals covered 0.80-0.90.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.linalg import qr
from scipy.stats import norm

from inburgering.did.shocks import ShockModel, event_shock_vcov, index_density

SHARE_LABEL = (
    "analytic influence function (persons) + city-by-quarter shock variance (AR(1) component "
    "estimated from the pre-reform quarters of the municipalities outside the G4)"
)
INDEX_LABEL = (
    "analytic influence function (persons) + city-by-quarter shock variance (AR(1) component "
    "of a probit index, estimated from the pre-reform quarters of the municipalities outside "
    "the G4; each person's share moves by the normal density at their fitted index)"
)
# A column whose pivot in the QR of the design is this small relative to the largest is a
# linear function of the others (a city without persons after the change, a constant covariate).
_RANK_TOLERANCE = 1e-9
FACTOR_COLUMN = "shock_factor"


@dataclass(frozen=True)
class ProbitIndex:
    """A fitted probit of a binary outcome on covariates, city and period."""

    covariates: tuple[str, ...]
    cities: tuple[str, ...]
    change_q: int  # first quarter of the period after the change
    columns: tuple[int, ...]  # the design's linearly independent columns
    beta: np.ndarray

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """Intercept, covariates, city indicators, after-change indicator and its city terms."""
        after = (frame["q"].to_numpy() >= self.change_q).astype(float)
        city = frame["city"].to_numpy()
        indicators = [(city == c).astype(float) for c in self.cities[1:]]
        blocks = [
            np.ones(len(frame)),
            *(frame[c].to_numpy(float) for c in self.covariates),
            *indicators,
            after,
            *(after * d for d in indicators),
        ]
        return np.column_stack(blocks)[:, list(self.columns)]

    def fitted_probability(self, frame: pd.DataFrame) -> np.ndarray:
        return norm.cdf(self.design(frame) @ self.beta)

    def factor(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's ``did.shocks.index_density`` at its fitted probability."""
        return index_density(self.fitted_probability(frame))

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, outcome: str, covariates: list[str], change_q: int
    ) -> ProbitIndex:
        """Fit on ``frame``'s rows with an outcome (binary) and every covariate."""
        cities = tuple(sorted(frame["city"].unique()))
        n_columns = 1 + len(covariates) + 2 * (len(cities) - 1) + 1
        everything = cls(tuple(covariates), cities, change_q, tuple(range(n_columns)), np.array([]))
        X = everything.design(frame)
        columns = _independent_columns(X)
        with warnings.catch_warnings():
            # Quasi-separation (a group with no social assistance after the reform) drives a
            # coefficient far out and its persons' factors to ~0: the right answer for them.
            warnings.simplefilter("ignore")
            result = sm.Probit(frame[outcome].to_numpy(float), X[:, columns]).fit(
                method="newton", maxiter=100, disp=0
            )
        if not np.all(np.isfinite(result.params)):
            raise np.linalg.LinAlgError("probit index: coefficients not finite")
        return cls(tuple(covariates), cities, change_q, tuple(columns), np.asarray(result.params))


def _independent_columns(X: np.ndarray) -> list[int]:
    """Columns of ``X`` that add rank, in their order (pivoted QR)."""
    _, R, pivots = qr(X, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(R))
    rank = int(np.sum(diagonal > _RANK_TOLERANCE * diagonal[0]))
    return sorted(pivots[:rank].tolist())


@dataclass(frozen=True)
class ShockVariance:
    """The shock model of one outcome and horizon and, on an index, the index's fit.

    A fit's frame carries each row's factor in the column :data:`FACTOR_COLUMN`, added once per
    analysis frame by :meth:`annotate`: rebuilding the probit design in every contrast and
    placebo fit was a sixth of a reform_did job.
    """

    model: ShockModel
    index: ProbitIndex | None = None

    @property
    def label(self) -> str:
        return INDEX_LABEL if self.index is not None else SHARE_LABEL

    def columns(self, frame: pd.DataFrame) -> list[str]:
        """The columns of ``frame`` :meth:`vcov` reads besides quarter and municipality; a frame
        without the factors stops the fit (every factor taken as 1 would be wrong)."""
        if self.index is None:
            return []
        if FACTOR_COLUMN not in frame.columns:
            raise ValueError(
                f"shock variance on a probit index: the fit's frame has no {FACTOR_COLUMN!r} "
                "column (ShockVariance.annotate the analysis frame first)"
            )
        return [FACTOR_COLUMN]

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with each row's factor (unchanged on the share scale)."""
        if self.index is None:
            return frame
        return frame.assign(**{FACTOR_COLUMN: self.index.factor(frame)})

    def factor(self, frame: pd.DataFrame) -> np.ndarray | None:
        return frame[FACTOR_COLUMN].to_numpy(float) if self.index is not None else None

    def vcov(
        self, event_time: np.ndarray, event_q: int, frame: pd.DataFrame, treated: np.ndarray
    ) -> np.ndarray:
        """Shock covariance of an event study's coefficients (``did.shocks.event_shock_vcov``)."""
        return event_shock_vcov(
            self.model,
            event_time,
            event_q,
            frame["municipality"].to_numpy(),
            frame["q"].to_numpy(),
            treated,
            self.factor(frame),
        )


def is_binary(values: pd.Series) -> bool:
    observed = values.dropna()
    return len(observed) > 0 and bool(observed.isin([0, 1]).all())
