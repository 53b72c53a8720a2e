"""Inference that is honest with few treated clusters (one treated city = one cluster).

Four tools, each returning plain numbers so the designs can put them in tidy rows:

- :func:`ri_t_test` — randomization inference on the t-statistic (MacKinnon & Webb 2020): the
  "treated" label is reassigned to each municipality of a comparable pool (placebos), the exact
  p-value is ``(1 + #{|t_j| >= |t|}) / (J + 1)`` with floor ``1 / (J + 1)``, and the interval comes
  from test inversion. Shifting the treated post-period outcomes by ``tau0`` shifts the DiD by
  exactly ``tau0`` and leaves its influence-function SE unchanged, so the inverted interval is
  ``estimate ± q * se`` with ``q`` an order statistic of the placebo ``|t|`` (infinite when the
  pool is too small to ever reject at ``alpha``).
- :func:`wild_cluster_bootstrap` — WCR (restricted, null imposed) wild cluster bootstrap-t with
  Webb six-point weights for one coefficient of a weighted least-squares regression with
  dummies. Own implementation (vectorised over draws) because ``wildboottest`` gives no
  intervals, needs pyfixest fits per draw setting and is slower on cell-level data; the result
  carries ``reliable = False`` when treated clusters are fewer than ``min_treated_clusters``
  (MacKinnon & Webb 2017: WCR under-rejects, WCU over-rejects with one treated cluster).
- :func:`crv3` — the cluster jackknife of MacKinnon, Nielsen & Webb (2023, "Cluster-robust
  inference: a guide to empirical practice"): CV3 ``(G-1)/G Σ_g (β_(g) - β̂)²`` centred at the
  full-sample estimate (pyfixest's and R's CRV3 up to their small-sample factor), its variant
  CV3J centred at the mean of the ``β_(g)``, and t(G-1) critical values. Computed by refitting
  (exact, not the HC3-style block formula); undefined (NaN) when dropping a cluster removes all
  variation in the coefficient (one treated cluster).
- :func:`synthetic_did` — synthetic difference-in-differences (Arkhangelsky et al. 2021) for one
  treated unit on a unit × period panel of cell means, with in-space placebo p-values and the
  placebo standard error (the only synthdid variance valid with one treated unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

# Webb (2014) six-point distribution: ±sqrt(1/2), ±1, ±sqrt(3/2) with equal probability.
WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(frozen=True)
class RiResult:
    """Randomization inference on the t-statistic."""

    p_value: float
    floor: float
    ci_low: float
    ci_high: float
    q: float
    n_placebos: int


def ri_order_index(n_placebos: int, alpha: float) -> int:
    """Smallest number c of placebos with |t_j| >= |t| for which (1 + c)/(J + 1) > alpha.

    ``1 + c > alpha (J + 1)`` holds from ``c = floor(alpha (J + 1))`` on, also when
    ``alpha (J + 1)`` is an integer (39 placebos at alpha 0.05: c = 2, not 1, else the interval
    is a 97.5% one). The small tolerance absorbs rounding in ``alpha * (J + 1)`` (0.05 * 40).
    """
    return max(0, math.floor(alpha * (n_placebos + 1) + 1e-9))


def ri_t_test(estimate: float, se: float, placebo_t: np.ndarray, alpha: float) -> RiResult:
    """Exact RI p-value of the t-statistic and its test-inversion interval.

    Parameters
    ----------
    estimate, se : float
        The treated unit's estimate and its (influence-function) standard error.
    placebo_t : array
        t-statistics of the same estimator with each placebo municipality labelled treated.
    alpha : float
        1 - confidence level.
    """
    t_abs = np.sort(np.abs(np.asarray(placebo_t, float)[np.isfinite(placebo_t)]))[::-1]
    J = t_abs.size
    t0 = abs(estimate / se) if se > 0 else np.inf
    p = (1 + int(np.sum(t_abs >= t0))) / (J + 1)
    k = ri_order_index(J, alpha)
    # tau0 stays in the set while at least k placebos are as extreme: |t(tau0)| <= k-th largest.
    q = float(t_abs[k - 1]) if 0 < k <= J else np.inf
    return RiResult(
        p_value=p,
        floor=1 / (J + 1),
        ci_low=estimate - q * se,
        ci_high=estimate + q * se,
        q=q,
        n_placebos=J,
    )


@dataclass(frozen=True)
class WildResult:
    """Wild cluster bootstrap-t (WCR, Webb weights) for one coefficient."""

    estimate: float
    t_stat: float
    p_value: float
    draws: int
    n_clusters: int
    n_treated_clusters: int
    reliable: bool


def absorb_within(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted within-group demeaning of X and y (fixed effects nested in the clusters).

    Partialling out cluster-nested fixed effects leaves CRV1, CRV3 and the wild cluster
    bootstrap unchanged (MacKinnon, Nielsen & Webb 2023) and makes every refit small.
    """
    _, inv = np.unique(groups, return_inverse=True)
    wsum = np.bincount(inv, weights=w)
    Xm = (
        np.column_stack([np.bincount(inv, weights=w * X[:, j]) for j in range(X.shape[1])])
        / wsum[:, None]
    )
    ym = np.bincount(inv, weights=w * y) / wsum
    Xd = X - Xm[inv]
    keep = np.max(np.abs(Xd), axis=0) > 1e-12
    return Xd[:, keep], y - ym[inv]


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and the matrix Q = (X'WX)^+ X'W (so beta = Q y)."""
    XtW = X.T * w
    Q = np.linalg.pinv(XtW @ X, hermitian=True) @ XtW
    return Q @ y, Q


class ClusterSums:
    """Sums of rows within clusters, by sorting once and adding contiguous runs.

    Why not the G x n 0/1 indicator matrix times the rows: for the wild bootstrap's n x draws
    residuals that product costs G x n x draws multiply-adds (342 municipalities x 12,000 cells x
    999 draws: seconds per call, most of it multiplying by zero); ``np.add.reduceat`` over rows
    sorted by cluster adds each row once.
    """

    def __init__(self, code: np.ndarray) -> None:
        self.order = np.argsort(code, kind="stable")
        self.sorted = bool(np.all(np.diff(code) >= 0))
        self.starts = np.flatnonzero(np.r_[True, np.diff(code[self.order]) != 0])

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """(clusters x columns) sums of ``rows`` (n x columns), clusters in code order."""
        return np.add.reduceat(rows if self.sorted else rows[self.order], self.starts, axis=0)


def _wls_coefficients(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The coefficients of :func:`_wls` without forming Q: (X'WX)^+ (X'W y) costs one k x n
    product instead of two (the CRV3 jackknife refits once per cluster); equal up to rounding."""
    XtW = X.T * w
    return np.linalg.pinv(XtW @ X, hermitian=True) @ (XtW @ y)


def _crv1_se(Q_row: np.ndarray, resid: np.ndarray, sums: ClusterSums, G: int, n: int, k: int):
    """CRV1 standard error(s) of one coefficient for residual column(s) ``resid``."""
    scores = sums(Q_row[:, None] * resid.reshape(n, -1))
    ssc = G / (G - 1) * (n - 1) / max(n - k, 1)
    return np.sqrt(ssc * np.sum(scores**2, axis=0))


def _bootstrap_se(
    Q: np.ndarray,
    X: np.ndarray,
    fitted_r: np.ndarray,
    u_r: np.ndarray,
    v: np.ndarray,
    column: int,
    sums: ClusterSums,
) -> tuple[np.ndarray, np.ndarray]:
    """CRV1 standard errors of ``column`` and the coefficients (k x draws) of every draw
    y* = fitted_r + u_r * v[cluster], from cluster sums instead of n x draws arrays.

    Why: one weight per cluster makes every quantity of a draw a linear map of the G weights,
    b* = Q fitted_r + P v with P = the cluster sums of Q * u_r, and the cluster scores of the
    draw's residuals y* - X b* are A + B v - C b* (A, B, C: cluster sums of q fitted_r, q u_r
    and q X, q = row ``column`` of Q). That costs k x G x draws instead of three k x n x draws
    products (n = 12,000 municipality-quarter cells, 999 draws). Equal to the residual form
    up to rounding; the p-value counts |t*| >= |t| and moves only at exact ties.
    """
    n, k = X.shape
    q = Q[column]
    totals = sums(np.column_stack([q * fitted_r, q * u_r, q[:, None] * X, Q.T * u_r[:, None]]))
    A, B, C, P = totals[:, 0], totals[:, 1], totals[:, 2 : 2 + k], totals[:, 2 + k :]
    b_star = (Q @ fitted_r)[:, None] + P.T @ v
    scores = A[:, None] + B[:, None] * v - C @ b_star
    G = v.shape[0]
    ssc = G / (G - 1) * (n - 1) / max(n - k, 1)
    return np.sqrt(ssc * np.sum(scores**2, axis=0)), b_star


def wild_cluster_bootstrap(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    cluster: np.ndarray,
    column: int,
    *,
    treated_clusters: int,
    draws: int = 999,
    seed: int = 0,
    min_treated_clusters: int = 5,
) -> WildResult:
    """WCR wild cluster bootstrap-t of H0: beta[column] = 0 with Webb weights.

    ``X`` includes every dummy (fixed effects as explicit columns; fine for cell-level data).
    The null is imposed by dropping the column, the restricted residuals are multiplied by one
    Webb weight per cluster, and the bootstrap t uses the CRV1 SE of each draw.
    """
    n, k = X.shape
    codes, cl = np.unique(cluster, return_inverse=True)
    G = codes.size
    sums = ClusterSums(cl)
    beta, Q = _wls(X, y, w)
    resid = y - X @ beta
    se = float(_crv1_se(Q[column], resid, sums, G, n, k)[0])
    t_stat = beta[column] / se
    X_r = np.delete(X, column, axis=1)
    beta_r, _ = _wls(X_r, y, w)
    fitted_r = X_r @ beta_r
    u_r = y - fitted_r
    rng = np.random.default_rng(seed)
    v = rng.choice(WEBB, size=(G, draws))
    se_star, b_star = _bootstrap_se(Q, X, fitted_r, u_r, v, column, sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = b_star[column] / se_star
    p = float(np.mean(np.abs(t_star) >= abs(t_stat)))
    return WildResult(
        estimate=float(beta[column]),
        t_stat=float(t_stat),
        p_value=p,
        draws=draws,
        n_clusters=G,
        n_treated_clusters=treated_clusters,
        reliable=treated_clusters >= min_treated_clusters,
    )


CV3_LABEL = (
    "CV3 cluster jackknife (MacKinnon-Nielsen-Webb 2023): leave-one-municipality-out refits "
    "centred at the full-sample estimate, t(G-1) interval"
)


@dataclass(frozen=True)
class JackknifeResult:
    """CV3 / CV3J cluster-jackknife inference for one coefficient (MNW 2023, eqs. 18-19)."""

    estimate: float
    se: float  # CV3: centred at the full-sample estimate (the recommended variant)
    se_cv3j: float  # CV3J: centred at the mean of the leave-one-cluster-out estimates
    n_clusters: int
    ci_low: float
    ci_high: float
    p_value: float


def crv3(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    cluster: np.ndarray,
    column: int,
    alpha: float = 0.05,
) -> JackknifeResult:
    """CV3 cluster-jackknife SE, t(G-1) interval and p-value of one WLS coefficient.

    Standard errors, interval and p-value are NaN when some leave-one-out fit cannot identify the
    coefficient (its column is all zero once the cluster is dropped, e.g. the only treated
    cluster).
    """
    beta, _ = _wls(X, y, w)
    estimate = float(beta[column])
    # Integer cluster codes: comparing every row's municipality string per left-out cluster
    # cost as much as the refits.
    codes, code = np.unique(cluster, return_inverse=True)
    G = codes.size
    nan = float("nan")
    undefined = JackknifeResult(estimate, nan, nan, G, nan, nan, nan)
    loo = []
    for g in range(G):
        keep = code != g
        if not np.any(X[keep, column] != 0) or np.ptp(X[keep, column]) == 0:
            return undefined
        loo.append(_wls_coefficients(X[keep], y[keep], w[keep])[column])
    loo_arr = np.asarray(loo)
    se = float(np.sqrt((G - 1) / G * np.sum((loo_arr - estimate) ** 2)))
    se_j = float(np.sqrt((G - 1) / G * np.sum((loo_arr - loo_arr.mean()) ** 2)))
    crit = float(student_t.ppf(1 - alpha / 2, G - 1))
    p = float(2 * student_t.sf(abs(estimate / se), G - 1)) if se > 0 else float("nan")
    return JackknifeResult(estimate, se, se_j, G, estimate - crit * se, estimate + crit * se, p)


def _simplex_projection(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    rho = np.flatnonzero(u * np.arange(1, v.size + 1) > css - 1)[-1]
    return np.maximum(v - (css[rho] - 1) / (rho + 1), 0)


def simplex_ls(A: np.ndarray, b: np.ndarray, ridge: float, iters: int = 3000) -> np.ndarray:
    """min_w ||A w - b||² + ridge ||w||² over the simplex (accelerated projected gradient)."""
    k = A.shape[1]
    L = 2 * (np.linalg.norm(A, 2) ** 2 + ridge)
    w = np.full(k, 1.0 / k)
    if L == 0:  # A = 0 and no ridge (donors all equal before, small runs): every w is optimal
        return w
    z, t = w.copy(), 1.0
    for _ in range(iters):
        grad = 2 * (A.T @ (A @ z - b) + ridge * z)
        w_new = _simplex_projection(z - grad / L)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = w_new + (t - 1) / t_new * (w_new - w)
        if np.max(np.abs(w_new - w)) < 1e-10:
            w = w_new
            break
        w, t = w_new, t_new
    return w


def sdid_estimate(Y: np.ndarray, treated: int, pre: np.ndarray) -> float:
    """Synthetic DiD for one treated row of a unit × period matrix of outcomes.

    Unit weights with intercept and ridge ζ² T_pre (ζ = (T_post)^(1/4) σ, σ = SD of control
    first differences, Arkhangelsky et al. 2021 eq. 2.2), time weights with intercept and a tiny
    ridge; intercepts are removed by demeaning.
    """
    controls = np.delete(np.arange(Y.shape[0]), treated)
    Yc, yt = Y[controls], Y[treated]
    post = ~pre
    sigma = np.std(np.diff(Yc[:, pre], axis=1), ddof=1)
    zeta = post.sum() ** 0.25 * sigma
    A = Yc[:, pre].T  # pre periods x controls
    A = A - A.mean(axis=0)
    b = yt[pre] - yt[pre].mean()
    omega = simplex_ls(A, b, ridge=zeta**2 * pre.sum())
    B = Yc[:, pre]  # controls x pre periods
    target = Yc[:, post].mean(axis=1)
    B = B - B.mean(axis=0)
    lam = simplex_ls(B, target - target.mean(), ridge=1e-6 * sigma**2 * Yc.shape[0])
    treated_diff = yt[post].mean() - lam @ yt[pre]
    control_diff = omega @ (Yc[:, post].mean(axis=1) - Yc[:, pre] @ lam)
    return float(treated_diff - control_diff)


@dataclass(frozen=True)
class SdidResult:
    """Synthetic DiD estimate with in-space placebo inference."""

    estimate: float
    se: float
    p_value: float
    floor: float
    n_placebos: int
    n_donors: int


def synthetic_did(
    Y: np.ndarray, treated: int, pre: np.ndarray, placebos: np.ndarray, donors: np.ndarray
) -> SdidResult:
    """SDID for row ``treated`` with ``donors`` as controls; placebos re-run it on donor rows.

    Each placebo treats one pool municipality as treated with the other donors as controls
    (the real treated unit excluded). ``se`` is the SD of the placebo estimates (synthdid's
    "placebo" variance), ``p_value`` the in-space placebo rank p-value.
    """
    rows = np.concatenate([[treated], donors])
    est = sdid_estimate(Y[rows], 0, pre)
    taus = []
    for j in placebos:
        others = donors[donors != j]
        taus.append(sdid_estimate(Y[np.concatenate([[j], others])], 0, pre))
    tau = np.asarray(taus)
    J = tau.size
    p = (1 + int(np.sum(np.abs(tau) >= abs(est)))) / (J + 1)
    se = float(np.std(tau)) if J > 1 else float("nan")  # synthdid: sqrt((J-1)/J) sd
    return SdidResult(
        estimate=est, se=se, p_value=p, floor=1 / (J + 1), n_placebos=J, n_donors=donors.size
    )
