"""Render Quarto (.qmd) reports to self-contained HTML and PDF.

The sources (the .qmd files and ``_quarto.yml`` beside the document) are first copied into the
work folder and rendered there: cells run with that copy as working directory and write their
figures below it, so figure paths are relative and inside the project (Quarto reads an absolute
path as project-relative, and Typst refuses files outside its root), concurrent renders never
share a folder, and Quarto's scratch folders never land in the source tree.

The cells run once, in this process (document.py / execute.py: includes, the ``parameters``
cell, ``output: asis``, figure cells), whichever renderer turns the resulting Markdown into the
outputs. A Jupyter kernel per output format (Quarto's own engine) cost two kernel start-ups and
two executions of every figure per report, about half of a report's render time, for the same
Markdown: the sections are functions that return Markdown.

With the Quarto CLI on PATH, Quarto renders that Markdown to every format in one call. Otherwise
(CBS RA has no internet and the CLI downloads its binary) the fallback does what Quarto would for
the features the sources use: pandoc from ``pypandoc-binary`` with the Lua filter
``filters/quarto.lua`` (cross-references, callouts) to HTML with embedded resources, or to Typst,
compiled to PDF by the ``typst`` package.
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
RENDERERS = ("auto", "quarto", "builtin")
RAW_TYPST = "`{=typst}"  # inline raw Typst in header-includes: `#set page(...)`{=typst}
# Keys that configure Quarto itself rather than describe the document.
NOT_METADATA = ("format", "execute", "jupyter", "project", "engine")
# Format options the fallback turns into pandoc flags rather than metadata.
PANDOC_FLAGS = (
    "toc",
    "toc-depth",
    "number-sections",
    "embed-resources",
    "execute",
    "html-math-method",
    "include-in-header",
    "minimal",
    "css",
)
# Quarto warnings about its own installation rather than the document: an install without the
# optional typst-gather binary stages all of Quarto's Typst packages instead of the needed ones.
QUARTO_INSTALL_WARNINGS = ("typst-gather analyze failed",)
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
    renderer: str = "auto",
) -> None:
    """Render `source` to each output (format from the suffix: .html, .pdf).

    `params` override the cell tagged ``parameters``; `metadata` overrides the front matter
    (title, lang, crossref prefixes: what a translated edition changes). `renderer` is
    ``quarto`` (the CLI), ``builtin`` (the fallback) or ``auto`` (Quarto when on PATH).
    """
    if renderer not in RENDERERS:
        raise RenderError(f"renderer {renderer!r} unknown; use one of {RENDERERS}")
    use_quarto = renderer == "quarto" or (renderer == "auto" and shutil.which("quarto"))
    if renderer == "quarto" and not shutil.which("quarto"):
        raise RenderError("renderer 'quarto' asked for but the Quarto CLI is not on PATH")
    outputs = [Path(output)] if isinstance(output, str | os.PathLike) else [Path(p) for p in output]
    _formats(outputs)
    work_dir.mkdir(parents=True, exist_ok=True)
    staged = _stage_sources(source, work_dir / "source")
    front, parts = read_source(staged)
    markdown = execute(parts, dict(params), Path("_figures") / "cells", cwd=staged.parent.resolve())
    if use_quarto:
        _render_quarto(staged, front, markdown, outputs, work_dir, dict(metadata or {}))
    else:
        _render_fallback(staged, front, markdown, outputs, work_dir, dict(metadata or {}))
    log.info("rendered %s -> %s", source, ", ".join(map(str, outputs)))


def _stage_sources(source: Path, folder: Path) -> Path:
    """Copy the document's folder's sources (.qmd, _quarto.yml) into `folder`; the staged
    document's path."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for path in source.parent.iterdir():
        if path.is_file() and (path.suffix == ".qmd" or path.name == "_quarto.yml"):
            shutil.copyfile(path, folder / path.name)
    shutil.copyfile(CSS, folder / CSS.name)  # _quarto.yml's html css
    return folder / source.name


