"""Error type of the DiD engine: impossible requests stop with a message, never a silent NaN."""

from __future__ import annotations


class DidError(ValueError):
    """An att_gt / aggregation request that cannot be estimated as asked."""
