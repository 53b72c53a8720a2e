"""Stand-in for the default end-to-end run until the workflow exists: person-level synthetic
data -> descriptive tables, tidy estimates, figures -> checks -> export -> leak test.

When the Snakemake workflow is wired (workflow/rules/disclosure.smk), add an e2e test that
runs it on config/config.yaml and calls ``assert_no_leaks`` on results/export/ and the reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.contracts.tidy import tidy_frame
from inburgering.disclosure import (
    LeakError,
    TableSpec,
    assert_no_leaks,
    check_figure_data,
    check_tables,
    summarise_amounts,
    summarise_percentiles,
    tidy_estimates_spec,
    write_export,
)

CITIES = {"rotterdam": 400, "amsterdam": 450, "den_haag": 300, "utrecht": 6}  # utrecht: tiny


@pytest.fixture(scope="module")
def persons() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    city = np.repeat(list(CITIES), list(CITIES.values()))
    n = len(city)
    start = pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    return pd.DataFrame(
        {
            "rinpersoon": [f"{i:09d}" for i in rng.choice(10**8, n, replace=False)],
            "city": city,
            "cohort": start.year.astype(str),
            "start": start,
            "employed": rng.random(n) < 0.3,
            "wage": np.round(rng.lognormal(7.8, 0.3, n), 2),
        }
    )


def _tables(persons: pd.DataFrame, rules):
    counts = persons.groupby(["city", "cohort"]).size().rename("n").reset_index()
    by_city = persons.groupby("city").size().rename("n").reset_index().assign(cohort="all")
    by_cohort = persons.groupby("cohort").size().rename("n").reset_index().assign(city="all")
    freq = pd.concat(
        [
            counts,
            by_city,
            by_cohort,
            pd.DataFrame({"city": ["all"], "cohort": ["all"], "n": [len(persons)]}),
        ]
    )
    shares = persons.groupby("city").agg(n=("employed", "size"), employed=("employed", "mean"))
    estimates = tidy_frame(
        [
            {
                "design": "city_matching",
                "estimand": "att",
                "treatment": f"rotterdam_vs_{c}",
                "city": c,
                "comparison": "matched",
                "outcome": "employed",
                "horizon": 12,
                "subgroup": "all",
                "estimator": "ipw",
                "headline": True,
                "estimate": 0.03,
                "se": 0.01,
                "ci_low": 0.01,
                "ci_high": 0.05,
                "p_value": 0.02,
                "inference": "randomization",
                "n_treated": CITIES["rotterdam"],
                "n_control": n,
                "n_clusters": 2,
            }
            for c, n in CITIES.items()
            if c != "rotterdam"
        ]
    )
    return [
        (
            freq,
            TableSpec(
                "persons_city_cohort",
                "frequency",
                count_columns=["n"],
                group_columns=["city", "cohort"],
                universe="obligated",
                margins={"city": "all", "cohort": "all"},
                description="Obligated persons by city and cohort",
            ),
        ),
        (
            shares.reset_index(),
            TableSpec(
                "employment_by_city",
                "share",
                count_columns=["n"],
                group_columns=["city"],
                value_columns=["employed"],
                description="Share employed at 12 months",
            ),
        ),
        (
            summarise_amounts(persons, "wage", ["city"], rules),
            TableSpec(
                "wages_by_city",
                "amount",
                count_columns=["n"],
                group_columns=["city"],
                value_columns=["sum", "mean"],
                description="Monthly wages",
            ),
        ),
        (
            summarise_percentiles(persons, "wage", ["city"], quantiles=(0.25, 0.5, 0.75)),
            TableSpec(
                "wage_percentiles",
                "percentile",
                count_columns=["n"],
                group_columns=["city"],
                value_columns=["p25", "p50", "p75"],
                description="Wage percentiles",
            ),
        ),
        (estimates, tidy_estimates_spec("city_matching", "Rotterdam vs each G4 city")),
    ]


def test_default_run_export_passes_leak_test(persons, rules, tmp_path):
    checked = check_tables(_tables(persons, rules), rules)
    by_name = {c.name: c for c in checked}
    # the tiny city yields suppressed rows, not a crash
    for name in ("employment_by_city", "wages_by_city", "wage_percentiles", "city_matching"):
        frame = by_name[name].frame.set_index("city")
        assert frame.loc["utrecht", "suppressed"], name
    edges = np.arange(1000, 6001, 500)
    histogram = pd.DataFrame(
        {
            "bin_left": edges[:-1],
            "bin_right": edges[1:],
            "n": np.histogram(persons["wage"].clip(1000, 5999), edges)[0],
        }
    )
    figure = check_figure_data(
        histogram,
        "histogram",
        name="wage_histogram",
        rules=rules,
        on_violation="suppress",
        description="Wage distribution",
    )
    export = tmp_path / "results" / "export"
    write_export(
        [*checked, figure],
        export,
        rules=rules,
        person_keys=persons["rinpersoon"],
        person_values={"start": persons["start"], "wage": persons["wage"]},
        allow=["2021-01-01", "2022-01-01", "2023-01-01"],
    )
    # a report rendered from the export only
    report = tmp_path / "report.md"
    report.write_text(
        "\n\n".join(pd.read_csv(p).to_string(index=False) for p in sorted(export.glob("*.csv")))
    )
    assert_no_leaks(
        [export, report],
        person_keys=persons["rinpersoon"],
        person_values={"start": persons["start"], "wage": persons["wage"]},
        rules=rules,
        allow=["2021-01-01", "2022-01-01", "2023-01-01"],
    )
    raw = tmp_path / "raw.csv"
    persons.head(3).to_csv(raw, index=False)
    with pytest.raises(LeakError, match="person_id"):
        assert_no_leaks([raw], person_keys=persons["rinpersoon"], rules=rules)
