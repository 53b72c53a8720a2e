"""Figures, tables and rendering of the Quarto reports (Quarto CLI or the built-in fallback)."""

from inburgering.report.document import RenderError, split_document
from inburgering.report.render import render

__all__ = ["RenderError", "render", "split_document"]
