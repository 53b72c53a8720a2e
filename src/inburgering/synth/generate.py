"""Synthetic CBS-style population with planted causal effects and exact ground truth.

Pipeline: municipalities (effects, instrument adoption) → persons (covariates, composition
shifts) → process (regime, housing, intake, test, PIP, route, exams) → monthly states from
potential outcomes (chunked by persons) → CBS-style files through the catalogue → truth.

Definitions shared with prepare (the reader computes the same from the files):

* settlement municipality: the municipality (address spell joined to VSLGWB ``gem{YYYY}`` of the
  spell's start year) of the first address spell active on or after the obligation start;
* outcome at horizon h: the state on the calendar date obligation_start + DateOffset(months=h):
  employed = an active SECM spell with code 11-14 on that date; social_assistance = active SECM 22;
  in_education = an active enrolment spell; participation = employed or in_education; missing when
  that date is after the data end (last day of ``data.end``).

truth/persons.parquet holds these facts per obligated person (never exported);
truth/potential_outcomes.parquet holds per person x horizon the latent uniform, the state
probabilities in every world the truth compares (without city shocks: their expectation over the
shocks) and the person's city-shock shift and stretch (``shock_*``, synth/shocks.py), so every
truth row can be recomputed; truth/city_shocks.csv holds the realised shock series.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from inburgering.calendar import InstrumentBundle, PolicyCalendar, instrument_bundles
from inburgering.cbs.catalogue import Catalogue, TableSpec
from inburgering.io import atomic_path
from inburgering.synth import outcomes as oc
from inburgering.synth import tables, truth
from inburgering.synth.dates import DAY, add_months, month_end, quarter_from_label, quarter_label
from inburgering.synth.municipalities import Municipalities, build_municipalities
from inburgering.synth.params import SynthParameters
from inburgering.synth.population import ORIGINS, simulate_population
from inburgering.synth.process import ROUTES, assign_routes, exams, route_context, simulate_process
from inburgering.synth.shocks import PersonShocks, ShockSeries, draw_shocks, shocked
from inburgering.synth.spells import month_grid, spells_frame
from inburgering.synth.writers import as_text_ids, write_table

log = logging.getLogger(__name__)

HORIZON_OUTCOMES = ("employed", "in_education", "participation", "social_assistance")


@dataclass(frozen=True)
class Population:
    persons: pd.DataFrame
    munis: Municipalities
    spells: pd.DataFrame
    potential: pd.DataFrame
    bundles: list[InstrumentBundle]
    shocks: ShockSeries


def _streams(seed: int) -> dict[str, np.random.Generator]:
    # Appending a stream leaves the earlier ones unchanged (SeedSequence children by position).
    names = ("municipalities", "persons", "process", "files", "outcomes", "city_shocks")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def _identify(
    rng: np.random.Generator, persons: pd.DataFrame, munis: Municipalities
) -> pd.DataFrame:
    n = len(persons)
    out = persons.copy()
    out["person_id"] = as_text_ids(1_000_000 + rng.choice(998_999_999, n, replace=False))
    out["muni_code"] = munis.table["code"].to_numpy()[out["muni"].to_numpy()]
    out["city"] = munis.table["city"].to_numpy()[out["muni"].to_numpy()]
    start_year = out["obligation_start"].to_numpy().astype("datetime64[Y]").astype(np.int64) + 1970
    out["birth_year"] = start_year - out["age"].to_numpy()
    out["birth_month"] = rng.integers(1, 13, n)
    out["country"] = ORIGINS.set_index("origin").loc[out["origin"], "country"].to_numpy()
    out["diploma_draw"] = rng.random(n)
    out["origin_effect"] = oc.origin_effects(out["origin"])
    # Secondary moves (~10%) after 12-48 months; settlement stays the first municipality.
    out["move_month"] = np.where(rng.random(n) < 0.10, rng.integers(12, 49, n), 0)
    out["move_muni"] = rng.integers(0, len(munis.table), n)
    return out


def _worlds(
    chunk: pd.DataFrame,
    munis: Municipalities,
    params: SynthParameters,
    bundles: list[InstrumentBundle],
) -> dict[str, oc.World]:
    observed = oc.observed_world(chunk)
    n = len(chunk)
    worlds = {"obs": observed, "old": oc.old_law_world(chunk)}
    for code in ("b1", "z", "onderwijs"):
        worlds[f"route_{code}"] = replace(observed, route=np.full(n, list(ROUTES).index(code)))
    for city, code in munis.g4_codes.items():
        muni = np.full(n, munis.index_of(code))
        route = assign_routes(chunk, route_context(chunk, munis, muni), params)
        worlds[f"city_{city}"] = replace(observed, muni=muni, route=route)
    # One world per instrument (instrument_did) and per G4 bundle (the G4 cities' own instruments;
    # a one-instrument bundle is the same world).
    for off in [(key,) for key in munis.adoption] + [b.instruments for b in bundles]:
        world = replace(observed, instruments_off=off)
        if "onderwijsroute" in off:
            ctx = replace(
                route_context(chunk, munis, observed.muni), onderwijs_available=np.zeros(n, bool)
            )
            world = replace(world, route=assign_routes(chunk, ctx, params))
        worlds[f"off_{'+'.join(off)}"] = world
    return worlds


def _simulate_chunk(
    rng: np.random.Generator,
    chunk: pd.DataFrame,
    munis: Municipalities,
    params: SynthParameters,
    reform_q: int,
    data_end: np.datetime64,
    bundles: list[InstrumentBundle],
    shock_series: ShockSeries,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = chunk["obligation_start"].to_numpy().astype(DAY)
    n_months, seen = month_grid(start, data_end)
    horizons = np.array(params.horizons)
    u = oc.latent_uniforms(rng, len(chunk), max(n_months, int(horizons.max()) + 1))
    months = np.arange(n_months)[None, :]
    # The shock of the person's settlement municipality and cohort quarter, in every world.
    person_shocks = PersonShocks.of(
        shock_series, chunk["muni"].to_numpy(), chunk["cohort_q"].to_numpy()
    )
    p = oc.probabilities(chunk, munis, oc.observed_world(chunk), months, params, reform_q)
    grid = oc.states(shocked(p, person_shocks.per_row()), u[:, :n_months])
    grid[months >= seen[:, None]] = -1
    spells = spells_frame(chunk.index.to_numpy(), start, grid, data_end)
    horizon_frames = []
    worlds = _worlds(chunk, munis, params, bundles)
    for h in params.horizons:
        frame = {
            "person": chunk.index.to_numpy(),
            "horizon": h,
            "observed": add_months(start, h) <= data_end,
            "u": u[:, h],
            **person_shocks.columns(),
        }
        for name, world in worlds.items():
            pw = oc.probabilities(chunk, munis, world, np.array([[h]]), params, reform_q)
            for s, values in zip("EDS", (pw.employed, pw.education, pw.assistance), strict=True):
                frame[f"{name}_{s}"] = values[:, 0].astype(np.float32)
        horizon_frames.append(pd.DataFrame(frame))
    return spells, pd.concat(horizon_frames, ignore_index=True)


def simulate(params: SynthParameters, calendar: PolicyCalendar) -> Population:
    """Everything in memory: persons, municipalities, state spells, potential outcomes."""
    rngs = _streams(params.seed)
    munis = build_municipalities(rngs["municipalities"], params, calendar)
    persons = simulate_population(rngs["persons"], params, munis)
    persons = _identify(rngs["persons"], persons, munis)
    persons = simulate_process(rngs["process"], persons, munis, params)
    reform_q = quarter_from_label(pd.Period(params.reform_date, "Q").strftime("%YQ%q"))
    data_end = month_end(params.data_end)
    bundles = instrument_bundles(calendar.instruments, calendar.cities, params.reform_date)
    shock_series = draw_shocks(
        rngs["city_shocks"],
        len(munis.table),
        quarter_from_label(params.first_cohort),
        quarter_from_label(params.last_cohort),
        params.city_shocks,
    )
    chunk_seeds = rngs["outcomes"].integers(0, 2**63, -(-len(persons) // params.chunk_persons))
    spells, potential = [], []
    for i, seed in enumerate(chunk_seeds):
        chunk = persons.iloc[i * params.chunk_persons : (i + 1) * params.chunk_persons]
        s, pot = _simulate_chunk(
            np.random.default_rng(seed),
            chunk,
            munis,
            params,
            reform_q,
            data_end,
            bundles,
            shock_series,
        )
        spells.append(s)
        potential.append(pot)
    return Population(
        persons,
        munis,
        pd.concat(spells, ignore_index=True),
        pd.concat(potential, ignore_index=True),
        bundles,
        shock_series,
    )


def potential_table(pop: Population) -> pd.DataFrame:
    """Potential-outcome rows with the person facts the truth needs (person x horizon)."""
    p = pop.persons
    facts = pd.DataFrame(
        {
            "person_id": p["person_id"],
            "regime": p["regime"],
            "city": p["city"],
            "group": p["group"],
            "cohort_q": p["cohort_q"],
            "route": ROUTES[p["route_code"].to_numpy()],
            "female": p["female"],
            "age": p["age"],
            "schooling_years": p["schooling_years"],
            **{f"adopt_{k}": v[p["muni"].to_numpy()] for k, v in pop.munis.adoption.items()},
        }
    )
    facts.index = p.index
    return (
        facts.loc[pop.potential["person"].to_numpy()]
        .reset_index(drop=True)
        .join(pop.potential.drop(columns="person"))
    )


def truth_tables(
    pop: Population, params: SynthParameters, city_matching: truth.CityMatchingContrasts
) -> tuple[pd.DataFrame, pd.DataFrame]:
    pot = potential_table(pop)
    reform_q = quarter_from_label(pd.Period(params.reform_date, "Q").strftime("%YQ%q"))
    municipality = pop.persons.loc[pop.potential["person"].to_numpy(), "muni"].to_numpy()
    cells = truth.instrument_cells(pot, params.horizons, list(pop.munis.adoption), municipality)
    rows = (
        truth.reform_rows(pot, params.horizons, reform_q)
        + truth.route_rows(pot, params.horizons)
        + truth.city_rows(pot, params.horizons, city_matching)
        + truth.bundle_rows(pot, params.horizons, pop.bundles)
    )
    instrument = truth.instrument_rows(cells, quarter_from_label(params.first_cohort))
    columns = ["instrument", "group", "period", "outcome", "horizon", "truth", "truth_sample"]
    cells = cells[[*columns, "n", "municipalities", "eligible"]]
    return truth.estimands_table(rows, instrument), cells


def persons_facts(pop: Population, params: SynthParameters) -> pd.DataFrame:
    """truth/persons.parquet: the person-level facts the reader's exactness test compares with."""
    p = pop.persons
    pot = pop.potential
    out = pd.DataFrame(
        {
            "person_id": p["person_id"].astype(str),
            "municipality": p["muni_code"].astype(str),
            "city": p["city"].astype(str),
            "regime": p["regime"].astype(str),
            "cohort": quarter_label(p["cohort_q"].to_numpy()),
            "group": p["group"].astype(str),
            "obligation_start": pd.to_datetime(p["obligation_start"]),
            "route": pd.Series(ROUTES[p["route_code"].to_numpy()])
            .replace("", pd.NA)
            .astype("string"),
        }
    )
    for h in params.horizons:
        at = pot[pot["horizon"] == h].set_index("person").loc[p.index]
        observed = at["observed"].to_numpy()
        probs = shocked(
            oc.Probabilities(
                at["obs_E"].to_numpy(float),
                at["obs_D"].to_numpy(float),
                at["obs_S"].to_numpy(float),
            ),
            PersonShocks.from_table(at),
        )
        for outcome, values in oc.indicators(probs, at["u"].to_numpy()).items():
            out[f"{outcome}_{h}"] = pd.array(np.where(observed, values, np.nan), dtype="Int64")
    return out.sort_values("person_id", kind="mergesort").reset_index(drop=True)


