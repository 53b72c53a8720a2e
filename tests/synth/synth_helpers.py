"""Helpers for the synthetic-generator tests: write a small run through the catalogue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from inburgering.calendar import PolicyCalendar
from inburgering.cbs.catalogue import Catalogue
from inburgering.config import load_catalogue, load_config, load_policies
from inburgering.synth.generate import generate
from inburgering.synth.params import SynthParameters
from inburgering.synth.truth import CityMatchingContrasts

ROOT = Path(__file__).resolve().parents[2]
CALENDAR = PolicyCalendar.from_policies(load_policies(ROOT / "config" / "policies.yaml"))
CITY_MATCHING = CityMatchingContrasts.from_config(
    load_config(ROOT / "config" / "config.yaml")["matching"]["city"]
)


def write_run(
    out: Path, persons: int, fmt: str, seed: int = 7, threads: int = 1, **parameters
) -> Catalogue:
    """Generate files and truth below `out`; `parameters` override SynthParameters fields."""
    catalogue = Catalogue(
        load_catalogue(ROOT / "config" / "catalogue.yaml"), out / "microdata", [fmt]
    )
    params = SynthParameters(persons=persons, seed=seed, **parameters)
    generate(params, catalogue, out, fmt, CALENDAR, CITY_MATCHING, threads)
    return catalogue


def read_logical(catalogue: Catalogue, table: str, year: int | None = None) -> pd.DataFrame:
    """A written table with logical column names (independent of the pipeline's reader)."""
    spec = catalogue.spec(table)
    mapping = dict(spec.columns)
    if year is not None:
        mapping.update({k: v.format(year=year) for k, v in spec.wide_columns.items()})
    frames = []
    for found in catalogue.resolve(table):
        if found.format == "parquet":
            frame = pd.read_parquet(found.path, columns=list(mapping.values()))
        else:
            frame, _ = pyreadstat.read_sav(str(found.path), usecols=list(mapping.values()))
        frames.append(frame.rename(columns={v: k for k, v in mapping.items()}))
    return pd.concat(frames, ignore_index=True)
