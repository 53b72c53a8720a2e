"""The seam between Snakemake and the package: rules only wire files to functions.

Every rule runs ``workflow/scripts/rule.py``, which hands the job to :func:`run_rule`. The rule
names its stage function in ``params.entry`` ("module:function"); the function receives a
:class:`RuleJob` (plain paths and values, no Snakemake objects) so it can be called and tested
without Snakemake, on Windows and under SLURM alike.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("inburgering")


@dataclass(frozen=True)
class RuleJob:
    """What a stage function gets: named inputs and outputs as paths, parameters, threads."""

    input: Mapping[str, Path | list[Path]]
    output: Mapping[str, Path | list[Path]]
    params: Mapping[str, Any] = field(default_factory=dict)
    threads: int = 1
    rule: str = ""

    def inputs(self, prefix: str) -> list[Path]:
        """All input files whose name starts with prefix (single files and named lists)."""
        found: list[Path] = []
        for name, value in self.input.items():
            if name.startswith(prefix):
                found.extend(value if isinstance(value, list) else [value])
        return sorted(found)


class StageError(RuntimeError):
    """A stage stopped on bad input; the message names file, column, rule and an example row."""


def _paths(value: Any) -> Path | list[Path]:
    """One file → Path; a named list of files (expand() under one name) → list of Paths."""
    if isinstance(value, str | Path):
        return Path(value)
    return [Path(item) for item in value]


def _named(files: Any) -> dict[str, Path | list[Path]]:
    """Snakemake's Namedlist → {name: Path or [Path]}; unnamed entries get positional names."""
    named = {name: _paths(value) for name, value in files.items()}
    listed = {
        str(path)
        for value in named.values()
        for path in (value if isinstance(value, list) else [value])
    }
    for index, value in enumerate(files):
        if str(value) not in listed:
            named[f"_{index}"] = Path(value)
    return named


def _resolve(entry: str) -> Callable[[RuleJob], None]:
    module_name, _, function_name = entry.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def configure_logging(log_file: Path | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def run_rule(smk: Any) -> None:
    """Entry point called from workflow/scripts/rule.py with Snakemake's `snakemake` object."""
    params = dict(smk.params.items())
    entry = params.pop("entry")
    log_file = Path(smk.log[0]) if len(smk.log) else None
    configure_logging(log_file)
    job = RuleJob(
        input=_named(smk.input),
        output=_named(smk.output),
        params=params,
        threads=int(smk.threads),
        rule=str(smk.rule),
    )
    started = time.perf_counter()
    log.info("rule %s: %s", job.rule, entry)
    try:
        _resolve(entry)(job)
    except StageError as error:
        log.error("rule %s stopped: %s", job.rule, error)
        raise SystemExit(1) from None
    except Exception:
        log.error("rule %s failed unexpectedly:\n%s", job.rule, traceback.format_exc())
        raise
    log.info("rule %s done in %.1f s", job.rule, time.perf_counter() - started)