FileTask = tuple[pd.DataFrame, TableSpec, Path, int, str, dict | None]


def file_tasks(
    pop: Population, params: SynthParameters, catalogue: Catalogue, fmt: str
) -> list[FileTask]:
    """The CBS-style tables, each with the arguments of the :func:`write_table` call that
    writes it (one per register and, for the jobs register, per year)."""
    rng = _streams(params.seed)["files"]
    codes = catalogue.codes
    data_end = month_end(params.data_end)
    year = int(params.data_end[:4])
    first_year = int(params.first_cohort[:4]) - 2
    frames = tables.person_tables(pop.persons, pop.munis, codes)
    frames.update(tables.address_tables(pop.persons, pop.munis, data_end, first_year))
    frames.update(tables.spell_tables(pop.persons, pop.spells, codes, rng))
    frames["swi_exams"] = tables.exam_table(pop.persons, exams(rng, pop.persons, data_end), codes)
    frames["municipality_instruments"] = tables.instrument_table(pop.munis)
    labels = tables.value_labels(codes)
    jobs = frames.pop("jobs")
    tasks: list[FileTask] = [
        (frame.reset_index(drop=True), catalogue.spec(name), catalogue.root, year, fmt,
         labels.get(name))
        for name, frame in frames.items()
    ]  # fmt: skip
    tasks += [
        (part.drop(columns="year").reset_index(drop=True), catalogue.spec("jobs"),
         catalogue.root, int(job_year), fmt, labels["jobs"])
        for job_year, part in jobs.groupby("year", sort=True)
    ]  # fmt: skip
    return tasks


