"""The sample-flow table: persons remaining after every filter, overall and by city.

No row disappears silently: each filter records how many persons it kept and dropped, by
city (``unknown`` while the settlement municipality is not known), and the last row is the
analysis population. Every count column starts with ``persons`` so disclosure control finds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from inburgering.contracts.tidy import G4_CITIES

log = logging.getLogger(__name__)

CITIES = (*G4_CITIES, "rest_nl", "unknown")
# The selection steps of prepare, in order (the exported table's ``step`` values, which the
# reports label in both editions); ``{resident}`` is the catalogue's resident person-type code.
STEPS = {
    "obligated": "obligated persons in SWI basisbestand",
    "resident": "person type {resident} (resident register)",
    "start_known": "obligation start known",
    "in_gba": "person in GBAPERSOONTAB",
    "municipality_known": "settlement municipality known",
}


@dataclass
class SampleFlow:
    """Ordered filter steps with the persons left after each."""

    steps: list[dict] = field(default_factory=list)

    def record(self, step: str, persons: pd.DataFrame, dropped: int = 0) -> None:
        city = persons["city"].fillna("unknown") if "city" in persons else None
        counts = city.value_counts() if city is not None else pd.Series(dtype="int64")
        row: dict[str, object] = {"step": step, "persons": len(persons), "persons_dropped": dropped}
        row.update({f"persons_{c}": int(counts.get(c, 0)) for c in CITIES})
        self.steps.append(row)
        log.info("sample flow: %s -> %d persons (%d dropped)", step, len(persons), dropped)

    def keep(self, persons: pd.DataFrame, mask: pd.Series, step: str) -> pd.DataFrame:
        """Apply one filter and record it."""
        mask = mask.fillna(False).astype(bool)
        kept = persons[mask]
        self.record(step, kept, dropped=int((~mask).sum()))
        return kept

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.steps)
