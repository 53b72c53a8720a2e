"""Every report source rendered by the real Quarto CLI, to HTML and Typst PDF, without warnings.

Skipped when `quarto` is not on PATH on a developer's machine; in CI (CI=true) a missing Quarto
fails, because CI installs it (.ci/run) and the reports must render with it there.
"""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import render_report

DOCUMENTS = [
    ("main", "en", ""),
    ("city", "en", "utrecht"),
    ("city", "nl", "rotterdam"),
    ("appendix-methods", "en", ""),
    ("appendix-reproducibility", "nl", ""),
]

pytestmark = pytest.mark.quarto


@pytest.fixture(scope="module")
def quarto() -> str:
    path = shutil.which("quarto")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the Quarto CLI is not on PATH (.ci/run installs it)")
        pytest.skip("quarto not on PATH (../shared/tools/quarto/install.sh PREFIX)")
    return path


@pytest.mark.parametrize(("document", "language", "city"), DOCUMENTS)
def test_quarto_renders_html_and_pdf(quarto, full_export, tmp_path, document, language, city):
    html, pdf = render_report(
        full_export, tmp_path, document, language, city, ("html", "pdf"), "quarto"
    )
    text = html.read_text(encoding="utf-8")
    assert "Could not fetch resource" not in text
    assert "data:image/png;base64" in text or document == "appendix-reproducibility"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert html.stat().st_size <= 2_000_000, f"{html.name}: {html.stat().st_size:,} bytes"


def test_quarto_pdf_renders_are_byte_identical(quarto, full_export, tmp_path):
    """Same export, same bytes: the PDF carries no creation date (reports/_quarto.yml)."""
    first, second = (
        render_report(full_export, tmp_path / name, "main", "en", "", ("pdf",), "quarto")[0]
        for name in ("a", "b")
    )
    assert first.read_bytes() == second.read_bytes()
