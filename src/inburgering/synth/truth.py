"""Ground truth of every estimand the pipeline reports, from person-level potential outcomes.

`truth` is the expected value over the outcome noise given the generated persons and their
assignments (a mean of probability differences, i.e. the population value of the design's
estimand for this population); `truth_sample` is the same mean of realised indicator differences
Y(d1) - Y(d0) (common latent uniforms), i.e. what an oracle would see in this sample. City
shocks (synth/shocks.py) are common to all worlds of a person and average out of the expected
probabilities, so `truth` is the same with or without them; the realised indicators, hence
`truth_sample`, are drawn from the shocked probabilities (the effect in the sample under the
realised shocks, whose mean over shock draws is `truth`). Every row
names its persons: always those observed at the horizon (obligation start + h months on or
before the data end); the uncertain-regime slice (early 2022) is never part of a Wi2021 set.
Definitions per design are in docs/synthetic-data.md ("Ground truth").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inburgering.calendar import BUNDLE_COMPARISON, InstrumentBundle
from inburgering.contracts.tidy import G4_CITIES, KEY_COLUMNS
from inburgering.synth.dates import quarter_from_label, quarter_label
from inburgering.synth.municipalities import NEVER
from inburgering.synth.outcomes import Probabilities, expected, indicators
from inburgering.synth.shocks import PersonShocks, shocked

OUTCOMES = ("participation", "employed", "social_assistance", "in_education")
STATE = {"employed": "E", "in_education": "D", "social_assistance": "S"}
SUBGROUPS: dict[str, dict[str, str]] = {
    "age": {"18-26": "age <= 26", "27-39": "27 <= age <= 39", "40-66": "age >= 40"},
    "sex": {"man": "~female", "vrouw": "female"},
    "group": {
        "statushouder": "group == 'statushouder'",
        "gezinsmigrant": "group == 'gezinsmigrant'",
    },
    "schooling": {
        "0-5": "schooling_years <= 5",
        "6-8": "6 <= schooling_years <= 8",
        "9+": "schooling_years >= 9",
    },
}


class WorldOutcomes:
    """Outcome probabilities and indicators per world of one potential-outcome frame, each world
    computed once: the truth of every outcome of a design reads the same two worlds, and the
    shocked probabilities (two probit transforms per person) are the costly part."""

    def __init__(self, pot: pd.DataFrame):
        self.pot = pot
        self._worlds: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}

    def __call__(self, world: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(probability, indicator) of every outcome in a world: the probability without city
        shocks (its expectation over them), the indicator as realised under the person's shock."""
        if world not in self._worlds:
            pot = self.pot
            p = Probabilities(*(pot[f"{world}_{s}"].to_numpy(dtype=float) for s in "EDS"))
            realised = indicators(shocked(p, PersonShocks.from_table(pot)), pot["u"].to_numpy())
            self._worlds[world] = (expected(p), realised)
        return self._worlds[world]


def effects(
    worlds: WorldOutcomes, world1: str, world0: str, outcome: str
) -> tuple[np.ndarray, np.ndarray]:
    """Expected and realised person-level effects Y(world1) - Y(world0)."""
    p1, y1 = worlds(world1)
    p0, y0 = worlds(world0)
    return p1[outcome] - p0[outcome], y1[outcome] - y0[outcome]


def _row(keys: dict, expected: float, realised: float) -> dict:
    return {**keys, "truth": expected, "truth_sample": realised}


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else np.nan


def _frames(
    pot: pd.DataFrame, horizons: tuple[int, ...]
) -> Iterator[tuple[int, pd.DataFrame, WorldOutcomes]]:
    for h in horizons:
        frame = pot[(pot["horizon"] == h) & pot["observed"]].reset_index(drop=True)
        yield h, frame, WorldOutcomes(frame)


# Cells of the reform contrasts' standardisation, finest first: the design's covariates (group,
# sex, schooling, age; estimate.covariates), banded. A city's person whose cell holds no person
# of the comparison takes the next coarser cell's mean.
SCHOOLING_EDGES = (6, 9, 12)
AGE_EDGES = (27, 30, 40, 50)


