"""The CBS file catalogue: logical table → newest file version, real → logical column names.

CBS renames files without notice (new versions, new years), so no path is ever hard-coded: a
table's pattern is matched against the files below ``data.root`` and the newest year/version
wins (the resolver used by kansenkaart-style RA code, made explicit and logged).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inburgering.config import load_catalogue
from inburgering.workflow import StageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedFile:
    table: str
    path: Path
    year: int | None
    version: int | None
    format: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    pattern: str
    year: str
    columns: dict[str, str]
    wide_columns: dict[str, str]

    def real_columns(self) -> list[str]:
        return list(self.columns.values())


def _pattern_regex(pattern: str, formats: list[str]) -> re.Pattern[str]:
    escaped = re.escape(pattern)
    escaped = escaped.replace(re.escape("{year}"), r"(?P<year>\d{4})", 1)
    escaped = escaped.replace(re.escape("{year}"), r"(?P=year)")
    escaped = escaped.replace(re.escape("{version}"), r"(?P<version>\d+)")
    extensions = "|".join(re.escape(f) for f in formats)
    escaped = escaped.replace(re.escape("{ext}"), f"(?P<ext>{extensions})")
    return re.compile(f"^{escaped}$", re.IGNORECASE)


def _pattern_glob(pattern: str) -> str:
    return re.sub(r"\{(year|version|ext)\}", "*", pattern)


class Catalogue:
    """Logical tables of one data root, as described by a catalogue file."""

    def __init__(self, catalogue: dict[str, Any], root: str | Path, formats: list[str]):
        self.root = Path(root)
        self.formats = list(formats)
        self.person_key: list[str] = list(catalogue["person_key"])
        self.codes: dict[str, Any] = catalogue["codes"]
        self.tables = {
            name: TableSpec(
                name=name,
                description=spec["description"],
                pattern=spec["pattern"],
                year=spec["year"],
                columns=dict(spec["columns"]),
                wide_columns=dict(spec.get("wide_columns", {})),
            )
            for name, spec in catalogue["tables"].items()
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], base: str | Path = ".") -> Catalogue:
        base = Path(base)
        catalogue = load_catalogue(base / config["data"]["catalogue"])
        root = Path(config["data"]["root"])
        return cls(
            catalogue, root if root.is_absolute() else base / root, config["data"]["formats"]
        )

    def spec(self, table: str) -> TableSpec:
        if table not in self.tables:
            raise StageError(f"catalogue: no logical table {table!r}; known: {sorted(self.tables)}")
        return self.tables[table]

    def candidates(self, table: str) -> list[ResolvedFile]:
        spec = self.spec(table)
        regex = _pattern_regex(spec.pattern, self.formats)
        found = []
        for path in self.root.glob(_pattern_glob(spec.pattern)):
            match = regex.match(path.relative_to(self.root).as_posix())
            if match:
                groups = match.groupdict()
                found.append(
                    ResolvedFile(
                        table=table,
                        path=path,
                        year=int(groups["year"]) if groups.get("year") else None,
                        version=int(groups["version"]) if groups.get("version") else None,
                        format=groups["ext"].lower(),
                    )
                )
        return found

    def resolve(self, table: str) -> list[ResolvedFile]:
        """Newest version per year (year: each) or of the newest year (year: latest)."""
        spec = self.spec(table)
        found = self.candidates(table)
        if not found:
            raise StageError(
                f"catalogue table {table!r}: no file matches {spec.pattern!r} below {self.root} "
                f"(formats {self.formats}); check data.root and the catalogue pattern"
            )

        def rank(f: ResolvedFile) -> tuple[int, int, int]:
            return (f.year or 0, f.version or 0, -self.formats.index(f.format))

        by_year: dict[int | None, ResolvedFile] = {}
        for candidate in sorted(found, key=rank):
            by_year[candidate.year] = candidate
        chosen = sorted(by_year.values(), key=rank)
        if spec.year == "latest":
            chosen = chosen[-1:]
        for resolved in chosen:
            log.info("table %s -> %s", table, resolved.path)
        return chosen
