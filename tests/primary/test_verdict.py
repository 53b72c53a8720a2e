"""The verdict table: the decision rule step by step, Holm over the tested rows, the MDE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from inburgering.config import ConfigError, check_primary
from inburgering.contracts.verdict import COLUMNS
from inburgering.designs.shock_variance import INDEX_LABEL
from inburgering.did.shocks import NO_SHOCKS, ShockModel
from inburgering.primary import minimum_detectable, primary_family, verdict_table
from inburgering.primary.power import design_contrast, minimum_detectable_differences
from inburgering.primary.verdict import control_means

PRIMARY = {
    "city": "rotterdam",
    "comparisons": ["amsterdam", "den_haag", "utrecht", "rest_nl"],
    "outcomes": {"participation": "higher_is_better", "social_assistance": "lower_is_better"},
    "horizons": [24],
    "alpha": 0.05,
    "adjustment": "holm",
    "power": 0.8,
    "pretrend_alpha": 0.05,
    "min_persons": 200,
}
# comparison, outcome -> estimate, se, persons, pre-trend p
PLAN = {
    ("amsterdam", "participation"): (0.10, 0.02, 900, 0.5),  # clearly better
    ("amsterdam", "social_assistance"): (0.08, 0.02, 900, 0.5),  # more bijstand: worse
    ("den_haag", "participation"): (0.02, 0.03, 900, 0.5),  # not distinguishable
    ("den_haag", "social_assistance"): (-0.09, 0.02, 900, 0.5),  # less bijstand: better
    ("utrecht", "participation"): (0.20, 0.02, 150, 0.5),  # too few persons
    ("utrecht", "social_assistance"): (0.20, 0.02, 900, 0.01),  # pre-trend rejects
    ("rest_nl", "participation"): (0.05, 0.02, 900, 0.5),  # p = 0.012, Holm decides
}  # rest_nl social_assistance: no row at all


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    key = {"design": "reform_did", "treatment": "wi2021", "city": "rotterdam", "horizon": 24}
    estimates, pretrends, honest = [], [], []
    for (comparison, outcome), (est, se, n, pre_p) in PLAN.items():
        cell = {**key, "comparison": comparison, "outcome": outcome}
        z = norm.ppf(0.975)
        secondary = ("cs_dr_persons_only", False, se / 3)
        for estimator, headline, row_se in (("cs_dr", True, se), secondary):
            estimates.append({**cell, "estimand": "att_overall", "subgroup": "all",
                              "estimator": estimator, "headline": headline, "estimate": est,
                              "se": row_se, "ci_low": est - z * row_se, "ci_high": est + z * row_se,
                              "p_value": 2 * norm.sf(abs(est / row_se)),
                              "inference": INDEX_LABEL,
                              "n_treated": n, "n_control": 5 * n,
                              "n_clusters": 340 if comparison == "rest_nl" else 2})  # fmt: skip
        pretrends.append({**cell, "wald_p": pre_p})
        honest += [{**cell, "restriction": "relative_magnitude", "M": m, "breakdown": 0.7}
                   for m in (0, 0.5)]  # fmt: skip
    return pd.DataFrame(estimates), pd.DataFrame(pretrends), pd.DataFrame(honest)


def test_every_branch_of_the_decision_rule():
    table = verdict_table(*_inputs(), PRIMARY).set_index(["comparison", "outcome"])
    assert len(table) == len(primary_family(PRIMARY)) == 8
    verdict = table["verdict"].to_dict()
    assert verdict[("amsterdam", "participation")] == "more_effective"
    assert verdict[("amsterdam", "social_assistance")] == "less_effective"
    assert verdict[("den_haag", "participation")] == "no_distinguishable_difference"
    assert verdict[("den_haag", "social_assistance")] == "more_effective"
    assert verdict[("utrecht", "participation")] == "not_assessable"
    assert table.loc[("utrecht", "participation"), "reason"] == "too few persons"
    assert verdict[("utrecht", "social_assistance")] == "not_assessable"
    assert table.loc[("utrecht", "social_assistance"), "reason"] == "pre-trend test rejects"
    assert verdict[("rest_nl", "social_assistance")] == "not_assessable"
    assert table.loc[("rest_nl", "social_assistance"), "reason"] == "no honest interval"
    # The honest (headline) row, not the person-level one, carries the verdict.
    assert table.loc[("den_haag", "participation"), "se"] == 0.03
    assert table.loc[("amsterdam", "participation"), "breakdown_mbar"] == 0.7
    assert set(table["inference"].dropna()) == {"variance_component"}


def test_paper_table_columns_ri_p_clusters_and_control_mean_without_changing_the_verdict():
    """RI p joins its contrast (rest of NL only), clusters count each side's municipalities,
    the control mean pools the comparison's post-reform cohort years by persons."""
    inference = pd.DataFrame([{"design": "reform_did", "treatment": "wi2021",
                               "city": "rotterdam", "comparison": "rest_nl",
                               "outcome": "participation", "horizon": 24,
                               "ri_p": 0.075}])  # fmt: skip
    trends = pd.DataFrame(
        [("amsterdam", "2021", "participation", 24, 500, 0.9),  # before the reform: left out
         ("amsterdam", "2022", "participation", 24, 300, 0.40),
         ("amsterdam", "2023", "participation", 24, 100, 0.60),
         ("amsterdam", "2022", "participation", 12, 300, 0.10)],  # another horizon
        columns=["city", "cohort", "outcome", "horizon", "n", "share"],
    )  # fmt: skip
    plain = verdict_table(*_inputs(), PRIMARY)
    table = verdict_table(*_inputs(), PRIMARY, inference=inference,
                          controls=control_means(trends, 2022))  # fmt: skip
    assert list(table.columns) == list(COLUMNS)
    pd.testing.assert_series_equal(table["verdict"], plain["verdict"])
    table = table.set_index(["comparison", "outcome"])
    assert table.loc[("rest_nl", "participation"), "ri_p"] == 0.075
    assert table["ri_p"].notna().sum() == 1
    assert table.loc[("amsterdam", "participation"), "control_mean"] == pytest.approx(0.45)
    assert table.loc[("amsterdam", "participation"), "n_control_post"] == 400
    assert pd.isna(table.loc[("den_haag", "participation"), "control_mean"])
    assert table.loc[("rest_nl", "participation"), "clusters_control"] == 339
    assert table.loc[("amsterdam", "participation"), "clusters_control"] == 1
    assert (table["clusters_treated"].dropna() == 1).all()
    # No headline row: no clusters either (never a made-up 1 vs 0).
    assert pd.isna(table.loc[("rest_nl", "social_assistance"), "clusters_treated"])


