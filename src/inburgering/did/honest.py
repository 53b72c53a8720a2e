"""Rambachan & Roth (2023) sensitivity of an event-study conclusion to parallel-trend violations.

For an event study with reference period -1 (``beta_-1 = 0``), pre-period coefficients
``beta_pre`` and post-period coefficients ``beta_post``, the target is the average post effect
``theta = l'(beta_post - delta_post)`` where ``delta`` is the (unknown) trend violation. Two
restriction classes of the HonestDiD R package (Rambachan & Roth; version 0.2.8 on GitHub):

- relative magnitudes ``Delta^RM(Mbar)``: every post-period increment ``|delta_{t+1} - delta_t|``
  is at most ``Mbar`` times the largest pre-period increment;
- smoothness ``Delta^SD(M)``: the slope of ``delta`` changes by at most ``M`` per period (``M = 0``:
  linear extrapolation of the pre-trend).

What it computes, and why our own code
--------------------------------------
Identified sets (``lb``, ``ub``) are the plug-in sets with ``delta_pre`` at its estimate, in closed
form (the LP solutions, checked against :func:`lp_bias_bounds`). Confidence intervals are the R
package's defaults, ported statement by statement from its R sources:

- RM: the conditional-least-favourable hybrid test (C-LF, Andrews, Roth & Pakes 2023) with the
  other post-period effects as nuisance parameters (``arp-nuisance.R``, ``deltarm.R``), inverted
  over the package's theta grid (1,000 points on ``±20 sd(l'beta_post)``, widened here in the same
  step when the identified set reaches beyond it) and united over which pre-period increment is the
  largest and its sign; ``hybrid_kappa = alpha/10``, post-period moments only. The interval is
  ``[min, max]`` of the accepted grid points and can be empty (NaN), as in R.
- SD: the fixed-length confidence interval (FLCI, Armstrong & Kolesár; ``flci.R``): the affine
  estimator over *all* pre-periods that minimises the half-length ``cv_alpha(bias/h) h``, the
  worst-case bias at standard deviation ``h`` from a second-order cone program (cvxpy) on R's grid
  of 100 values of ``h``, refined between grid points. The folded-normal critical value is exact
  (R simulates it with 10^6 draws).

Why not the package itself: the pipeline is Python-only (HonestDiD has no Debian package, and R
with CVXR/Rglpk/lpSolveAPI is not part of the environment), and the PyPI port ``honestdid`` 0.1.1
requires torch (gigabytes of CUDA wheels; unusable inside CBS Remote Access). The
least-favourable critical value is simulated (1,000 draws, as R) with numpy's generator, so it
differs from R's by simulation noise; the LPs of the test are solved exactly by enumerating the
vertices of their dual polytope (a handful for our 2-4 post-periods), which vectorises the test
over the theta grid. ``tests/did_designs/test_designs_honest.py`` checks both intervals against
the numbers printed in the package README (Medicaid example).

The breakdown value is the smallest M (or Mbar) whose interval contains zero (0 if the unrestricted
interval already does). An estimate is flagged *fragile* when it is significant but the RM
breakdown is below 1 (a post-period violation no larger than the worst pre-period one overturns
it), or when the FLCI under linear extrapolation (SD, M = 0) contains zero.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import clarabel
import numpy as np
from scipy import sparse
from scipy.optimize import linprog, minimize_scalar
from scipy.special import ndtr, ndtri
from scipy.stats import norm, truncnorm

# HonestDiD defaults (createSensitivityResults_relativeMagnitudes, computeConditionalCS_DeltaRM,
# .compute_least_favorable_cv, findOptimalFLCI, .lp_conditional_test_fn, .vlo_vup_dual_fn).
GRID_POINTS = 1000
GRID_HALF_WIDTH_SD = 20.0
LF_SIMULATIONS = 1000
FLCI_H_POINTS = 100
TOL_LAMBDA = 1e-6
TOL_VLO_VUP = 1e-6
SEED = 0  # HonestDiD's default seed argument; reruns are byte-identical


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


def rm_identified_set(es: EventStudy, mbar: float) -> tuple[float, float]:
    """Plug-in identified set of theta under relative magnitudes Mbar (closed form)."""
    lvec = _target(es)
    c = float(np.sum(lvec * np.where(es.event_time >= 0, es.event_time + 1, 0)))
    jumps = _pre_jumps(es)
    if not jumps:
        raise ValueError("honest RM: needs a pre-period coefficient at event time -2")
    J = max(abs(j) for j, _ in jumps)
    theta = float(lvec @ es.beta)
    return theta - mbar * J * c, theta + mbar * J * c


def sd_identified_set(es: EventStudy, m: float) -> tuple[float, float]:
    """Plug-in identified set of theta under smoothness M (closed form)."""
    lvec = _target(es)
    e = es.event_time
    if -2 not in set(e.tolist()):
        raise ValueError("honest SD: needs event time -2")
    c1 = float(np.sum(lvec * np.where(e >= 0, e + 1, 0)))
    c2 = float(np.sum(lvec * np.where(e >= 0, (e + 1) * (e + 2) / 2, 0)))
    a = lvec.copy()
    a[e == -2] += c1  # delta_post extrapolated with slope delta_-1 - delta_-2 = -beta_-2
    center = float(a @ es.beta)
    return center - m * c2, center + m * c2


@dataclass(frozen=True)
class _Layout:
    """The event study in HonestDiD's layout: pre-periods -n_pre..-2, then post 0..n_post-1."""

    beta: np.ndarray
    sigma: np.ndarray
    n_pre: int
    n_post: int
    l_vec: np.ndarray