def write_truth(
    pop: Population,
    params: SynthParameters,
    city_matching: truth.CityMatchingContrasts,
    truth_dir: Path,
) -> list[Path]:
    """truth/: estimands, instrument cells, persons, potential outcomes, city shocks and the
    parameters."""
    estimands, cells = truth_tables(pop, params, city_matching)
    outputs = {
        "estimands.csv": lambda t: estimands.to_csv(t, index=False, float_format="%.10g"),
        "instrument_cells.csv": lambda t: cells.to_csv(t, index=False, float_format="%.10g"),
        "persons.parquet": lambda t: persons_facts(pop, params).to_parquet(t, index=False),
        "potential_outcomes.parquet": lambda t: potential_table(pop).to_parquet(t, index=False),
        "city_shocks.csv": lambda t: pop.shocks.table(pop.munis.table["code"].to_numpy()).to_csv(
            t, index=False, float_format="%.10g"
        ),
        "parameters.json": lambda t: t.write_text(params.to_json() + "\n", encoding="utf-8"),
    }
    for name, write in outputs.items():
        with atomic_path(truth_dir / name) as tmp:
            write(tmp)
    return [truth_dir / name for name in outputs]


class _InThisProcess(Executor):
    """An executor without workers: each call runs when it is submitted (one thread)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _file_writers(workers: int) -> Executor:
    """Processes that write the files while this one computes the truth (``workers`` > 0).
    Spawned, not forked: a fork of a process holding BLAS threads can deadlock, and Windows
    has no fork. A spawned worker imports the main module again (workflow/scripts/rule.py
    guards its rule call for this)."""
    if workers < 1:
        return _InThisProcess()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def generate(
    params: SynthParameters,
    catalogue: Catalogue,
    out_dir: Path,
    fmt: str,
    calendar: PolicyCalendar,
    city_matching: truth.CityMatchingContrasts,
    threads: int = 1,
) -> list[Path]:
    """Write the CBS-style files and truth/ (estimands, cells, persons, potential outcomes,
    city shocks, parameters); ``city_matching`` says whom that design compares (its truth).
    With ``threads`` > 1, worker processes write the files while this one writes the truth
    (the same bytes either way)."""
    params = params.with_profile()
    pop = simulate(params, calendar)
    with _file_writers(threads - 1) as writers:
        files = [
            writers.submit(write_table, *task) for task in file_tasks(pop, params, catalogue, fmt)
        ]
        truth_files = write_truth(pop, params, city_matching, Path(out_dir) / "truth")
        written = [file.result() for file in files] + truth_files
    log.info(
        "generated %d persons, %d spells into %s", len(pop.persons), len(pop.spells), catalogue.root
    )
    return written
