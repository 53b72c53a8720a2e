"""Command line: python -m inburgering.synth --persons N --seed S --out DIR [--format sav]."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from inburgering.cbs.catalogue import Catalogue
from inburgering.config import load_catalogue
from inburgering.synth.generate import SynthParameters, generate

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[3] / "config" / "catalogue.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inburgering.synth", description=__doc__)
    parser.add_argument("--persons", type=int, default=SynthParameters.persons)
    parser.add_argument("--seed", type=int, default=SynthParameters.seed)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=["sav", "parquet", "csv"], default="sav")
    parser.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    catalogue = Catalogue(load_catalogue(args.catalogue), args.out / "microdata", [args.format])
    generate(
        SynthParameters(persons=args.persons, seed=args.seed), catalogue, args.out, args.format
    )


if __name__ == "__main__":
    main()
