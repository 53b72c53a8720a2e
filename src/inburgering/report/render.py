"""Render Quarto (.qmd) reports: with the Quarto CLI when it is on PATH, otherwise ourselves.

The Quarto CLI cannot be installed everywhere (it downloads its binary; CBS RA has no internet),
so the fallback executes the same ``{python}`` cells (Quarto's cell options ``#| label``,
``#| fig-cap``, ``#| tbl-cap``, ``#| output: asis`` and the ``parameters`` tag) and hands the
resulting Markdown to pandoc from ``pypandoc-binary`` for self-contained HTML. Sources stay
valid Quarto: nothing here is syntax only the fallback understands.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import yaml

from inburgering.io import atomic_path

log = logging.getLogger(__name__)

CELL = re.compile(r"^```\{python\}[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


class RenderError(RuntimeError):
    """A report cell failed or produced something the report cannot show."""


@dataclass
class Cell:
    code: str
    options: dict[str, Any] = field(default_factory=dict)


def parse_cell(body: str) -> Cell:
    option_lines = [line[3:] for line in body.splitlines() if line.startswith("#| ")]
    code = "\n".join(line for line in body.splitlines() if not line.startswith("#|"))
    options = yaml.safe_load("\n".join(option_lines)) or {}
    return Cell(code=code, options=options)


def split_document(text: str) -> tuple[dict[str, Any], list[str | Cell]]:
    match = FRONT_MATTER.match(text)
    metadata = yaml.safe_load(match.group(1)) if match else {}
    body = text[match.end() :] if match else text
    parts: list[str | Cell] = []
    position = 0
    for cell in CELL.finditer(body):
        parts.append(body[position : cell.start()])
        parts.append(parse_cell(cell.group(1)))
        position = cell.end()
    parts.append(body[position:])
    return metadata, parts


def _figure_markdown(cell: Cell, path: Path) -> str:
    caption = cell.options.get("fig-cap", "")
    alt = cell.options.get("fig-alt", caption)
    label = cell.options.get("label", "")
    attributes = f'{{#{label} fig-alt="{alt}"}}' if label else ""
    return f"\n![{caption}]({path.as_posix()}){attributes}\n"


def execute(parts: list[str | Cell], params: dict[str, Any], figure_dir: Path, cwd: Path) -> str:
    """Run the cells in one namespace (like a Jupyter kernel) and return Markdown."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict[str, Any] = {"__name__": "__report__"}
    chunks: list[str] = []
    figure_dir.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(parts):
        if isinstance(part, str):
            chunks.append(part)
            continue
        stdout = io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.chdir(cwd):
                exec(compile(part.code, f"<cell {index}>", "exec"), namespace)
        except Exception as error:
            label = part.options.get("label", f"cell {index}")
            raise RenderError(
                f"report cell {label} failed: {type(error).__name__}: {error}"
            ) from error
        if "parameters" in part.options.get("tags", []):
            namespace.update(params)
        text = stdout.getvalue()
        if text and part.options.get("output") == "asis":
            chunks.append("\n" + text + "\n")
            if "tbl-cap" in part.options:
                label = part.options.get("label", "")
                chunks.append(f"\n: {part.options['tbl-cap']} {{#{label}}}\n" if label else "")
        for number in plt.get_fignums():
            path = figure_dir / f"{part.options.get('label', f'cell-{index}')}-{number}.png"
            plt.figure(number).savefig(path, dpi=150, bbox_inches="tight")
            chunks.append(_figure_markdown(part, path))
        plt.close("all")
    return "".join(chunks)


def _pandoc(markdown: Path, output: Path, metadata: dict[str, Any], resource_dir: Path) -> None:
    import pypandoc

    arguments = [
        "--standalone",
        "--embed-resources",
        "--toc",
        f"--resource-path={resource_dir}",
        f"--metadata=title:{metadata.get('title', 'Report')}",
    ]
    with atomic_path(output) as tmp:
        pypandoc.convert_file(
            str(markdown), "html", format="markdown", outputfile=str(tmp), extra_args=arguments
        )


def render(source: Path, output: Path, params: dict[str, Any], work_dir: Path) -> None:
    """Render one .qmd to HTML at `output` (Quarto CLI if available, else the fallback)."""
    if shutil.which("quarto"):
        arguments = ["quarto", "render", str(source), "--to", "html", "--output-dir", str(work_dir)]
        for key, value in params.items():
            arguments += ["-P", f"{key}:{value}"]
        subprocess.run(arguments, check=True)
        shutil.copyfile(work_dir / f"{source.stem}.html", output)
        return
    metadata, parts = split_document(source.read_text(encoding="utf-8"))
    markdown = execute(parts, params, work_dir / "figures", cwd=Path.cwd())
    markdown_path = work_dir / f"{source.stem}.md"
    markdown_path.write_text(markdown, encoding="utf-8")
    _pandoc(markdown_path, output, metadata, work_dir)
    log.info("rendered %s -> %s", source, output)