def _layout(es: EventStudy, target: np.ndarray | None = None) -> _Layout:
    """HonestDiD's layout; ``target`` = l over the post-periods (default: their average)."""
    order = np.argsort(es.event_time)
    e = es.event_time[order].astype(int)
    pre, post = e[e < -1], e[e >= 0]
    if pre.size == 0:
        raise ValueError("honest: needs event time -2")
    expected = np.concatenate([np.arange(pre.min(), -1), np.arange(0, post.max() + 1)])
    if post.size == 0 or e.size != expected.size or np.any(e != expected):
        raise ValueError(
            f"honest: event times must be consecutive around the reference -1, got {e.tolist()}"
        )
    lvec = _target(es)[order][e >= 0] if target is None else np.asarray(target, float)
    if lvec.size != post.size:
        raise ValueError(f"honest: target has {lvec.size} weights for {post.size} post-periods")
    return _Layout(
        es.beta[order], es.vcov[np.ix_(order, order)], int(pre.size), int(post.size), lvec
    )


def original_ci(es: EventStudy, alpha: float) -> tuple[float, float]:
    """Interval for theta under exact parallel trends (HonestDiD's constructOriginalCS)."""
    lvec = _target(es)
    theta, z = float(lvec @ es.beta), norm.ppf(1 - alpha / 2)
    return theta - z * _se(lvec, es.vcov), theta + z * _se(lvec, es.vcov)


# --- Relative magnitudes: conditional-least-favourable hybrid (C-LF) confidence set -----------


