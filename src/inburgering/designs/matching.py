"""The route_matching and city_matching designs (DESIGN.md designs 3 and 4) and their rules.

route_matching
    Estimand ``att``: for persons assigned route r (Z or onderwijs) in the configured law regimes
    (Wi2021 cohorts), the mean of Y(r) - Y(B1), per outcome and horizon, among persons whose
    outcome is observed at that horizon (censoring depends only on the start date). Route choice
    is selection on observables by design of the policy (test score, schooling, age, literacy,
    household, origin, plus city practice and cohort-specific test versions: DOMAIN §4, §6).

    Headline: doubly robust AIPW (logit propensity, linear outcome model on B1 persons) with an
    M-estimation sandwich clustered by municipality, except that a G4 city, its own level of the
    ``city`` covariate, is split into its persons (its fixed effect absorbs the city's shock;
    as one huge cluster it made the variance degenerate and noisy: ``designs.cells``,
    ``with_variance_clusters``). Why AIPW rather than caliper matching: a
    caliper drops treated persons, which changes the estimand from the ATT over everyone assigned
    the route to the ATT over the matchable ones; AIPW keeps all of them, is consistent if either
    the assignment or the outcome model is right, and its sandwich variance accounts for both
    estimated models and for outcome correlation within municipalities (the route contrast is
    within-city, so municipality shocks are nuisance, and there are dozens of municipalities).
    Benchmarks (headline false): naive difference in means, 1:1 nearest-neighbour matching with
    caliper and regression adjustment (also the source of the Rosenbaum bounds), IPW, entropy
    balancing.

city_matching
    Estimand ``att``: for Rotterdam's statushouders in the configured regimes, the mean of
    Y(settled in Rotterdam) - Y(settled in city c), per outcome and horizon. COA disperses
    statushouders over municipalities with virtually no say of their own (DOMAIN §6), so
    settlement is as good as random given arrival timing: we match exactly on the arrival
    quarter (cohort) and on the propensity score of the remaining covariates.

    Headline: nearest-neighbour matching, exact on cohort, with replacement (so every Rotterdam
    person keeps a match and the estimand stays the ATT over all of them), ratio and caliper
    from config, and regression adjustment in the matched sample (bias correction for residual
    imbalance). Inference is heteroskedasticity-robust at the person level, not clustered: the
    contrast is between two fixed municipalities, whose own shocks are part of the estimand
    (there are two clusters, so cluster-robust inference would be impossible anyway).
    Benchmarks: naive difference, AIPW, IPW (cohort enters those as a categorical covariate).

Sample and covariate handling per cell (all logged and, where persons are removed, recorded in
the samples table): outcome observed at the horizon; configured missing-value indicators;
numeric covariates also enter as threshold bands (``bands``); rare categorical levels pooled;
controls in covariate levels without treated persons dropped (propensity zero, so the ATT is
unchanged); constant or nested covariates dropped; and at most one propensity parameter per
``events_per_variable`` persons of the smaller group, keeping covariates in configured order.

Sensitivity: every estimate row gets E-values (risk-difference scale for 0/1 outcomes), every
cell the Rosenbaum critical Gamma of its matched pairs, and ``fragile`` flags significant
estimates that an unmeasured confounder weaker than ``sensitivity.evalue_min`` / ``gamma_min``
could explain away (``designs.cells.is_fragile``).

Validation target: the estimators target ``truth`` (the expected effect given the persons), not
``truth_sample``: their standard errors include the outcome noise of the treated.

Both designs write person-free side tables (balance, binned overlap, sensitivity, dowhy
refutations, sample accounting); see ``designs.cells``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from inburgering.contracts.tidy import write_tidy
from inburgering.designs.cells import (
    Cell,
    CellOutput,
    DesignTables,
    MethodSpec,
    add_bands,
    att_support,
    budget_covariates,
    collect,
    estimate_cell,
    outcome_sample,
    pool_rare_levels,
    prepare_covariates,
    refutation_rows,
    require_columns,
    support_row,
    usable_covariates,
)
from inburgering.io import write_csv_atomic
from inburgering.workflow import RuleJob, StageError

log = logging.getLogger(__name__)

TREATED = "_treated"  # internal 0/1 column; the underscore keeps it clear of prepared columns


def _sections(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    try:
        return config["matching"], config["estimate"]
    except KeyError as error:
        message = f"configuration: section {error} missing for the matching designs"
        raise StageError(message) from None


def _analysis_sample(
    base: pd.DataFrame,
    outcomes: pd.DataFrame,
    cell: Cell,
    section: Mapping[str, Any],
    matching: Mapping[str, Any],
    banded: list[str],
) -> tuple[pd.DataFrame, list[str], list[pd.DataFrame]]:
    """One cell's persons and model covariates, with sample-accounting rows of the supports."""
    data = outcome_sample(base, outcomes, cell.outcome, cell.horizon)
    data, covariates = prepare_covariates(
        data, [*section["covariates"], *banded], matching["missing_indicator"]
    )
    data = pool_rare_levels(data, TREATED, covariates, matching["min_level"])
    exact = list(section.get("exact") or [])
    data, removed = att_support(data, TREATED, [*covariates, *exact])
    covariates = usable_covariates(data, covariates)
    covariates = budget_covariates(
        data, TREATED, covariates, matching["events_per_variable"], cell.label()
    )
    supports = [support_row(cell, data, TREATED, removed)] if removed else []
    log.info(
        "%s: %d treated, %d control persons",
        cell.label(),
        int(data[TREATED].sum()),
        int((1 - data[TREATED]).sum()),
    )
    return data, covariates, supports


