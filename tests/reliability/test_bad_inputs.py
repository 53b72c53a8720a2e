"""The bad-input corpus, end to end: damaged CBS-style files through the real prepare rule.

Each case copies one synthetic delivery, damages it the way real deliveries are damaged
(corrupt.py) and runs Snakemake's prepare rule on it with ``data.source: cbs``, exactly as on RA
files. The contract (DESIGN.md, "Errors"): the rule either stops with a message in its log that
names the file, the column, the validation rule and an example row, or applies a documented
repair that is counted in ``results/data/data_quality.csv``. Never a bare traceback, never a
silent drop, never an output left behind as if complete. Config mistakes stop ``--dry-run``
before any work, naming the key.

The prepare runs of all cases happen once per session, two at a time (``corpus`` fixture).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import corrupt as c
import pandas as pd
import pytest
import yaml

from inburgering.config import read_yaml
from inburgering.validation.montecarlo import ROOT, run_workflow

pytestmark = pytest.mark.e2e

RESTRICTED_PERSONS = 1500  # small: every case reads the whole delivery
PREPARE_TARGET = "data/persons.parquet"
UTRECHT, ROTTERDAM = "0344", "0599"
NON_ASCII_FOLDER = "Súdwest-Fryslân/IJsselmonde données é ĳ"


@dataclass(frozen=True)
class Case:
    """One damaged delivery and what the prepare rule must do with it.

    expect: "fail" (stop with a precise message), "repair" (count `rule` in data_quality.csv
    for `table`), "ok" (run through; `check` inspects the results).
    """

    id: str
    damage: Callable[[Path], c.Damage]
    expect: str
    rule: str = ""
    table: str = ""
    words: tuple[str, ...] = ()
    check: Callable[[Path, Path], None] | None = None
    folder: str = "microdata"
    fast: bool = False  # in the default (not slow) selection: one case per kind of outcome


@dataclass
class Outcome:
    case: Case
    returncode: int = -1
    damage: c.Damage | None = None
    results: Path | None = None
    error: str = ""

    def log(self) -> str:
        path = self.results / "logs" / "prepare.log" if self.results else None
        return path.read_text(encoding="utf-8") if path and path.is_file() else ""

    def quality(self) -> pd.DataFrame:
        return pd.read_csv(self.results / "data" / "data_quality.csv", keep_default_na=False)


def _first_optional(root: Path) -> c.Damage:
    """Delete the first optional table the delivery has (its absence must be recorded)."""
    optional = read_yaml(ROOT / "config" / "config.yaml")["prepare"]["optional_tables"]
    cat = c.catalogue(root)
    present = [t for t in optional if t in cat.tables and cat.available(t)]
    if not present:
        pytest.skip("the synthetic delivery has no optional table to delete")
    return c.delete(root, present[0])


def _same_persons_as_clean(results: Path, corpus_root: Path) -> None:
    clean = pd.read_parquet(corpus_root / "clean_delivery" / "results" / PREPARE_TARGET)
    pd.testing.assert_frame_equal(pd.read_parquet(results / PREPARE_TARGET), clean)


def _city_count(city: str, expected: Callable[[int], bool]) -> Callable[[Path, Path], None]:
    def check(results: Path, _: Path) -> None:
        flow = pd.read_csv(results / "data" / "sample_flow.csv")
        last = flow.iloc[-1]
        assert expected(int(last[f"persons_{city}"])), flow.to_string()

    return check


def _no_cohort(quarter: str) -> Callable[[Path, Path], None]:
    def check(results: Path, _: Path) -> None:
        persons = pd.read_parquet(results / PREPARE_TARGET)
        assert len(persons) > 0 and quarter not in set(persons["cohort"].astype(str))

    return check


CASES = [
    Case("clean_delivery", lambda r: c.Damage(""), "ok", fast=True),
    # Files
    Case("truncated_sav", lambda r: c.truncate(r, "swi_basis"), "fail", fast=True),
    Case("corrupt_sav_header", lambda r: c.garble(r, "gba_persons"), "fail"),
    Case("missing_required_file", lambda r: c.Damage("", c.delete(r, "socio_economic").column),
         "fail", words=("socio_economic", "SECMBUS")),
    Case("missing_optional_file", _first_optional, "repair", rule="optional_table_absent"),
    # Columns
    Case("missing_column", lambda r: c.drop_column(r, "swi_basis", "obligation_start"), "fail"),
    Case("renamed_column",
         lambda r: c.rename_column(r, "gba_persons", "sex", "GESLACHT"), "fail"),
    Case("column_name_case_changed",
         lambda r: c.rename_column(r, "gba_persons", "sex", "gbageslacht"), "ok",
         check=_same_persons_as_clean),
    # Types
    Case("text_in_numeric_column",
         lambda r: c.set_value(r, "swi_basis", "schooling_years", "twaalf"), "fail",
         rule="number_format"),
    Case("dates_stored_as_spss_numbers",
         lambda r: c.numeric_column(r, "swi_basis", "obligation_start"), "ok",
         check=_same_persons_as_clean),
    # Keys
    Case("duplicate_person_key",
         lambda r: c.duplicate_key(r, "swi_basis", "obligation_start", "20230301"), "fail",
         rule="key_unique"),
    Case("exact_duplicate_row", lambda r: c.duplicate_row(r, "gba_persons"), "repair",
         rule="duplicate_rows", table="gba_persons", fast=True),
    # Spells
    Case("overlapping_spells", lambda r: c.overlap_spell(r, "socio_economic"), "repair",
         rule="spell_overlap", table="socio_economic"),
    Case("inverted_spell", lambda r: c.invert_spell(r, "socio_economic"), "repair",
         rule="spell_inverted", table="socio_economic"),
    # Dates
    Case("date_wrong_format",
         lambda r: c.set_value(r, "swi_basis", "obligation_start", "2022-01-15"), "fail",
         rule="date_format", fast=True),
    Case("date_day_first",
         lambda r: c.set_value(r, "swi_basis", "obligation_start", "15012022"), "fail",
         rule="date_format"),
    Case("date_out_of_range",
         lambda r: c.set_value(r, "swi_basis", "obligation_start", "18500101"), "fail",
         rule="date_range"),
    # Codes
    Case("municipality_code_not_a_code",
         lambda r: c.set_value(r, "swi_municipality", "municipality", "R'dam"), "fail",
         rule="unknown_municipality"),
    Case("municipality_code_unknown",
         lambda r: c.set_value(r, "swi_municipality", "municipality", "9999"), "fail",
         rule="unknown_municipality"),
    Case("municipality_code_with_gm_prefix",
         lambda r: c.set_value(r, "swi_municipality", "municipality", "GM" + ROTTERDAM),
         "repair", rule="municipality_code_format", table="swi_municipality"),
    Case("country_code_unknown",
         lambda r: c.set_value(r, "gba_persons", "birth_country", "ZZZZ"), "fail",
         rule="code_list"),
    Case("sex_code_unknown", lambda r: c.set_value(r, "gba_persons", "sex", "X"), "fail",
         rule="code_list"),
    # Non-ASCII
    Case("diacritics_in_code_value",
         lambda r: c.set_value(r, "swi_municipality", "route", "één"), "fail",
         rule="code_list"),
    Case("non_ascii_data_folder", lambda r: c.Damage(""), "ok", folder=NON_ASCII_FOLDER,
         check=_same_persons_as_clean),
    # Empty and small subsets
    Case("city_with_no_one",
         lambda r: c.remove_persons(r, c.city_persons(r, UTRECHT)), "ok",
         check=_city_count("utrecht", lambda n: n == 0)),
    Case("cohort_with_no_one",
         lambda r: c.remove_persons(r, c.cohort_persons(r, "2019Q2")), "ok",
         check=_no_cohort("2019Q2")),
    Case("g4_city_below_threshold",
         lambda r: c.remove_persons(r, c.city_persons(r, UTRECHT), keep=5), "ok",
         check=_city_count("utrecht", lambda n: 0 < n <= 5), fast=True),
]  # fmt: skip
BY_ID = {case.id: case for case in CASES}


def _base_delivery(base: Path) -> Path:
    """One synthetic delivery made by the workflow's own synth rule (or an existing folder)."""
    given = os.environ.get("INBURGERING_BAD_INPUT_BASE")
    if given:
        return Path(given)
    sections = {"synth": {"persons": RESTRICTED_PERSONS, "seed": 11, "format": "sav"}}
    done = run_workflow(base, sections, ["synthetic/truth/estimands.csv"], cores=1)
    if done.returncode != 0:
        pytest.fail(
            "synth rule failed; the corpus needs a synthetic delivery:\n"
            + (base / "snakemake.log").read_text(encoding="utf-8")[-4000:]
        )
    return base / "results" / "synthetic" / "microdata"


