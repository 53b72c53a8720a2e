"""The CBS file catalogue: logical table → newest file version, real → logical column names.

CBS renames files without notice (new versions, new years), so no path is ever hard-coded: a
table's pattern is matched against the files below ``data.root`` and the newest year/version
wins (the resolver used by kansenkaart-style RA code, made explicit and logged).

Real RA names are irregular: ``SPOLISBUS 2014V1.DTA`` has a space, converted copies are
lower-case ``.dta``, older files carry a date prefix (``140707 BETAB 2006V1.DTA``). The
resolver therefore matches case-insensitively, allows one space or underscore before the year
and version numbers, and an optional six-digit date prefix on the file name.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inburgering.config import (
    ConfigError,
    apply_layer,
    load_catalogue,
    resolve_data_root,
    validate,
)
from inburgering.workflow import StageError

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(year|version|ext)\}")


@dataclass(frozen=True)
class ResolvedFile:
    """One file on disk that holds (one year of) a logical table."""

    table: str
    path: Path
    year: int | None
    version: int | None
    format: str


@dataclass(frozen=True)
class TableSpec:
    """A logical table: where its files are and how its real columns are named."""

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
    escaped = escaped.replace(re.escape("{year}"), r"[ _]?(?P<year>\d{4})", 1)
    escaped = escaped.replace(re.escape("{year}"), r"[ _]?(?P=year)")
    escaped = escaped.replace(re.escape("{version}"), r"[ _]?(?P<version>\d+)")
    extensions = "|".join(re.escape(f) for f in formats)
    escaped = escaped.replace(re.escape("{ext}"), f"(?P<ext>{extensions})")
    folder, slash, name = escaped.rpartition("/")
    return re.compile(f"^{folder}{slash}(?:\\d{{6}}[ _]?)?{name}$", re.IGNORECASE)


def _pattern_glob(pattern: str) -> str:
    """A case-insensitive glob (Linux globs are case-sensitive, RA's Windows drive is not)."""
    folder, _, name = pattern.rpartition("/")
    glob = (folder + "/" if folder else "") + "*" + name
    glob = _PLACEHOLDER.sub("*", glob)
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in glob)


def _rank(found: ResolvedFile, formats: list[str]) -> tuple[int, int, int]:
    return (found.year or 0, found.version or 0, -formats.index(found.format))


class Catalogue:
    """Logical tables of one data root, as described by a catalogue file.

    Parameters
    ----------
    catalogue
        The parsed catalogue (``config/catalogue.yaml``), optionally with overrides merged in.
    root
        Folder below which the table patterns are resolved (``data.root``).
    formats
        Accepted file extensions in order of preference (``data.formats``).
    """

    def __init__(self, catalogue: dict[str, Any], root: str | Path, formats: list[str]):
        self.root = Path(root)
        self.formats = [f.lower() for f in formats]
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
        """The catalogue named by ``data.catalogue`` with ``prepare.catalogue_overrides``."""
        base = Path(base)
        path = base / config["data"]["catalogue"]
        overrides = config.get("prepare", {}).get("catalogue_overrides") or {}
        catalogue = load_catalogue(path)
        if overrides:
            try:
                catalogue = apply_layer(catalogue, overrides, source="prepare.catalogue_overrides")
                validate(catalogue, "catalogue", source=f"{path} + prepare.catalogue_overrides")
            except ConfigError as error:
                raise StageError(str(error)) from None
        return cls(
            catalogue, resolve_data_root(config["data"]["root"], base), config["data"]["formats"]
        )

    def spec(self, table: str) -> TableSpec:
        if table not in self.tables:
            raise StageError(f"catalogue: no logical table {table!r}; known: {sorted(self.tables)}")
        return self.tables[table]

    def candidates(self, table: str) -> list[ResolvedFile]:
        """Every file below the root that matches the table's pattern, in any version."""
        spec = self.spec(table)
        regex = _pattern_regex(spec.pattern, self.formats)
        found = []
        for path in self.root.glob(_pattern_glob(spec.pattern)):
            match = regex.match(path.relative_to(self.root).as_posix())
            if match and path.is_file():
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

    def available(self, table: str) -> bool:
        """Whether any file holds the table (used for optional sources)."""
        return bool(self.candidates(table))

    def resolve(self, table: str) -> list[ResolvedFile]:
        """Newest version per year (year: each) or of the newest year (year: latest).

        Within a year the highest version wins, then the format listed first in
        ``data.formats``. Raises StageError naming the pattern when no file matches.
        """
        spec = self.spec(table)
        found = self.candidates(table)
        if not found:
            raise StageError(
                f"catalogue table {table!r}: no file matches {spec.pattern!r} below {self.root} "
                f"(formats {self.formats}); check data.root and the catalogue pattern"
            )
        by_year: dict[int | None, ResolvedFile] = {}
        for candidate in sorted(found, key=lambda f: _rank(f, self.formats)):
            by_year[candidate.year] = candidate
        chosen = sorted(by_year.values(), key=lambda f: _rank(f, self.formats))
        if spec.year == "latest":
            chosen = chosen[-1:]
        for resolved in chosen:
            log.info("table %s -> %s", table, resolved.path)
        return chosen