def test_holm_runs_over_the_tested_rows_only():
    table = verdict_table(*_inputs(), PRIMARY)
    tested = table[table["verdict"] != "not_assessable"].sort_values("p_value")
    p = tested["p_value"].to_numpy()
    m = len(p)
    holm = np.minimum(1, np.maximum.accumulate(p * (m - np.arange(m))))
    np.testing.assert_allclose(tested["p_adjusted"].to_numpy(), holm, rtol=1e-12)
    assert table.loc[table["verdict"] == "not_assessable", "p_adjusted"].isna().all()
    # rest_nl participation: p = 0.012; 4th of 5 tested rows, Holm multiplies by 2: 0.025.
    row = table[(table["comparison"] == "rest_nl") & (table["outcome"] == "participation")]
    assert row["verdict"].item() == "more_effective"


def test_minimum_detectable_difference_is_the_bonferroni_power_formula():
    se = np.array([0.01, 0.02])
    expected = (norm.ppf(1 - 0.05 / 16) + norm.ppf(0.8)) * se
    np.testing.assert_allclose(minimum_detectable(se, 0.05, 8, 0.8), expected)
    table = verdict_table(*_inputs(), PRIMARY)
    np.testing.assert_allclose(table["mde"], minimum_detectable(table["se"], 0.05, 8, 0.8))


def test_power_grows_with_persons_and_shrinks_with_shocks():
    def mde(persons, shocks):
        table = minimum_detectable_differences(
            persons, persons, 40000, shocks, 0.3, 4, 8, 0.05, 8, 0.8
        )
        return table.set_index("comparison")["mde"]

    assert (mde(4000, NO_SHOCKS) < mde(1000, NO_SHOCKS)).all()
    assert (mde(1000, ShockModel(0.03, 0.5)) > mde(1000, NO_SHOCKS)).all()
    # A shock of a probit index is smaller in share points at a rate of 0.3 than at 0.5.
    index = ShockModel(0.03, 0.5, index=True)
    assert (mde(1000, index) < mde(1000, ShockModel(0.03, 0.5))).all()
    assert (mde(1000, index) == mde(1000, index.at_share(0.3))).all()
    # Without shocks, a G4 pair is two samples of 1000 persons/year: the textbook formula.
    _, weights = design_contrast(4, 8)
    se = np.sqrt(0.21 * 2 / 250 * np.sum(weights**2))
    assert mde(1000, NO_SHOCKS)["G4 city"] == pytest.approx(
        (norm.ppf(1 - 0.05 / 16) + norm.ppf(0.8)) * se, rel=1e-9
    )


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"outcomes": {"in_education": "higher_is_better"}}, "primary.outcomes"),
        ({"horizons": [36]}, "primary.horizons"),
        ({"city": "utrecht"}, "primary.city"),
        ({"comparisons": ["rotterdam", "rest_nl"]}, "primary.comparisons"),
    ],
)
def test_a_primary_family_the_designs_do_not_estimate_stops_naming_the_key(change, key):
    estimate = {"cities": ["rotterdam", "amsterdam"], "outcomes": ["participation",
                "social_assistance"], "horizons": [12, 24]}  # fmt: skip
    with pytest.raises(ConfigError, match=key):
        check_primary({**PRIMARY, **change}, estimate)


def test_every_reason_and_verdict_has_a_label_in_both_editions():
    """The reports label the verdict table's fixed phrases; an unlabelled one would show raw
    English in the Dutch edition."""
    from importlib.resources import files

    import yaml

    from inburgering.contracts.verdict import REASONS, VERDICTS

    table = yaml.safe_load((files("inburgering.report") / "translations.yaml").read_text("utf-8"))
    for language in ("en", "nl"):
        labels = table[language]["labels"]
        assert set(REASONS.values()) <= set(labels["reason"]), language
        assert set(VERDICTS) <= set(labels["verdict"]), language
        assert {"variance_component", "persons_only"} <= set(labels["inference"]), language
