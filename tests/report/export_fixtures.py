"""Crafted, clearly synthetic export folders for report tests (every count is at least 10).

`write_full_export` writes every file of the export contract; `write_minimal_export` only what
today's disclosure stage writes. Numbers are made up: they test layout, not methods.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.contracts.tidy import write_tidy
from inburgering.contracts.verdict import EXPORT_COLUMNS as VERDICT_COLUMNS
from inburgering.disclosure import check_tables, load_rules
from inburgering.disclosure.assemble import descriptives_item
from inburgering.prepare.flow import STEPS
from inburgering.report.inputs import CONTRACT

CITIES = ("rotterdam", "amsterdam", "den_haag", "utrecht")
BUNDLE = "assessment_in_intake+intensified_intake"
BUNDLE_KEY = {"design": "instrument_did", "treatment": BUNDLE, "comparison": "rest_nl_unchanged"}
COHORTS = ("2021Q3", "2021Q4", "2022Q1", "2022Q2")


def _row(**values) -> dict:
    base = {
        "treatment": "wi2021",
        "comparison": "rest_nl",
        "outcome": "participation",
        "horizon": 12,
        "subgroup": "all",
        "headline": True,
        "inference": "crafted",
        "n_treated": 120,
        "n_control": 900,
        "n_clusters": 40,
        "se": 0.01,
        "p_value": 0.2,
    }
    base.update(values)
    base.setdefault("ci_low", base["estimate"] - 0.02)
    base.setdefault("ci_high", base["estimate"] + 0.02)
    return base


def _estimates() -> list[dict]:
    rows = []
    for i, city in enumerate(CITIES):
        effect = 0.01 * (i - 1)
        rows.append(
            _row(
                design="reform_did",
                estimand="att_overall",
                city=city,
                estimator="cs_dr",
                estimate=effect,
            )
        )
        rows.append(
            _row(
                design="reform_did",
                estimand="att_overall",
                city=city,
                estimator="twfe",
                estimate=effect + 0.005,
                headline=False,
            )
        )
        for e in range(-3, 4):
            for estimator, headline in (("cs_dr", True), ("twfe", False)):
                rows.append(
                    _row(
                        design="reform_did",
                        estimand="att_event",
                        city=city,
                        event_time=e,
                        estimator=estimator,
                        headline=headline,
                        estimate=(effect if e >= 0 else 0.0) + 0.002 * e,
                    )
                )
        rows.append(
            _row(
                design="instrument_did",
                estimand="att_overall",
                city=city,
                treatment="intensified_intake",
                comparison="not_yet_treated",
                estimator="cs_dr",
                estimate=0.02,
            )
        )
        for cohort in COHORTS:
            rows.append(
                _row(
                    design="process",
                    estimand="pip_within_10w",
                    city=city,
                    treatment="",
                    comparison="",
                    outcome="",
                    horizon=None,
                    subgroup=f"cohort:{cohort}",
                    estimator="share",
                    estimate=0.3 + 0.05 * i,
                    ci_low=0.25,
                    ci_high=0.5 + 0.05 * i,
                )
            )
        for indicator in ("pip_within_10w", "route_switch_18m"):
            rows.append(
                _row(
                    design="process",
                    estimand=indicator,
                    city=city,
                    treatment="",
                    comparison="",
                    outcome="",
                    horizon=None,
                    estimator="share",
                    estimate=0.4,
                    ci_low=0.35,
                    ci_high=0.45,
                )
            )
        for subgroup in ("age:18-26", "sex:female"):
            rows.append(
                _row(
                    design="heterogeneity",
                    estimand="cate",
                    city=city,
                    subgroup=subgroup,
                    estimator="causal_forest",
                    estimate=0.01,
                )
            )
    return rows + _route_rows() + _bundle_rows()


def _bundle_rows() -> list[dict]:
    """Rotterdam's own instrument bundle (designs.city_instrument_did): estimators and event
    study."""
    key = {"city": "rotterdam", **BUNDLE_KEY}
    rows = [
        _row(**key, estimand="att_overall", estimator=estimator, headline=headline, estimate=0.03)
        for estimator, headline in (("cs_dr", True), ("cs_reg_ri", False), ("sdid", False))
    ]
    rows += [
        _row(**key, estimand="att_event", event_time=e, estimator="cs_dr", estimate=0.01 * e)
        for e in range(-4, 5)
    ]
    return rows


def _route_rows() -> list[dict]:
    rows = []
    for treatment in ("z_vs_b1", "onderwijs_vs_b1"):
        rows.append(
            _row(
                design="route_matching",
                estimand="att",
                city="all",
                treatment=treatment,
                comparison="matched",
                estimator="nn_matching",
                estimate=-0.03,
            )
        )
    return rows


def _side_key(city: str) -> dict:
    return {
        "design": "reform_did",
        "treatment": "wi2021",
        "city": city,
        "comparison": "rest_nl",
        "outcome": "participation",
        "horizon": 12,
    }


def _side_tables() -> dict[str, pd.DataFrame]:
    tables: dict[str, list[dict]] = {
        k: []
        for k in (
            "composition",
            "route_mix",
            "route_start_survival",
            "uniform_bands",
            "inference",
            "pretrends",
            "honestdid",
            "refutations",
        )
    }
    for i, city in enumerate(CITIES):
        for cohort in COHORTS:
            for group in ("statushouder", "gezinsmigrant", "overig"):
                # Utrecht's small "overig" cells and one early cohort are withheld (empty n).
                withheld = city == "utrecht" and (group == "overig" or cohort == COHORTS[0])
                n = None if withheld else 50 + 10 * i
                tables["composition"].append(
                    {"city": city, "cohort": cohort, "group": group, "n": n}
                )
        for route, share in zip(("b1", "onderwijs", "z"), (0.6, 0.15, 0.25), strict=True):
            tables["route_mix"].append(
                {
                    "city": city,
                    "cohort": "all",
                    "route": route,
                    "n": int(400 * share),
                    "share": share,
                }
            )
        for week in range(0, 60, 4):
            s = float(np.exp(-week / (20 + 5 * i)))
            tables["route_start_survival"].append(
                {
                    "city": city,
                    "cohort": "all",
                    "weeks": week,
                    "survival": s,
                    "ci_low": max(s - 0.05, 0),
                    "ci_high": min(s + 0.05, 1),
                    "n_at_risk": max(int(400 * s), 10),
                    "n_events": 10,
                }
            )
        for e in range(-3, 4):
            tables["uniform_bands"].append(
                {
                    **_side_key(city),
                    "estimator": "cs_dr",
                    "event_time": e,
                    "band_low": -0.04,
                    "band_high": 0.04,
                    "critical_value": 2.6,
                }
            )
        for method, p in (("crv1", 0.04), ("wild_cluster_webb", 0.12), ("randomization", 0.2)):
            tables["inference"].append(
                {
                    **_side_key(city),
                    "method": method,
                    "p_value": p,
                    "ci_low": -0.02,
                    "ci_high": 0.03,
                    "n_clusters": 40,
                    "p_floor": 0.025,
                }
            )
        tables["pretrends"].append(
            {**_side_key(city), "test": "wald", "statistic": 1.3, "df": 3, "p_value": 0.7}
        )
        for method in ("relative_magnitude", "smoothness"):
            for m in (0.0, 0.5, 1.0):
                tables["honestdid"].append(
                    {
                        **_side_key(city),
                        "method": method,
                        "m": m,
                        "ci_low": -0.01 - m * 0.02,
                        "ci_high": 0.03 + m * 0.02,
                    }
                )
        tables["refutations"].append(
            {
                **_side_key(city),
                "check": "placebo_reform_date",
                "estimate": 0.001,
                "ci_low": -0.01,
                "ci_high": 0.012,
                "p_value": 0.8,
                "passed": True,
            }
        )
    bundle = {**_side_key("rotterdam"), **BUNDLE_KEY}
    tables["pretrends"] += [
        {**bundle, "test": "wald", "statistic": 9.1, "df": 8, "p_value": 0.33},
        {**bundle, "test": "linear_slope", "statistic": 0.001, "df": 1, "p_value": 0.61},
    ]
    tables["honestdid"] += [
        {**bundle, "method": "relative_magnitude", "m": m, "ci_low": 0.01 - m / 50}
        | {"ci_high": 0.05 + m / 50, "breakdown": 1.25, "fragile": False}
        for m in (0.0, 1.0)
    ]
    tables["uniform_bands"] += [
        {**bundle, "estimator": "cs_dr", "event_time": e, "band_low": 0.01 * e - 0.03}
        | {"band_high": 0.01 * e + 0.03, "critical_value": 2.9}
        for e in range(-4, 5)
    ]
    frames = {k: pd.DataFrame(v) for k, v in tables.items()}
    # 5 named covariates and 24 cohort dummies: more than a Love plot shows (20, worst first).
    dummies = [f"cohort_{year}Q{quarter}" for year in range(2019, 2025) for quarter in range(1, 5)]
    covariates = ("age", "female", "schooling_years", "literacy", "test_score", *dummies)
    frames["balance"] = pd.DataFrame(
        [
            {
                "design": "route_matching",
                "treatment": "z_vs_b1",
                "comparison": "matched",
                "covariate": c,
                "smd_before": 0.3 - 0.01 * j,
                "smd_after": 0.002 * j,
                "var_ratio_before": 1.4,
                "var_ratio_after": 1.05,
                "n_treated": 80,
                "n_control": 300,
            }
            for j, c in enumerate(covariates)
        ]
    )
    frames["overlap"] = pd.DataFrame(
        [
            {
                "design": "route_matching",
                "treatment": "z_vs_b1",
                "arm": arm,
                "bin_low": b / 10,
                "bin_high": (b + 1) / 10,
                "n": 10 + (b if arm == "treated" else 9 - b) * 5,
            }
            for arm in ("treated", "control")
            for b in range(10)
        ]
    )
    frames["sensitivity"] = pd.DataFrame(
        [
            {
                "design": "route_matching",
                "treatment": "z_vs_b1",
                "outcome": "participation",
                "horizon": 12,
                "measure": m,
                "value": v,
            }
            for m, v in (("rosenbaum_gamma", 1.4), ("e_value", 1.9))
        ]
    )
    return frames


def _validation(estimates: pd.DataFrame) -> pd.DataFrame:
    frame = estimates.copy()
    frame["truth"] = frame["estimate"] - 0.001
    frame["bias"] = 0.001
    frame["covered"] = True
    return frame


def _provenance() -> dict:
    return {
        "run_name": "crafted",
        "data_source": "synthetic",
        "config_hash": "c0ffee12",
        "git_commit": "0123456789abcdef",
        "python": "3.11",
        "platform": "linux",
        "packages": {"pandas": "3.1.0", "matplotlib": "3.10"},
        "inputs": [{"file": "persons.parquet", "sha256": "ab" * 32}],
    }


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def write_minimal_export(folder: Path) -> Path:
    """Today's export: reform att_overall rows, the sample flow and the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        r for r in _estimates() if r["design"] == "reform_did" and r["estimand"] == "att_overall"
    ]
    write_tidy(pd.DataFrame(rows), folder / "estimates.csv")
    _write_csv(
        pd.DataFrame(
            {
                "step": [STEPS["obligated"], STEPS["municipality_known"]],
                "persons": [5000, 4000],
                "persons_rotterdam": [900, 800],
            }
        ),
        folder / "sample_flow.csv",
    )
    _write_csv(
        pd.DataFrame(
            {"file": ["estimates.csv", "sample_flow.csv"], "sha256": ["ab" * 32, "cd" * 32]}
        ),
        folder / "MANIFEST.csv",
    )
    return folder