def _cells_for(
    base: pd.DataFrame,
    outcomes: pd.DataFrame,
    estimate: Mapping[str, Any],
    section: Mapping[str, Any],
    matching: Mapping[str, Any],
    make_cell: Any,
    key: str,
) -> tuple[list[CellOutput], list[pd.DataFrame]]:
    """Estimate every outcome x horizon cell of one contrast, refuting the configured ones."""
    spec = MethodSpec.from_config(section, matching, estimate["alpha"])
    refute_config = matching["refute"]
    outputs, refutations = [], []
    base, banded = add_bands(base, section.get("bands") or {})
    for horizon in estimate["horizons"]:
        for outcome in estimate["outcomes"]:
            cell = make_cell(outcome, int(horizon))
            data, covariates, supports = _analysis_sample(
                base, outcomes, cell, section, matching, banded
            )
            out = estimate_cell(data, cell, TREATED, covariates, spec)
            out.samples[:0] = supports
            outputs.append(out)
            wanted = outcome in refute_config["outcomes"] and horizon in refute_config["horizons"]
            if wanted and out.rows:
                refutations.append(
                    refutation_rows(
                        data,
                        cell,
                        TREATED,
                        covariates,
                        {**refute_config, "graph": section.get("graph")},
                        section["covariates"],
                        f"{key}.graph",
                        spec.seed,
                    )
                )
    return outputs, refutations


def _check_inputs(
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    section: Mapping[str, Any],
    extra: list[str],
    estimate: Mapping[str, Any],
    design: str,
) -> None:
    needed = ["person_id", "regime", "municipality", *extra, *section["covariates"]]
    needed += [*(section.get("exact") or []), *(section.get("bands") or {})]
    require_columns(persons, needed, "persons", "the matching designs")
    require_columns(outcomes, ["person_id", "horizon", *estimate["outcomes"]], "outcomes", design)


