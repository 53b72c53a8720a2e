"""Two-by-two DiD estimators with influence functions (Sant'Anna & Zhao 2020, as in R DRDID).

Why our own code: R `did` delegates each ATT(g,t) to DRDID's ``drdid_panel``, ``std_ipw_did_panel``,
``reg_did_panel``, ``drdid_rc``, ``std_ipw_did_rc`` and ``reg_did_rc``. The Python ports (csdid's
drdid, moderndid) fit every propensity score and regression through statsmodels GLM objects,
which dominates their run time and memory on large data. Here each estimator is a handful of
vectorised numpy operations on the cell's arrays: a Newton logit on the normal equations and
weighted least squares via a k x k solve (k = number of covariates + 1, small).

Every function takes the cell's data (``D`` treated indicator, ``X`` design matrix with an
intercept column, ``w`` sampling weights) and returns ``(att, influence)`` where ``influence``
has one entry per cell observation and is scaled like DRDID's (``att_hat - att ≈ mean(influence)``).
Formulas follow DRDID 1.2 line by line, including its propensity-score trimming of controls
with ``ps >= 0.995``.
"""

from __future__ import annotations

import numpy as np

from inburgering.did.errors import DidError

TRIM_LEVEL = 0.995
_EPS = np.finfo(float).eps