COMPARISONS = ("amsterdam", "den_haag", "utrecht", "rest_nl")
# (comparison, outcome, horizon) -> verdict and reason; every other row: no difference.
VERDICTS = {
    ("amsterdam", "participation", 12): ("more_effective", "adjusted p below alpha"),
    ("den_haag", "employed", 24): ("less_effective", "adjusted p below alpha"),
    ("utrecht", "participation", 12): ("not_assessable", "pre-trend test rejects"),
    ("utrecht", "participation", 24): ("not_assessable", "pre-trend test rejects"),
    ("utrecht", "employed", 12): ("not_assessable", "too few persons"),
}


def verdict_table() -> pd.DataFrame:
    """The primary family's verdict rows (the contract in docs/report-inputs.md): Rotterdam vs
    each comparison x participation/employed x 12/24 months. One row is suppressed (empty
    estimate and interval: too few persons), and its counts withheld."""
    rows = []
    for c, comparison in enumerate(COMPARISONS):
        for outcome in ("participation", "employed"):
            for horizon in (12, 24):
                verdict, reason = VERDICTS.get(
                    (comparison, outcome, horizon),
                    ("no_distinguishable_difference", "adjusted p not below alpha"),
                )
                estimate = {"more_effective": 0.062, "less_effective": -0.071}.get(
                    verdict, 0.012 - 0.008 * c
                )
                suppressed = reason == "too few persons"
                rows.append(
                    {
                        "city": "rotterdam",
                        "comparison": comparison,
                        "outcome": outcome,
                        "horizon": horizon,
                        "direction": "higher_is_better",
                        "estimate": None if suppressed else estimate,
                        "se": None if suppressed else 0.018,
                        "ci_low": None if suppressed else estimate - 0.035,
                        "ci_high": None if suppressed else estimate + 0.035,
                        "inference": "person sampling + city-by-period variance component",
                        "p_value": None
                        if suppressed
                        else 0.004
                        if verdict != "no_distinguishable_difference"
                        else 0.5,
                        "p_adjusted": None
                        if suppressed
                        else 0.03
                        if verdict != "no_distinguishable_difference"
                        else 1.0,
                        "pretrend_p": 0.004 if reason == "pre-trend test rejects" else 0.41,
                        "breakdown_mbar": 0.6 if verdict == "more_effective" else None,
                        "mde": 0.09,
                        "ri_p": 0.075 if comparison == "rest_nl" and not suppressed else None,
                        "control_mean": None if suppressed else 0.31 + 0.02 * c,
                        "clusters_treated": 1,
                        "clusters_control": 339 if comparison == "rest_nl" else 1,
                        "n_treated": None if suppressed else 2400,
                        "n_control": None if suppressed else 1800 + 500 * c,
                        "verdict": verdict,
                        "reason": reason,
                    }
                )
    return pd.DataFrame(rows)[list(VERDICT_COLUMNS)]