def _render_quarto(
    source: Path, front: dict, markdown: str, outputs: list[Path], work_dir: Path, metadata: dict
) -> None:
    """The executed Markdown beside the staged sources, the project narrowed to it and to the
    asked formats, then one ``quarto render`` for all of them, and copy out."""
    formats = _formats(outputs)
    executed = source.with_suffix(".md")
    document = {k: v for k, v in metadata.items() if k != "header-includes"}
    front_matter = {**_only_formats(front, formats), **document}
    executed.write_text(
        f"---\n{yaml.safe_dump(front_matter, allow_unicode=True)}---\n\n{markdown}",
        encoding="utf-8",
    )
    project_file = source.parent / "_quarto.yml"
    project = _only_formats(project_options(source), formats)
    project.setdefault("project", {})["render"] = [executed.name]
    for fmt, includes in _raw_includes(metadata, formats).items():
        project["format"].setdefault(fmt, {}).update(includes)
    project_file.write_text(yaml.safe_dump(project, allow_unicode=True), encoding="utf-8")
    to = formats[0] if len(formats) == 1 else "all"
    arguments = ["quarto", "render", str(executed), "--to", to]
    arguments += ["--output-dir", str(work_dir.resolve())]  # a relative one is the project's
    completed = subprocess.run(arguments, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RenderError(f"quarto render {source} failed:\n{completed.stderr}")
    _check_quarto_warnings(source, completed.stderr)
    for output in outputs:
        with atomic_path(output) as tmp:
            shutil.copyfile(work_dir / f"{executed.stem}{output.suffix}", tmp)


def _only_formats(options: dict, formats: list[str]) -> dict:
    """Options whose ``format`` section keeps only the asked formats (``--to all`` renders every
    format the project and the document name)."""
    kept = {fmt: (options.get("format") or {}).get(fmt) or {} for fmt in formats}
    return {**options, "format": kept}


RAW_INLINE = re.compile(r"^`(.*)`\{=(\w+)\}$", re.DOTALL)


def _raw_includes(metadata: dict, formats: list[str]) -> dict[str, dict[str, str]]:
    """Quarto inserts header-includes verbatim (no Markdown): each format gets its own raw
    snippets, the HTML ones at the start of the body (a banner is no <head> element)."""
    snippets = [RAW_INLINE.match(str(item)) for item in metadata.get("header-includes") or []]
    includes = {}
    for fmt in formats:
        own = [m.group(1) for m in snippets if m and m.group(2) == fmt]
        if own:
            includes[fmt] = {
                ("include-before" if fmt == "html" else "header-includes"): "\n".join(own)
            }
    return includes


def _check_quarto_warnings(source: Path, stderr: str) -> None:
    """A Quarto warning (an unresolved cross-reference, a missing figure) fails the render, as
    it would in the fallback; warnings about Quarto's own installation are only logged."""
    warnings = [
        line for line in stderr.splitlines() if line.lstrip("\x1b[0123456789;m").startswith("WARN")
    ]
    problems = [w for w in warnings if not any(known in w for known in QUARTO_INSTALL_WARNINGS)]
    for warning in warnings:
        log.warning("quarto (%s): %s", source.name, warning)
    if problems:
        raise RenderError(f"quarto render {source} warned:\n{stderr.strip()}")


def _document_metadata(source: Path, front: dict, overrides: dict) -> dict[str, Any]:
    project = project_options(source)
    merged = {k: v for k, v in project.items() if k not in NOT_METADATA}
    merged.update({k: v for k, v in front.items() if k not in NOT_METADATA})
    merged.update(overrides)
    return merged


def _render_fallback(
    source: Path, front: dict, markdown: str, outputs: list[Path], work_dir: Path, metadata: dict
) -> None:
    markdown_path = source.parent / f"{source.stem}.md"
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
            [
                *arguments,
                "--to",
                "html5",
                "--embed-resources",
                f"--css={CSS}",
                *(["--mathml"] if options.get("html-math-method") == "mathml" else []),
                "-o",
                str(tmp),
            ],
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
    # --include-in-header replaces the header-includes variable: carry its raw Typst over.
    raw = [
        block.removeprefix("`").removesuffix(RAW_TYPST)
        for block in metadata.get("header-includes") or []
        if str(block).endswith(RAW_TYPST)
    ]
    return TYPST_PREAMBLE.read_text(encoding="utf-8") + "\n".join(rules + raw) + "\n"


def _pdf(markdown: Path, output: Path, metadata: dict, options: dict, work_dir: Path) -> None:
    import typst

    typst_metadata = {**metadata, "resource-root": str(work_dir.resolve())}
    metadata_file = _write_metadata(work_dir / "metadata-typst.yml", typst_metadata)
    header = work_dir / "header.typ"
    header.write_text(_typst_header(metadata), encoding="utf-8")
    typ = markdown.with_suffix(".typ")  # beside the Markdown: figure paths are relative to it
    arguments = _common_arguments(markdown, metadata_file, options)
    # Quarto's documents start sections at level 2; Typst numbers from level 1.
    arguments += ["--to", "typst", "--shift-heading-level-by=-1", f"--include-in-header={header}"]
    _pandoc([*arguments, "-o", str(typ)], str(typ))
    with atomic_path(output) as tmp:
        try:
            typst.compile(str(typ), output=str(tmp), root=str(work_dir.resolve()))
        except Exception as error:  # typst raises its own error types; all mean "no PDF"
            raise RenderError(f"typst failed for {output}: {error}") from error
