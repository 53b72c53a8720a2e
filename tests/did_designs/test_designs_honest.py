"""HonestDiD sensitivity: identified sets against an independent LP, intervals against the
HonestDiD R package's published README example, fragility flag."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from inburgering.did.honest import (
    GRID_HALF_WIDTH_SD,
    GRID_POINTS,
    EventStudy,
    breakdown,
    flci,
    is_fragile,
    lp_bias_bounds,
    rm_bounds,
    rm_ci,
    rm_identified_set,
    sd_identified_set,
    sensitivity,
)

# Medicaid expansion and insurance coverage (ACS, state x year), the example of the HonestDiD
# README: github.com/Mixtape-Sessions/Advanced-DID, Exercises/Data/ehec_data.csv (commit 39867d0).
EHEC = Path(__file__).parent / "data" / "ehec_data.csv"

# HonestDiD 0.2.8 README (github.com/asheshrambachan/HonestDiD, commit 6813f02), printed as
# tibbles: createSensitivityResults_relativeMagnitudes (C-LF) and createSensitivityResults
# (FLCI), numPrePeriods = 5, numPostPeriods = 2, l_vec = first post-period.
README_RM = {
    "0.5": ("0.0241", "0.0673"),
    "1": ("0.0171", "0.0720"),
    "1.5": ("0.00859", "0.0796"),
    "2": ("-0.00107", "0.0883"),
}
README_SD = {
    "0": ("0.0259", "0.0607"),
    "0.01": ("0.0132", "0.0787"),
    "0.02": ("0.00286", "0.0907"),
    "0.03": ("-0.00714", "0.101"),
    "0.04": ("-0.0171", "0.111"),
    "0.05": ("-0.0271", "0.121"),
}


def _half_unit(printed: str) -> float:
    """Half a unit in the last printed digit (the rounding of the published number)."""
    return 0.5 * 10.0 ** Decimal(printed).as_tuple().exponent


@pytest.fixture(scope="module")
def medicaid_event_study() -> EventStudy:
    """The README's TWFE event study: 2014 adopters vs never, years < 2016, reference 2013,
    CRV1 by state (pyfixest's defaults match fixest's small-sample corrections)."""
    df = pd.read_csv(EHEC)
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    years = [y for y in sorted(df["year"].unique()) if y != 2013]
    for y in years:
        df[f"D_{y}"] = ((df["year"] == y) & (df["yexp2"] == 2014)).astype(float)
    fml = "dins ~ " + " + ".join(f"D_{y}" for y in years) + " | stfips + year"
    fit = pf.feols(fml, data=df, vcov={"CRV1": "stfips"})
    return EventStudy(np.array([y - 2014 for y in years]), fit.coef().to_numpy(), fit._vcov)


def test_relative_magnitudes_interval_reproduces_honestdid_readme(medicaid_event_study):
    es = medicaid_event_study
    # The C-LF set is read off R's theta grid and its least-favourable critical value is
    # simulated (1,000 draws, another generator than R's): endpoints agree to about a grid step.
    sd_theta = np.sqrt(es.vcov[es.event_time == 0][0][es.event_time == 0][0])
    step = 2 * GRID_HALF_WIDTH_SD * sd_theta / (GRID_POINTS - 1)
    for mbar, printed in README_RM.items():
        ours = rm_ci(es, float(mbar), 0.05, target=np.array([1.0, 0.0]))
        for value, text in zip(ours, printed, strict=True):
            assert abs(value - float(text)) <= 2 * step + _half_unit(text), (mbar, ours, printed)
    # The README's reading: significant up to Mbar = 1.5, overturned at Mbar = 2.
    assert rm_ci(es, 1.5, 0.05, target=np.array([1.0, 0.0]))[0] > 0
    assert rm_ci(es, 2.0, 0.05, target=np.array([1.0, 0.0]))[0] <= 0


def test_smoothness_flci_reproduces_honestdid_readme(medicaid_event_study):
    es = medicaid_event_study
    for m, printed in README_SD.items():
        ours = flci(es, float(m), 0.05, target=np.array([1.0, 0.0]))
        for value, text in zip(ours, printed, strict=True):
            assert abs(value - float(text)) <= 1e-4 + _half_unit(text), (m, ours, printed)


def test_flci_uses_every_pre_period(medicaid_event_study):
    """Under smoothness the FLCI weighs all pre-periods, not only the slope at -2."""
    es = medicaid_event_study
    shifted = EventStudy(es.event_time, es.beta + 0.01 * (es.event_time == -6), es.vcov)
    assert flci(shifted, 0.0, 0.05) != pytest.approx(flci(es, 0.0, 0.05), abs=1e-5)


def test_sensitivity_rows_are_reproducible_and_breakdowns_consistent(medicaid_event_study):
    es = medicaid_event_study
    grids = {"relative_magnitude": [0.5, 2.0], "smoothness": [0.0, 0.04]}
    rows = sensitivity(es, grids, 0.05)
    assert rows == sensitivity(es, grids, 0.05)  # seeded: byte-identical reruns
    for r in rows:
        assert r["lb"] <= r["ub"] and r["ci_low"] <= r["lb"] and r["ub"] <= r["ci_high"]
        covers = r["ci_low"] <= 0 <= r["ci_high"]
        assert covers == (r["M"] >= r["breakdown"])


def test_intervals_need_consecutive_event_times():
    es = _es([0.01, -0.01, 0.02], [0.1, 0.1, 0.1])
    keep = es.event_time != 0
    gap = EventStudy(es.event_time[keep], es.beta[keep], es.vcov[np.ix_(keep, keep)])
    with pytest.raises(ValueError, match="consecutive"):
        rm_ci(gap, 1.0, 0.05)


def _es(beta_pre, beta_post, se=0.01):
    e = np.array(list(range(-len(beta_pre) - 1, -1)) + list(range(len(beta_post))))
    beta = np.array(list(beta_pre) + list(beta_post), float)
    return EventStudy(e, beta, np.eye(beta.size) * se**2)


@pytest.mark.parametrize("m", [0.0, 0.5, 1.0, 2.0])
def test_rm_closed_form_equals_lp(m):
    es = _es([0.01, -0.02, 0.015, 0.005], [0.1, 0.12, 0.11])
    lb, ub = rm_identified_set(es, m)
    theta = es.beta[es.event_time >= 0].mean()
    lo, hi = lp_bias_bounds(es, "relative_magnitude", m)
    assert np.isclose(lb, theta - hi) and np.isclose(ub, theta - lo)


@pytest.mark.parametrize("m", [0.0, 0.01, 0.05])
def test_sd_closed_form_equals_lp(m):
    es = _es([0.03, 0.02, 0.01], [0.1, 0.12, 0.11, 0.15])
    lb, ub = sd_identified_set(es, m)
    theta = es.beta[es.event_time >= 0].mean()
    lo, hi = lp_bias_bounds(es, "smoothness", m)
    assert np.isclose(lb, theta - hi) and np.isclose(ub, theta - lo)


def test_lp_with_a_gap_at_event_zero():
    es = _es([0.01, -0.01, 0.02], [0.1, 0.1, 0.1])
    keep = es.event_time != 0
    gap = EventStudy(es.event_time[keep], es.beta[keep], es.vcov[np.ix_(keep, keep)])
    lb, ub = sd_identified_set(gap, 0.02)
    lo, hi = lp_bias_bounds(gap, "smoothness", 0.02)
    theta = gap.beta[gap.event_time >= 0].mean()
    assert np.isclose(lb, theta - hi) and np.isclose(ub, theta - lo)


def test_breakdown_is_where_the_interval_reaches_zero():
    es = _es([0.01, -0.01, 0.01], [0.1, 0.1, 0.1])
    bd = breakdown(es, "relative_magnitude", 0.05)
    assert 0 < bd < np.inf
    assert rm_bounds(es, bd * 1.02, 0.05)[2] <= 0 < rm_bounds(es, bd * 0.98, 0.05)[2]


def test_pretrend_violation_is_flagged_fragile():
    # A steady differential pre-trend that, extrapolated, explains the post "effect".
    slope = 0.02
    es = _es([-slope * k for k in (5, 4, 3, 2)], [slope * (k + 1) for k in range(3)], se=0.005)
    assert is_fragile(es, 0.05)
    clean = _es([0.001, -0.001, 0.0005, 0.0], [0.1, 0.1, 0.1], se=0.005)
    assert not is_fragile(clean, 0.05)


def test_reform_sensitivity_without_event_time_minus_two_is_skipped_not_fatal(caplog):
    """Small runs can lack the bins the smoothness bounds need: no rows and a log line, so one
    sparse contrast does not stop the reform_did job (seen in the Monte Carlo harness)."""
    from inburgering.designs.event_study import ContrastFit, EventStudySettings, honest_records

    gap = EventStudy(np.array([-4, -3, 0, 1]), np.array([0.0, 0.01, 0.1, 0.1]), np.eye(4) * 1e-4)
    fit = ContrastFit(
        *(0.1, 0.01, np.zeros(1), np.zeros(1), np.zeros(1), np.eye(1), gap),
        *(0.0, 0, 1.0, 0.0, 0.01, 100, 100, 10),
    )
    key = {"city": "rotterdam", "comparison": "rest_nl", "outcome": "employed", "horizon": 12}
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12], cities=["rotterdam"], alpha=0.05
    )
    with pytest.raises(ValueError):
        is_fragile(gap.window(5, 3), 0.05)  # what the design must absorb
    assert honest_records(fit, key, settings) == []
    assert "needs event time -2" in caplog.text


def test_one_post_period_test_equals_the_nuisance_formula_without_nuisance(medicaid_event_study):
    """With one post-period R switches to its no-nuisance test; both condition on the largest
    normalised moment, so without the least-favourable cap they must accept the same thetas."""
    from inburgering.did import honest

    L = honest._layout(medicaid_event_study.window(5, 1))
    grid = np.linspace(-0.2, 0.2, 801)
    for s in range(-(L.n_pre - 1), 1):
        for positive in (True, False):
            A = honest._rm_constraints(L.n_pre, 1, 1.0, s, positive)
            A = A[A[:, -1] != 0]
            S = A @ L.sigma @ A.T
            Y = (A @ L.beta)[:, None] - A[:, -1][:, None] * grid[None, :]
            X = np.zeros((A.shape[0], 0))
            verts = honest._dual_vertices(np.sqrt(np.diag(S)), X)
            no_cap = np.inf
            np.testing.assert_array_equal(
                honest._no_nuisance_accept(Y, S, no_cap, 0.045),
                honest._nuisance_accept(Y, X, S, no_cap, 0.045, verts),
            )


def test_relative_magnitudes_interval_widens_with_mbar(medicaid_event_study):
    for es in (medicaid_event_study, medicaid_event_study.window(5, 1)):
        cis = [rm_ci(es, m, 0.05) for m in (0.0, 0.5, 1.0, 1.5, 2.0)]
        lows, highs = zip(*cis, strict=True)
        assert all(np.diff(lows) <= 1e-12) and all(np.diff(highs) >= -1e-12), cis