def outcome_trends_table() -> pd.DataFrame:
    """Raw shares per city x cohort; Utrecht's first cohort withheld (empty share)."""
    rows = [
        {
            "city": city,
            "cohort": cohort,
            "outcome": outcome,
            "horizon": 12,
            "share": None if city == "utrecht" and k == 0 else 0.3 + 0.05 * k + 0.02 * c,
        }
        for c, city in enumerate((*CITIES, "rest_nl"))
        for k, cohort in enumerate(COHORTS)
        for outcome in ("participation", "employed")
    ]
    return pd.DataFrame(rows)


DESCRIPTIVE_VARIABLES = {
    "female": {"column": "female"},
    "age": {"column": "age", "edges": [18, 27, 45], "labels": ["18-26", "27-44", "45+"]},
    "group": {"column": "group"},
    "origin": {"column": "origin_region"},
}


def descriptives_table() -> pd.DataFrame:
    """Table 1 made by the export's own producer and rules from crafted persons: Utrecht has
    four persons of 45+ (withheld, and a second age cell with it) and no known origin for 3."""
    rng = np.random.default_rng(5)
    sizes = {"rotterdam": 300, "amsterdam": 260, "den_haag": 200, "utrecht": 120, "rest_nl": 900}
    city = np.repeat(list(sizes), list(sizes.values()))
    age = rng.integers(18, 44, len(city)).astype(float)
    age[rng.random(len(city)) < 0.15] = 50
    utrecht = np.flatnonzero(city == "utrecht")
    age[utrecht] = np.where(np.arange(len(utrecht)) < 4, 50, np.minimum(age[utrecht], 44))
    origin = rng.choice(["syria", "eritrea", "turkey", "other"], len(city)).astype(object)
    origin[utrecht[:3]] = None
    persons = pd.DataFrame(
        {
            "city": city,
            "female": rng.random(len(city)) < 0.5,
            "age": age,
            "group": rng.choice(["statushouder", "gezinsmigrant"], len(city)),
            "origin_region": origin,
        }
    )
    item = descriptives_item(persons, DESCRIPTIVE_VARIABLES, (*CITIES, "rest_nl"))
    [checked] = check_tables([item], load_rules())
    return checked.frame