def standard_cells(f: pd.DataFrame) -> list[np.ndarray]:
    """Integer cell codes of every person, finest (group x sex x schooling x age band) to
    coarsest (group)."""
    group = pd.factorize(f["group"], sort=True)[0]
    female = f["female"].to_numpy(dtype=int)
    school = np.searchsorted(SCHOOLING_EDGES, f["schooling_years"].to_numpy(), side="right")
    age = np.searchsorted(AGE_EDGES, f["age"].to_numpy(), side="right")
    by_sex = group * 2 + female
    return [(by_sex * 4 + school) * 5 + age, by_sex, group]


class Standardiser:
    """The comparison's effect carried to the city's persons (direct standardisation): for
    each treated person the comparison's mean effect among persons of the same cell. This is
    what a DiD with conditional parallel trends identifies when effects differ by covariates
    and the two populations differ in them. Built once per (treated, control) pair and shared
    by every outcome."""

    def __init__(self, treated: np.ndarray, control: np.ndarray, cells: list[np.ndarray]):
        self.treated, self.control = np.flatnonzero(treated), np.flatnonzero(control)
        self.levels = []
        for code in cells:
            size = int(code.max()) + 1
            k = code[self.control]
            self.levels.append((k, code[self.treated], np.bincount(k, minlength=size), size))

    def difference(self, values: np.ndarray) -> float:
        """Mean effect of the treated persons minus the comparison's effect carried to them;
        a person whose cell holds no comparison person takes the next coarser cell's mean."""
        control = values[self.control]
        carried = np.full(self.treated.size, np.nan)
        for k, t, n, size in self.levels:
            total = np.bincount(k, weights=control, minlength=size)
            mean = np.divide(total, n, out=np.full(size, np.nan), where=n > 0)
            open_ = np.isnan(carried)
            carried[open_] = mean[t[open_]]
        carried[np.isnan(carried)] = control.mean()
        return float(values[self.treated].mean() - carried.mean())


def reform_rows(pot: pd.DataFrame, horizons: tuple[int, ...], reform_q: int) -> list[dict]:
    """Relative reform effect among the city's Wi2021 persons: their mean effect under the
    city's implementation minus the comparison's effect for persons like them
    (:class:`Standardiser`)."""
    rows = []
    for h, f, worlds in _frames(pot, horizons):
        wi2021 = (f["regime"] == "wi2021").to_numpy()
        event = f["cohort_q"].to_numpy() - reform_q
        city = f["city"].to_numpy()
        cells = standard_cells(f)
        values = {outcome: effects(worlds, "obs", "old", outcome) for outcome in OUTCOMES}
        for c in G4_CITIES:
            for comp in ("rest_nl", *[o for o in G4_CITIES if o != c]):
                keys = dict(design="reform_did", treatment="wi2021", city=c, comparison=comp,
                            horizon=h)  # fmt: skip
                for estimand_keys, t, k in _reform_slices(wi2021, event, city, f, c, comp):
                    pre = estimand_keys.get("event_time", 0) < 0
                    standard = None if pre else Standardiser(t, k, cells)
                    for outcome, (exp, real) in values.items():
                        row_keys = {**keys, **estimand_keys, "outcome": outcome}
                        rows.append(
                            _row(row_keys, 0.0, 0.0) if standard is None
                            else _row(row_keys, standard.difference(exp),
                                      standard.difference(real))
                        )  # fmt: skip
    return rows


def _reform_slices(
    wi2021: np.ndarray, event: np.ndarray, city: np.ndarray, f: pd.DataFrame, c: str, comp: str
) -> Iterator[tuple[dict, np.ndarray, np.ndarray]]:
    """(estimand keys, treated persons, comparison persons) of every reform row of a contrast:
    att_overall for all and per group, att_event per event time (pre-periods: every person)."""
    treated, control = wi2021 & (city == c), wi2021 & (city == comp)
    for subgroup, extra in (
        ("all", True),
        *[(f"group:{g}", (f["group"] == g).to_numpy()) for g in ("statushouder", "gezinsmigrant")],
    ):
        t, k = treated & extra, control & extra
        if t.any() and k.any():
            yield {"estimand": "att_overall", "subgroup": subgroup}, t, k
    has_c, has_k = city == c, city == comp
    for e in np.unique(event[has_c]):
        t, k = has_c & (event == e), has_k & (event == e)
        if e >= 0:
            t, k = t & wi2021, k & wi2021
        if t.any() and k.any():
            yield {"estimand": "att_event", "subgroup": "all", "event_time": int(e)}, t, k