def _run_case(case: Case, source: Path, root: Path) -> Outcome:
    outcome = Outcome(case)
    base = root / case.id
    try:
        data = c.copy_tree(source, base / case.folder)
        outcome.damage = case.damage(data)
        sections = {"data": {"source": "cbs", "root": str(data)}}
        outcome.returncode = run_workflow(base, sections, [PREPARE_TARGET], cores=1).returncode
        outcome.results = base / "results"
    except BaseException as error:  # a skip or a bug is reported by the case's own test
        outcome.error = f"{type(error).__name__}: {error}"
        if type(error).__name__ == "Skipped":
            outcome.error = "SKIP " + str(error)
    return outcome


def _selected(session: pytest.Session) -> set[str]:
    """Case ids of the tests selected in this session (slow cases only under -m slow)."""
    return {
        item.callspec.params["case_id"]
        for item in session.items
        if getattr(item, "originalname", "") == "test_bad_input" and hasattr(item, "callspec")
    }


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, request) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad_inputs")
    source = _base_delivery(root / "_base")
    clean = _run_case(BY_ID["clean_delivery"], source, root)  # others compare with it
    wanted = _selected(request.session)
    rest = [case for case in CASES if case.id != "clean_delivery" and case.id in wanted]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda case: _run_case(case, source, root), rest))
    return {"clean_delivery": clean, **{o.case.id: o for o in outcomes}, "_root": root}


