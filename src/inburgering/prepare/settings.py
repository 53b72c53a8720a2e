"""The prepare stage's settings, read once from the validated configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from inburgering.prepare.validate import Limits


@dataclass(frozen=True)
class Settings:
    """Everything `prepare` needs from ``config['prepare']`` and ``config['data']``.

    Attributes
    ----------
    horizons
        Months after the obligation start at which outcomes are measured.
    reform_date, uncertain_until
        Wi2021 start, and the last obligation start of the uncertain early-2022 slice.
    data_end
        Last day of the last month covered by the register data (later dates are censored).
    cities
        City key → 4-digit municipality code (config/policies.yaml).
    optional_tables
        Tables whose absence is logged, not fatal.
    optional_columns
        Per table, logical columns that may be absent from the file.
    age_bands
        Lower edges of the age bands after the first (``[18, 27]`` → <18, 18-26, 27+).
    repair_caps
        Per rule, or per rule and table, the share of rows a repair may touch.
    on_stale
        ``stop`` or ``warn`` when a table's newest file is older than ``data_end`` or the
        ``same_edition`` tables come from different editions.
    not_dated
        Tables exempt from the coverage check (their file year says nothing about coverage).
    same_edition
        Tables that must come from one delivery (the SWI files of one edition).
    settlement_rule
        Which municipality counts as the settlement municipality (see persons.SETTLEMENT_RULES).
    boundary_year
        Harmonise municipality codes to this year's boundaries (None: codes as delivered).
    boundary_map
        Old → boundary-year code from the merger table (empty without ``boundary_year``).
    """

    horizons: list[int]
    reform_date: pd.Timestamp
    uncertain_until: pd.Timestamp
    data_end: pd.Timestamp
    cities: dict[str, str]
    optional_tables: list[str] = field(default_factory=list)
    optional_columns: dict[str, list[str]] = field(default_factory=dict)
    age_bands: list[int] = field(default_factory=lambda: [18, 27, 30, 45, 60])
    limits: Limits = field(default_factory=Limits)
    max_repair_share: float = 0.05
    repair_caps: dict[str, Any] = field(default_factory=dict)
    chunk_rows: int = 500_000
    read_processes: int = 1
    memory_limit: str = "3GB"
    on_stale: str = "stop"
    not_dated: list[str] = field(default_factory=list)
    same_edition: list[str] = field(default_factory=list)
    settlement_rule: str = "first_address"
    boundary_year: int | None = None
    boundary_map: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, prepare: dict[str, Any], data: dict[str, Any], cities: dict[str, str]):
        validation = prepare["validation"]
        return cls(
            horizons=list(prepare["horizons"]),
            reform_date=pd.Timestamp(prepare["reform_date"]),
            uncertain_until=pd.Timestamp(prepare["uncertain_regime_until"]),
            data_end=pd.Period(data["end"], "M").end_time.normalize(),
            cities=dict(cities),
            optional_tables=list(prepare["optional_tables"]),
            optional_columns={t: list(c) for t, c in prepare["optional_columns"].items()},
            age_bands=list(prepare["age_bands"]),
            limits=Limits.from_config(validation),
            max_repair_share=float(validation["max_repair_share"]),
            repair_caps=dict(validation["repair_caps"]),
            chunk_rows=int(prepare["chunk_rows"]),
            read_processes=int(prepare["read_processes"]),
            memory_limit=str(prepare["memory_limit"]),
            on_stale=prepare["coverage"]["on_stale"],
            not_dated=list(prepare["coverage"]["not_dated"]),
            same_edition=list(prepare["coverage"]["same_edition"]),
            settlement_rule=prepare["settlement"]["rule"],
            boundary_year=prepare["municipalities"]["boundary_year"],
        )
