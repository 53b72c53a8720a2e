"""Snakemake entry point of the export: check every table and figure, write results/export/.

One rule owns ``results/export/``: the package is assembled, checked against the configured CBS
rules, leak-scanned against the person-level inputs and only then swapped into place
(:func:`inburgering.disclosure.export.write_export`). An unsafe item stops the rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering import not_estimated
from inburgering.calendar import PolicyCalendar
from inburgering.config import load_policies
from inburgering.contracts.tidy import read_tidy
from inburgering.disclosure import assemble
from inburgering.disclosure.audit import assert_export_safe, export_specs
from inburgering.disclosure.export import write_export
from inburgering.disclosure.figures import check_figure_data
from inburgering.disclosure.files import read_table
from inburgering.disclosure.rules import DisclosureRules, rules_from_section
from inburgering.disclosure.spec import CheckedTable
from inburgering.disclosure.tables import check_tables
from inburgering.provenance import write_provenance
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)

PERSON_DATES = (
    "obligation_start",
    "permit_date",
    "koppeling_date",
    "housing_date",
    "intake_date",
    "pip_date",
    "route_assigned_date",
    "route_start_date",
    "route_switch_date",
    "first_exam_date",
)


def public_dates(policies: dict[str, Any], prepare: dict[str, Any], data_end: str) -> list[str]:
    """Dates that are public facts, not a person's: policy calendar, quarter bounds, data end."""
    dates = {policies["reform"]["date"], prepare["reform_date"], prepare["uncertain_regime_until"]}
    for instrument in policies["instruments"].values():
        for spell in instrument["adoption"].values():
            dates.update(spell.values())
    quarters = pd.period_range("2010Q1", "2030Q4", freq="Q")
    bounds = [*quarters.start_time, *quarters.end_time.normalize()]
    dates.update(day.strftime("%Y-%m-%d") for day in bounds)
    dates.add(pd.Period(data_end, "M").end_time.strftime("%Y-%m-%d"))
    return sorted({*dates, *(d.replace("-", "") for d in dates)})