# Municipalities an adoption cohort needs in every quarter (as
# designs.instrument_did.MIN_MUNICIPALITIES).
MIN_MUNICIPALITIES = 2


def _eligible(cells: pd.DataFrame, quarters: np.ndarray) -> pd.Series:
    """Per adoption quarter g: persons from >= MIN_MUNICIPALITIES municipalities in every cohort
    quarter (the instrument_did rule); cohorts adopting after the last quarter are untreated."""
    counts = cells.pivot_table(
        index="g", columns="t", values="municipalities", aggfunc="max", fill_value=0
    )
    counts = counts.reindex(columns=quarters, fill_value=0)
    ok = (counts >= MIN_MUNICIPALITIES).all(axis=1) & (counts.index <= quarters.max())
    return ok.rename("eligible")


def _instrument_cells(
    f: pd.DataFrame, worlds: WorldOutcomes, key: str, adopters: np.ndarray
) -> pd.DataFrame:
    """One instrument's cells (g, t, outcome): mean truths, persons and municipalities."""
    columns = {
        "g": f[f"adopt_{key}"].to_numpy()[adopters],
        "t": f["cohort_q"].to_numpy()[adopters],
    }
    for outcome in OUTCOMES:
        exp, real = effects(worlds, "obs", f"off_{key}", outcome)
        columns[f"truth|{outcome}"] = exp[adopters]
        columns[f"truth_sample|{outcome}"] = real[adopters]
    grouped = pd.DataFrame(columns).groupby(["g", "t"], sort=True)
    sizes = pd.DataFrame(
        {
            "n": grouped.size(),
            "municipalities": f.loc[adopters, "municipality"]
            .groupby([columns["g"], columns["t"]])
            .nunique(),
        }
    )
    long = grouped.mean().stack().rename("value").reset_index()
    long[["measure", "outcome"]] = long["level_2"].str.split("|", expand=True)
    wide = long.pivot_table(index=["g", "t", "outcome"], columns="measure", values="value")
    return wide.reset_index().merge(sizes.rename_axis(["g", "t"]).reset_index(), on=["g", "t"])


def instrument_cells(
    pot: pd.DataFrame, horizons: tuple[int, ...], instruments: list[str], municipality: np.ndarray
) -> pd.DataFrame:
    """Cell-level truth ATT(g, t) per instrument: g adoption quarter, t cohort quarter.

    Adopters are persons outside the G4 (the G4 calendar adoptions coincide with Wi2021 and with
    each other; instrument_did leaves the G4 out). ``municipality`` (aligned with ``pot``) gives
    each cell's number of municipalities and each cohort's ``eligible`` flag, the rule
    instrument_did applies before estimating (see ``_eligible``).
    """
    pot = pot.assign(municipality=municipality)
    cells = []
    for h, f, worlds in _frames(pot, horizons):
        rest = (f["city"] == "rest_nl").to_numpy()
        quarters = np.unique(f.loc[rest, "cohort_q"])
        for key in instruments:
            adopters = (f[f"adopt_{key}"].to_numpy() != NEVER) & rest
            if not adopters.any():
                continue
            wide = _instrument_cells(f, worlds, key, adopters)
            wide = wide.join(_eligible(wide, quarters), on="g")
            cells.append(wide.assign(instrument=key, horizon=h))
    out = pd.concat(cells, ignore_index=True)
    out["group"] = quarter_label(out["g"].to_numpy())
    out["period"] = quarter_label(out["t"].to_numpy())
    return out.sort_values(["instrument", "outcome", "horizon", "g", "t"], kind="mergesort")


