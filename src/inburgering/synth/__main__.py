"""Command line: python -m inburgering.synth --persons N --seed S --out DIR [--format sav].

The policy calendar (``--policies``) gives the G4 cities and the reform date, the configuration
(``--config``) whom the city_matching design compares (``matching.city``, its truth)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from inburgering.calendar import PolicyCalendar
from inburgering.cbs.catalogue import Catalogue
from inburgering.config import load_catalogue, load_config, load_policies
from inburgering.synth.generate import generate
from inburgering.synth.params import PROFILES, SynthParameters
from inburgering.synth.truth import CityMatchingContrasts

CONFIG = Path(__file__).resolve().parents[3] / "config"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inburgering.synth", description=__doc__)
    parser.add_argument("--persons", type=int, default=SynthParameters.persons)
    parser.add_argument("--seed", type=int, default=SynthParameters.seed)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=["sav", "parquet", "csv"], default="sav")
    parser.add_argument("--profile", choices=PROFILES, default="default")
    parser.add_argument("--data-end", default=SynthParameters.data_end, help="last month, YYYY-MM")
    parser.add_argument("--catalogue", type=Path, default=CONFIG / "catalogue.yaml")
    parser.add_argument("--policies", type=Path, default=CONFIG / "policies.yaml")
    parser.add_argument("--config", type=Path, default=CONFIG / "config.yaml")
    parser.add_argument(
        "--threads", type=int, default=1, help="over 1: worker processes write the files"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    catalogue = Catalogue(load_catalogue(args.catalogue), args.out / "microdata", [args.format])
    calendar = PolicyCalendar.from_policies(load_policies(args.policies))
    params = SynthParameters(
        persons=args.persons,
        seed=args.seed,
        profile=args.profile,
        data_end=args.data_end,
        reform_date=calendar.reform_date,  # the policy calendar's date, not a default of its own
    )
    city_matching = CityMatchingContrasts.from_config(load_config(args.config)["matching"]["city"])
    generate(params, catalogue, args.out, args.format, calendar, city_matching, args.threads)


if __name__ == "__main__":
    main()
