"""Parity with R MatchIt on the lalonde data (NSW/PSID, public domain, shipped with MatchIt).

MatchIt 4.5.1-4.5.3 (Debian bookworm ships 4.5.1) compares propensity-score distances with the
integer ``abs()`` in ``nn_matchC_vec.cpp``: differences below 1 truncate to 0, so the caliper
never binds and the left neighbour always wins (MatchIt issue #163, fixed in 4.5.4). We therefore
hand R the same propensity score rescaled to [0, 1e9] as a numeric ``distance``: matching is
invariant to rescaling the distance (order, nearest neighbour, caliper in SD units), and at that
scale integer truncation only matters for differences below 1e-9. Against a fixed MatchIt the
rescaling is a no-op, so these tests hold for every 4.x version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matching_helpers import run_r

from inburgering.matching import estimate_att

pytestmark = pytest.mark.r

COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
FORMULA = "treat ~ age + educ + race + married + nodegree + re74 + re75"

# key: (ratio, caliper, replace, exact, distance scale)
CONFIGS = {
    "r1": (1, None, False, None, "ps"),
    "r2": (2, None, False, None, "ps"),
    "r1_cal": (1, 0.2, False, None, "ps"),
    "r2_cal": (2, 0.1, False, None, "ps"),
    "r1_rep": (1, None, True, None, "ps"),
    "r1_rep_cal": (1, 0.2, True, None, "ps"),
    "r2_rep_cal": (2, 0.2, True, None, "ps"),
    "r1_exact": (1, None, False, "married", "ps"),
    "r1_logit_cal": (1, 0.2, False, None, "logit"),
}


def _r_config(key: str, ratio: int, caliper, replace: bool, exact, scale: str) -> str:
    dist = "lin" if scale == "logit" else "ps"
    args = [f"ratio = {ratio}", f"replace = {'TRUE' if replace else 'FALSE'}"]
    if caliper is not None:
        args.append(f"caliper = {caliper}")
    if exact is not None:
        args.append(f"exact = ~{exact}")
    cluster = "~subclass" if not replace else "NULL"
    return f"""
d <- {dist}; d <- (d - min(d)) / (max(d) - min(d)) * 1e9
m <- matchit({FORMULA}, data = lalonde, method = "nearest", distance = d, {", ".join(args)})
mm <- m$match.matrix
colnames(mm) <- paste0("X", seq_len(ncol(mm)))
write.csv(data.frame(treated = rownames(mm), mm), "{key}_mm.csv", row.names = FALSE)
md <- match.data(m)
write.csv(data.frame(id = names(m$weights), w = m$weights), "{key}_w.csv", row.names = FALSE)
att_dm <- with(md, weighted.mean(re78[treat == 1], weights[treat == 1]) -
                   weighted.mean(re78[treat == 0], weights[treat == 0]))
fit0 <- lm(re78 ~ treat, data = md, weights = weights)
fit <- lm(re78 ~ treat + age + educ + race + married + nodegree + re74 + re75, data = md,
          weights = weights)
cl <- {cluster}
se0 <- if (is.null(cl)) NA else sqrt(sandwich::vcovCL(fit0, cluster = cl)["treat", "treat"])
se1 <- if (is.null(cl)) NA else sqrt(sandwich::vcovCL(fit, cluster = cl)["treat", "treat"])
s <- summary(m, standardize = TRUE)
write.csv(data.frame(att_dm = att_dm, att_lm = coef(fit)[["treat"]], se_dm = se0, se_lm = se1),
          "{key}_att.csv", row.names = FALSE)
write.csv(data.frame(cov = rownames(s$sum.matched), s$sum.matched, check.names = FALSE),
          "{key}_bal.csv", row.names = FALSE)
write.csv(data.frame(cov = rownames(s$sum.all), s$sum.all, check.names = FALSE),
          "{key}_bal_all.csv", row.names = FALSE)
"""


@pytest.fixture(scope="module")
def r_out(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("matchit")
    script = f"""
