"""The data-quality ledger: every validation rule, what it found and what was done about it.

A fatal rule stops the stage with a message naming the file, the column (as the file spells it),
the rule and an example row. A repairable rule applies its documented repair and counts the
rows touched; a repair that touches more than its cap of a table is treated as fatal, because at
that scale it signals a wrong file or mapping rather than noise. The cap is
``prepare.validation.max_repair_share``, overridden per rule, or per rule and table, by
``prepare.validation.repair_caps``. A normalisation recodes a known, systematic CBS variant
(municipality 'GM0599' for '0599') and is counted but never capped: a whole file in the
variant is normal. Rules that were checked and found nothing are kept with count 0, so the
table is a complete audit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from inburgering.cbs.readers import LoadedTable
from inburgering.workflow import StageError

log = logging.getLogger(__name__)

FATAL = "fatal"
REPAIRED = "repaired"
NORMALISED = "normalised"
WARNED = "warned"
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
    "municipality_code_format": (
        NORMALISED,
        "CBS variant of a municipality code ('GM0599', '599', a number) recoded to '0599'",
    ),
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
    "table_before_data_end": (
        FATAL,
        "the newest file of a table is from a year before data.end: an older delivery would be "
        "used (prepare.coverage.on_stale: warn continues)",
    ),
    "editions_differ": (
        FATAL,
        "tables of prepare.coverage.same_edition come from different delivery years "
        "(prepare.coverage.on_stale: warn continues)",
    ),
    "municipality_boundary": (
        NORMALISED,
        "municipality merged before prepare.municipalities.boundary_year: code of the merged "
        "municipality (prepare.municipalities.mergers)",
    ),
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
    repair_caps
        ``prepare.validation.repair_caps``: rule -> share, or rule -> {table: share}; tables
        not listed keep ``max_repair_share``.
    """

    max_repair_share: float = 0.05
    rule_context: str = "prepare"
    repair_caps: Mapping[str, float | Mapping[str, float]] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.repair_caps) - set(RULES))
        if unknown:
            raise StageError(
                f"prepare.validation.repair_caps: unknown rule(s) {unknown}; "
                f"repair rules: {sorted(r for r, (a, _) in RULES.items() if a == REPAIRED)}"
            )

    def cap(self, rule: str, table: str) -> tuple[float, str]:
        """The share a repair may touch, and the config key that set it."""
        caps = self.repair_caps.get(rule)
        if isinstance(caps, Mapping) and table in caps:
            return float(caps[table]), f"prepare.validation.repair_caps.{rule}.{table}"
        if caps is not None and not isinstance(caps, Mapping):
            return float(caps), f"prepare.validation.repair_caps.{rule}"
        return self.max_repair_share, "prepare.validation.max_repair_share"

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
        self,
        rule: str,
        loaded: LoadedTable,
        column: str,
        mask: pd.Series,
        note: str = "",
        explain: Callable[[pd.Series], str] | None = None,
    ) -> None:
        """Fatal rule: `mask` marks offending rows of ``loaded.frame``; `explain` adds detail
        to the message (computed only when the rule is broken)."""
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            try:
                self._stop(rule, loaded, column, mask, note)
            except StageError as error:
                if explain is None:
                    raise
                raise StageError(f"{error}{explain(mask)}") from None
        self._record(rule, loaded.name, column, 0, len(mask))

    def repaired(self, rule: str, loaded: LoadedTable, column: str, mask: pd.Series) -> int:
        """Repairable rule: `mask` marks the rows the documented repair touches."""
        mask = mask.fillna(False).astype(bool)
        count = int(mask.sum())
        share, key = self.cap(rule, loaded.name)
        capped = RULES[rule][0] == REPAIRED and rule not in UNCAPPED
        if capped and count > share * max(len(mask), 1):
            self._stop(rule, loaded, column, mask, f"; {count} rows exceed {key}={share}")
        if count:
            log.warning("%s.%s: rule %s repaired %d rows", loaded.name, column, rule, count)
        self._record(rule, loaded.name, column, count, len(mask))
        return count

    def delivery(self, rule: str, table: str, problem: str | None, stop: bool) -> None:
        """A check of which files were delivered: `problem` names the files, or None if fine."""
        if problem is not None and stop:
            raise StageError(
                f"rule {self.rule_context!r}: table {table}: validation rule {rule!r} "
                f"({RULES[rule][1]}): {problem}"
            )
        if problem is not None:
            log.warning("table %s: rule %s: %s", table, rule, problem)
        self.rows.append(
            {
                "rule": rule,
                "table": table,
                "column": "",
                "action": WARNED if problem else RULES[rule][0],
                "count": int(problem is not None),
                "rows_checked": 0,
                "description": RULES[rule][1],
            }
        )

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
