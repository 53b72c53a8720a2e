"""CBS output rules applied to every exported table and figure (issue 12, DESIGN.md data flow).

Nothing reaches ``results/export/`` without passing here; the export is the only input of the
reports. Typical use inside RA::

    rules = load_rules(config["disclosure"])
    checked = check_tables([(tidy_rows, tidy_estimates_spec("estimates")),
                            (counts, TableSpec("persons_city_cohort", "frequency",
                                               count_columns=["n"],
                                               group_columns=["city", "cohort"],
                                               margins={"city": "all", "cohort": "all"}))],
                           rules)
    figure = check_figure_data(points, "event_study", name="event_study", rules=rules)
    write_export([*checked, figure], "results/export", rules=rules,
                 person_keys=persons["person_id"])

or, file-level, :func:`export_from_files`. Rules (thresholds, sources) live in the
``disclosure:`` config section; ``schemas/disclosure.schema.yaml`` holds the keys and defaults.
"""

from inburgering.disclosure.errors import DisclosureError
from inburgering.disclosure.export import write_export
from inburgering.disclosure.figures import CheckedFigure, check_figure_data
from inburgering.disclosure.files import export_from_files, read_table
from inburgering.disclosure.leaks import LeakError, LeakFinding, assert_no_leaks, scan_for_leaks
from inburgering.disclosure.rules import DisclosureConfigError, DisclosureRules, load_rules
from inburgering.disclosure.secondary import MarginRegistry, attacker_bounds
from inburgering.disclosure.spec import CheckedTable, CheckReport, TableSpec
from inburgering.disclosure.summaries import (
    summarise_amounts,
    summarise_percentiles,
    tidy_estimates_spec,
)
from inburgering.disclosure.tables import check_table, check_tables

__all__ = [
    "CheckReport",
    "CheckedFigure",
    "CheckedTable",
    "DisclosureConfigError",
    "DisclosureError",
    "DisclosureRules",
    "LeakError",
    "LeakFinding",
    "MarginRegistry",
    "TableSpec",
    "assert_no_leaks",
    "attacker_bounds",
    "check_figure_data",
    "check_table",
    "check_tables",
    "export_from_files",
    "load_rules",
    "read_table",
    "scan_for_leaks",
    "summarise_amounts",
    "summarise_percentiles",
    "tidy_estimates_spec",
    "write_export",
]