suppressPackageStartupMessages(library(MatchIt))
data("lalonde", package = "MatchIt")
write.csv(data.frame(id = rownames(lalonde), lalonde), "lalonde.csv", row.names = FALSE)
g <- glm({FORMULA}, data = lalonde, family = binomial)
ps <- fitted(g); lin <- predict(g, type = "link")
write.csv(data.frame(id = names(ps), ps = ps, lin = lin), "ps.csv", row.names = FALSE)
writeLines(as.character(packageVersion("MatchIt")), "version.txt")
""" + "".join(_r_config(key, *cfg) for key, cfg in CONFIGS.items())
    run_r(script, work, packages=("MatchIt", "sandwich"))
    return work


@pytest.fixture(scope="module")
def lalonde(r_out: Path) -> pd.DataFrame:
    return pd.read_csv(r_out / "lalonde.csv").set_index("id")


def test_propensity_scores_equal_r_glm(r_out: Path, lalonde: pd.DataFrame) -> None:
    res = estimate_att(
        lalonde,
        treatment="treat",
        outcome="re78",
        covariates=COVARIATES,
        caliper=None,
        distance="ps",
    )
    r_ps = pd.read_csv(r_out / "ps.csv").set_index("id")
    np.testing.assert_allclose(res.overlap["ps"], r_ps["ps"].loc[res.overlap.index], atol=1e-7)
    np.testing.assert_allclose(
        res.overlap["distance"], r_ps["ps"].loc[res.overlap.index], atol=1e-7
    )


def _estimate(lalonde: pd.DataFrame, key: str, adjust: bool = False):
    ratio, caliper, replace, exact, scale = CONFIGS[key]
    return estimate_att(
        lalonde,
        treatment="treat",
        outcome="re78",
        covariates=COVARIATES,
        ratio=ratio,
        caliper=caliper,
        replace=replace,
        exact=[exact] if exact else None,
        distance=scale,
        adjust=adjust,
    )


def _python_match_matrix(res, ratio: int) -> pd.DataFrame:
    wide = res.matches.pivot(index="treated_id", columns="round", values="control_id")
    wide = wide.reindex(columns=range(1, ratio + 1))
    wide.columns = [f"X{r}" for r in range(1, ratio + 1)]
    return wide


@pytest.mark.parametrize("key", list(CONFIGS))
def test_matched_sets_weights_and_att_equal_matchit(
    key: str, r_out: Path, lalonde: pd.DataFrame
) -> None:
    ratio, _, replace, _, _ = CONFIGS[key]
    version = tuple(int(p) for p in (r_out / "version.txt").read_text().strip().split("."))
    if replace and ratio > 1 and version < (4, 5, 4):
        # nn_matchC_vec's "already matched to this unit" check compares 0-based with 1-based
        # indices, so 4.5.1-4.5.3 match the same control twice within one matched set.
        pytest.skip(f"MatchIt {version} repeats controls within a set when replace and ratio > 1")
    res = _estimate(lalonde, key)
    r_mm = pd.read_csv(r_out / f"{key}_mm.csv", keep_default_na=True).set_index("treated")
    r_mm = r_mm.dropna(how="all")
    mine = _python_match_matrix(res, ratio)
    assert sorted(mine.index) == sorted(r_mm.index), "different treated units matched"
    mine = mine.loc[r_mm.index].astype(object).where(mine.loc[r_mm.index].notna(), None)
    expected = r_mm.astype(object).where(r_mm.notna(), None)
    pd.testing.assert_frame_equal(mine, expected, check_dtype=False, check_names=False)

    r_w = pd.read_csv(r_out / f"{key}_w.csv").set_index("id")["w"]
    np.testing.assert_allclose(res.weights.loc[r_w.index], r_w, atol=1e-9)

    r_att = pd.read_csv(r_out / f"{key}_att.csv").iloc[0]
    assert abs(res.att - r_att["att_dm"]) < 1e-6
    adjusted = _estimate(lalonde, key, adjust=True)
    assert abs(adjusted.att - r_att["att_lm"]) < 1e-6
    if not replace:  # pair-cluster SE equals sandwich::vcovCL(cluster = ~subclass)
        assert res.se == pytest.approx(r_att["se_dm"], rel=1e-6)
        assert adjusted.se == pytest.approx(r_att["se_lm"], rel=1e-6)


@pytest.mark.parametrize("key", ["r1", "r2_cal", "r1_rep_cal", "r1_exact"])
def test_balance_table_equals_matchit_summary(key: str, r_out: Path, lalonde: pd.DataFrame) -> None:
    res = _estimate(lalonde, key)
    mine = res.balance.set_index(res.balance["covariate"].str.replace("_", "", regex=False))
    for sample, suffix in (("bal_all", "before"), ("bal", "after")):
        r_bal = pd.read_csv(r_out / f"{key}_{sample}.csv").set_index("cov").drop("distance")
        ours = mine.loc[r_bal.index]
        np.testing.assert_allclose(ours[f"smd_{suffix}"], r_bal["Std. Mean Diff."], atol=1e-6)
        np.testing.assert_allclose(ours[f"ecdf_mean_{suffix}"], r_bal["eCDF Mean"], atol=1e-6)
        np.testing.assert_allclose(ours[f"ecdf_max_{suffix}"], r_bal["eCDF Max"], atol=1e-6)
        continuous = r_bal["Var. Ratio"].notna()
        np.testing.assert_allclose(
            ours.loc[continuous, f"var_ratio_{suffix}"],
            r_bal.loc[continuous, "Var. Ratio"],
            rtol=1e-6,
        )
