"""The translation table: every label and fixed sentence of the reports, in English and Dutch.

Sources never contain display text; they ask a :class:`Translator` for it, so
``report.language: nl`` renders a Dutch edition from the same sources.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from inburgering.report.document import RenderError

TABLE = Path(__file__).with_name("translations.yaml")
LANGUAGES = ("en", "nl")
MINUS = "\u2212"


@cache
def load_table() -> dict[str, Any]:
    return yaml.safe_load(TABLE.read_text(encoding="utf-8"))


class Translator:
    """Text, labels and number formats of one language.

    ``focal_city`` (config ``primary.city``, the city whose policy the study judges) fills the
    ``{focal}`` placeholder of every text with its display name, so no text names a city."""

    def __init__(self, language: str, focal_city: str | None = None) -> None:
        if language not in LANGUAGES:
            raise RenderError(f"report language {language!r} not supported; use one of {LANGUAGES}")
        self.language = language
        self.entries: dict[str, Any] = load_table()[language]
        self.standing: dict[str, str] = {}
        if focal_city is not None:
            self.standing["focal"] = self.label("city", focal_city)

    def __call__(self, key: str, **values: Any) -> str:
        texts = self.entries["text"]
        if key not in texts:
            raise RenderError(f"translation table has no text {key!r}")
        try:
            return str(texts[key]).format(**{**self.standing, **values}).strip()
        except KeyError as error:
            raise RenderError(
                f"translation text {key!r} ({self.language}) needs the value {error}, which was "
                "not given (the focal city comes from Translator(..., focal_city=...))"
            ) from error

    def series(self, items: list[str]) -> str:
        """``a, b and c`` in this language."""
        if len(items) < 2:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self('and')} {items[-1]}"

    def label(self, kind: str, value: Any) -> str:
        """Display name of a code (city, outcome, estimator...); unknown codes show as-is, a
        bundle of codes joined by '+' (a G4 city's instruments) as its labels joined, and a
        city pair ``a_vs_b`` (city_matching's treatments, from whichever focal city) as the two
        city names."""
        names = self.entries["labels"].get(kind, {})
        code = str(value)
        if code in names:
            return str(names[code])
        if "+" in code:
            return " + ".join(self.label(kind, part) for part in code.split("+"))
        cities = self.entries["labels"]["city"]
        first, _, second = code.partition("_vs_")
        if first in cities and second in cities:
            return f"{cities[first]} vs {cities[second]}"
        return code

    def title(self, document: str, **values: Any) -> str:
        return str(self.entries["titles"][document]).format(**values)

    def quarto_metadata(self) -> dict[str, Any]:
        """What Quarto (and the fallback filter) read to localise TOC, captions and callouts."""
        return dict(self.entries["quarto"])

    def number(self, value: float, digits: int = 1, sign: bool = False) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self("suppressed")
        if round(value, digits) == 0:  # never "-0.0" or "+0.0": a rounded zero has no sign
            value, sign = 0.0, False
        text = f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"
        if self.language == "nl":  # 1.234,5 instead of 1,234.5
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return text.replace("-", MINUS)

    def count(self, value: Any) -> str:
        if value is None or _missing(value):  # suppressed cells arrive as NaN or ""
            return self("suppressed")
        return self.number(float(value), digits=0)


def _missing(value: Any) -> bool:
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return True
