"""The `municipality_policies` table: municipality × instrument × adoption start/end.

The G4 calendar comes from config/policies.yaml; other municipalities' adoptions come from
the optional catalogue table ``municipality_instruments`` (written by the synthetic generator;
on real data an RA researcher can supply it the same way). For G4 municipalities the
configuration wins over the data, so the policy calendar stays the one place for city dates.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from inburgering.prepare import validate as v
from inburgering.prepare.sources import Sources

log = logging.getLogger(__name__)

COLUMNS = ["municipality", "city", "instrument", "start", "end", "source"]


def from_calendar(policies: dict[str, Any]) -> pd.DataFrame:
    """One row per G4 city × instrument adoption in the policy calendar."""
    codes = {city: spec["code"] for city, spec in policies["municipalities"].items()}
    rows = [
        {
            "municipality": codes[city],
            "city": city,
            "instrument": name,
            "start": pd.Timestamp(spell["start"]),
            "end": pd.Timestamp(spell["end"]) if "end" in spell else pd.NaT,
            "source": "policies.yaml",
        }
        for name, instrument in policies["instruments"].items()
        for city, spell in instrument["adoption"].items()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def from_data(src: Sources, policies: dict[str, Any]) -> pd.DataFrame | None:
    """Adoptions outside the G4 from the optional municipality_instruments table."""
    if not src.present("municipality_instruments"):
        return None
    loaded = src.read("municipality_instruments")
    loaded = v.municipality_format(src.dq, loaded, ["municipality"])
    v.codes(src.dq, loaded, "instrument", list(policies["instruments"]))
    loaded = v.dates(src.dq, loaded, ["start", "end"], src.settings.limits)
    g4 = {spec["code"] for spec in policies["municipalities"].values()}
    frame = loaded.frame
    in_g4 = frame["municipality"].isin(g4)
    if in_g4.any():
        log.info("municipality_instruments: %d G4 rows ignored (policies.yaml wins)", in_g4.sum())
    return frame[~in_g4].assign(city="rest_nl", source=loaded.file_names())[COLUMNS]


def build_policies(src: Sources, policies: dict[str, Any]) -> pd.DataFrame:
    """Calendar rows for the G4 plus data rows for other municipalities, sorted."""
    frames = [from_calendar(policies)]
    extra = from_data(src, policies)
    if extra is not None:
        frames.append(extra)
    table = pd.concat(frames, ignore_index=True).astype(
        {"municipality": "string", "city": "string", "instrument": "string", "source": "string"}
    )
    return table.sort_values(["instrument", "municipality", "start"]).reset_index(drop=True)
