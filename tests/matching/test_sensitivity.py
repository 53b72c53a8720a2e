"""E-values against VanderWeele & Ding's published examples; Rosenbaum bounds against theory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from inburgering.matching import critical_gamma, evalue_rr, evalue_smd, rosenbaum_bounds
from inburgering.matching.sensitivity import evalue_risk_difference

# Morton et al. (1982) lead in children's blood, 33 matched pairs (Rosenbaum 2002, ch. 4;
# the example data of rbounds::psens).
LEAD_TREATED = [
    38,
    23,
    41,
    18,
    37,
    36,
    23,
    62,
    31,
    34,
    24,
    14,
    21,
    17,
    16,
    20,
    15,
    10,
    45,
    39,
    22,
    35,
    49,
    48,
    44,
    35,
    43,
    39,
    34,
    13,
    73,
    25,
    27,
]
LEAD_CONTROL = [
    16,
    18,
    18,
    24,
    19,
    11,
    10,
    15,
    16,
    18,
    18,
    13,
    19,
    10,
    16,
    16,
    24,
    13,
    9,
    14,
    21,
    19,
    7,
    18,
    19,
    12,
    11,
    22,
    25,
    16,
    13,
    11,
    13,
]


def test_evalue_published_example_harmful() -> None:
    # VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8 to 8.7) -> E-values 7.26 and 3.0.
    ev = evalue_rr(3.9, 1.8, 8.7)
    assert ev.point == pytest.approx(7.26, abs=0.005)
    assert ev.ci == pytest.approx(3.0, abs=1e-12)


def test_evalue_protective_and_null_interval() -> None:
    # A protective RR is inverted: RR 0.80 (0.71, 0.91) has the same E-values as 1.25 (1.099).
    ev = evalue_rr(0.80, 0.71, 0.91)
    assert ev.point == pytest.approx(1.25 + np.sqrt(1.25 * 0.25))
    assert ev.ci == pytest.approx(evalue_rr(1 / 0.91).point)
    assert evalue_rr(1.3, 0.9, 1.8).ci == 1.0


def test_evalue_at_the_edge_of_the_risk_scale_is_infinite() -> None:
    # Treated mean 0.3 and a risk difference whose lower limit exceeds it: the untreated risk
    # would be negative, RR infinite, and no finite confounder explains the effect away.
    ev = evalue_risk_difference(0.35, 0.31, 0.40, treated_mean=0.3)
    assert ev.point == np.inf and ev.ci == np.inf
    assert evalue_rr(0.0, 0.0, 0.0).ci == np.inf  # outcome never occurs among the treated
    assert np.isnan(evalue_rr(np.nan).point)


def test_evalue_smd_uses_the_published_conversion() -> None:
    # VanderWeele & Ding (2017): RR ≈ exp(0.91 d), CI exp(0.91 d ± 1.78 se).
    ev = evalue_smd(0.5, 0.1)
    assert ev.rr == pytest.approx(np.exp(0.455))
    assert ev.rr_low == pytest.approx(np.exp(0.455 - 0.178))
    assert ev.ci == pytest.approx(evalue_rr(np.exp(0.455 - 0.178)).point)


def test_rosenbaum_gamma_one_equals_wilcoxon_signed_rank() -> None:
    d = np.subtract(LEAD_TREATED, LEAD_CONTROL)
    table = rosenbaum_bounds(d, [1.0])
    reference = stats.wilcoxon(d, alternative="greater", method="approx", correction=False)
    assert table.loc[0, "p_upper"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert table.loc[0, "p_lower"] == pytest.approx(reference.pvalue, rel=1e-9)


def test_rosenbaum_bounds_widen_with_gamma_and_critical_gamma_hits_alpha() -> None:
    d = np.subtract(LEAD_TREATED, LEAD_CONTROL)
    table = rosenbaum_bounds(d, [1, 2, 3, 4, 5, 6])
    assert table["p_upper"].is_monotonic_increasing
    assert table["p_lower"].is_monotonic_decreasing
    g = critical_gamma(d, alpha=0.05)
    # Rosenbaum (2002, sec. 4.3): the lead study stays significant up to Gamma of about 4-5.
    assert 4 < g < 5
    assert rosenbaum_bounds(d, [g]).loc[0, "p_upper"] == pytest.approx(0.05, abs=1e-8)


def test_rosenbaum_drops_zero_differences_as_rbounds_psens() -> None:
    # d = (3, -1, 0, 2, 2). Zeros dropped (rbounds >= 0.5): |d| = 3, 1, 2, 2 ranked 4, 1, 2.5,
    # 2.5; T = 4 + 2.5 + 2.5 = 9; at Gamma 1 (p = 1/2): E = 10/2 = 5,
    # V = (16 + 1 + 6.25 + 6.25)/4 = 7.375, z = 4 / sqrt(7.375).
    # Zeros kept (rbounds 0.1-0.3): ranks 5, 2, 1, 3.5, 3.5; T = 12, E = 7.5, V = 54.5/4 = 13.625.
    d = np.array([3.0, -1.0, 0.0, 2.0, 2.0])
    dropped = stats.norm.sf(4 / np.sqrt(7.375))
    kept = stats.norm.sf(4.5 / np.sqrt(13.625))
    p_upper = rosenbaum_bounds(d, [1.0]).loc[0, "p_upper"]
    assert p_upper == pytest.approx(dropped, rel=1e-12)
    assert abs(p_upper - kept) > 0.01
    # At Gamma 2 (p+ = 2/3): E = 20/3, V = 29.5 * 2/9.
    z_plus = (9 - 20 / 3) / np.sqrt(29.5 * 2 / 9)
    p_gamma2 = rosenbaum_bounds(d, [2.0]).loc[0, "p_upper"]
    assert p_gamma2 == pytest.approx(stats.norm.sf(z_plus), rel=1e-12)


def test_rosenbaum_bounds_reproduce_rbounds_psens_documented_example() -> None:
    # rbounds' documented example, psens(trt, ctrl) on Rosenbaum's (2002, ch. 4) lead data
    # (33 pairs, one zero difference), Gamma = 1..6. psens prints p-values rounded to 4 digits.
    # These upper bounds come from a statement-by-statement transcription of psens 2.2's R code
    # (T = 499 over the 32 non-zero pairs; R is not installed here). Keeping the zero pair would
    # give T = 527 over 33 ranks and 0.0, 0.0019, 0.0142, 0.0403, 0.0768, 0.1193.
    psens_upper = [0.0, 0.0018, 0.0131, 0.0367, 0.0694, 0.1073]
    d = np.subtract(LEAD_TREATED, LEAD_CONTROL)
    table = rosenbaum_bounds(d, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(table["p_upper"].round(4), psens_upper)
    assert (table["p_lower"].round(4) == 0).all()


@pytest.mark.r
def test_rosenbaum_bounds_match_r_psens_formula_via_r(tmp_path) -> None:
    pytest.importorskip("scipy")
    from matching_helpers import run_r

    d = np.subtract(LEAD_TREATED, LEAD_CONTROL)
    # Independent computation in R of the signed-rank sensitivity bound (Rosenbaum 2002, 4.3.2).
    script = f"""
d <- c({", ".join(map(str, d))}); d <- d[d != 0]
r <- rank(abs(d)); T <- sum(r[d > 0])
out <- sapply(c(1, 2, 3, 4.5), function(g) {{
  p <- g / (1 + g); pnorm((T - p * sum(r)) / sqrt(p * (1 - p) * sum(r^2)), lower.tail = FALSE)
}})
writeLines(format(out, digits = 17), "p.txt")
"""
    run_r(script, tmp_path, packages=())
    expected = [float(x) for x in (tmp_path / "p.txt").read_text().split()]
    ours = rosenbaum_bounds(d, [1, 2, 3, 4.5])["p_upper"].to_numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_matching_result_exposes_rosenbaum_and_evalue(sim) -> None:
    from inburgering.matching import estimate_att

    res = estimate_att(sim, treatment="t", outcome="y", covariates=["x1", "x2", "g"])
    table = res.rosenbaum([1, 1.5])
    assert table.loc[0, "p_upper"] < 0.05 and table["critical_gamma"].iloc[0] > 1
    assert res.evalue.point > res.evalue.ci > 1
