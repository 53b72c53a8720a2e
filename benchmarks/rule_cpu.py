"""CPU seconds of one rule's entry point, called directly (no Snakemake), children included.

    python benchmarks/rule_cpu.py design reform_did --data results/data --out /tmp/rule_cpu \
        --outcome participation --horizon 12
    python benchmarks/rule_cpu.py design instrument_did --data results/data --out /tmp/rule_cpu
    python benchmarks/rule_cpu.py report city --export results/export --out /tmp/rule_cpu \
        --city rotterdam

``design`` runs a registered design (inburgering.designs.registry) on prepare's tables in
``--data`` (persons, outcomes, municipality_policies) with the configuration of ``--config``
(default config/config.yaml; repeat it for overlays); ``report`` renders one document from an
export folder. Prints one line: CPU seconds (user + system, this process and its children, e.g.
pandoc), wall seconds. Snakemake's benchmark files sample the process tree every few seconds
and miss short-lived children; this measures the same work exactly, for before/after
comparisons of one rule (run both sides at the same time when the machine is shared).
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

from inburgering.config import load_config
from inburgering.designs.registry import REGISTRY
from inburgering.workflow import RuleJob, _resolve, configure_logging

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def design_job(args: argparse.Namespace, config: dict) -> tuple[str, RuleJob]:
    design = next((d for d in REGISTRY if d.name == args.name), None)
    if design is None:
        raise SystemExit(f"no design {args.name!r}; registered: {[d.name for d in REGISTRY]}")
    inputs = {"persons": args.data / "persons.parquet", "outcomes": args.data / "outcomes.parquet"}
    if "policies" in design.inputs:
        inputs["policies"] = Path(config["data"]["policies"])
    if "policies_table" in design.inputs:
        inputs["policies_table"] = args.data / "municipality_policies.parquet"
    params = design.params(config)
    suffix = ""
    if design.scatter:
        params.update(outcome=args.outcome, horizon=args.horizon)
        suffix = f"_{args.outcome}_h{args.horizon}"
    outputs = {t: args.out / f"{Path(design.file(t)).stem}{suffix}.csv" for t in design.tables}
    job = RuleJob(input=inputs, output=outputs, params=params, rule=design.name)
    return design.entry, job


def report_job(args: argparse.Namespace, config: dict) -> tuple[str, RuleJob]:
    city = args.city if args.name == "city" else ""
    stem = f"city_{city}" if city else args.name
    formats = config["report"]["formats"]
    job = RuleJob(
        input={
            "source": REPORTS / f"{args.name}.qmd",
            "manifest": args.export / "MANIFEST.csv",
            "estimates": args.export / "estimates.csv",
        },
        output={f"_{i}": args.out / f"{stem}.{fmt}" for i, fmt in enumerate(formats)},
        params={
            "document": args.name,
            "city": city,
            "report": config["report"],
            "focal_city": config["primary"]["city"],
            "reform_date": config["prepare"]["reform_date"],
        },
        rule=f"render_{stem}",
    )
    return "inburgering.report.stage:run", job


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["design", "report"])
    parser.add_argument("name", help="design name, or report document (main, city, ...)")
    parser.add_argument("--config", type=Path, action="append")
    parser.add_argument("--data", type=Path, help="prepare's tables (design)")
    parser.add_argument("--export", type=Path, help="the export folder (report)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--outcome", default="participation")
    parser.add_argument("--horizon", default="12")
    parser.add_argument("--city", default="rotterdam")
    args = parser.parse_args()
    config = load_config(*(args.config or [Path("config/config.yaml")]))
    args.out.mkdir(parents=True, exist_ok=True)
    entry, job = (design_job if args.kind == "design" else report_job)(args, config)
    configure_logging(None)
    logging.getLogger().setLevel(logging.WARNING)
    cpu, wall = cpu_seconds(), time.perf_counter()
    _resolve(entry)(job)
    print(
        f"{args.kind} {args.name}: {cpu_seconds() - cpu:.1f} CPU-s, "
        f"{time.perf_counter() - wall:.1f} s wall"
    )


if __name__ == "__main__":
    main()