def logit(D: np.ndarray, X: np.ndarray, w: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson; return (fitted p, inverse Hessian * n).

    The returned matrix equals ``vcov(glm) * n`` of R's ``glm(..., family=binomial, weights=w)``.
    """
    n, k = X.shape
    if k == 1:
        # Intercept-only: closed form, exact (the common unconditional case).
        p_hat = float(np.sum(w * D) / np.sum(w))
        p = np.full(n, p_hat)
        hess = np.array([[np.sum(w * p * (1 - p))]])
        return p, np.linalg.inv(hess) * n
    beta = np.zeros(k)
    p_bar = np.sum(w * D) / np.sum(w)
    beta[0] = np.log(p_bar / (1 - p_bar))
    converged = False
    for _ in range(100):
        eta = X @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        W = w * p * (1 - p)
        hess = (X * W[:, None]).T @ X
        grad = X.T @ (w * (D - p))
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as exc:
            raise DidError(
                f"{where}: propensity-score model is singular (collinear covariates?)"
            ) from exc
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            converged = True
            break
    if not converged or not np.all(np.isfinite(beta)):
        raise DidError(
            f"{where}: propensity-score logit did not converge (perfect separation or overlap "
            "violation); drop or coarsen covariates"
        )
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    W = w * p * (1 - p)
    hess = (X * W[:, None]).T @ X
    return p, np.linalg.inv(hess) * n


def wls(y: np.ndarray, X: np.ndarray, w: np.ndarray, where: str) -> np.ndarray:
    """Weighted least squares coefficients; refuse rank-deficient designs like R did does."""
    xtx = (X * w[:, None]).T @ X
    if X.shape[0] == 0 or np.linalg.cond(xtx) > 1 / _EPS:
        raise DidError(
            f"{where}: outcome regression on the comparison units is rank deficient "
            "(too few comparison units or collinear covariates)"
        )
    return np.linalg.solve(xtx, (X * w[:, None]).T @ y)


def _asy_ols(resid: np.ndarray, X: np.ndarray, wsel: np.ndarray) -> np.ndarray:
    """Asymptotic linear representation of a WLS fit on the rows where wsel > 0 (n x k)."""
    n = X.shape[0]
    gram = (X * wsel[:, None]).T @ X / n
    return (X * (wsel * resid)[:, None]) @ np.linalg.inv(gram)


def _pscore(
    D: np.ndarray, X: np.ndarray, w: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray]:
    p, hinv = logit(D, X, w, where)
    if np.max(p) >= 0.999:
        # R did sets such cells to NA with a warning; we stop instead of returning NaN.
        raise DidError(
            f"{where}: overlap violated — estimated propensity score reaches {np.max(p):.4f}"
        )
    p = np.minimum(p, 1 - 1e-6)
    return p, hinv


def panel_pscore(
    D: np.ndarray, X: np.ndarray, w: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """The propensity score the panel estimators fit (weights normalised as they do): cells
    with the same units and covariates (one cohort against never-treated units, time-invariant
    covariates) share it, so ``att_gt`` fits it once and passes it as ``pscore``."""
    return _pscore(D, X, w / w.mean(), where)


def _trim(D: np.ndarray, p: np.ndarray) -> np.ndarray:
    keep = np.ones_like(p)
    keep[D == 0] = p[D == 0] < TRIM_LEVEL
    return keep


# ---------------------------------------------------------------------------- panel estimators


def dr_panel(dy, D, X, w, where="2x2", pscore=None):
    """Doubly robust DiD for panel data (DRDID::drdid_panel); ``pscore``: see panel_pscore."""
    w = w / w.mean()
    n = D.size
    p, hinv = _pscore(D, X, w, where) if pscore is None else pscore
    trim = _trim(D, p)
    ctrl = 1.0 - D
    beta = wls(dy[D == 0], X[D == 0], w[D == 0], where)
    out = X @ beta
    w_t = trim * w * D
    w_c = trim * w * p * ctrl / (1 - p)
    resid = dy - out
    att_t = w_t * resid
    att_c = w_c * resid
    eta_t = att_t.mean() / w_t.mean()
    eta_c = att_c.mean() / w_c.mean()
    asy_ols = _asy_ols(resid, X, w * ctrl)
    asy_ps = (X * (w * (D - p))[:, None]) @ hinv
    inf_t = (att_t - w_t * eta_t - asy_ols @ (w_t @ X / n)) / w_t.mean()
    m2 = ((att_c - w_c * eta_c) @ X) / n
    inf_c = (att_c - w_c * eta_c + asy_ps @ m2 - asy_ols @ (w_c @ X / n)) / w_c.mean()
    return eta_t - eta_c, inf_t - inf_c


def ipw_panel(dy, D, X, w, where="2x2", pscore=None):
    """Normalised (Hajek) IPW DiD for panel data (DRDID::std_ipw_did_panel); ``pscore``: see
    panel_pscore."""
    w = w / w.mean()
    n = D.size
    p, hinv = _pscore(D, X, w, where) if pscore is None else pscore
    trim = _trim(D, p)
    w_t = trim * w * D
    w_c = trim * w * p * (1 - D) / (1 - p)
    eta_t = w_t * dy / w_t.mean()
    eta_c = w_c * dy / w_c.mean()
    att_t, att_c = eta_t.mean(), eta_c.mean()
    asy_ps = (X * (w * (D - p))[:, None]) @ hinv
    inf_t = eta_t - w_t * att_t / w_t.mean()
    inf_c = eta_c - w_c * att_c / w_c.mean()
    mom = ((w_c * (dy - att_c)) @ X / n) / w_c.mean()
    return att_t - att_c, inf_t - (inf_c + asy_ps @ mom)


def reg_panel(dy, D, X, w, where="2x2"):
    """Outcome-regression DiD for panel data (DRDID::reg_did_panel)."""
    w = w / w.mean()
    n = D.size
    beta = wls(dy[D == 0], X[D == 0], w[D == 0], where)
    out = X @ beta
    w_t = w * D
    w_c = w * D
    att_t = w_t * dy
    att_c = w_c * out
    eta_t = att_t.mean() / w_t.mean()
    eta_c = att_c.mean() / w_c.mean()
    asy_ols = _asy_ols(dy - out, X, w * (1 - D))
    inf_t = (att_t - w_t * eta_t) / w_t.mean()
    inf_c = (att_c - w_c * eta_c + asy_ols @ (w_c @ X / n)) / w_c.mean()
    return eta_t - eta_c, inf_t - inf_c


# ---------------------------------------------------------------- repeated cross-section estimators


def _fit_group_period(y, X, w, mask, where):
    beta = wls(y[mask], X[mask], w[mask], where)
    out = X @ beta
    return out, _asy_ols(y - out, X, w * mask)


def dr_rc(y, post, D, X, w, where="2x2"):
    """Locally efficient doubly robust DiD for repeated cross-sections (DRDID::drdid_rc)."""
    w = w / w.mean()
    n = D.size
    pre = 1.0 - post
    ctrl = 1.0 - D
    p, hinv = _pscore(D, X, w, where)
    trim = _trim(D, p)
    out_c_pre, asy_c_pre = _fit_group_period(y, X, w, (ctrl * pre) > 0, where)
    out_c_post, asy_c_post = _fit_group_period(y, X, w, (ctrl * post) > 0, where)
    out_t_pre, asy_t_pre = _fit_group_period(y, X, w, (D * pre) > 0, where)
    out_t_post, asy_t_post = _fit_group_period(y, X, w, (D * post) > 0, where)
    out_c = post * out_c_post + pre * out_c_pre

    w_t_pre = trim * w * D * pre
    w_t_post = trim * w * D * post
    odds = p / (1 - p)
    w_c_pre = trim * w * odds * ctrl * pre
    w_c_post = trim * w * odds * ctrl * post
    w_d = trim * w * D
    w_dt1 = w_t_post
    w_dt0 = w_t_pre

    def eta(wt, v):
        return wt * v / wt.mean()

    r = y - out_c
    e_t_pre, e_t_post = eta(w_t_pre, r), eta(w_t_post, r)
    e_c_pre, e_c_post = eta(w_c_pre, r), eta(w_c_post, r)
    d_post = out_t_post - out_c_post
    d_pre = out_t_pre - out_c_pre
    e_d_post, e_dt1 = eta(w_d, d_post), eta(w_dt1, d_post)
    e_d_pre, e_dt0 = eta(w_d, d_pre), eta(w_dt0, d_pre)
    a_t_pre, a_t_post = e_t_pre.mean(), e_t_post.mean()
    a_c_pre, a_c_post = e_c_pre.mean(), e_c_post.mean()
    a_d_post, a_dt1 = e_d_post.mean(), e_dt1.mean()
    a_d_pre, a_dt0 = e_d_pre.mean(), e_dt0.mean()
    att = (a_t_post - a_t_pre) - (a_c_post - a_c_pre) + (a_d_post - a_dt1) - (a_d_pre - a_dt0)

    asy_ps = (X * (w * (D - p))[:, None]) @ hinv

    def mean_x(v):
        return v @ X / n

    inf_t_pre = e_t_pre - w_t_pre * a_t_pre / w_t_pre.mean()
    inf_t_post = e_t_post - w_t_post * a_t_post / w_t_post.mean()
    inf_t_or = asy_c_post @ (-mean_x(w_t_post * post) / w_t_post.mean()) + asy_c_pre @ (
        -mean_x(w_t_pre * pre) / w_t_pre.mean()
    )
    inf_treat = inf_t_post - inf_t_pre + inf_t_or

    inf_c_pre = e_c_pre - w_c_pre * a_c_pre / w_c_pre.mean()
    inf_c_post = e_c_post - w_c_post * a_c_post / w_c_post.mean()
    m_pre = mean_x(w_c_pre * (r - a_c_pre)) / w_c_pre.mean()
    m_post = mean_x(w_c_post * (r - a_c_post)) / w_c_post.mean()
    inf_c_ps = asy_ps @ (m_post - m_pre)
    inf_c_or = asy_c_post @ (-mean_x(w_c_post * post) / w_c_post.mean()) + asy_c_pre @ (
        -mean_x(w_c_pre * pre) / w_c_pre.mean()
    )
    inf_cont = inf_c_post - inf_c_pre + inf_c_ps + inf_c_or

    inf_eff = (e_d_post - w_d * a_d_post / w_d.mean()) - (e_dt1 - w_dt1 * a_dt1 / w_dt1.mean())
    inf_eff -= (e_d_pre - w_d * a_d_pre / w_d.mean()) - (e_dt0 - w_dt0 * a_dt0 / w_dt0.mean())
    mom_post = mean_x(w_d / w_d.mean() - w_dt1 / w_dt1.mean())
    mom_pre = mean_x(w_d / w_d.mean() - w_dt0 / w_dt0.mean())
    inf_or = (asy_t_post - asy_c_post) @ mom_post - (asy_t_pre - asy_c_pre) @ mom_pre
    return att, inf_treat - inf_cont + inf_eff + inf_or


def ipw_rc(y, post, D, X, w, where="2x2"):
    """Normalised IPW DiD for repeated cross-sections (DRDID::std_ipw_did_rc)."""
    w = w / w.mean()
    n = D.size
    pre = 1.0 - post
    p, hinv = _pscore(D, X, w, where)
    trim = _trim(D, p)
    odds = p / (1 - p)
    ws = {
        "t_pre": trim * w * D * pre,
        "t_post": trim * w * D * post,
        "c_pre": trim * w * odds * (1 - D) * pre,
        "c_post": trim * w * odds * (1 - D) * post,
    }
    eta = {k: v * y / v.mean() for k, v in ws.items()}
    a = {k: v.mean() for k, v in eta.items()}
    att = (a["t_post"] - a["t_pre"]) - (a["c_post"] - a["c_pre"])
    inf = {k: eta[k] - ws[k] * a[k] / ws[k].mean() for k in ws}
    asy_ps = (X * (w * (D - p))[:, None]) @ hinv
    m_pre = (ws["c_pre"] * (y - a["c_pre"])) @ X / n / ws["c_pre"].mean()
    m_post = (ws["c_post"] * (y - a["c_post"])) @ X / n / ws["c_post"].mean()
    inf_treat = inf["t_post"] - inf["t_pre"]
    inf_cont = inf["c_post"] - inf["c_pre"] + asy_ps @ (m_post - m_pre)
    return att, inf_treat - inf_cont


def reg_rc(y, post, D, X, w, where="2x2"):
    """Outcome-regression DiD for repeated cross-sections (DRDID::reg_did_rc)."""
    w = w / w.mean()
    n = D.size
    pre = 1.0 - post
    ctrl = 1.0 - D
    out_pre, asy_pre = _fit_group_period(y, X, w, (ctrl * pre) > 0, where)
    out_post, asy_post = _fit_group_period(y, X, w, (ctrl * post) > 0, where)
    w_t_pre = w * D * pre
    w_t_post = w * D * post
    w_c = w * D
    r_t_pre = w_t_pre * y
    r_t_post = w_t_post * y
    r_c = w_c * (out_post - out_pre)
    eta_t_pre = r_t_pre.mean() / w_t_pre.mean()
    eta_t_post = r_t_post.mean() / w_t_post.mean()
    eta_c = r_c.mean() / w_c.mean()
    att = eta_t_post - eta_t_pre - eta_c
    inf_t = (r_t_post - w_t_post * eta_t_post) / w_t_post.mean() - (
        r_t_pre - w_t_pre * eta_t_pre
    ) / w_t_pre.mean()
    deriv = w_c @ X / n
    inf_c = (r_c - w_c * eta_c + asy_post @ deriv - asy_pre @ deriv) / w_c.mean()
    return att, inf_t - inf_c


PANEL_ESTIMATORS = {"dr": dr_panel, "ipw": ipw_panel, "reg": reg_panel}
RC_ESTIMATORS = {"dr": dr_rc, "ipw": ipw_rc, "reg": reg_rc}