def config_values(node: Any) -> set[str]:
    """Every scalar of the configuration: public settings (seeds such as 20260311 look like
    dates to the leak scan, and the configuration is part of PROVENANCE.json)."""
    if isinstance(node, dict):
        return set().union(*(config_values(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(config_values(v) for v in node)) if node else set()
    return {str(node)}


def _items(
    job: RuleJob, estimates: pd.DataFrame, persons: pd.DataFrame, rules: DisclosureRules
) -> list[assemble.Item]:
    read = read_table
    variables = (job.params.get("descriptives") or {}).get("variables") or {}
    table_1 = None
    if variables:
        cities = (
            *PolicyCalendar.from_policies(load_policies(job.input["policies"])).cities,
            "rest_nl",
        )
        table_1 = assemble.descriptives_item(persons, variables, cities)
    # Subgroup rows are checked against Table 1's persons per level (their nested samples).
    levels = None if table_1 is None else table_1[0]
    # A city's uncertain slice is a count too: designs that leave it out are checked against it.
    slices = assemble.uncertain_slices(persons)
    published = assemble.estimates_item(estimates, rules, levels, slices)
    # Side tables take their counts from the estimate rows as published: a row withheld in
    # advance (no counts) withholds its side rows too, instead of their repeating its counts.
    estimates = published[0]
    items = [
        published,
        assemble.verdict_item(read(job.input["verdict"]), rules, slices),
        assemble.sample_flow_item(read(job.input["sample_flow"])),
        assemble.data_quality_item(read(job.input["data_quality"])),
    ]
    if table_1 is not None:
        # Table 1's city x group counts are composition's totals over cohorts: checked first,
        # they are published and composition protects its small quarters against them (the
        # other order would have to withhold a city's total persons in Table 1).
        items.append(table_1)
    items += [
        assemble.composition_item(read(job.input["composition"])),
        assemble.route_mix_item(read(job.input["route_mix"])),
    ]
    if "outcome_trends" in job.input:
        items.append(assemble.outcome_trends_item(read(job.input["outcome_trends"])))
    sides = {
        name: assemble.concat(job.inputs(name))
        for name in ("balance", "overlap", "sensitivity", "refutations")
    }
    if len(sides["balance"]):
        items.append(assemble.balance_item(sides["balance"], estimates))
    if len(sides["overlap"]):
        items.append(assemble.overlap_item(sides["overlap"], rules.min_persons))
    if len(sides["sensitivity"]):
        items.append(assemble.sensitivity_item(sides["sensitivity"], estimates))
    if len(sides["refutations"]):
        items.append(
            assemble.refutations_item(sides["refutations"], estimates, job.params["alpha"])
        )
    items += assemble.did_items(job, estimates)
    if "validation" in job.input:
        validation = read(job.input["validation"])
        items.append(assemble.validation_item(validation, rules, levels, slices))
    if "monte_carlo" in job.input:
        items.append(assemble.monte_carlo_item(read(job.input["monte_carlo"])))
    if "monte_carlo_primary" in job.input:
        items.append(assemble.monte_carlo_primary_item(read(job.input["monte_carlo_primary"])))
    return items


def _auditor(
    items: list[assemble.Item],
    checked: list[CheckedTable],
    estimates: pd.DataFrame,
    rules: DisclosureRules,
) -> Callable[[Path], None]:
    """The cross-table disclosure audit of the staged export, with the true counts of every
    withheld cell (the tables as computed, row for row as written): a leak stops the export."""
    truth = {spec.name: frame.reset_index(drop=True) for frame, spec in items}
    # The rows estimates_item withholds in advance lose their counts; the audit needs them.
    truth["estimates"] = estimates
    specs = {**export_specs(), **{item.name: item.spec for item in checked}}

    def audit(staging: Path) -> None:
        log.info(assert_export_safe(staging, rules, specs=specs, truth=truth).summary())

    return audit


def run(job: RuleJob) -> None:
    # Validated and filled from the schema at workflow start-up (config.check_all, fill_defaults).
    rules = rules_from_section(job.params["disclosure"])
    estimates = read_tidy(job.input["estimates"])
    persons = pd.read_parquet(job.input["persons"])
    items = _items(job, estimates, persons, rules)
    checked = check_tables(items, rules)
    survival = check_figure_data(
        read_table(job.input["survival"]),
        "survival",
        name="route_start_survival",
        rules=rules,
        by=["city", "cohort"],
        # Survival steps with few events are pooled and the curve is cut where the risk set
        # gets small: that is how a publishable Kaplan-Meier curve is made, not a failure.
        on_violation="suppress",
    )
    config = job.params["config"]
    policies = load_policies(job.input["policies"])
    data_root = job.params["data_root"]

    # The files prepare read (not every file below data.root: on the G: drive that would hash
    # every SPOLIS year, old version and copy), then the configuration files.
    read = pd.read_csv(job.input["files_read"], dtype=str)["file"]
    config_files = [job.input[name] for name in ("catalogue", "policies", "mergers")]

    def provenance_files(staging: Path) -> None:
        write_provenance(
            staging,
            config,
            inputs=[*(Path(data_root) / file for file in read), *config_files],
            input_root=data_root,
            benchmarks=job.params["benchmarks"],
        )
        if "not_estimated" in job.input:  # labels only, no statistic: like the provenance
            not_estimated.write_export(job.input["not_estimated"], staging)

    write_export(
        [*checked, survival],
        Path(job.output["manifest"]).parent,
        rules=rules,
        provenance={"run": config["run"]["name"], "data_source": config["data"]["source"]},
        person_keys=persons["person_id"].astype(str).tolist(),
        person_values={c: persons[c] for c in PERSON_DATES if c in persons.columns},
        allow=[
            *public_dates(policies, config["prepare"], config["data"]["end"]),
            *sorted(config_values(config)),
        ],
        extras=provenance_files,
        audit=_auditor(items, checked, estimates, rules),
    )
    for item in checked:
        log.info("export %s: %d cells suppressed", item.name, int(item.frame["suppressed"].sum()))
