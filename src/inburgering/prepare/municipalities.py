"""Municipal mergers as data: harmonise municipality codes to one boundary year.

CBS files code a person's municipality with the boundaries of the file's year (VSLGWB
``gem2021`` still holds Weesp, 0457; ``gem2022`` has Amsterdam, 0363, from 24 March 2022). To
compare cities over time every code is mapped to the municipality it belongs to on 1 January of
``prepare.municipalities.boundary_year``, following the merger table
(``prepare.municipalities.mergers``, checked against the package schema
``schemas/municipal_mergers.schema.yaml`` and for chains and cycles when loaded).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from inburgering.config import ConfigError, validate

COLUMNS = ["old_code", "old_name", "new_code", "new_name", "date"]


def load_mergers(path: str | Path) -> pd.DataFrame:
    """The merger table (one row per disappearing municipality), validated.

    Raises ConfigError naming the file, the row and the broken rule: schema (4-digit codes,
    ISO dates), a municipality merged twice, merged into itself, or a cycle of mergers.
    """
    frame = pd.read_csv(path, dtype=str, comment="#", keep_default_na=False)
    records = frame.to_dict(orient="records")
    validate({"mergers": records}, "municipal_mergers", source=str(path))
    twice = frame["old_code"].duplicated(keep=False)
    if twice.any():
        rows = frame[twice].to_dict(orient="records")
        raise ConfigError(f"{path}: a municipality is merged more than once: {rows}")
    self_merge = frame["old_code"] == frame["new_code"]
    if self_merge.any():
        raise ConfigError(f"{path}: merged into itself: {frame[self_merge].iloc[0].to_dict()}")
    frame = frame.assign(date=pd.to_datetime(frame["date"], format="%Y-%m-%d"))
    _successors(frame, path)
    return frame[COLUMNS]


def _successors(frame: pd.DataFrame, path: str | Path) -> dict[str, str]:
    """old -> final code through chains of mergers; a cycle is a ConfigError."""
    step = dict(zip(frame["old_code"], frame["new_code"], strict=True))
    final = {}
    for code in step:
        seen = [code]
        while seen[-1] in step:
            seen.append(step[seen[-1]])
            if seen[-1] in seen[:-1]:
                raise ConfigError(f"{path}: mergers form a cycle: {' -> '.join(seen)}")
        final[code] = seen[-1]
    return final


def boundary_map(mergers: pd.DataFrame, boundary_year: int) -> dict[str, str]:
    """Old code -> code on 1 January of `boundary_year` (mergers in force by then, chained)."""
    in_force = mergers[mergers["date"] <= pd.Timestamp(year=boundary_year, month=1, day=1)]
    return _successors(in_force, "mergers")


def harmonise(codes: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """4-digit codes mapped to the boundary year (codes not merged stay as they are)."""
    return codes.map(lambda code: mapping.get(code, code) if pd.notna(code) else code).astype(
        codes.dtype
    )
