"""Obligated persons: group, cohort, settlement municipality and covariates at the start.

Composition shifts are planted on purpose (DOMAIN §2/§6): the Afghan evacuation (2021Q3-2022Q4,
more educated, more families), Turkish family migrants newly obligated under Wi2021 (and settling
mostly in Rotterdam and Den Haag), and Amsterdam housing more young, educated statushouders from
2021 (student housing). Outcomes depend on these covariates, so unconditional parallel trends fail
while trends conditional on them hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inburgering.synth.dates import DAY, quarter_from_label
from inburgering.synth.municipalities import Municipalities
from inburgering.synth.params import SynthParameters

GROUPS = np.array(["statushouder", "gezinsmigrant", "overig"])
# Origins with BRP country codes (Tabel 34; codes UNVERIFIED, check the RA code list) and mean
# years of schooling (assumption from the CBS Asiel en integratie cohort studies).
ORIGINS = pd.DataFrame(
    {
        "origin": [
            "SYR",
            "ERI",
            "AFG",
            "TUR",
            "IRN",
            "IRQ",
            "YEM",
            "SOM",
            "MAR",
            "SUR",
            "IND",
            "OTH",
        ],
        "country": [
            "5095",
            "7047",
            "6023",
            "6043",
            "6027",
            "6028",
            "5069",
            "5028",
            "5022",
            "5007",
            "6020",
            "5099",
        ],
        "schooling": [9.0, 6.0, 7.0, 9.0, 12.0, 9.0, 8.0, 5.0, 8.0, 11.0, 14.0, 10.0],
    }
)
# Relative inflow weight per obligation year (asylum peak 2016, COVID dip 2020, 26.2k in 2022 and
# 36.1k in 2023 nationally; DOMAIN §4).
YEAR_WEIGHT_STATUSHOUDER = {
    2016: 1.9,
    2017: 1.1,
    2018: 0.8,
    2019: 0.8,
    2020: 0.6,
    2021: 0.9,
    2022: 1.1,
    2023: 1.5,
    2024: 1.4,
}
YEAR_WEIGHT_GEZINSMIGRANT = {
    2016: 0.8,
    2017: 0.8,
    2018: 0.8,
    2019: 0.8,
    2020: 0.6,
    2021: 0.8,
    2022: 1.0,
    2023: 1.3,
    2024: 1.3,
}


def _origin_weights(group: str, year: int, quarter: int) -> np.ndarray:
    names = list(ORIGINS["origin"])
    if group == "statushouder":
        w = dict(
            SYR=0.40 if year <= 2017 else 0.30,
            ERI=0.15,
            AFG=0.06,
            TUR=0.02,
            IRN=0.06,
            IRQ=0.06,
            YEM=0.02,
            SOM=0.03,
            OTH=0.10,
        )
        if (year, quarter) >= (2021, 3) and year <= 2022:
            w["AFG"] = 0.30  # evacuation from Kabul, August 2021 onwards
        if year >= 2022:
            w["TUR"], w["YEM"] = 0.08, 0.05
    else:
        w = dict(MAR=0.15, SUR=0.08, IND=0.10, SYR=0.08, OTH=0.30, IRN=0.02, IRQ=0.02)
        if year >= 2022:
            w["TUR"] = 0.25  # Turkish nationals obligated only under Wi2021
    vector = np.array([w.get(o, 0.0) for o in names])
    return vector / vector.sum()


def _cohorts(rng: np.random.Generator, params: SynthParameters, group: np.ndarray) -> np.ndarray:
    first, last = quarter_from_label(params.first_cohort), quarter_from_label(params.last_cohort)
    quarters = np.arange(first, last + 1)
    years = 2000 + quarters // 4
    out = np.empty(len(group), dtype=np.int64)
    for name, weights in (
        ("statushouder", YEAR_WEIGHT_STATUSHOUDER),
        ("other", YEAR_WEIGHT_GEZINSMIGRANT),
    ):
        members = (group == "statushouder") if name == "statushouder" else (group != "statushouder")
        w = np.array([weights.get(int(y), 1.0) for y in years])
        out[members] = rng.choice(quarters, int(members.sum()), p=w / w.sum())
    return out


def _start_dates(rng: np.random.Generator, quarter: np.ndarray) -> np.ndarray:
    first_month = (quarter + 2000 * 4 - 1970 * 4) * 3
    start = np.asarray(first_month, dtype="datetime64[M]").astype(DAY)
    length = ((np.asarray(first_month + 3, dtype="datetime64[M]")).astype(DAY) - start).astype(int)
    return start + (rng.random(len(quarter)) * length).astype(np.int64)


def _settle(
    rng: np.random.Generator,
    munis: Municipalities,
    group: np.ndarray,
    origin: np.ndarray,
    age: np.ndarray,
    schooling: np.ndarray,
    quarter: np.ndarray,
) -> np.ndarray:
    table = munis.table
    statushouder = group == "statushouder"
    out = np.empty(len(group), dtype=np.int64)
    for members, column in (
        (statushouder, "share_statushouder"),
        (~statushouder, "share_gezinsmigrant"),
    ):
        p = table[column].to_numpy()
        out[members] = rng.choice(len(p), int(members.sum()), p=p / p.sum())
    # Amsterdam houses young, educated statushouders in student housing from 2021 (DOMAIN §6).
    young_educated = (
        statushouder & (age < 30) & (schooling >= 10) & (quarter >= quarter_from_label("2021Q1"))
    )
    out[young_educated & (rng.random(len(group)) < 0.06)] = munis.index_of("0363")
    # Turkish family migrants join relatives in Rotterdam and Den Haag.
    turkish = (group != "statushouder") & (origin == "TUR")
    draw = rng.random(len(group))
    out[turkish & (draw < 0.12)] = munis.index_of("0599")
    out[turkish & (draw >= 0.12) & (draw < 0.22)] = munis.index_of("0518")
    return out


def simulate_population(
    rng: np.random.Generator, params: SynthParameters, munis: Municipalities
) -> pd.DataFrame:
    """Covariates at the obligation start (one row per person, not yet with process/outcomes)."""
    n = params.persons
    u = rng.random(n)
    group = np.where(
        u < params.share_statushouder,
        "statushouder",
        np.where(u < 1 - params.share_overig, "gezinsmigrant", "overig"),
    )
    quarter = _cohorts(rng, params, group)
    start = _start_dates(rng, quarter)
    years = 2000 + quarter // 4
    origin = np.empty(n, dtype=object)
    names = ORIGINS["origin"].to_numpy()
    for key in np.unique(np.stack([group == "statushouder", years, quarter % 4 + 1]), axis=1).T:
        sh, year, q = bool(key[0]), int(key[1]), int(key[2])
        members = ((group == "statushouder") == sh) & (years == year) & (quarter % 4 + 1 == q)
        weights = _origin_weights("statushouder" if sh else "gezinsmigrant", year, q)
        origin[members] = rng.choice(names, int(members.sum()), p=weights)
    origin = origin.astype(str)
    statushouder = group == "statushouder"
    female = rng.random(n) < np.where(
        statushouder, 1 - params.share_men_statushouder, params.share_women_gezinsmigrant
    )
    # Afghan evacuees: families, more women, more schooling (interpreters, civil servants).
    evacuee = statushouder & (origin == "AFG") & (quarter >= quarter_from_label("2021Q3"))
    female = np.where(evacuee, rng.random(n) < 0.48, female)
    age = np.clip(
        18 + rng.gamma(np.where(statushouder, 2.6, 3.2), np.where(statushouder, 5.0, 3.8)), 18, 66
    )
    age = np.floor(age).astype(np.int64)
    mean_school = ORIGINS.set_index("origin").loc[origin, "schooling"].to_numpy() + 3.0 * evacuee
    schooling = np.clip(np.round(rng.normal(mean_school - 0.04 * (age - 30), 3.5)), 0, 18).astype(
        np.int64
    )
    literate = rng.random(n) < 1 / (1 + np.exp(-(schooling - 3.5)))
    digital = rng.normal(0.25 * (schooling - 9) - 0.03 * (age - 35), 1.0)
    partner = rng.random(n) < np.where(statushouder, 0.45, 0.95)
    children = np.where(rng.random(n) < np.where(partner, 0.65, 0.15), rng.integers(1, 5, n), 0)
    household = np.where(
        partner,
        np.where(children > 0, "paar_kinderen", "paar"),
        np.where(children > 0, "eenouder", "alleen"),
    )
    municipality = _settle(rng, munis, group, origin, age, schooling, quarter)
    return pd.DataFrame(
        {
            "group": group,
            "cohort_q": quarter,
            "obligation_start": start,
            "muni": municipality,
            "female": female,
            "age": age,
            "origin": origin,
            "schooling_years": schooling,
            "literate": literate,
            "digital": digital,
            "children": children,
            "household": household,
            "hidden": rng.normal(0.0, 1.0, n),
        }
    )