def _stop_message(log: str) -> str:
    """The stage's one-line stop message (workflow.run_rule logs StageError as 'stopped:')."""
    lines = [line for line in log.splitlines() if " stopped: " in line]
    return lines[-1] if lines else ""


def assert_precise_failure(outcome: Outcome) -> None:
    case, damage, log = outcome.case, outcome.damage, outcome.log()
    assert outcome.returncode != 0, f"{case.id}: prepare accepted the damaged delivery"
    assert "Traceback" not in log, f"{case.id}: bare traceback instead of a message:\n{log[-3000:]}"
    message = _stop_message(log)
    assert message, f"{case.id}: no stop message in the rule log:\n{log[-3000:]}"
    expected = [damage.file, damage.column, case.rule, damage.person_id, damage.value, *case.words]
    missing = [word for word in expected if word and word not in message]
    assert not missing, f"{case.id}: message does not name {missing}:\n{message}"
    leftovers = [p.name for p in (outcome.results / "data").glob("*")] if (
        outcome.results / "data").exists() else []  # fmt: skip
    assert not [n for n in leftovers if not n.startswith(".")], f"outputs left: {leftovers}"


def _repairs(outcome: Outcome, rule: str, table: str) -> int:
    quality = outcome.quality()
    rows = quality[quality["rule"] == rule]
    if table:
        rows = rows[rows["table"] == table]
    return int(pd.to_numeric(rows["count"]).sum())


