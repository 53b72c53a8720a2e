"""The G4 cities' policy calendar (``config/policies.yaml``): one object with the cities and
their municipality codes, the reform (key and date) and each city's dated changes.

Every stage that needs the G4 list, a city's code or the reform date reads it from a
:class:`PolicyCalendar` (``load_calendar``) instead of a constant of its own.

A city's instrument adoptions that fall in the same or adjacent quarters cannot be told apart
by any before/after design, so they form one *bundle*; a bundle that touches the Wi2021 reform
quarter is part of the city's reform (reform_did's estimand) and is not a bundle of its own.
The estimator (``designs.city_instrument_did``) and the synthetic truth (``synth.truth``) both read
the bundles from here, so they always mean the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from inburgering.config import load_policies

# Adoptions at most this many quarters apart are one bundle (Rotterdam's Taalstart in 2018Q4
# and its assessment in 2019Q1; Utrecht's onderwijsroute and Kansrijke Start in 2023Q1).
BUNDLE_GAP_QUARTERS = 1
REFORM = "wi2021"
# The ``comparison`` key of a bundle's rows: municipalities outside the G4 that change no
# instrument in the bundle's window.
BUNDLE_COMPARISON = "rest_nl_unchanged"


@dataclass(frozen=True)
class InstrumentBundle:
    """One G4 city's instruments adopted together, and the city's changes around them."""

    city: str
    instruments: tuple[str, ...]
    start: pd.Period
    previous_change: pd.Period | None  # last quarter of the city's previous bundle or reform
    next_change: pd.Period | None  # first quarter of the city's next bundle or reform

    @property
    def treatment(self) -> str:
        """The estimate rows' ``treatment`` key: the instruments joined by '+'."""
        return "+".join(self.instruments)


def _quarter(date: str) -> pd.Period:
    return pd.Period(pd.Timestamp(date), freq="Q")


def _city_changes(
    instruments: dict[str, Any], city: str, reform_date: str
) -> list[tuple[pd.Period, str]]:
    changes = [(_quarter(reform_date), REFORM)]
    for key, spec in instruments.items():
        start = spec.get("adoption", {}).get(city, {}).get("start")
        if start:
            changes.append((_quarter(start), key))
    return sorted(changes)


def _chains(changes: list[tuple[pd.Period, str]]) -> list[list[tuple[pd.Period, str]]]:
    chains: list[list[tuple[pd.Period, str]]] = []
    for change in changes:
        if chains and (change[0] - chains[-1][-1][0]).n <= BUNDLE_GAP_QUARTERS:
            chains[-1].append(change)
        else:
            chains.append([change])
    return chains


def instrument_bundles(
    instruments: dict[str, Any], cities: Iterable[str], reform_date: str
) -> list[InstrumentBundle]:
    """Every G4 city's instrument bundles that are not part of its Wi2021 change.

    ``instruments`` is the calendar's ``instruments`` section, ``cities`` the keys of its
    ``municipalities`` section, ``reform_date`` its ``reform.date``.
    """
    bundles = []
    for city in cities:
        chains = _chains(_city_changes(instruments, city, reform_date))
        for i, chain in enumerate(chains):
            if any(name == REFORM for _, name in chain):
                continue
            bundles.append(
                InstrumentBundle(
                    city=city,
                    instruments=tuple(sorted(name for _, name in chain)),
                    start=chain[0][0],
                    previous_change=chains[i - 1][-1][0] if i > 0 else None,
                    next_change=chains[i + 1][0][0] if i + 1 < len(chains) else None,
                )
            )
    return bundles


@dataclass(frozen=True)
class PolicyCalendar:
    """``config/policies.yaml`` as one object (validated against its schema when loaded)."""

    cities: tuple[str, ...]  # the G4 city keys, in the file's order
    codes: dict[str, str]  # city key -> 4-digit municipality code
    reform_key: str
    reform_date: str
    instruments: dict[str, Any]

    @classmethod
    def from_policies(cls, policies: dict[str, Any]) -> PolicyCalendar:
        municipalities = policies["municipalities"]
        return cls(
            cities=tuple(municipalities),
            codes={city: str(spec["code"]) for city, spec in municipalities.items()},
            reform_key=policies["reform"]["key"],
            reform_date=str(policies["reform"]["date"]),
            instruments=policies.get("instruments", {}),
        )

    @property
    def reform_quarter(self) -> pd.Period:
        """The first cohort quarter under the reform (2022Q1 for Wi2021)."""
        return _quarter(self.reform_date)

    def last_change_before_reform(self, city: str) -> pd.Period | None:
        """The latest quarter before the reform in which ``city`` adopted an instrument (None for
        a city without one, e.g. the rest of the Netherlands, which the calendar does not hold)."""
        changes = [q for q, _ in _city_changes(self.instruments, city, self.reform_date)]
        earlier = [q for q in changes if q < self.reform_quarter]
        return max(earlier) if earlier else None

    def bundles(self) -> list[InstrumentBundle]:
        """Every G4 city's instrument bundles apart from its reform (``instrument_bundles``)."""
        return instrument_bundles(self.instruments, self.cities, self.reform_date)


def load_calendar(path: str | Path) -> PolicyCalendar:
    return PolicyCalendar.from_policies(load_policies(path))
