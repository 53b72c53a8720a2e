"""Render Quarto (.qmd) reports to self-contained HTML and PDF.

With the Quarto CLI on PATH, Quarto renders. Otherwise (CBS RA has no internet and the CLI
downloads its binary) the fallback does what Quarto would for the features the sources use:
includes and cells (see document.py / execute.py), then pandoc from ``pypandoc-binary`` with the
Lua filter ``filters/quarto.lua`` (cross-references, callouts) to HTML with embedded resources,
or to Typst, compiled to PDF by the ``typst`` package.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from inburgering.io import atomic_path
from inburgering.report.document import (
    RenderError,
    format_options,
    project_options,
    read_source,
)
from inburgering.report.execute import execute

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LUA_FILTER = HERE / "filters" / "quarto.lua"
CSS = HERE / "assets" / "report.css"
TYPST_PREAMBLE = HERE / "assets" / "preamble.typ"
FORMATS = {".html": "html", ".pdf": "typst"}
# Keys that configure Quarto itself rather than describe the document.
NOT_METADATA = ("format", "execute", "jupyter", "project", "engine")
# Format options the fallback turns into pandoc flags rather than metadata.
PANDOC_FLAGS = ("toc", "toc-depth", "number-sections", "embed-resources", "execute")
IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]*)\"", re.IGNORECASE)


def _formats(outputs: Sequence[Path]) -> list[str]:
    unknown = [str(p) for p in outputs if p.suffix not in FORMATS]
    if unknown:
        raise RenderError(f"cannot render {unknown}: output must end in {sorted(FORMATS)}")
    return [FORMATS[p.suffix] for p in outputs]


def render(
    source: Path,
    output: Path | Sequence[Path],
    params: Mapping[str, Any],
    work_dir: Path,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Render `source` to each output (format from the suffix: .html, .pdf).

    `params` override the cell tagged ``parameters``; `metadata` overrides the front matter
    (title, lang, crossref prefixes: what a translated edition changes).
    """
    outputs = [Path(output)] if isinstance(output, str | os.PathLike) else [Path(p) for p in output]
    _formats(outputs)
    work_dir.mkdir(parents=True, exist_ok=True)
    if shutil.which("quarto"):
        _render_quarto(source, outputs, dict(params), work_dir, dict(metadata or {}))
    else:
        _render_fallback(source, outputs, dict(params), work_dir, dict(metadata or {}))
    log.info("rendered %s -> %s", source, ", ".join(map(str, outputs)))


