"""Figures, tables and rendering of the Quarto reports (Quarto CLI or the built-in fallback)."""

from inburgering.report.render import RenderError, render, split_document

__all__ = ["RenderError", "render", "split_document"]