def _weighted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    frame = frame.assign(
        wt=frame["truth"] * frame["weight"], ws=frame["truth_sample"] * frame["weight"]
    )
    sums = frame.groupby(by, sort=True)[["wt", "ws", "weight"]].sum()
    return pd.DataFrame(
        {"truth": sums["wt"] / sums["weight"], "truth_sample": sums["ws"] / sums["weight"]}
    ).reset_index()


def instrument_rows(cells: pd.DataFrame, first_q: int) -> pd.DataFrame:
    """Callaway-Sant'Anna aggregations of the true ATT(g, t) over the eligible cohorts: `simple`
    (post cells weighted by persons in group g) and `dynamic` (per event time, groups weighted
    by their size)."""
    keys = ["instrument", "outcome", "horizon"]
    # Groups treated in the first period have no pre-period; ineligible cohorts are not estimated.
    usable = cells[(cells["g"] > first_q) & cells["eligible"]]
    usable = usable.assign(
        weight=usable.groupby([*keys, "g"])["n"].transform("sum"),
        event_time=usable["t"] - usable["g"],
    )
    overall = _weighted(usable[usable["event_time"] >= 0], keys).assign(estimand="att_overall")
    event = _weighted(usable, [*keys, "event_time"]).assign(estimand="att_event")
    rows = pd.concat([overall, event], ignore_index=True).rename(
        columns={"instrument": "treatment"}
    )
    return rows.assign(
        design="instrument_did", city="all", comparison="not_yet_treated", subgroup="all"
    )


def bundle_rows(
    pot: pd.DataFrame, horizons: tuple[int, ...], bundles: list[InstrumentBundle]
) -> list[dict]:
    """A G4 city's own instrument bundle (``designs.city_instrument_did``): the mean effect of
    switching the bundle on among the city's persons of the cohort quarters from its adoption to the
    city's next change (``att_overall``), per event quarter (``att_event``; quarters since the
    previous change and before adoption are pre-periods with truth 0). The comparison
    municipalities change nothing in the window, so their effect is zero by construction."""
    rows = []
    for h, f, worlds in _frames(pot, horizons):
        quarter = f["cohort_q"].to_numpy()
        certain = (f["regime"] != "uncertain").to_numpy()
        for b in bundles:
            start = quarter_from_label(str(b.start))
            lo = quarter_from_label(str(b.previous_change)) if b.previous_change else -(10**6)
            hi = quarter_from_label(str(b.next_change)) - 1 if b.next_change else 10**6
            persons = certain & (f["city"] == b.city).to_numpy() & (quarter >= lo)
            post = persons & (quarter >= start) & (quarter <= hi)
            keys = dict(
                design="instrument_did",
                treatment=b.treatment,
                city=b.city,
                comparison=BUNDLE_COMPARISON,
                horizon=h,
                subgroup="all",
            )
            for outcome in OUTCOMES:
                exp, real = effects(worlds, "obs", f"off_{b.treatment}", outcome)
                if post.any():
                    rows.append(
                        _row(
                            {**keys, "outcome": outcome, "estimand": "att_overall"},
                            _mean(exp, post),
                            _mean(real, post),
                        )
                    )
                for q in np.unique(quarter[persons & (quarter <= hi)]):
                    at = persons & (quarter == q)
                    pre = q < start
                    rows.append(
                        _row(
                            {
                                **keys,
                                "outcome": outcome,
                                "estimand": "att_event",
                                "event_time": int(q - start),
                            },
                            0.0 if pre else _mean(exp, at),
                            0.0 if pre else _mean(real, at),
                        )
                    )
    return rows