def monte_carlo_primary_table() -> pd.DataFrame:
    """The committed summary of benchmarks/mc_primary.py: one engine and size, two worlds and
    two shock scales over two primary rows."""
    rows = [
        {
            "engine": "designsim",
            "persons": 40000,
            "world": world,
            "scale": scale,
            "seeds": 30,
            "comparison": comparison,
            "outcome": "participation",
            "horizon": 24,
            "truth": 0.0 if world == "equal" else 0.02,
            "bias": 0.003,
            "rmse": 0.05,
            "mean_se": 0.058,
            "sd_estimate": 0.056,
            "coverage": 0.933 if comparison == "amsterdam" else 0.967,
            "coverage_persons_only": 0.9 - 0.1 * scale,
            "not_assessable": 0.067,
            "false_verdict": 0.0,
            "family_false_verdict": 0.033 if world == "equal" else 0.0,
        }
        for world in ("planted", "equal")
        for scale in (1.0, 2.0)
        for comparison in ("amsterdam", "rest_nl")
    ]
    return pd.DataFrame(rows)


def not_estimated_table() -> pd.DataFrame:
    """Cells a design did not estimate (export columns of inburgering.not_estimated)."""
    key = {"treatment": "wi2021", "city": "utrecht", "outcome": "participation", "horizon": 12}
    reform = {**key, "design": "reform_did", "subgroup": "all"}
    rows = [
        {**reform, "comparison": comparison, "reason": "DiD estimator not estimable"}
        for comparison in ("den_haag", "amsterdam")
    ]
    rows.append(
        {
            **key,
            "design": "instrument_did",
            "treatment": "onderwijsroute",
            "city": "all",
            "comparison": "",
            "subgroup": "",
            "reason": "no eligible adoption cohort (no municipality adopts inside the data)",
        }
    )
    return pd.DataFrame(rows)