def _render_quarto(
    source: Path, outputs: list[Path], params: dict, work_dir: Path, metadata: dict
) -> None:
    """Quarto CLI: parameters and metadata as files (nested values survive), then copy out."""
    params_file = work_dir / "params.yml"
    params_file.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    metadata_file = work_dir / "metadata.yml"
    metadata_file.write_text(yaml.safe_dump(metadata, allow_unicode=True), encoding="utf-8")
    for output, fmt in zip(outputs, _formats(outputs), strict=True):
        arguments = [
            "quarto",
            "render",
            str(source),
            "--to",
            fmt,
            "--output-dir",
            str(work_dir.resolve()),
            "--execute-params",
            str(params_file.resolve()),
            "--metadata-file",
            str(metadata_file.resolve()),
        ]
        completed = subprocess.run(arguments, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RenderError(f"quarto render {source} --to {fmt} failed:\n{completed.stderr}")
        with atomic_path(output) as tmp:
            shutil.copyfile(work_dir / f"{source.stem}{output.suffix}", tmp)


def _document_metadata(source: Path, front: dict, overrides: dict) -> dict[str, Any]:
    project = project_options(source)
    merged = {k: v for k, v in project.items() if k not in NOT_METADATA}
    merged.update({k: v for k, v in front.items() if k not in NOT_METADATA})
    merged.update(overrides)
    return merged


def _render_fallback(
    source: Path, outputs: list[Path], params: dict, work_dir: Path, metadata: dict
) -> None:
    front, parts = read_source(source)
    markdown = execute(parts, params, work_dir / "figures", cwd=source.parent.resolve())
    markdown_path = work_dir / f"{source.stem}.md"
    markdown_path.write_text(markdown, encoding="utf-8")
    document = _document_metadata(source, front, metadata)
    project = project_options(source)
    for output, fmt in zip(outputs, _formats(outputs), strict=True):
        options = format_options(front, project, fmt)
        # Format options that are pandoc variables (papersize, fontsize) travel as metadata.
        variables = {k: v for k, v in options.items() if k not in PANDOC_FLAGS}
        if fmt == "html":
            _html(markdown_path, output, {**document, **variables}, options, work_dir)
        else:
            _pdf(markdown_path, output, {**document, **variables}, options, work_dir)


def _pandoc(arguments: list[str], what: str) -> None:
    import pypandoc

    completed = subprocess.run(
        [pypandoc.get_pandoc_path(), *arguments], capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise RenderError(f"pandoc failed for {what}:\n{completed.stderr.strip()}")
    if completed.stderr.strip():
        log.warning("pandoc (%s): %s", what, completed.stderr.strip())


def _common_arguments(markdown: Path, metadata_file: Path, options: dict) -> list[str]:
    arguments = [
        str(markdown),
        "--from",
        "markdown",
        "--standalone",
        f"--lua-filter={LUA_FILTER}",
        f"--metadata-file={metadata_file}",
        f"--resource-path={markdown.parent}",
        "--columns=10000",  # pipe tables keep natural column widths instead of wrapping
    ]
    if options.get("toc"):
        arguments += ["--toc", f"--toc-depth={options.get('toc-depth', 3)}"]
    if options.get("number-sections"):
        arguments.append("--number-sections")
    return arguments


def _write_metadata(path: Path, metadata: dict) -> Path:
    path.write_text(yaml.safe_dump(metadata, allow_unicode=True), encoding="utf-8")
    return path


def _html(markdown: Path, output: Path, metadata: dict, options: dict, work_dir: Path) -> None:
    metadata_file = _write_metadata(work_dir / "metadata-html.yml", metadata)
    with atomic_path(output) as tmp:
        arguments = _common_arguments(markdown, metadata_file, options)
        _pandoc(
            [*arguments, "--to", "html5", "--embed-resources", f"--css={CSS}", "-o", str(tmp)],
            str(output),
        )
        missing = [
            src[:80]
            for src in IMG_SRC.findall(tmp.read_text(encoding="utf-8"))
            if not src.startswith("data:")
        ]
        if missing:
            raise RenderError(f"{output}: figures not embedded (missing files?): {missing}")


def _typst_header(metadata: dict) -> str:
    """Preamble plus Typst supplements in the document language ("Figuur 2", "Tabel 1")."""
    crossref = metadata.get("crossref") or {}
    supplements = [
        ("figure.where(kind: image)", "figure", crossref.get("fig-prefix", "Figure")),
        ("figure.where(kind: table)", "figure", crossref.get("tbl-prefix", "Table")),
        ("heading", "heading", crossref.get("sec-prefix", "Section")),
    ]
    rules = [
        f"#show {target}: set {element}(supplement: [{text}])"
        for target, element, text in supplements
    ]
    return TYPST_PREAMBLE.read_text(encoding="utf-8") + "\n".join(rules) + "\n"


def _pdf(markdown: Path, output: Path, metadata: dict, options: dict, work_dir: Path) -> None:
    import typst

    typst_metadata = {**metadata, "resource-root": str(work_dir.resolve())}
    metadata_file = _write_metadata(work_dir / "metadata-typst.yml", typst_metadata)
    header = work_dir / "header.typ"
    header.write_text(_typst_header(metadata), encoding="utf-8")
    typ = work_dir / f"{markdown.stem}.typ"
    arguments = _common_arguments(markdown, metadata_file, options)
    # Quarto's documents start sections at level 2; Typst numbers from level 1.
    arguments += ["--to", "typst", "--shift-heading-level-by=-1", f"--include-in-header={header}"]
    _pandoc([*arguments, "-o", str(typ)], str(typ))
    with atomic_path(output) as tmp:
        try:
            typst.compile(str(typ), output=str(tmp), root=str(work_dir.resolve()))
        except Exception as error:  # typst raises its own error types; all mean "no PDF"
            raise RenderError(f"typst failed for {output}: {error}") from error