def _rm_constraints(n_pre: int, n_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """A with A delta <= 0 iff delta in Delta^RM_{s,+/-}(Mbar) (HonestDiD ``.create_A_RM``).

    Columns: pre-periods -n_pre..-1 and post 1..n_post in R's numbering (the reference 0 is
    dropped); increment s (s = -(n_pre-1)..0, from period s-1 to s) is the largest pre-period one.
    """
    n = n_pre + n_post
    first_diff = np.zeros((n, n + 1))
    for r in range(n):
        first_diff[r, r], first_diff[r, r + 1] = -1.0, 1.0
    largest = np.zeros(n + 1)
    largest[n_pre + s - 1], largest[n_pre + s] = -1.0, 1.0
    if not positive:
        largest = -largest
    bound = np.vstack([np.tile(largest, (n_pre, 1)), np.tile(mbar * largest, (n_post, 1))])
    A = np.vstack([first_diff - bound, -first_diff - bound])
    A = A[np.sum(A**2, axis=1) > 1e-10]
    return np.delete(A, n_pre, axis=1)


def _construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with first row l' (``.construct_Gamma``: the pivots of rref[l, I])."""
    T = l_vec.size
    B = np.column_stack([l_vec, np.eye(T)])
    pivots: list[int] = []
    for j in range(B.shape[1]):
        if np.linalg.matrix_rank(B[:, [*pivots, j]]) == len(pivots) + 1:
            pivots.append(j)
        if len(pivots) == T:
            break
    return B[:, pivots].T


def _dual_vertices(sd: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Vertices of {lambda >= 0, sd'lambda = 1, X'lambda = 0}, the dual of ARP's LP.

    ``min eta s.t. y - X delta <= sd eta`` equals ``max_v v'y`` over these vertices, so one
    enumeration (a few dozen bases for our post-periods) solves the LP for every y at once.
    """
    M, k = X.shape
    E = np.vstack([sd, X.T])
    bases = np.array(list(itertools.combinations(range(M), k + 1)))
    EB = np.transpose(E[:, bases], (1, 0, 2))  # one (k+1) x (k+1) system per basis
    scale = np.max(np.abs(EB), axis=(1, 2))
    regular = np.abs(np.linalg.det(EB)) > 1e-10 * scale ** (k + 1)
    if not regular.any():
        return np.zeros((0, M))
    rhs = np.zeros(k + 1)
    rhs[0] = 1.0
    lam = np.linalg.solve(EB[regular], np.broadcast_to(rhs, (regular.sum(), k + 1))[..., None])
    lam = lam[..., 0]
    feasible = np.all(lam >= -1e-10, axis=1)
    verts = np.zeros((int(feasible.sum()), M))
    rows = np.arange(verts.shape[0])[:, None]
    verts[rows, bases[regular][feasible]] = np.maximum(lam[feasible], 0.0)
    if verts.shape[0] == 0:
        return verts
    return np.unique(np.round(verts, 12), axis=0)


def _truncated_normal_quantile(p: float, lo, hi) -> np.ndarray:
    """Quantile of N(0, 1) truncated to [lo, hi] (TruncatedNormal::norminvp).

    Inverts the cdf on the side of zero that keeps the tail probabilities representable
    (scipy's ``truncnorm.ppf`` costs a millisecond per call, too slow over the theta grid); the
    far tails, where those probabilities underflow, go to ``truncnorm``.
    """
    lo, hi = np.broadcast_arrays(np.asarray(lo, float), np.asarray(hi, float))
    right = lo > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        s_lo, s_hi = ndtr(-lo), ndtr(-hi)
        c_lo, c_hi = ndtr(lo), ndtr(hi)
        q = np.where(right, -ndtri(s_lo - p * (s_lo - s_hi)), ndtri(c_lo + p * (c_hi - c_lo)))
    mass = np.where(right, s_lo - s_hi, c_hi - c_lo)
    far = ~np.isfinite(q) | (mass < 1e-12)
    if np.any(far):
        q = np.array(q, float)
        q[far] = truncnorm.ppf(p, lo[far], hi[far])
    return np.clip(q, lo, hi)


def _no_nuisance_accept(Y: np.ndarray, S: np.ndarray, lf_cv: float, size: float) -> np.ndarray:
    """``.testInIdentifiedSet_LF_Hybrid`` for each column of moments Y (one post-period)."""
    sd = np.sqrt(np.diag(S))
    corr = S / np.outer(sd, sd)
    m = Y / sd[:, None]
    top = np.argmax(m, axis=0)
    cols = np.arange(Y.shape[1])
    max_moment = m[top, cols]
    # Polyhedral conditioning on which normalised moment is largest (Lee et al. 2016).
    Ac = corr[:, top] - 1.0  # (A_bar c) per row and column; <= 0
    Ac[top, cols] = 0.0  # A_bar's own row is exactly zero in R; here 1 - corr_ii is +/- 1e-16
    Az = (m - max_moment) - Ac * max_moment
    with np.errstate(divide="ignore", invalid="ignore"):
        objective = -Az / Ac
    vlo = np.max(np.where(Ac < 0, objective, -np.inf), axis=0)
    vup = np.min(np.where(Ac > 0, objective, np.inf), axis=0)
    crit = np.maximum(0.0, _truncated_normal_quantile(1 - size, vlo, vup))
    reject = (max_moment > lf_cv) | (max_moment > crit)
    return ~reject


def _degenerate_accept(
    Y: np.ndarray,
    eta: np.ndarray,
    lam: np.ndarray,
    S: np.ndarray,
    lf_cv: float,
    size: float,
    verts: np.ndarray,
) -> np.ndarray:
    """The dual-based test of ``.lp_conditional_test_fn`` (degenerate or rank-deficient LP).

    ``.vlo_vup_dual_fn`` searches the interval of c with c = max_v v'(s + b c) by iterating
    c <- v's / (1 - v'b) and bisecting; that interval has the closed form used here (each vertex v
    bounds c from below where 1 - v'b > 0 and from above where it is < 0), with R's rules kept:
    bounds beyond max(100, eta + 20 sigma) (min(-100, eta - 20 sigma)) are infinite, and an eta
    outside the interval gives (eta, inf).
    """
    sigma2 = float(lam @ S @ lam)
    if abs(sigma2) < np.finfo(float).eps:
        return ~(eta > 0)
    sigma_b = np.sqrt(sigma2)
    b = S @ lam / sigma2
    s_T = Y - np.outer(b, lam @ Y)
    slope = 1 - verts @ b
    inter = verts @ s_T
    up, down = slope > 1e-12, slope < -1e-12
    vlo = np.max(inter[up] / slope[up, None], axis=0) if up.any() else np.full(eta.size, -np.inf)
    vup = (
        np.min(inter[down] / slope[down, None], axis=0) if down.any() else np.full(eta.size, np.inf)
    )
    vup = np.where(vup >= np.maximum(100.0, eta + 20 * sigma_b), np.inf, vup)
    vlo = np.where(vlo <= np.minimum(-100.0, eta - 20 * sigma_b), -np.inf, vlo)
    outside = (eta < vlo - TOL_VLO_VUP) | (eta > vup + TOL_VLO_VUP)
    vlo, vup = np.where(outside, eta, vlo), np.where(outside, np.inf, vup)
    maxstat, zlo, zup = eta / sigma_b, vlo / sigma_b, np.minimum(vup, lf_cv) / sigma_b
    inside = (zlo <= maxstat) & (maxstat <= zup)
    crit = np.maximum(0.0, _truncated_normal_quantile(1 - size, zlo, zup))
    return ~(inside & (maxstat > crit))


def _nuisance_accept(
    Y: np.ndarray, X: np.ndarray, S: np.ndarray, lf_cv: float, size: float, verts: np.ndarray
) -> np.ndarray:
    """``.lp_conditional_test_fn`` with the LF hybrid, for each column of moments Y."""
    M, k = X.shape
    sd = np.sqrt(np.diag(S))
    vals = verts @ Y
    which = np.argmax(vals, axis=0)
    eta = vals[which, np.arange(Y.shape[1])]
    accept = eta <= lf_cv
    for w in np.unique(which[accept]):
        cols = np.flatnonzero(accept & (which == w))
        lam = verts[w]
        binding = lam > TOL_LAMBDA
        full_rank = np.linalg.matrix_rank(X[binding]) == min(X[binding].shape)
        if binding.sum() != k + 1 or not full_rank:
            accept[cols] = _degenerate_accept(Y[:, cols], eta[cols], lam, S, lf_cv, size, verts)
            continue
        MB_inv = np.linalg.inv(np.column_stack([sd[binding], X[binding]]))
        SB, SBc = np.eye(M)[binding], np.eye(M)[~binding]
        gamma_b = np.column_stack([sd[~binding], X[~binding]]) @ MB_inv @ SB - SBc
        v_b = MB_inv[0] @ SB
        sigma2 = float(v_b @ S @ v_b)
        sigma_b = np.sqrt(sigma2)
        rho = gamma_b @ S @ v_b / sigma2
        Yc = Y[:, cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = (-gamma_b @ Yc) / rho[:, None] + (v_b @ Yc)[None, :]
        vlo = np.max(np.where(rho[:, None] > 0, bound, -np.inf), axis=0)
        vup = np.min(np.where(rho[:, None] < 0, bound, np.inf), axis=0)
        zlo, zup = vlo / sigma_b, np.minimum(vup, lf_cv) / sigma_b
        maxstat = eta[cols] / sigma_b
        inside = (zlo <= maxstat) & (maxstat <= zup)
        crit = np.maximum(0.0, _truncated_normal_quantile(1 - size, zlo, zup))
        accept[cols] = ~(inside & (maxstat > crit))
    return accept


def _arp_lf_accept(
    y: np.ndarray,
    a1: np.ndarray,
    X: np.ndarray,
    S: np.ndarray,
    grid: np.ndarray,
    alpha: float,
    seed: int,
) -> np.ndarray:
    """Which theta on the grid the C-LF test of one (s, sign) polyhedron accepts."""
    kappa = alpha / 10
    size = (alpha - kappa) / (1 - kappa)
    Y = y[:, None] - a1[:, None] * grid[None, :]
    verts, lf_cv = _lf_critical_value(X, S, kappa, seed)
    if X.shape[1] == 0:
        return _no_nuisance_accept(Y, S, lf_cv, size)
    if verts.shape[0] == 0:  # the LP is unbounded: R's test does not reject
        return np.ones(grid.size, bool)
    return _nuisance_accept(Y, X, S, lf_cv, size, verts)


# (X, S, kappa, seed) -> (dual vertices, LF critical value): a breakdown search and the interval
# at the same Mbar (and each widening of an open interval's grid) test the same polyhedra.
_LF_CACHE: dict[bytes, tuple[np.ndarray, float]] = {}


def _lf_critical_value(
    X: np.ndarray, S: np.ndarray, kappa: float, seed: int
) -> tuple[np.ndarray, float]:
    """The dual vertices of one polyhedron (none without nuisance parameters) and the
    simulated least-favourable critical value; kept across calls because neither depends on
    the grid of theta, and the vertex enumeration and 1000 draws dominated HonestDiD's time."""
    key = b"|".join(
        [np.ascontiguousarray(a, float).tobytes() for a in (X, S)]
        + [repr((X.shape, kappa, seed)).encode()]
    )
    if key not in _LF_CACHE:
        if len(_LF_CACHE) >= 4096:
            _LF_CACHE.pop(next(iter(_LF_CACHE)))
        rng = np.random.default_rng(seed)
        xi = rng.multivariate_normal(np.zeros(S.shape[0]), S, size=LF_SIMULATIONS, method="eigh")
        if X.shape[1] == 0:
            verts = np.zeros((0, S.shape[0]))
            lf_cv = float(np.quantile(np.max(xi / np.sqrt(np.diag(S)), axis=1), 1 - kappa))
        else:
            verts = _dual_vertices(np.sqrt(np.diag(S)), X)
            lf_cv = (
                float(np.quantile(np.max(verts @ xi.T, axis=0), 1 - kappa))
                if verts.shape[0]
                else np.nan
            )
        _LF_CACHE[key] = (verts, lf_cv)
    return _LF_CACHE[key]


def _rm_accept(L: _Layout, mbar: float, alpha: float, grid: np.ndarray, seed: int) -> np.ndarray:
    """Union over which pre-period increment is largest and its sign (R's DeltaRM C-LF set)."""
    gamma_inv = np.linalg.inv(_construct_gamma(L.l_vec))
    accept = np.zeros(grid.size, bool)
    if grid.size == 0:
        return accept
    for s in range(-(L.n_pre - 1), 1):
        for positive in (True, False):
            A = _rm_constraints(L.n_pre, L.n_post, mbar, s, positive)
            A = A[np.any(A[:, L.n_pre :] != 0, axis=1)]  # post-period moments only
            A_gamma = A[:, L.n_pre :] @ gamma_inv
            accept |= _arp_lf_accept(
                A @ L.beta, A_gamma[:, 0], A_gamma[:, 1:], A @ L.sigma @ A.T, grid, alpha, seed
            )
    return accept


def rm_ci(
    es: EventStudy,
    mbar: float,
    alpha: float,
    seed: int = SEED,
    target: np.ndarray | None = None,
) -> tuple[float, float]:
    """HonestDiD's C-LF interval under Delta^RM(Mbar); (nan, nan) when the set is empty."""
    L = _layout(es, target)
    post = slice(L.n_pre, None)
    sd_theta = float(np.sqrt(L.l_vec @ L.sigma[post, post] @ L.l_vec))
    step = 2 * GRID_HALF_WIDTH_SD * sd_theta / (GRID_POINTS - 1)
    grid = np.linspace(-GRID_HALF_WIDTH_SD * sd_theta, GRID_HALF_WIDTH_SD * sd_theta, GRID_POINTS)
    accept = _rm_accept(L, mbar, alpha, grid, seed)
    # R stops at the grid's ends (with a warning); extend in the same step while the set is open.
    for _ in range(50):
        if not (accept.size and (accept[0] or accept[-1])):
            break
        extra = np.arange(1, GRID_POINTS + 1) * step
        lower = grid[0] - extra[::-1] if accept[0] else np.empty(0)
        upper = grid[-1] + extra if accept[-1] else np.empty(0)
        grid = np.concatenate([lower, grid, upper])
        accept = np.concatenate(
            [
                _rm_accept(L, mbar, alpha, lower, seed),
                accept,
                _rm_accept(L, mbar, alpha, upper, seed),
            ]
        )
    if not accept.any():
        return float("nan"), float("nan")
    return float(grid[accept].min()), float(grid[accept].max())


# --- Smoothness: fixed-length confidence interval (FLCI) --------------------------------------


def _folded_normal_quantile(p: float, mu) -> np.ndarray:
    """c with P(|N(mu, 1)| <= c) = p, elementwise (R's ``.qfoldednormal``, exact instead of
    simulated with 10^6 draws); bisection, the coverage being increasing in c."""
    mu = np.abs(np.asarray(mu, float))
    if mu.ndim == 0:  # the FLCI's scalar search: the same steps without array overhead
        return np.float64(_folded_normal_quantile_scalar(p, float(mu)))
    lo, hi = np.zeros_like(mu), mu + 10.0
    for _ in range(64):
        mid = (lo + hi) / 2
        below = ndtr(mid - mu) - ndtr(-mid - mu) < p
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def _folded_normal_quantile_scalar(p: float, mu: float) -> float:
    lo, hi = 0.0, mu + 10.0
    for _ in range(64):
        mid = (lo + hi) / 2
        if ndtr(mid - mu) - ndtr(-mid - mu) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class _Flci:
    """Worst-case bias of the affine estimators with standard deviation h (``flci.R``).

    Variables as in R: w (cumulated pre-period weights) and u >= |cumsum(w)|; the estimator is
    l_pre'beta_pre + l'beta_post with l_pre = first differences of w.
    """

    def __init__(self, L: _Layout):
        K, post_idx = L.n_pre, np.arange(1, L.n_post + 1)
        self.L = L
        self.w_to_l = np.eye(K) - np.eye(K, k=-1)
        pre, post = slice(0, K), slice(K, None)
        # Variances in units of var(l'beta_post): the solver's tolerances are absolute, and
        # variances of shares (1e-4) would otherwise be solved to a few percent only.
        self.scale = float(L.l_vec @ L.sigma[post, post] @ L.l_vec)
        if not self.scale > 0:
            raise ValueError("honest SD: the target has zero variance")
        quad = self.w_to_l.T @ L.sigma[pre, pre] @ self.w_to_l / self.scale
        self.quad = (quad + quad.T) / 2
        self.lin = 2 * self.w_to_l.T @ L.sigma[pre, post] @ L.l_vec / self.scale
        vals, vecs = np.linalg.eigh(self.quad)
        root = (vecs * np.sqrt(np.clip(vals, 0, None))).T  # root'root = quad
        self.weight_sum = float(post_idx @ L.l_vec)
        tail = [abs(np.arange(1, s + 1) @ L.l_vec[L.n_post - s :]) for s in post_idx]
        self.bias_const = float(np.sum(tail) - self.weight_sum)
        # Cone program for Clarabel directly (cvxpy's per-solve overhead is 10x the solve):
        # x = (w, u); zero cone sum(w) = weight_sum; u -/+ cumsum(w) >= 0; the variance bound
        # |root w|^2 <= y, y = h^2/scale - 1 - lin'w, as the cone |(y - 1, 2 root w)| <= y + 1.
        cumulative = np.tril(np.ones((K, K)))
        zero_k, eye_k = np.zeros((K, K)), np.eye(K)
        self.A = sparse.csc_matrix(
            np.vstack(
                [
                    np.concatenate([np.ones(K), np.zeros(K)])[None, :],
                    np.hstack([cumulative, -eye_k]),
                    np.hstack([-cumulative, -eye_k]),
                    np.concatenate([self.lin, np.zeros(K)])[None, :],
                    np.concatenate([self.lin, np.zeros(K)])[None, :],
                    np.hstack([-2 * root, zero_k]),
                ]
            )
        )
        self.q = np.concatenate([np.zeros(K), np.ones(K)])
        self.cones = [
            clarabel.ZeroConeT(1),
            clarabel.NonnegativeConeT(2 * K),
            clarabel.SecondOrderConeT(K + 2),
        ]
        self.settings = clarabel.DefaultSettings()
        self.settings.verbose = False

    def sd_of(self, w: np.ndarray) -> float:
        return float(np.sqrt(max(self.scale * (w @ self.quad @ w + self.lin @ w + 1.0), 0.0)))

    @cached_property
    def h_range(self) -> tuple[float, float]:
        """h of the minimum-variance estimator and of the minimum-bias one (R's hMin, h0).

        The minimum variance subject to sum(w) = weight_sum is an equality-constrained QP (R's
        u constraints do not bind), solved exactly from its KKT system.
        """
        K = self.L.n_pre
        kkt = np.block([[2 * self.quad, np.ones((K, 1))], [np.ones((1, K)), np.zeros((1, 1))]])
        rhs = np.concatenate([-self.lin, [self.weight_sum]])
        w_min = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:K]
        w0 = np.zeros(K)
        w0[-1] = self.weight_sum
        h_min = self.sd_of(w_min)
        return h_min, max(h_min, self.sd_of(w0))

    @cached_property
    def h_grid(self) -> tuple[np.ndarray, np.ndarray]:
        h_min, h0 = self.h_range
        grid = np.linspace(h_min, h0, FLCI_H_POINTS)
        return grid, np.array([self.bias(h)[0] for h in grid])

    def bias(self, h: float) -> tuple[float, np.ndarray | None]:
        """Worst-case bias per unit M at standard deviation h, and the optimal w."""
        K = self.L.n_pre
        c0 = h * h / self.scale * (1 + 1e-9) - 1.0  # (1 + 1e-9): h_min itself stays feasible
        b = np.concatenate([[self.weight_sum], np.zeros(2 * K), [c0 + 1.0, c0 - 1.0], np.zeros(K)])
        P = sparse.csc_matrix((2 * K, 2 * K))
        solution = clarabel.DefaultSolver(P, self.q, self.A, b, self.cones, self.settings).solve()
        if solution.status not in (
            clarabel.SolverStatus.Solved,
            clarabel.SolverStatus.AlmostSolved,
        ):
            return np.inf, None  # R drops grid points whose program fails
        x = np.asarray(solution.x)
        return self.bias_const + float(np.sum(x[K:])), x[:K]

    def interval(self, m: float, alpha: float) -> tuple[float, float]:
        """FLCI (center -/+ half-length) at smoothness M.

        R bisects the derivative of the half-length in h (falling back to its 100-point grid);
        here the grid optimum is refined between its neighbours with the worst-case bias
        interpolated along the grid, and the program solved once more at the optimum.
        """
        grid, bias = self.h_grid
        ok = np.isfinite(bias) & (grid > 0)
        if not ok.any():
            raise ValueError("honest SD: the FLCI bias program failed")
        grid, bias = grid[ok], bias[ok]

        def half_length(h, b):
            return _folded_normal_quantile(1 - alpha, m * b / h) * h

        lengths = half_length(grid, bias)
        i = int(np.argmin(lengths))
        h_star = grid[i]
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        if hi > lo:
            res = minimize_scalar(
                lambda h: float(half_length(h, np.interp(h, grid, bias))),
                bounds=(lo, hi),
                method="bounded",
                options={"xatol": 1e-8 * hi},
            )
            if res.fun < lengths[i]:
                h_star = float(res.x)
        b, w = self.bias(h_star)
        if w is None:
            raise ValueError("honest SD: the FLCI bias program failed")
        beta_pre, beta_post = self.L.beta[: self.L.n_pre], self.L.beta[self.L.n_pre :]
        center = float((self.w_to_l @ w) @ beta_pre + self.L.l_vec @ beta_post)
        half = float(half_length(h_star, b))
        return center - half, center + half


def flci(
    es: EventStudy, m: float, alpha: float, target: np.ndarray | None = None
) -> tuple[float, float]:
    """HonestDiD's FLCI under Delta^SD(M) (``findOptimalFLCI``)."""
    return _Flci(_layout(es, target)).interval(m, alpha)


# --- Public API ---------------------------------------------------------------------------------


_FLCI_CACHE: dict[bytes, _Flci] = {}


def _flci_of(es: EventStudy) -> _Flci:
    """The FLCI problem of an event study, kept across calls: its grid of 100 cone programs
    does not depend on M or alpha, and ``sensitivity`` and ``is_fragile`` both need it."""
    key = b"|".join(
        np.ascontiguousarray(a, float).tobytes() for a in (es.event_time, es.beta, es.vcov)
    )
    if key not in _FLCI_CACHE:
        if len(_FLCI_CACHE) >= 64:
            _FLCI_CACHE.pop(next(iter(_FLCI_CACHE)))
        _FLCI_CACHE[key] = _Flci(_layout(es))
    return _FLCI_CACHE[key]


class _Sensitivity:
    """Interval computations of one event study, sharing the FLCI's bias grid across M."""

    def __init__(self, es: EventStudy, alpha: float, seed: int = SEED):
        self.es, self.alpha, self.seed = es, alpha, seed
        self._flci: _Flci | None = None

    def ci(self, restriction: str, m: float) -> tuple[float, float]:
        if restriction == "relative_magnitude":
            return rm_ci(self.es, m, self.alpha, self.seed)
        if self._flci is None:
            sd_identified_set(self.es, 0.0)  # same precondition (event time -2) as the bounds
            self._flci = _flci_of(self.es)
        return self._flci.interval(m, self.alpha)

    def bounds(self, restriction: str, m: float) -> tuple[float, float, float, float]:
        identified = rm_identified_set if restriction == "relative_magnitude" else sd_identified_set
        lb, ub = identified(self.es, m)
        return (lb, ub, *self.ci(restriction, m))

    def covers_zero(self, restriction: str, m: float) -> bool:
        """Whether zero is in the interval; for RM, whether the C-LF test accepts theta = 0
        (the same up to R's grid resolution, at a thousandth of the cost)."""
        if restriction == "relative_magnitude":
            L = _layout(self.es)
            return bool(_rm_accept(L, m, self.alpha, np.zeros(1), self.seed)[0])
        low, high = self.ci(restriction, m)
        return bool(low <= 0 <= high)  # an empty set (NaN) does not

    def breakdown(self, restriction: str, rel_tol: float = 1e-2) -> float:
        """Smallest M (Mbar) whose interval contains zero (0 if it already does at M = 0).

        Bisection to 1% of the value; assumes, as the breakdown value itself does, that the
        intervals grow with M.
        """
        if self.covers_zero(restriction, 0.0):
            return 0.0
        start = 1.0 if restriction == "relative_magnitude" else _se(_target(self.es), self.es.vcov)
        lo, hi = 0.0, max(start, 1e-6)
        for _ in range(12):  # widen until the interval reaches zero
            if self.covers_zero(restriction, hi):
                break
            lo, hi = hi, hi * 4
        else:
            return float("inf")
        while hi - lo > rel_tol * hi:
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if self.covers_zero(restriction, mid) else (mid, hi)
        return hi


def rm_bounds(es: EventStudy, mbar: float, alpha: float) -> tuple[float, float, float, float]:
    """Identified set (lb, ub) and C-LF interval (low, high) under relative magnitudes Mbar."""
    return _Sensitivity(es, alpha).bounds("relative_magnitude", mbar)


def sd_bounds(es: EventStudy, m: float, alpha: float) -> tuple[float, float, float, float]:
    """Identified set (lb, ub) and FLCI (low, high) under smoothness M."""
    return _Sensitivity(es, alpha).bounds("smoothness", m)


def breakdown(es: EventStudy, restriction: str, alpha: float) -> float:
    """Smallest M (or Mbar) whose interval contains zero (0 if it already does at M = 0)."""
    return _Sensitivity(es, alpha).breakdown(restriction)


def sensitivity(
    es: EventStudy, grids: dict[str, list[float]], alpha: float
) -> list[dict[str, float | str]]:
    """One row per restriction and M: identified set, interval and the breakdown value."""
    calc = _Sensitivity(es, alpha)
    rows = []
    for restriction, grid in grids.items():
        bd = calc.breakdown(restriction)
        for m in grid:
            lb, ub, low, high = calc.bounds(restriction, float(m))
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
    """Significant under parallel trends but overturned by RM Mbar <= 1 or by SD M = 0."""
    low, high = original_ci(es, alpha)
    if low <= 0 <= high:
        return False
    calc = _Sensitivity(es, alpha)
    return calc.covers_zero("smoothness", 0.0) or calc.covers_zero("relative_magnitude", 1.0)


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
