"""Small result objects that keep the influence functions (like R did's MP and AGGTEobj).

Later work (HonestDiD sensitivity, few-cluster inference, randomization inference) needs the
influence-function matrix and the event-time covariance; both are stored so nothing is refitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from inburgering.did.bootstrap import StoredDraws, analytic_vcov
from inburgering.did.errors import DidError


@dataclass
class PretrendTest:
    """Joint Wald test that all pre-treatment ATT(g,t) are zero."""

    statistic: float
    df: int
    p_value: float


@dataclass
class AttGtResult:
    """Group-time average treatment effects with their influence functions.

    Attributes
    ----------
    table : DataFrame
        One row per (group, time): ``group, time, att, se, ci_low, ci_high, n`` plus ``post``,
        ``base_time``, ``n_treated``, ``n_control`` and ``se_analytic``.
    influence : ndarray or scipy sparse array, shape (n, cells)
        Influence functions (R's ``inffunc``), one row per unit (panel) or observation (RCS).
    vcov : ndarray
        Analytic (cluster-robust when clustered) covariance of the ATT(g,t).
    crit_val : float
        Critical value used for ``ci_low``/``ci_high`` (simultaneous if bootstrapped).
    bootstrap_draws : StoredDraws or None
        The multiplier-bootstrap draws of the cells and of the aggregations' unit-level
        columns, reused by :func:`inburgering.did.aggte` with the same seed and number of draws.
    """

    table: pd.DataFrame
    att: np.ndarray
    influence: Any
    vcov: np.ndarray
    crit_val: float
    cell_group: np.ndarray
    cell_time: np.ndarray
    groups: np.ndarray
    times: np.ndarray
    n: int
    unit_group: np.ndarray
    unit_weight: np.ndarray
    unit_cluster: np.ndarray | None
    n_clusters: int | None
    params: dict
    notes: list[str] = field(default_factory=list)
    bootstrap_draws: StoredDraws | None = None

    def pretrend_test(self) -> PretrendTest | None:
        """Wald test of H0: every pre-treatment ATT(g,t) is zero (R did's ``W``/``Wpval``).

        Cells fixed at zero by a universal base period are excluded. Returns None when there are
        no pre-treatment cells; raises when their covariance is singular.
        """
        pre = np.flatnonzero((self.cell_group > self.cell_time) & (np.diag(self.vcov) > 0))
        if pre.size == 0:
            return None
        V = self.vcov[np.ix_(pre, pre)]
        a = self.att[pre]
        try:
            stat = float(a @ np.linalg.solve(V, a))
        except np.linalg.LinAlgError as exc:
            raise DidError(
                "pretrend_test: covariance of pre-treatment ATT(g,t) is singular"
            ) from exc
        return PretrendTest(
            statistic=stat, df=int(pre.size), p_value=float(chi2.sf(stat, pre.size))
        )


@dataclass
class AggregateResult:
    """An aggregation of ATT(g,t) (R did's AGGTEobj) with influence functions and covariance.

    ``vcov`` is the analytic covariance of the level estimates (for ``dynamic``: the event-time
    covariance HonestDiD needs); ``influence`` has one column per level.
    """

    kind: str
    table: pd.DataFrame
    levels: np.ndarray
    att: np.ndarray
    influence: np.ndarray
    vcov: np.ndarray
    crit_val: float
    overall_att: float
    overall_se: float
    overall_influence: np.ndarray
    alpha: float
    bootstrap: int
    parent: AttGtResult
    options: dict

    def event_vcov(self, cluster: bool = True) -> np.ndarray:
        """Covariance of the level estimates (cluster-robust when the fit was clustered)."""
        p = self.parent
        if cluster:
            return self.vcov
        return analytic_vcov(self.influence, p.n)