def route_matching_rows(
    persons: pd.DataFrame, outcomes: pd.DataFrame, config: Mapping[str, Any]
) -> DesignTables:
    """Route ATTs (Z vs B1, onderwijs vs B1) per outcome and horizon, with side tables.

    Parameters
    ----------
    persons, outcomes : DataFrame
        The prepared analysis tables (``results/data``).
    config : mapping
        Holds the keys of the ``matching`` and ``estimate`` config sections that the registry
        declares for the design (``designs.registry``), the only ones its rule receives.

    Returns
    -------
    DesignTables
    """
    matching, estimate = _sections(config)
    section = matching["route"]
    _check_inputs(persons, outcomes, section, ["route"], estimate, "route_matching")
    outputs, refutations = [], []
    for contrast, route in section["contrasts"].items():
        chosen = persons["regime"].isin(section["regimes"])
        base = persons[chosen & persons["route"].isin([route, section["control"]])].copy()
        base[TREATED] = (base["route"] == route).astype(float)
        if not base[TREATED].any():
            raise StageError(
                f"persons: no person with route '{route}' in regimes {section['regimes']} "
                f"(contrast {contrast}; route values present: "
                f"{sorted(persons['route'].dropna().unique())})"
            )

        def make_cell(outcome: str, horizon: int, contrast: str = contrast) -> Cell:
            return Cell("route_matching", contrast, "all", "matched", outcome, horizon)

        out, ref = _cells_for(
            base, outcomes, estimate, section, matching, make_cell, "matching.route"
        )
        outputs += out
        refutations += ref
    return collect(outputs, refutations)


def city_matching_rows(
    persons: pd.DataFrame, outcomes: pd.DataFrame, config: Mapping[str, Any]
) -> DesignTables:
    """Rotterdam vs each other G4 city for statushouders, exact on arrival quarter (parameters
    and result as :func:`route_matching_rows`)."""
    matching, estimate = _sections(config)
    section = matching["city"]
    _check_inputs(persons, outcomes, section, ["city", "group"], estimate, "city_matching")
    treated_city = section["treated"]
    eligible = persons["regime"].isin(section["regimes"]) & persons["group"].isin(section["groups"])
    outputs, refutations = [], []
    for other in section["comparisons"]:
        base = persons[eligible & persons["city"].isin([treated_city, other])].copy()
        base[TREATED] = (base["city"] == treated_city).astype(float)
        contrast = f"{treated_city}_vs_{other}"

        def make_cell(outcome: str, horizon: int, contrast: str = contrast) -> Cell:
            return Cell("city_matching", contrast, treated_city, "matched", outcome, horizon)

        out, ref = _cells_for(
            base, outcomes, estimate, section, matching, make_cell, "matching.city"
        )
        outputs += out
        refutations += ref
    return collect(outputs, refutations)


def write_tables(tables: Any, output: Mapping[str, Any]) -> None:
    """Write the estimates (tidy, sorted) and every other named output's side table atomically.

    Each output name other than ``estimates`` must be an attribute of ``tables`` holding a
    person-free DataFrame (balance, overlap, sensitivity, refutations, samples, ...).
    """
    write_tidy(tables.estimates, output["estimates"])
    for name, path in output.items():
        if name == "estimates":
            continue
        write_csv_atomic(getattr(tables, name), path)


def run_design(job: RuleJob, rows: Any, matching: Mapping[str, Any] | None = None) -> None:
    """Read the prepared tables, run a design function, write its tables.

    BLAS threads are capped at the rule's ``threads``: the estimators work on tall, narrow
    matrices, where an oversubscribed OpenBLAS (several rules on two cores) is ~100x slower.
    """
    from threadpoolctl import threadpool_limits

    persons = pd.read_parquet(job.input["persons"])
    outcomes = pd.read_parquet(job.input["outcomes"])
    config = {"matching": matching or job.params["matching"], "estimate": job.params["estimate"]}
    with threadpool_limits(limits=max(1, job.threads)):
        tables = rows(persons, outcomes, config)
    log.info("%d estimate rows", len(tables.estimates))
    write_tables(tables, job.output)


def run_route(job: RuleJob) -> None:
    """Snakemake entry of rule route_matching_part: one route contrast (wildcard ``contrast``);
    rule route_matching gathers the contrasts (``inburgering.designs.gather.gather_parts``)."""
    contrast = job.params["contrast"]
    route = dict(job.params["matching"]["route"])
    route["contrasts"] = {contrast: route["contrasts"][contrast]}
    run_design(job, route_matching_rows, {**job.params["matching"], "route": route})


def run_city(job: RuleJob) -> None:
    """Snakemake entry of rule city_matching."""
    run_design(job, city_matching_rows)
