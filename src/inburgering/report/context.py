"""What every report section gets: the export, the language, where figures go, the city.

Sections return Markdown (printed by ``output: asis`` cells), so headings, captions and fixed
text all come from the translation table and a section can fall back to a callout when its
inputs were not produced in this configuration.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering.contracts.tidy import G4_CITIES
from inburgering.report import style
from inburgering.report.inputs import Exports
from inburgering.report.translate import Translator

G4 = G4_CITIES  # the estimate contract's cities, which the policy calendar agrees with
MAIN_OUTCOME = "participation"  # the city's "most important outcome indicator" (DOMAIN.md)


@dataclass
class Report:
    exports: Exports
    t: Translator
    figure_dir: Path
    # The city whose policy the study judges (config primary.city) and the Wi2021 reform's
    # cohort quarter (prepare.reform_date): the render rule passes both, no section keeps a copy.
    focal_city: str
    reform_quarter: str
    city: str = ""
    route_mix_reference: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.focal_city not in G4:
            raise ValueError(
                f"report parameter focal_city={self.focal_city!r} is not a G4 city {G4}: "
                "the render rules pass config primary.city"
            )
        if not re.fullmatch(r"\d{4}Q[1-4]", self.reform_quarter):
            raise ValueError(
                f"report parameter reform_quarter={self.reform_quarter!r} is not a quarter like "
                "'2022Q1': the render rules pass the quarter of config prepare.reform_date"
            )

    @property
    def reform_year(self) -> str:
        """The calendar year of the reform quarter: cohort years from it on are new-law years."""
        return self.reform_quarter[:4]

    @property
    def synthetic(self) -> bool:
        provenance = self.exports.provenance()
        return provenance is not None and provenance.get("data_source") == "synthetic"

    def synthetic_notice(self) -> str:
        if not self.synthetic:
            return ""
        return self.callout(self.t("synthetic_notice"), "warning", self.t("synthetic_title"))

    @property
    def cities(self) -> tuple[str, ...]:
        return (self.city,) if self.city else G4

    def heading(self, key: str, level: int = 2) -> str:
        return f"\n{'#' * level} {self.t('sec_' + key)} {{#sec-{key}}}\n\n"

    def callout(self, text: str, kind: str = "note", title: str = "") -> str:
        title_attr = f' title="{title}"' if title else ""
        return f"\n::: {{.callout-{kind}{title_attr}}}\n{text}\n:::\n\n"

    def not_run(self, *files: str) -> str:
        """The explicit callout of a section whose inputs are absent (never fake numbers)."""
        names = ", ".join(readable_file(self.t, name) for name in files)
        return self.callout(self.t("not_run", files=names), "note", self.t("not_run_title"))

    def figure(self, fig: Any, label: str, caption: str, alt: str) -> str:
        if self.synthetic:  # every figure of a synthetic run says so, even when cut out
            style.mark_synthetic(fig, self.t("synthetic_mark"))
        path = style.save(fig, self.figure_dir / f"{label}.png")
        # Relative to the working directory (the staged source folder): Quarto reads an
        # absolute path as relative to the project, and Typst refuses files outside its root.
        relative = Path(os.path.relpath(path.resolve(), Path.cwd()))
        alt_text = alt.replace('"', "'")
        return f'\n![{caption}]({relative.as_posix()}){{#{label} fig-alt="{alt_text}"}}\n\n'

    def estimates(self, design: str, estimand: str | None = None) -> pd.DataFrame:
        """Rows of one design (and estimand), limited to the report's city when it has one."""
        frame = self.exports.table("estimates")
        if frame is None:
            return pd.DataFrame()
        rows = frame[frame["design"] == design]
        if estimand is not None:
            rows = rows[rows["estimand"] == estimand]
        if self.city:
            rows = rows[rows["city"].isin([self.city, "all", ""])]
        return rows

    def city_rows(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        """A side table limited to the report's city (tables without a city column pass)."""
        if frame is None or not self.city or "city" not in frame.columns:
            return frame
        rows = frame[frame["city"].isin([self.city, "all", ""])]
        return rows if len(rows) else None


def readable_file(t: Translator, name: str) -> str:
    """What an export file holds, in words ("estimates (reform DiD)" for
    ``estimates.csv (reform_did)``): reports name no files or code in prose."""
    stem, _, detail = name.partition(" (")
    words = stem.rsplit(".", 1)[0].replace("_", " ").lower()
    parts = [p.strip() for p in detail.rstrip(")").split(",") if p.strip()]
    if not parts:
        return words
    return f"{words} ({', '.join(t.label('design', p).replace('_', ' ') for p in parts)})"


def open_report(
    export_dir: str,
    language: str,
    figure_dir: str,
    focal_city: str,
    reform_quarter: str,
    city: str = "",
    route_mix_reference: dict[str, dict[str, float]] | None = None,
) -> Report:
    return Report(
        exports=Exports(export_dir),
        t=Translator(language, focal_city=focal_city),
        figure_dir=Path(figure_dir),
        focal_city=focal_city,
        reform_quarter=reform_quarter,
        city=city,
        route_mix_reference=dict(route_mix_reference or {}),
    )


def main_outcome(rows: pd.DataFrame) -> str:
    outcomes = list(dict.fromkeys(rows["outcome"]))
    return MAIN_OUTCOME if MAIN_OUTCOME in outcomes else outcomes[0]


def first_horizon(rows: pd.DataFrame) -> int | None:
    horizons = rows["horizon"].dropna()
    return int(horizons.min()) if len(horizons) else None
