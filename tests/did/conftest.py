"""Shared fixtures for the DiD engine tests: the mpdta example panel and reference runners."""

from __future__ import annotations

import contextlib
import io
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def mpdta() -> pd.DataFrame:
    """R did's mpdta (500 US counties, 2003-2007), as shipped with moderndid."""
    path = resources.files("moderndid") / "core" / "datasets" / "mpdta_long.pkl.gz"
    data = pd.read_pickle(path)
    rng = np.random.default_rng(7)
    counties = data["countyreal"].unique()
    # Time-invariant sampling weights and a state-like cluster for the weighted/clustered cases.
    weight = pd.Series(rng.uniform(0.5, 2.0, counties.size), index=counties)
    data["w"] = data["countyreal"].map(weight)
    data["state"] = data["countyreal"] // 1000
    return data


@pytest.fixture(scope="session")
def csdid_reference():
    """The csdid runner (a fixture so test modules need no package imports)."""
    return run_csdid


def run_csdid(
    data: pd.DataFrame,
    *,
    panel: bool,
    method: str,
    control: str,
    covariates: list[str] | None,
    base_period: str = "varying",
    anticipation: int = 0,
    weights: str | None = None,
    kinds=("simple", "dynamic", "group", "calendar"),
):
    """Fit csdid (a port of R did 2.5.1) and return cell and aggregate estimates (analytic SEs)."""
    from csdid.att_gt import ATTgt

    xformla = None if not covariates else "lemp~" + "+".join(covariates)
    idname = "countyreal"
    if not panel:
        # csdid (like R) treats each row as its own sampling unit in cross-sections.
        data = data.assign(obs_id=np.arange(len(data)))
        idname = "obs_id"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit = ATTgt(
            yname="lemp",
            tname="year",
            idname=idname,
            gname="first.treat",
            data=data.copy(),
            xformla=xformla,
            panel=panel,
            control_group=["nevertreated" if control == "never" else "notyettreated"],
            anticipation=anticipation,
            weights_name=weights,
            cband=False,
        ).fit(est_method=method, base_period=base_period, bstrap=False)
        out = {
            "cells": pd.DataFrame(
                {
                    "group": fit.results["group"],
                    "time": fit.results["year"],
                    "att": fit.results["att"],
                    "se": fit.results["se"],
                }
            )
        }
        for kind in kinds:
            fit.aggte(typec=kind, bstrap=False, cband=False)
            agg = fit.atte
            out[kind] = {
                "overall_att": agg["overall_att"],
                "overall_se": agg["overall_se"],
                "att": np.asarray(
                    agg.get("att_egt") if agg.get("att_egt") is not None else [], float
                ).ravel(),
                "se": np.asarray(
                    agg.get("se_egt") if agg.get("se_egt") is not None else [], float
                ).ravel(),
                "levels": np.asarray(
                    agg.get("egt") if agg.get("egt") is not None else [], float
                ).ravel(),
            }
    return out


@pytest.fixture(scope="session")
def moderndid_reference():
    """The moderndid runner, used where csdid departs from R DRDID (see test_did_parity)."""
    return run_moderndid


def run_moderndid(
    data: pd.DataFrame,
    *,
    panel: bool,
    method: str,
    control: str,
    covariates: list[str] | None,
    base_period: str = "varying",
    anticipation: int = 0,
    weights: str | None = None,
    kinds=("simple", "dynamic", "group", "calendar"),
):
    """Fit moderndid 0.0.3 (analytic SEs) and return estimates in run_csdid's layout."""
    import moderndid

    idname = "countyreal"
    if not panel:
        data = data.assign(obs_id=np.arange(len(data)))
        idname = "obs_id"
    xformla = "~" + "+".join(covariates) if covariates else None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit = moderndid.att_gt(
            data,
            yname="lemp",
            tname="year",
            idname=idname,
            gname="first.treat",
            xformla=xformla,
            panel=panel,
            weightsname=weights,
            bstrap=False,
            cband=False,
            est_method=method,
            anticipation=anticipation,
            base_period=base_period,
            control_group="nevertreated" if control == "never" else "notyettreated",
        )
        out = {
            "source": "moderndid",
            "cells": pd.DataFrame(
                {"group": fit.groups, "time": fit.times, "att": fit.att_gt, "se": fit.se_gt}
            ),
        }
        for kind in kinds:
            agg = moderndid.aggte(fit, type=kind, bstrap=False, cband=False)
            empty = np.array([])
            out[kind] = {
                "overall_att": agg.overall_att,
                "overall_se": agg.overall_se,
                "att": np.asarray(agg.att_by_event if kind != "simple" else empty, float),
                "se": np.asarray(agg.se_by_event if kind != "simple" else empty, float),
                "levels": np.asarray(agg.event_times if kind != "simple" else empty, float),
            }
    return out


def simulate_staggered(
    units: int = 2000,
    periods: int = 6,
    seed: int = 0,
    *,
    effect: float = 1.0,
    slope: float = 0.5,
    x_trend: float = 0.3,
    cross_section: bool = False,
) -> pd.DataFrame:
    """Staggered panel with planted effects ATT(g,t) = effect + slope * (t - g) for t >= g.

    The covariate shifts both adoption timing and outcome trends, so unconditional parallel
    trends fail while conditional ones hold.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=units)
    cohorts = np.arange(3, periods + 1)
    p_treated = 1 / (1 + np.exp(-(0.5 * x)))
    treated = rng.random(units) < 0.7 * p_treated
    group = np.where(treated, rng.choice(cohorts, size=units), 0).astype(float)
    t = np.arange(1, periods + 1)
    y = (
        rng.normal(size=units)[:, None]
        + 0.2 * t[None, :]
        + x_trend * x[:, None] * t[None, :]
        + rng.normal(size=(units, periods))
    )
    event = t[None, :] - group[:, None]
    on = (group[:, None] > 0) & (event >= 0)
    y = y + np.where(on, effect + slope * event, 0.0)
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(units), periods),
            "t": np.tile(t, units),
            "y": y.ravel(),
            "g": np.repeat(group, periods),
            "x": np.repeat(x, periods),
            "cl": np.repeat(np.arange(units) % 40, periods),
        }
    )
    if cross_section:
        # One period per person: a fresh draw of people each period.
        keep = rng.integers(0, periods, size=units)
        frame = frame[frame["t"].to_numpy() == np.repeat(keep + 1, periods)].reset_index(drop=True)
    return frame


def true_event_effects(data: pd.DataFrame, effect: float = 1.0, slope: float = 0.5) -> dict:
    """Population event-time effects of simulate_staggered (homogeneous across cohorts)."""
    return {e: effect + slope * e for e in range(0, int(data["t"].max()) - 2)}


@pytest.fixture(scope="session")
def staggered():
    return simulate_staggered