def route_rows(pot: pd.DataFrame, horizons: tuple[int, ...]) -> list[dict]:
    """Route ATT over persons assigned the route, and Z-vs-B1 CATEs over the Z and B1 persons."""
    rows = []
    for h, f, worlds in _frames(pot, horizons):
        wi2021 = (f["regime"] == "wi2021").to_numpy()
        route = f["route"].to_numpy()
        masks = {
            f"{variable}:{band}": f.eval(query).to_numpy()
            for variable, bands in SUBGROUPS.items()
            for band, query in bands.items()
        }
        for outcome in OUTCOMES:
            for name, code in (("z_vs_b1", "z"), ("onderwijs_vs_b1", "onderwijs")):
                exp, real = effects(worlds, f"route_{code}", "route_b1", outcome)
                mask = wi2021 & (route == code)
                if mask.any():
                    rows.append(
                        _row(
                            dict(
                                design="route_matching",
                                estimand="att",
                                treatment=name,
                                city="all",
                                comparison="matched",
                                outcome=outcome,
                                horizon=h,
                                subgroup="all",
                            ),
                            _mean(exp, mask),
                            _mean(real, mask),
                        )
                    )
            exp, real = effects(worlds, "route_z", "route_b1", outcome)
            pool = wi2021 & np.isin(route, ["z", "b1"])
            for subgroup, member in masks.items():
                mask = pool & member
                if mask.any():
                    rows.append(
                        _row(
                            dict(
                                design="heterogeneity",
                                estimand="cate",
                                treatment="z_vs_b1",
                                city="all",
                                comparison="matched",
                                outcome=outcome,
                                horizon=h,
                                subgroup=subgroup,
                            ),
                            _mean(exp, mask),
                            _mean(real, mask),
                        )
                    )
    return rows


@dataclass(frozen=True)
class CityMatchingContrasts:
    """Whom the city_matching design compares (config ``matching.city``, the keys
    ``designs.matching.city_matching_rows`` reads): the persons of ``regimes`` and ``groups``
    settled in ``treated``, each against settling in one of ``comparisons``."""

    treated: str
    comparisons: tuple[str, ...]
    regimes: tuple[str, ...]
    groups: tuple[str, ...]

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> CityMatchingContrasts:
        return cls(
            treated=str(section["treated"]),
            comparisons=tuple(section["comparisons"]),
            regimes=tuple(section["regimes"]),
            groups=tuple(section["groups"]),
        )


def city_rows(
    pot: pd.DataFrame, horizons: tuple[int, ...], contrasts: CityMatchingContrasts
) -> list[dict]:
    """The treated city's persons of the contrasts' regimes and groups: Y(settled in the
    treated city) - Y(settled in city c), for each comparison city c that has a potential
    outcome (the G4 cities; the generator has no world of settling "anywhere outside the G4")."""
    rows = []
    treated = contrasts.treated
    for h, f, worlds in _frames(pot, horizons):
        mask = (
            f["regime"].isin(contrasts.regimes)
            & (f["city"] == treated)
            & f["group"].isin(contrasts.groups)
        ).to_numpy()
        if not mask.any():
            continue
        for outcome in OUTCOMES:
            for other in [c for c in contrasts.comparisons if c in G4_CITIES]:
                exp, real = effects(worlds, "obs", f"city_{other}", outcome)
                rows.append(
                    _row(
                        dict(
                            design="city_matching",
                            estimand="att",
                            treatment=f"{treated}_vs_{other}",
                            city=treated,
                            comparison="matched",
                            outcome=outcome,
                            horizon=h,
                            subgroup="all",
                        ),
                        _mean(exp, mask),
                        _mean(real, mask),
                    )
                )
    return rows


def estimands_table(rows: list[dict], *frames: pd.DataFrame) -> pd.DataFrame:
    """Rows in the tidy key order (empty keys empty), sorted for byte-identical output."""
    frame = pd.concat([pd.DataFrame(rows), *frames], ignore_index=True)
    for column in KEY_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    for column in ("horizon", "event_time"):
        frame[column] = frame[column].astype("Int64")
    text = [c for c in KEY_COLUMNS if c not in ("horizon", "event_time")]
    frame[text] = frame[text].fillna("").astype(str)
    frame = frame.loc[:, [*KEY_COLUMNS, "truth", "truth_sample"]]
    return frame.sort_values(list(KEY_COLUMNS), kind="mergesort").reset_index(drop=True)
