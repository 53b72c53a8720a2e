"""The data-quality ledger: every validation rule, what it found and what was done about it.

A fatal rule stops the stage with a message naming the file, the column (as the file spells it),
the rule and an example row. A repairable rule applies its documented repair and counts the
rows touched; a repair that touches more than ``max_repair_share`` of a table is treated as
fatal, because at that scale it signals a wrong file or mapping rather than noise. Rules that
were checked and found nothing are kept with count 0, so the table is a complete audit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from inburgering.cbs.readers import LoadedTable
from inburgering.workflow import StageError

log = logging.getLogger(__name__)

FATAL = "fatal"
REPAIRED = "repaired"
ABSENT = "absent"

# Rule name -> (action, documented rule and repair). The report's data-quality table and
# docs list these texts; a rule not listed here cannot be recorded.
RULES: dict[str, tuple[str, str]] = {
    "key_missing": (FATAL, "person or object key is empty"),
    "key_format": (FATAL, "person key does not match the configured pattern"),
    "key_unique": (FATAL, "key occurs in more than one row with different content"),
    "date_format": (FATAL, "date is not YYYYMMDD (or YYYYMM for months)"),
    "date_range": (FATAL, "date or birth year outside prepare.validation min_date..max_date"),
    "code_list": (FATAL, "value is not in the catalogue's code list"),
    "country_not_in_origin_map": (
        REPAIRED,
        "country of birth not listed under codes.origin_region: origin region set to 'other'",
    ),
    "number_format": (FATAL, "value is not a number"),
    "unknown_municipality": (FATAL, "municipality code absent from the VSLGWB classification"),
    "spell_start_missing": (FATAL, "spell has no start date"),
    "duplicate_rows": (REPAIRED, "identical rows: all but one dropped"),
    "person_id_padding": (REPAIRED, "numeric person id lost leading zeros: left-padded"),
    "municipality_code_format": (REPAIRED, "'GM0599' or '599' recoded to the 4-digit '0599'"),
    "spell_open_end": (REPAIRED, "spell without end date: treated as still running"),
    "spell_inverted": (REPAIRED, "spell ends before it starts: spell dropped"),
    "spell_overlap": (
        REPAIRED,
        "overlapping spells: same-category spells merged; an earlier address spell is cut "
        "at the day before the next address starts",
    ),
    "classification_year": (
        REPAIRED,
        "address spell starts outside the VSLGWB years: nearest year's municipality used",
    ),
    "birth_month_unknown": (REPAIRED, "birth month unknown: age from birth year only"),
    "multiple_reports": (
        REPAIRED,
        "several municipal reports for one person: earliest date per step, route of the "
        "latest route start",
    ),
    "law_disagrees_with_date": (
        REPAIRED,
        "law column disagrees with the obligation start: regime taken from the date",
    ),
    "koppeling_before_permit": (REPAIRED, "koppeling before permit: koppeling date set missing"),
    "housing_before_permit": (REPAIRED, "housing before permit: housing date set missing"),
    "pip_before_intake": (REPAIRED, "PIP before intake: PIP date set missing"),
    "route_switch_before_start": (
        REPAIRED,
        "route switch before route start: switch date set missing",
    ),
    "optional_table_absent": (ABSENT, "optional source has no file: its columns are missing"),
}

# Repairs that describe known, possibly large, register properties rather than noise.
UNCAPPED = {
    "country_not_in_origin_map",
    "spell_open_end",
    "birth_month_unknown",
    "law_disagrees_with_date",
    "spell_overlap",
    "multiple_reports",
}


@dataclass
class DataQuality:
    """Collects the outcome of every rule; raises StageError on fatal findings.

    Parameters
    ----------
    max_repair_share
        Largest share of a table's rows a capped repair may touch before it is fatal.
    rule_context
        Added to every fatal message (the Snakemake rule name).
    """

    max_repair_share: float = 0.05
    rule_context: str = "prepare"
    rows: list[dict] = field(default_factory=list)

    def _record(self, rule: str, table: str, column: str, count: int, checked: int) -> None:
        action, description = RULES[rule]
        self.rows.append(
            {
                "rule": rule,
                "table": table,
                "column": column,
                "action": action,
                "count": int(count),
                "rows_checked": int(checked),
                "description": description,
            }
        )

    def _stop(
        self, rule: str, loaded: LoadedTable, column: str, mask: pd.Series, note: str
    ) -> None:
        example = mask[mask].index[0]
        raise StageError(
            f"rule {self.rule_context!r}: file {loaded.file_names()}, column "
            f"{loaded.real(column)!r} (logical {loaded.name}.{column}): validation rule "
            f"{rule!r} ({RULES[rule][1]}{note}) broken by {int(mask.sum())} of {len(mask)} rows; "
            f"example {loaded.describe(example)}"
        )

    def check(
        self, rule: str, loaded: LoadedTable, column: str, mask: pd.Series, note: str = ""
    ) -> None:
        """Fatal rule: `mask` marks offending rows of ``loaded.frame``."""
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            self._stop(rule, loaded, column, mask, note)
        self._record(rule, loaded.name, column, 0, len(mask))

    def repaired(self, rule: str, loaded: LoadedTable, column: str, mask: pd.Series) -> int:
        """Repairable rule: `mask` marks the rows the documented repair touches."""
        mask = mask.fillna(False).astype(bool)
        count = int(mask.sum())
        if rule not in UNCAPPED and count > self.max_repair_share * max(len(mask), 1):
            self._stop(
                rule,
                loaded,
                column,
                mask,
                f"; {count} rows exceed prepare.validation.max_repair_share="
                f"{self.max_repair_share}",
            )
        if count:
            log.warning("%s.%s: rule %s repaired %d rows", loaded.name, column, rule, count)
        self._record(rule, loaded.name, column, count, len(mask))
        return count

    def absent(self, table: str) -> None:
        log.warning("optional table %s has no file; its columns will be missing", table)
        self._record("optional_table_absent", table, "", 1, 0)

    def table(self) -> pd.DataFrame:
        """The data-quality table (one row per rule × table × column checked)."""
        columns = ["rule", "table", "column", "action", "count", "rows_checked", "description"]
        frame = pd.DataFrame(self.rows, columns=columns)
        return (
            frame.groupby(["rule", "table", "column", "action", "description"], sort=False)[
                ["count", "rows_checked"]
            ]
            .sum()
            .reset_index()[columns]
        )
