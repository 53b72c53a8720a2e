"""Read a Quarto (.qmd) source: includes, YAML front matter, executable ``{python}`` cells.

Only the Quarto syntax the report sources use is understood; everything else passes through to
pandoc unchanged, so the same files render with the Quarto CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CELL = re.compile(r"^```\{python\}[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
INCLUDE = re.compile(r"^\{\{<\s*include\s+(\S+)\s*>\}\}[ \t]*$", re.MULTILINE)
MAX_INCLUDE_DEPTH = 10


class RenderError(RuntimeError):
    """A report could not be rendered: failing cell, broken cross-reference, missing figure."""


@dataclass
class Cell:
    code: str
    options: dict[str, Any] = field(default_factory=dict)


def parse_cell(body: str) -> Cell:
    option_lines = [line[3:] for line in body.splitlines() if line.startswith("#| ")]
    code = "\n".join(line for line in body.splitlines() if not line.startswith("#|"))
    options = yaml.safe_load("\n".join(option_lines)) or {}
    return Cell(code=code, options=options)


def expand_includes(text: str, base: Path, depth: int = 0) -> str:
    """Replace ``{{< include file >}}`` by the file's text (relative to the including file)."""
    if depth > MAX_INCLUDE_DEPTH:
        raise RenderError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} below {base}")

    def replace(match: re.Match[str]) -> str:
        path = base / match.group(1)
        if not path.is_file():
            raise RenderError(f"include {match.group(1)} not found (looked for {path})")
        return expand_includes(path.read_text(encoding="utf-8"), path.parent, depth + 1)

    return INCLUDE.sub(replace, text)


def split_document(text: str) -> tuple[dict[str, Any], list[str | Cell]]:
    """Front matter and the body as alternating Markdown text and cells."""
    match = FRONT_MATTER.match(text)
    metadata = (yaml.safe_load(match.group(1)) or {}) if match else {}
    body = text[match.end() :] if match else text
    parts: list[str | Cell] = []
    position = 0
    for cell in CELL.finditer(body):
        parts.append(body[position : cell.start()])
        parts.append(parse_cell(cell.group(1)))
        position = cell.end()
    parts.append(body[position:])
    return metadata, parts


def read_source(source: Path) -> tuple[dict[str, Any], list[str | Cell]]:
    text = expand_includes(source.read_text(encoding="utf-8"), source.parent)
    return split_document(text)


def project_options(source: Path) -> dict[str, Any]:
    """The ``_quarto.yml`` beside the source (Quarto merges it under the front matter)."""
    path = source.parent / "_quarto.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def format_options(metadata: dict[str, Any], project: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Options of one output format (``html`` or ``typst``): project, then document, wins last."""
    options: dict[str, Any] = {}
    for layer in (project, metadata):
        formats = layer.get("format") or {}
        if isinstance(formats, dict) and isinstance(formats.get(fmt), dict):
            options.update(formats[fmt])
    return options