def assert_counted_repair(outcome: Outcome, clean: Outcome) -> None:
    """The repair is counted on top of what the clean delivery already needed (the generator
    plants some register imperfections of its own)."""
    case, log = outcome.case, outcome.log()
    stopped = _stop_message(log) or log[-3000:]
    assert outcome.returncode == 0, f"{case.id}: prepare stopped:\n{stopped}"
    table = case.table or (outcome.damage.column if case.rule == "optional_table_absent" else "")
    before, after = _repairs(clean, case.rule, table), _repairs(outcome, case.rule, table)
    assert after > before, (
        f"{case.id}: repair {case.rule!r} not counted in data_quality.csv ({before} in the clean "
        f"delivery, {after} here):\n{outcome.quality().to_string()}"
    )


def _params():
    for case in CASES:
        marks = [] if case.fast else [pytest.mark.slow]
        yield pytest.param(case.id, marks=marks, id=case.id)


@pytest.mark.parametrize("case_id", list(_params()))
def test_bad_input(corpus, case_id):
    outcome = corpus[case_id]
    if outcome.error.startswith("SKIP "):
        pytest.skip(outcome.error[5:])
    assert not outcome.error, f"setting up the case failed: {outcome.error}"
    case = outcome.case
    if case.expect == "fail":
        assert_precise_failure(outcome)
    elif case.expect == "repair":
        assert_counted_repair(outcome, corpus["clean_delivery"])
    else:
        log = outcome.log()
        assert outcome.returncode == 0, f"{case.id}: {_stop_message(log) or log[-3000:]}"
        if case.check is not None:
            case.check(outcome.results, corpus["_root"])


def test_clean_delivery_passes_every_rule(corpus):
    """The control: the undamaged delivery runs, and the ledger lists every rule it checked."""
    outcome = corpus["clean_delivery"]
    assert outcome.returncode == 0, outcome.log()[-3000:]
    quality = outcome.quality()
    assert {"key_unique", "date_format", "code_list"} <= set(quality["rule"])
    assert (pd.to_numeric(quality.loc[quality["action"] == "fatal", "count"]) == 0).all()


# --- configuration: stopped by the schema before any work, naming the key ----------------------


def _policies_with_typo(tmp: Path) -> str:
    policies = read_yaml(ROOT / "config" / "policies.yaml")
    policies["municipalities"]["rotterdam"]["cod"] = policies["municipalities"]["rotterdam"].pop(
        "code"
    )
    path = tmp / "policies.yaml"
    path.write_text(yaml.safe_dump(policies), encoding="utf-8")
    return str(path)


CONFIG_CASES = {
    "unknown_key": ({"prepare": {"horizon": [6, 12]}}, ["prepare", "horizon"]),
    "misspelt_section": ({"estimat": {"bootstrap": 9}}, ["estimat"]),
    "wrong_type_number": ({"estimate": {"alpha": "many"}}, ["estimate.alpha"]),
    "wrong_type_integer": ({"synth": {"persons": 12.5}}, ["synth.persons"]),
    "wrong_type_list": ({"estimate": {"cities": "rotterdam"}}, ["estimate.cities"]),
    "bad_date": ({"prepare": {"reform_date": "2022-13-01"}}, ["prepare.reform_date"]),
    "bad_enum": ({"data": {"source": "CBS"}}, ["data.source"]),
    "policies_typo": ("policies", ["municipalities.rotterdam"]),
    "missing_catalogue_file": ({"data": {"catalogue": "config/catalgue.yaml"}}, ["data.catalogue"]),
}
CONFIG_FAST = {"unknown_key", "wrong_type_number", "bad_date", "policies_typo"}


def _config_params():
    for name in CONFIG_CASES:
        marks = [] if name in CONFIG_FAST else [pytest.mark.slow]
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_config_params()))
def test_config_mistake_stops_dry_run_naming_the_key(tmp_path, name):
    sections, words = CONFIG_CASES[name]
    if sections == "policies":
        sections = {"data": {"policies": _policies_with_typo(tmp_path)}}
    done = run_workflow(tmp_path, sections, [PREPARE_TARGET], "--dry-run")
    output = (tmp_path / "snakemake.log").read_text(encoding="utf-8")
    assert done.returncode != 0, output[-2000:]
    assert all(word in output for word in words), f"expected {words} in:\n{output[-2000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert not (tmp_path / "results").exists()  # stopped before any work
