"""Errors raised by the disclosure-control stage."""

from __future__ import annotations


class DisclosureError(ValueError):
    """An item would break a CBS output rule and cannot be made safe automatically.

    Parameters
    ----------
    item
        Name of the table, figure or file concerned.
    rule
        The configured rule that is violated (e.g. ``min_persons``).
    detail
        What exactly is wrong, with an example offending row, bin or point.
    """

    def __init__(self, item: str, rule: str, detail: str) -> None:
        self.item = item
        self.rule = rule
        self.detail = detail
        super().__init__(f"disclosure check failed for '{item}' (rule {rule}): {detail}")
