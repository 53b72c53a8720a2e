"""The fallback renderer: Quarto features the sources use, and failures that stop the build."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from inburgering.report import RenderError, render

DOC = """---
title: "Crafted"
format:
  html: {toc: true, number-sections: true}
  typst: {toc: true, number-sections: true}
---

```{python}
#| tags: [parameters]
value = 1
```

## First {#sec-first}

See @fig-line, @tbl-small and @sec-second.

```{python}
#| label: fig-line
#| fig-cap: "A line"
import matplotlib.pyplot as plt
plt.plot([0, value])
```

## Second {#sec-second}

```{python}
#| label: tbl-small
#| tbl-cap: "Small table"
#| output: asis
print(f"| parameter | n |\\n|---|---:|\\n| {value} | 10 |")
```

{{< include _part.qmd >}}
"""


def write(folder: Path, text: str = DOC) -> Path:
    (folder / "_part.qmd").write_text("::: {.callout-warning}\n## Careful\nIncluded.\n:::\n")
    source = folder / "doc.qmd"
    source.write_text(text, encoding="utf-8")
    return source


def test_html_has_numbered_references_callout_include_and_parameter(tmp_path):
    source = write(tmp_path)
    render(source, tmp_path / "doc.html", {"value": 42}, tmp_path / "work", renderer="builtin")
    html = (tmp_path / "doc.html").read_text(encoding="utf-8")
    assert 'href="#fig-line">Figure\u00a01</a>' in html
    assert 'href="#tbl-small">Table\u00a01</a>' in html
    assert 'href="#sec-second">Section\u00a02</a>' in html
    assert "Figure\u00a01: A line" in html
    assert 'class="callout callout-warning"' in html and "Careful" in html
    assert "| 42 |" not in html and "<td>42</td>" in html  # parameter overrode the default
    assert "data:image/png;base64" in html and 'id="TOC"' in html


def test_pdf_compiles(tmp_path):
    source = write(tmp_path)
    render(source, tmp_path / "doc.pdf", {}, tmp_path / "work", renderer="builtin")
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")


def test_builtin_pdf_renders_are_byte_identical(tmp_path):
    """No creation date in the PDF (assets/preamble.typ): the same source gives the same bytes."""
    source = write(tmp_path)
    for name in ("a", "b"):
        render(source, tmp_path / f"{name}.pdf", {}, tmp_path / f"work_{name}", renderer="builtin")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


@pytest.mark.parametrize("suffix", ["html", "pdf"])
def test_broken_cross_reference_fails(tmp_path, suffix):
    source = write(tmp_path, DOC.replace("@sec-second", "@fig-missing"))
    with pytest.raises(RenderError, match="broken cross-reference @fig-missing"):
        render(source, tmp_path / f"doc.{suffix}", {}, tmp_path / "work", renderer="builtin")
    assert not (tmp_path / f"doc.{suffix}").exists()


@pytest.mark.quarto
def test_quarto_warning_fails_the_render(tmp_path):
    """Quarto only warns about an unresolved cross-reference; the render must still fail."""
    if shutil.which("quarto") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the Quarto CLI is not on PATH")
        pytest.skip("quarto not on PATH")
    source = write(tmp_path, DOC.replace("@sec-second", "@fig-missing"))
    with pytest.raises(RenderError, match="warned"):
        render(source, tmp_path / "doc.html", {}, tmp_path / "work", renderer="quarto")
    assert not (tmp_path / "doc.html").exists()


def test_figures_are_referenced_by_relative_paths(tmp_path):
    """Quarto reads an absolute figure path as project-relative and Typst refuses files outside
    its root: the Markdown the cells produce names figures relative to the staged sources."""
    source = write(tmp_path)
    render(source, tmp_path / "doc.pdf", {}, tmp_path / "work", renderer="builtin")
    markdown = (tmp_path / "work" / "source" / "doc.md").read_text(encoding="utf-8")
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert targets and all(not t.startswith(("/", "..")) for t in targets), targets
    assert not (tmp_path / ".quarto").exists() and not (tmp_path / "_figures").exists()


def test_failing_cell_names_the_cell(tmp_path):
    source = write(tmp_path, DOC.replace("plt.plot([0, value])", "plt.plot(undefined_name)"))
    with pytest.raises(RenderError, match="report cell fig-line failed: NameError"):
        render(source, tmp_path / "doc.html", {}, tmp_path / "work", renderer="builtin")


def test_figure_cell_without_figure_fails(tmp_path):
    source = write(tmp_path, DOC.replace("plt.plot([0, value])", "pass"))
    with pytest.raises(RenderError, match="fig-line made 0 figures"):
        render(source, tmp_path / "doc.html", {}, tmp_path / "work", renderer="builtin")


def test_quarto_cli_is_used_when_on_path(tmp_path, monkeypatch):
    """A fake `quarto` records its arguments and writes the file Quarto would write."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "quarto"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/args\n'
        'while [ "$1" != "--output-dir" ]; do shift; done\n'
        'echo "<html>quarto</html>" > "$2/doc.html"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    source = write(tmp_path)
    render(source, tmp_path / "doc.html", {"value": 2}, tmp_path / "work", {"lang": "nl"})
    arguments = (tmp_path / "args").read_text()
    executed = tmp_path / "work" / "source" / "doc.md"  # rendered from a copy (render.py)
    assert arguments.startswith(f"render {executed} --to html")
    assert (tmp_path / "doc.html").read_text().strip() == "<html>quarto</html>"
    # The cells ran once, before Quarto, with the parameter; the metadata is in the front matter.
    markdown = executed.read_text(encoding="utf-8")
    assert "| 2 | 10 |" in markdown and "```{python}" not in markdown
    assert "lang: nl" in markdown.split("---")[1]


@pytest.mark.quarto
def test_quarto_renders_both_formats_from_one_execution(tmp_path):
    """One `quarto render` makes HTML and PDF from the Markdown the cells made once: a cell that
    counts its runs ran once, and each format carries its own raw header snippet only."""
    if shutil.which("quarto") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the Quarto CLI is not on PATH")
        pytest.skip("quarto not on PATH")
    runs = tmp_path / "runs.txt"
    counting = DOC.replace("value = 1\n", f"value = 1\nopen({str(runs)!r}, 'a').write('x')\n")
    source = write(tmp_path, counting)
    marks = ["`#set page(header: [TYPST-MARK])`{=typst}", "`<p>HTML-MARK</p>`{=html}"]
    outputs = [tmp_path / "doc.html", tmp_path / "doc.pdf"]
    render(source, outputs, {"value": 7}, tmp_path / "work", {"header-includes": marks}, "quarto")
    assert runs.read_text() == "x"
    html = outputs[0].read_text(encoding="utf-8")
    assert "<td>7</td>" in html and "HTML-MARK" in html and "TYPST-MARK" not in html
    assert 'href="#fig-line"' in html and "_figures/cells/fig-line" in html
    assert outputs[1].read_bytes().startswith(b"%PDF")
