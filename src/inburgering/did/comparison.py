"""Comparison event-study estimators from pyfixest, returned in the same tidy layout as ours.

- ``twfe_event_study``: dynamic two-way fixed effects with relative-time dummies (reference
  event time -1, never-treated units all zero). Biased under staggered adoption with
  heterogeneous effects; kept as the benchmark the report shows next to the robust estimators.
- ``did2s_event_study``: Gardner's two-stage estimator (pyfixest ``did2s``) with the same dummies.
- ``sunab_event_study``: saturated cohort x event-time regression (Sun & Abraham) aggregated to
  event time with cohort-share weights (pyfixest ``event_study(estimator="saturated")``).

Relative-time dummies are built here rather than with pyfixest's ``i()`` because pyfixest's
``event_study(att=False)`` is ignored for TWFE (pyfixest issue #330) and because ``did2s`` needs
the same explicit dummies in its second stage.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pyfixest.demeaners import MapDemeaner
from scipy.stats import norm

from inburgering.did.errors import DidError

COLUMNS = ("event_time", "att", "se", "ci_low", "ci_high", "estimator")

# pyfixest's demeaning stops at its tolerance along a path that depends on Python's hash seed
# (the order of the fixed effects); at the default 1e-6 the 9th digit of standard errors changes
# between runs, at 1e-13 only the last bits do. Those last bits are fixed by the workflow's
# PYTHONHASHSEED (workflow/rules/common.smk). Every feols call passes this tolerance (the typed
# configuration; pyfixest 0.60 deprecates `fixef_tol=`).
DEMEANER = MapDemeaner(fixef_tol=1e-13)


def _name(e: int) -> str:
    return f"evt_m{-e}" if e < 0 else f"evt_p{e}"


def _with_dummies(data, time, group, ref):
    g = pd.to_numeric(data[group]).fillna(0).replace([np.inf], 0)
    treated = g > 0
    rel = np.where(treated, data[time] - g, np.nan)
    events = sorted(int(e) for e in np.unique(rel[treated.to_numpy()]) if e != ref)
    frame = data.copy()
    frame["_treat"] = (treated & (data[time] >= g)).astype(float)
    for e in events:
        frame[_name(e)] = (rel == e).astype(float)
    return frame, events


def _tidy(coef: pd.Series, se: pd.Series, events, estimator: str, alpha: float) -> pd.DataFrame:
    z = norm.ppf(1 - alpha / 2)
    rows = []
    for e in events:
        name = _name(e)
        if name not in coef.index:
            continue
        b, s = float(coef[name]), float(se[name])
        rows.append(
            {
                "event_time": e,
                "att": b,
                "se": s,
                "ci_low": b - z * s,
                "ci_high": b + z * s,
                "estimator": estimator,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _check(data, columns):
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DidError(f"comparison estimators: columns {missing} not in data")


def twfe_event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    group: str,
    unit: str,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Dynamic TWFE event study (biased benchmark): ``event_time, att, se, ci_low, ci_high``."""
    import pyfixest as pf

    _check(data, [outcome, time, group, unit])
    frame, events = _with_dummies(data, time, group, ref=-1)
    rhs = " + ".join(_name(e) for e in events)
    fit = pf.feols(
        f"{outcome} ~ {rhs} | {unit} + {time}",
        data=frame,
        vcov={"CRV1": cluster or unit},
        demeaner=DEMEANER,
    )
    return _tidy(fit.coef(), fit.se(), events, "twfe", alpha)


def did2s_event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    group: str,
    unit: str,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Gardner (2021) two-stage DiD event study via pyfixest ``did2s``."""
    import pyfixest as pf

    _check(data, [outcome, time, group, unit])
    frame, events = _with_dummies(data, time, group, ref=-1)
    times = np.sort(frame[time].unique())
    g = pd.to_numeric(frame[group]).fillna(0)
    short = sorted(set(g[(g > 0) & (g <= times[1])].tolist()))
    if short:
        # pyfixest 0.60 drops singleton fixed effects in the first stage and then fails to
        # align the GMM variance (units with one untreated period are singletons).
        raise DidError(
            f"did2s_event_study: cohorts {short} have fewer than two untreated "
            "periods; pyfixest's did2s cannot estimate their unit effects"
        )
    rhs = " + ".join(_name(e) for e in events)
    fit = pf.did2s(
        frame,
        yname=outcome,
        first_stage=f"~ 0 | {unit} + {time}",
        second_stage=f"~ {rhs}",
        treatment="_treat",
        cluster=cluster or unit,
    )
    return _tidy(fit.coef(), fit.se(), events, "did2s", alpha)


def sunab_event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    group: str,
    unit: str,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Saturated Sun & Abraham (2021) event study, aggregated to event time by cohort shares."""
    import pyfixest as pf

    _check(data, [outcome, time, group, unit])
    frame = data.copy()
    frame[group] = pd.to_numeric(frame[group]).fillna(0).replace([np.inf], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyfixest flags the saturated estimator as beta
        fit = pf.event_study(
            frame,
            yname=outcome,
            idname=unit,
            tname=time,
            gname=group,
            estimator="saturated",
            cluster=cluster or unit,
        )
        agg = fit.aggregate(agg="period", weighting="shares")
    agg = agg.reset_index()
    period = agg.columns[0]
    z = norm.ppf(1 - alpha / 2)
    out = pd.DataFrame(
        {
            "event_time": agg[period].astype(float).astype(int),
            "att": agg["Estimate"].astype(float),
            "se": agg["Std. Error"].astype(float),
        }
    )
    out["ci_low"] = out["att"] - z * out["se"]
    out["ci_high"] = out["att"] + z * out["se"]
    out["estimator"] = "sunab"
    return out.loc[:, list(COLUMNS)]