def write_full_export(folder: Path) -> Path:
    """Every file of the export contract."""
    write_minimal_export(folder)
    _write_csv(verdict_table(), folder / "verdict.csv")
    _write_csv(outcome_trends_table(), folder / "outcome_trends.csv")
    _write_csv(descriptives_table(), folder / "descriptives.csv")
    _write_csv(not_estimated_table(), folder / "not_estimated.csv")
    estimates = pd.DataFrame(_estimates())
    write_tidy(estimates, folder / "estimates.csv")
    for name, frame in _side_tables().items():
        _write_csv(frame, folder / f"{name}.csv")
    from inburgering.contracts.tidy import read_tidy

    _write_csv(_validation(read_tidy(folder / "estimates.csv")), folder / "validation.csv")
    _write_csv(
        pd.DataFrame(
            [
                {
                    "design": "reform_did",
                    "estimand": "att_overall",
                    "estimator": "cs_dr",
                    "city": c,
                    "outcome": "participation",
                    "horizon": 12,
                    "n_reps": 200,
                    "mean_bias": 0.001,
                    "rmse": 0.01,
                    "coverage": 0.94,
                    "mean_ci_width": 0.04,
                    "shock_scale": scale,
                }
                for c in CITIES
                for scale in (0.0, 2.0)
            ]
        ),
        folder / "monte_carlo.csv",
    )
    _write_csv(monte_carlo_primary_table(), folder / "monte_carlo_primary.csv")
    _write_csv(
        pd.DataFrame(
            {
                "rule": ["synth", "prepare", "reform_did"],
                "seconds": [12.5, 8.1, 30.2],
                "max_rss_mb": [300, 250, 800],
            }
        ),
        folder / "RUNTIMES.csv",
    )
    (folder / "PROVENANCE.json").write_text(json.dumps(_provenance()), encoding="utf-8")
    missing = [f.name for f in CONTRACT if not (folder / f.name).is_file()]
    assert not missing, f"crafted export lacks contract files {missing}"
    return folder
