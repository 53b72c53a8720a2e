"""Snakemake entry point of the prepare stage: raw CBS-style files → analysis tables.

Outputs (results/data/): persons, outcomes, person_months, municipality_policies (parquet),
sample_flow.csv, data_quality.csv and files_read.csv (every source file read, relative to
data.root, with its table, year and version: the export's provenance hashes exactly these).
Every file is written to a temporary name and renamed, so a failed run leaves nothing that
looks complete.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from inburgering.cbs import Catalogue
from inburgering.cbs.catalogue import ResolvedFile
from inburgering.config import load_policies
from inburgering.io import atomic_path, write_csv_atomic
from inburgering.prepare import sources as s
from inburgering.prepare.municipalities import boundary_map, load_mergers
from inburgering.prepare.outcomes import build_outcomes, connect, register, write_person_months
from inburgering.prepare.persons import build_persons
from inburgering.prepare.policies import build_policies
from inburgering.prepare.quality import DataQuality
from inburgering.prepare.settings import Settings
from inburgering.workflow import RuleJob

log = logging.getLogger(__name__)

FILES_READ_COLUMNS = ["table", "file", "year", "version", "format"]

# The stage's named outputs and their file names below results/data/ (rule prepare's outputs).
OUTPUT_FILES = {
    "persons": "persons.parquet",
    "outcomes": "outcomes.parquet",
    "person_months": "person_months.parquet",
    "municipality_policies": "municipality_policies.parquet",
    "sample_flow": "sample_flow.csv",
    "data_quality": "data_quality.csv",
    "files_read": "files_read.csv",
}


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def files_read(files: list[ResolvedFile], root: Path) -> pd.DataFrame:
    """One row per source file read (first read wins), path relative to data.root."""
    rows = {
        f.path: {
            "table": f.table,
            "file": f.path.relative_to(root).as_posix(),
            "year": f.year,
            "version": f.version,
            "format": f.format,
        }
        for f in reversed(files)
    }
    frame = pd.DataFrame(list(rows.values()), columns=FILES_READ_COLUMNS)
    return frame.sort_values("file", kind="mergesort").astype({"year": "Int64", "version": "Int64"})


def run(job: RuleJob) -> None:
    """Validate the sources and write the canonical analysis tables (see module docstring)."""
    data, prepare = job.params["data"], job.params["prepare"]
    catalogue = Catalogue.from_config(
        {"data": {**data, "catalogue": job.input["catalogue"]}, "prepare": prepare}
    )
    policies = load_policies(job.input["policies"])
    cities = {city: spec["code"] for city, spec in policies["municipalities"].items()}
    settings = Settings.from_config(prepare, data, cities)
    if settings.boundary_year is not None:
        mergers = load_mergers(job.input["mergers"])
        settings = replace(settings, boundary_map=boundary_map(mergers, settings.boundary_year))
    dq = DataQuality(settings.max_repair_share, job.rule or "prepare", settings.repair_caps)
    src = s.Sources(catalogue, settings, dq)

    persons, flow = build_persons(src)
    ids = persons["person_id"]
    secm = s.state_spells(src, "socio_economic", ids, ["category"])
    secm = secm[secm["person_type"] == catalogue.codes["person_type_resident"]]
    education = None
    if src.present("education_enrolment"):
        education = s.state_spells(src, "education_enrolment", ids, [])
    else:
        log.warning("no education enrolment: in_education missing, participation = employed")
    municipality_policies = build_policies(src, policies)

    out = job.output
    Path(out["person_months"]).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(out["person_months"]).parent) as scratch:
        con = connect(settings, job.threads, Path(scratch))
        register(con, persons, secm, education, catalogue.codes)
        outcomes = build_outcomes(con, settings, education is not None)
        with atomic_path(out["person_months"]) as tmp:
            write_person_months(con, settings, education is not None, tmp)
        con.close()
    _write_parquet(persons, out["persons"])
    _write_parquet(outcomes, out["outcomes"])
    _write_parquet(municipality_policies, out["municipality_policies"])
    write_csv_atomic(flow, out["sample_flow"], float_format=None)
    write_csv_atomic(dq.table(), out["data_quality"], float_format=None)
    write_csv_atomic(files_read(src.files_read, catalogue.root), out["files_read"])
    log.info("prepare: %d persons, %d outcome rows", len(persons), len(outcomes))
