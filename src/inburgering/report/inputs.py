"""The export contract: which files in results/export/ the reports read, and their columns.

This module is the single place that defines what the reports read (docs/report-inputs.md
explains it for the engineers who produce the files); the side tables' columns are declared in
``inburgering.contracts.side_tables``, and the tests check that every column read here is one
the export writes. Every report section names the inputs it needs; a missing
file renders a "not run in this configuration" callout, while a file that exists but breaks the
contract (missing columns) stops the render, because a half-shown result is worse than none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering.contracts.side_tables import DESCRIPTIVES
from inburgering.contracts.tidy import (
    SUPPRESSED,
    TIDY_COLUMNS,
    VALUE_COLUMNS,
    read_tidy,
    tidy_frame,
)
from inburgering.contracts.verdict import EXPORT_COLUMNS as VERDICT_EXPORT_COLUMNS
from inburgering.not_estimated import EXPORT_COLUMNS as NOT_ESTIMATED_COLUMNS
from inburgering.report.document import RenderError


@dataclass(frozen=True)
class ExportFile:
    """One file of the contract: its name, required columns and what it holds."""

    name: str
    columns: tuple[str, ...]
    description: str

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0]


CONTRACT: tuple[ExportFile, ...] = (
    ExportFile(
        "not_estimated.csv",
        NOT_ESTIMATED_COLUMNS,
        "Every cell a design did not estimate, with the count-free reason (no statistic).",
    ),
    ExportFile(
        "verdict.csv",
        VERDICT_EXPORT_COLUMNS,
        "The primary analysis: one row per pre-specified contrast (Rotterdam vs each "
        "comparison) x outcome x horizon with honest interval, Holm-adjusted p, RI p, pre-trend "
        "p, HonestDiD breakdown M-bar, MDE, the comparison's post-reform outcome mean, "
        "municipalities on each side and the verdict (more_effective, less_effective, "
        "no_distinguishable_difference, not_assessable) with its reason.",
    ),
    ExportFile(
        "estimates.csv",
        TIDY_COLUMNS,
        "Tidy estimate rows of every design (DESIGN.md, Contracts): att_overall, "
        "att_event (event studies, with event_time), att, cate, process indicators.",
    ),
    ExportFile(
        "sample_flow.csv",
        ("step", "persons"),
        "Sample flow: one row per selection step in order; optional persons_<city>.",
    ),
    ExportFile(
        "descriptives.csv",
        DESCRIPTIVES.columns,
        "Table 1: persons per settlement city (G4 cities and rest_nl) and level of each "
        "configured characteristic (config descriptives); level 'all' is the city's total for "
        "the variable; withheld counts are empty.",
    ),
    ExportFile(
        "composition.csv",
        ("city", "cohort", "group", "n"),
        "Persons by G4 city x cohort (quarter, e.g. 2022Q1) x group.",
    ),
    ExportFile(
        "route_mix.csv",
        ("city", "cohort", "route", "n", "share"),
        "Learning-route mix (route: b1, onderwijs, z, b1_entree) per city; cohort "
        "'all' for the pooled mix; share in [0, 1] of persons with a known route.",
    ),
    ExportFile(
        "outcome_trends.csv",
        ("city", "cohort", "outcome", "horizon", "share"),
        "Raw outcome shares by city (G4 cities and rest_nl), cohort year and horizon, among the "
        "persons whose outcome is measured (their number stays inside RA); withheld cells have "
        "an empty share.",
    ),
    ExportFile(
        "route_start_survival.csv",
        ("city", "cohort", "weeks", "survival", "ci_low", "ci_high", "n_at_risk"),
        "Kaplan-Meier share not yet started on a learning route, by weeks since the "
        "obligation start; cohort 'all' or a year (2022).",
    ),
    ExportFile(
        "uniform_bands.csv",
        (
            "design",
            "treatment",
            "city",
            "comparison",
            "outcome",
            "horizon",
            "estimator",
            "event_time",
            "band_low",
            "band_high",
            "critical_value",
        ),
        "Simultaneous (uniform) confidence band of each event-study coefficient.",
    ),
    ExportFile(
        "inference.csv",
        (
            "design",
            "treatment",
            "city",
            "comparison",
            "outcome",
            "horizon",
            "method",
            "p_value",
            "ci_low",
            "ci_high",
            "n_clusters",
            "p_floor",
        ),
        "Randomization inference for each event study's headline effect (method: "
        "randomization; the wild bootstrap, CRV3 and synthetic DiD are estimate rows); "
        "p_floor = smallest attainable p-value.",
    ),
    ExportFile(
        "pretrends.csv",
        (
            "design",
            "treatment",
            "city",
            "comparison",
            "outcome",
            "horizon",
            "test",
            "statistic",
            "df",
            "p_value",
        ),
        "Joint pre-trend tests of event-study leads (test: wald, ...).",
    ),
    ExportFile(
        "honestdid.csv",
        (
            "design",
            "treatment",
            "city",
            "comparison",
            "outcome",
            "horizon",
            "method",
            "m",
            "ci_low",
            "ci_high",
        ),
        "HonestDiD robust intervals: method relative_magnitude (m = Mbar) or smoothness "
        "(m = M); m = 0 is the parallel-trends interval.",
    ),
    ExportFile(
        "refutations.csv",
        (
            "design",
            "treatment",
            "city",
            "outcome",
            "horizon",
            "check",
            "estimate",
            "ci_low",
            "ci_high",
            "p_value",
            "passed",
        ),
        "dowhy refutation checks of the matching estimates (check: "
        "placebo_treatment_refuter, random_common_cause, data_subset_refuter); passed is "
        "true/false.",
    ),
    ExportFile(
        "balance.csv",
        (
            "design",
            "treatment",
            "comparison",
            "covariate",
            "smd_before",
            "smd_after",
            "var_ratio_before",
            "var_ratio_after",
            "n_treated",
            "n_control",
        ),
        "Covariate balance before/after matching or weighting (standardised mean "
        "differences, variance ratios).",
    ),
    ExportFile(
        "overlap.csv",
        ("design", "treatment", "arm", "bin_low", "bin_high", "n"),
        "Propensity-score histogram per arm (treated/control), bins with n >= 10.",
    ),
    ExportFile(
        "sensitivity.csv",
        ("design", "treatment", "outcome", "horizon", "measure", "value"),
        "Sensitivity to unobserved confounding (measure: rosenbaum_gamma, e_value, e_value_ci).",
    ),
    ExportFile(
        "validation.csv",
        (*TIDY_COLUMNS, "truth", "bias", "covered"),
        "Synthetic runs only: estimate rows joined to the planted truth "
        "(results/validation/estimates_vs_truth.csv).",
    ),
    ExportFile(
        "monte_carlo.csv",
        (
            "design",
            "estimand",
            "estimator",
            "city",
            "outcome",
            "horizon",
            "n_reps",
            "mean_bias",
            "rmse",
            "coverage",
            "mean_ci_width",
        ),
        "Synthetic runs only: Monte Carlo performance over repeated synthetic samples.",
    ),
    ExportFile(
        "monte_carlo_primary.csv",
        (
            "engine",
            "persons",
            "world",
            "scale",
            "seeds",
            "comparison",
            "outcome",
            "horizon",
            "bias",
            "rmse",
            "mean_se",
            "sd_estimate",
            "coverage",
            "coverage_persons_only",
            "not_assessable",
            "false_verdict",
            "family_false_verdict",
        ),
        "Synthetic runs only: the primary analysis' Monte Carlo (benchmarks/mc_primary.py) per "
        "engine, persons, world (planted / equal effects), shock scale and primary row.",
    ),
    ExportFile(
        "RUNTIMES.csv",
        ("rule", "seconds", "max_rss_mb"),
        "Run time and peak memory per workflow rule (from Snakemake benchmark files); the one "
        "export file that differs between otherwise identical runs.",
    ),
    ExportFile(
        "PROVENANCE.json",
        ("run_name", "data_source", "config_hash", "git_commit", "packages", "inputs"),
        "Provenance: packages {name: version}, inputs [{file, sha256}], python, platform.",
    ),
    ExportFile(
        "MANIFEST.csv",
        ("file", "sha256"),
        "Written by the disclosure stage: every exported file and its checksum.",
    ),
)
BY_NAME = {item.stem: item for item in CONTRACT}


class Exports:
    """Read contract files from one export folder; absent files are None, bad files an error."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        # Tables read so far (a report's sections ask for estimates a dozen times); callers
        # get copies, so a section that edits its frame cannot change another's.
        self._tables: dict[str, pd.DataFrame | None] = {}

    def path(self, stem: str) -> Path | None:
        """The file, accepting the disclosure stage's figure-data name ``{stem}.data.csv``."""
        spec = BY_NAME[stem]
        for candidate in (spec.name, f"{spec.stem}.data.csv"):
            if (self.folder / candidate).is_file():
                return self.folder / candidate
        return None

    def table(self, stem: str) -> pd.DataFrame | None:
        if stem not in self._tables:
            self._tables[stem] = self._read(stem)
        frame = self._tables[stem]
        return None if frame is None else frame.copy()

    def _read(self, stem: str) -> pd.DataFrame | None:
        path = self.path(stem)
        if path is None:
            return None
        if stem in ("estimates", "validation"):
            return _read_estimates(path, BY_NAME[stem])
        # Only an empty field is missing (suppressed or not applicable); "NA" could be a code.
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        _check_columns(frame, path, BY_NAME[stem])
        return _empty_keys_as_text(frame) if len(frame) else None

    def provenance(self) -> dict[str, Any] | None:
        path = self.path("PROVENANCE")
        if path is None:
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        missing = [c for c in BY_NAME["PROVENANCE"].columns if c not in document]
        if missing:
            raise RenderError(f"{path}: export contract broken, missing fields {missing}")
        return document


def _check_columns(frame: pd.DataFrame, path: Path, spec: ExportFile) -> None:
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise RenderError(
            f"{path}: export contract broken, missing columns {missing} (see docs/report-inputs.md)"
        )


def _empty_keys_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("city", "cohort", "subgroup", "comparison", "treatment"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    return frame


def _read_estimates(path: Path, spec: ExportFile) -> pd.DataFrame | None:
    if spec.stem == "estimates":
        frame = read_tidy(path)
    else:
        numeric = (*VALUE_COLUMNS, "horizon", "event_time", "truth", "bias")
        raw = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in numeric})
        _check_columns(raw, path, spec)
        frame = tidy_frame(raw[[c for c in (*TIDY_COLUMNS, SUPPRESSED) if c in raw.columns]])
        frame["truth"] = pd.to_numeric(raw["truth"]).to_numpy()
        frame["bias"] = pd.to_numeric(raw["bias"]).to_numpy()
        frame["covered"] = raw["covered"].astype(str).str.lower().eq("true").to_numpy()
    return frame if len(frame) else None
