"""Execute the ``{python}`` cells of a report like a Jupyter kernel would, producing Markdown.

Supported cell options (Quarto's): ``label``, ``fig-cap``, ``fig-alt``, ``tbl-cap``,
``output: asis`` and the ``parameters`` tag (values given at render time override the defaults
set in that cell, as Quarto's ``-P`` / Papermill do).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import matplotlib

from inburgering.report.document import Cell, RenderError


def _figure_markdown(cell: Cell, path: Path) -> str:
    caption = cell.options.get("fig-cap", "")
    alt = str(cell.options.get("fig-alt", caption)).replace('"', "'")
    label = cell.options.get("label", "")
    attributes = f'{{#{label} fig-alt="{alt}"}}' if label else f'{{fig-alt="{alt}"}}'
    return f"\n\n![{caption}]({path.as_posix()}){attributes}\n\n"


def _table_caption(cell: Cell) -> str:
    if "tbl-cap" not in cell.options:
        return ""
    label = cell.options.get("label", "")
    return f"\n: {cell.options['tbl-cap']}" + (f" {{#{label}}}\n" if label else "\n")


def _run(cell: Cell, index: int, namespace: dict[str, Any], cwd: Path) -> str:
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.chdir(cwd):
            exec(compile(cell.code, f"<cell {index}>", "exec"), namespace)
    except Exception as error:
        label = cell.options.get("label", f"cell {index}")
        raise RenderError(f"report cell {label} failed: {type(error).__name__}: {error}") from error
    return stdout.getvalue()


def execute(parts: list[str | Cell], params: dict[str, Any], figure_dir: Path, cwd: Path) -> str:
    """Run the cells in one namespace and return the document as Markdown; figures of plain
    plotting cells go to `figure_dir` (relative to `cwd`, as the Markdown refers to them)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict[str, Any] = {"__name__": "__report__"}
    chunks: list[str] = []
    (cwd / figure_dir).mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(parts):
        if isinstance(part, str):
            chunks.append(part)
            continue
        text = _run(part, index, namespace, cwd)
        if "parameters" in part.options.get("tags", []):
            namespace.update(params)
        if text and part.options.get("output") == "asis":
            chunks.append("\n" + text + "\n" + _table_caption(part))
        figures = plt.get_fignums()
        if str(part.options.get("label", "")).startswith("fig-") and len(figures) != 1:
            raise RenderError(
                f"report cell {part.options['label']} made {len(figures)} figures, expected 1"
            )
        for number in figures:
            path = figure_dir / f"{part.options.get('label', f'cell-{index}')}-{number}.png"
            plt.figure(number).savefig(cwd / path, dpi=200, bbox_inches="tight")
            chunks.append(_figure_markdown(part, path))
        plt.close("all")
    return "".join(chunks)
