"""Rambachan & Roth (2023) sensitivity of an event-study conclusion to parallel-trend violations.

For an event study with reference period -1 (``beta_-1 = 0``), pre-period coefficients
``beta_pre`` and post-period coefficients ``beta_post``, the target is the average post effect
``theta = l'(beta_post - delta_post)`` where ``delta`` is the (unknown) trend violation. Two
restriction classes of the HonestDiD R package:

- relative magnitudes ``Delta^RM(Mbar)``: every post-period increment ``|delta_{t+1} - delta_t|``
  is at most ``Mbar`` times the largest pre-period increment;
- smoothness ``Delta^SD(M)``: the slope of ``delta`` changes by at most ``M`` per period after the
  reference period (``M = 0``: linear extrapolation of the pre-trend).

Why our own code, and what it computes
--------------------------------------
The PyPI port ``honestdid`` 0.1.1 pulls in torch and CUDA wheels (gigabytes; unusable inside CBS
Remote Access) and, like the R package, solves a conic program per grid point, too slow for the
24+ event studies per run. We use the *plug-in identified set*: ``delta_pre`` is set to its
estimate, which makes both identified sets closed-form (the LP solutions, checked against an
independent ``scipy.optimize.linprog`` formulation in the tests):

- RM: ``theta in l'beta_post ± Mbar * J * Σ_t l_t (t + 1)``, ``J = max_s |Δbeta_pre,s|``;
- SD: ``theta in l'beta_post + s Σ_t l_t (t+1) ± M Σ_t l_t (t+1)(t+2)/2``, ``s = beta_-2``
  (the pre-slope extrapolated from the reference period).

Confidence intervals add ``z_{1-alpha/2}`` delta-method standard errors of each bound (bounds are
linear in the coefficients given the argmax of ``J``). This differs from the R package's
conditional/hybrid (C-LF) and FLCI intervals: for RM, noise in the pre-period coefficients
inflates ``J`` so our intervals are conservative; for SD with ``M = 0`` they coincide with the
linear-extrapolation interval. Constraints among the pre-periods themselves (which with pinned
estimates only test the restriction) are not imposed. The breakdown value is the smallest M
(or Mbar) whose interval contains zero; an estimate is flagged *fragile* when it is significant
but the RM breakdown is below 1 (a post-period violation no larger than the worst pre-period one
overturns it), or when the linear-extrapolation (SD, M = 0) interval contains zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.stats import norm


@dataclass(frozen=True)
class EventStudy:
    """Event-time coefficients with reference period -1 excluded (it is zero by construction)."""

    event_time: np.ndarray
    beta: np.ndarray
    vcov: np.ndarray

    def window(self, pre: int, post: int) -> EventStudy:
        keep = (
            (self.event_time >= -pre - 1) & (self.event_time <= post - 1) & (self.event_time != -1)
        )
        return EventStudy(self.event_time[keep], self.beta[keep], self.vcov[np.ix_(keep, keep)])


def _target(es: EventStudy) -> np.ndarray:
    """l: equal weights on the observed post-period coefficients."""
    post = es.event_time >= 0
    if not post.any():
        raise ValueError("honest: no post-period coefficients")
    return np.where(post, 1.0 / post.sum(), 0.0)


def _se(a: np.ndarray, V: np.ndarray) -> float:
    return float(np.sqrt(max(a @ V @ a, 0.0)))


def _pre_jumps(es: EventStudy) -> list[tuple[float, np.ndarray]]:
    """Pre-period increments delta_{s+1} - delta_s (with delta_-1 = 0) and their gradients."""
    k = es.event_time.size
    index = {int(e): i for i, e in enumerate(es.event_time)}
    jumps = []
    for s in sorted(e for e in index if e < -1):
        nxt = s + 1
        if nxt != -1 and nxt not in index:
            continue
        grad = np.zeros(k)
        grad[index[s]] -= 1.0
        if nxt != -1:
            grad[index[nxt]] += 1.0
        jumps.append((float(grad @ es.beta), grad))
    return jumps


def rm_bounds(es: EventStudy, mbar: float, alpha: float) -> tuple[float, float, float, float]:
    """Identified set (lb, ub) and CI (low, high) under relative magnitudes Mbar."""
    lvec = _target(es)
    c = float(np.sum(lvec * np.where(es.event_time >= 0, es.event_time + 1, 0)))
    jumps = _pre_jumps(es)
    if not jumps:
        raise ValueError("honest RM: needs at least two pre-periods (event times -2 and -3)")
    value, grad = max(jumps, key=lambda j: abs(j[0]))
    J, gJ = abs(value), np.sign(value) * grad
    z = norm.ppf(1 - alpha / 2)
    theta = float(lvec @ es.beta)
    a_lb, a_ub = lvec - mbar * c * gJ, lvec + mbar * c * gJ
    lb, ub = theta - mbar * J * c, theta + mbar * J * c
    return lb, ub, lb - z * _se(a_lb, es.vcov), ub + z * _se(a_ub, es.vcov)


def sd_bounds(es: EventStudy, m: float, alpha: float) -> tuple[float, float, float, float]:
    """Identified set (lb, ub) and CI (low, high) under smoothness M."""
    lvec = _target(es)
    e = es.event_time
    if -2 not in set(e.tolist()):
        raise ValueError("honest SD: needs event time -2")
    c1 = float(np.sum(lvec * np.where(e >= 0, e + 1, 0)))
    c2 = float(np.sum(lvec * np.where(e >= 0, (e + 1) * (e + 2) / 2, 0)))
    a = lvec.copy()
    a[e == -2] += c1  # delta_post extrapolated with slope delta_-1 - delta_-2 = -beta_-2
    center = float(a @ es.beta)
    z = norm.ppf(1 - alpha / 2)
    se = _se(a, es.vcov)
    lb, ub = center - m * c2, center + m * c2
    return lb, ub, lb - z * se, ub + z * se


BOUNDS = {"relative_magnitude": rm_bounds, "smoothness": sd_bounds}


def breakdown(es: EventStudy, restriction: str, alpha: float, upper: float = 100.0) -> float:
    """Smallest M (Mbar) whose interval contains zero (0 if it already does at M = 0)."""
    bounds = BOUNDS[restriction]

    def covers_zero(m: float) -> bool:
        _, _, low, high = bounds(es, m, alpha)
        return low <= 0 <= high

    if covers_zero(0.0):
        return 0.0
    if not covers_zero(upper):
        return float("inf")
    lo, hi = 0.0, upper
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if covers_zero(mid) else (mid, hi)
    return hi


def sensitivity(
    es: EventStudy, grids: dict[str, list[float]], alpha: float
) -> list[dict[str, float | str]]:
    """One row per restriction and M: identified set, interval and the breakdown value."""
    rows = []
    for restriction, grid in grids.items():
        bd = breakdown(es, restriction, alpha)
        for m in grid:
            lb, ub, low, high = BOUNDS[restriction](es, float(m), alpha)
            rows.append(
                {
                    "restriction": restriction,
                    "M": float(m),
                    "lb": lb,
                    "ub": ub,
                    "ci_low": low,
                    "ci_high": high,
                    "breakdown": bd,
                }
            )
    return rows


def is_fragile(es: EventStudy, alpha: float) -> bool:
    """Significant at M = 0 but overturned by RM Mbar < 1 or by linear extrapolation (SD 0)."""
    _, _, low, high = rm_bounds(es, 0.0, alpha)
    if low <= 0 <= high:
        return False
    _, _, sd_low, sd_high = sd_bounds(es, 0.0, alpha)
    return breakdown(es, "relative_magnitude", alpha) < 1 or sd_low <= 0 <= sd_high


def lp_bias_bounds(es: EventStudy, restriction: str, m: float) -> tuple[float, float]:
    """Independent LP for the identified set of ``l'delta_post`` (used to check the closed forms).

    Variables: delta on every integer event time from the first pre to the last post period,
    delta_-1 = 0, observed pre-periods pinned to beta, RM as the union over which pre increment
    is largest (pinned, so only the argmax polyhedron is feasible), SD for t >= -1.
    """
    e_obs = es.event_time.astype(int)
    grid = np.arange(e_obs.min(), e_obs.max() + 1)
    n = grid.size
    pos = {int(t): i for i, t in enumerate(grid)}
    A_eq, b_eq = [], []
    for t, b in zip(e_obs, es.beta, strict=True):
        if t < 0:
            row = np.zeros(n)
            row[pos[int(t)]] = 1
            A_eq.append(row)
            b_eq.append(b)
    row = np.zeros(n)
    row[pos[-1]] = 1
    A_eq.append(row)
    b_eq.append(0.0)
    A_ub, b_ub = [], []

    def bound_abs(coef: np.ndarray, limit: float) -> None:
        A_ub.extend([coef, -coef])
        b_ub.extend([limit, limit])

    if restriction == "relative_magnitude":
        J = max(abs(j) for j, _ in _pre_jumps(es))
        for t in range(-1, int(grid.max())):
            coef = np.zeros(n)
            coef[pos[t + 1]], coef[pos[t]] = 1, -1
            bound_abs(coef, m * J)
    else:
        for t in range(-1, int(grid.max())):
            coef = np.zeros(n)
            coef[pos[t + 1]] += 1
            coef[pos[t]] -= 2
            coef[pos[t - 1]] += 1
            bound_abs(coef, m)
    lvec = _target(es)
    obj = np.zeros(n)
    for t, w in zip(e_obs, lvec, strict=True):
        obj[pos[int(t)]] += w
    out = []
    for sign in (1, -1):
        res = linprog(
            sign * obj,
            A_ub=np.array(A_ub),
            b_ub=np.array(b_ub),
            A_eq=np.array(A_eq),
            b_eq=np.array(b_eq),
            bounds=[(None, None)] * n,
        )
        out.append(sign * res.fun)
    return out[0], out[1]
