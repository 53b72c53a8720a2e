"""The file-level API the Snakemake rule calls, and nested-step (sample flow) tables."""

from __future__ import annotations

import pandas as pd
import pytest

from inburgering.contracts.tidy import tidy_frame, write_tidy
from inburgering.disclosure import DisclosureError, TableSpec, check_table, export_from_files

FLOW = TableSpec(
    "sample_flow",
    "frequency",
    count_columns=["persons"],
    group_columns=["step", "city"],
    funnel="step",
    description="Sample flow",
)


def _flow(counts, city="all"):
    return pd.DataFrame(
        {"step": [f"s{i}" for i in range(len(counts))], "city": city, "persons": counts}
    )


def test_funnel_differences_are_counts_too(rules):
    # drops from the last published step: 5 (unsafe), 20, 1 (unsafe), 20
    checked = check_table(_flow([100, 95, 80, 79, 60]), FLOW, rules)
    assert checked.frame["suppressed"].tolist() == [False, True, False, True, False]


@pytest.mark.parametrize(("drop", "published"), [(9, False), (10, True), (11, True), (0, True)])
def test_funnel_borderline(rules, drop, published):
    checked = check_table(_flow([100, 100 - drop]), FLOW, rules)
    assert bool(checked.frame.loc[1, "suppressed"]) is not published


def test_funnel_checked_per_city_and_must_be_nested(rules):
    frame = pd.concat([_flow([100, 95], "rotterdam"), _flow([100, 50], "utrecht")])
    assert check_table(frame, FLOW, rules).frame["suppressed"].tolist() == [
        False,
        True,
        False,
        False,
    ]
    with pytest.raises(DisclosureError, match="not nested"):
        check_table(_flow([50, 60]), FLOW, rules)


def _estimates(n_treated: int) -> pd.DataFrame:
    return tidy_frame(
        [
            {
                "design": "reform_did",
                "estimand": "att_overall",
                "treatment": "wi2021",
                "city": city,
                "comparison": "rest_nl",
                "outcome": "employed",
                "horizon": 12,
                "subgroup": "all",
                "estimator": "cs",
                "headline": True,
                "estimate": 0.02,
                "se": 0.01,
                "ci_low": 0.0,
                "ci_high": 0.04,
                "p_value": 0.05,
                "inference": "ri",
                "n_treated": n,
                "n_control": 3000,
                "n_clusters": 61,
            }
            for city, n in (("rotterdam", 300), ("utrecht", n_treated))
        ]
    )


def test_export_from_files(tmp_path):
    write_tidy(_estimates(4), tmp_path / "estimates.csv")
    _flow([200, 190, 185]).to_csv(tmp_path / "flow.csv", index=False)
    persons = pd.DataFrame(
        {
            "person_id": ["000000123", "010000042"],
            "obligation_start": pd.to_datetime(["2022-02-03", "2022-05-06"]),
        }
    )
    persons.to_parquet(tmp_path / "persons.parquet")
    manifest = export_from_files(
        tmp_path / "export",
        estimates=[tmp_path / "estimates.csv"],
        tables=[(tmp_path / "flow.csv", FLOW)],
        disclosure={"min_persons": 10},
        persons=tmp_path / "persons.parquet",
    )
    rows = pd.read_csv(manifest).set_index("file")
    assert rows.loc["estimates.csv", "cells_suppressed"] == 1
    assert rows.loc["sample_flow.csv", "cells_suppressed"] == 1
    estimates = pd.read_csv(tmp_path / "export" / "estimates.csv").set_index("city")
    assert pd.isna(estimates.loc["utrecht", "estimate"])
    assert estimates.loc["rotterdam", "estimate"] == 0.02
    # a table that carries a person's start date is stopped by the leak scan
    pd.DataFrame({"step": ["2022-05-06"], "city": ["all"], "persons": [50]}).to_csv(
        tmp_path / "bad.csv", index=False
    )
    with pytest.raises(DisclosureError, match="individual_date"):
        export_from_files(
            tmp_path / "export2",
            tables=[(tmp_path / "bad.csv", FLOW)],
            persons=tmp_path / "persons.parquet",
        )
    assert not (tmp_path / "export2").exists()


def test_a_side_table_written_from_no_rows_reads_as_empty(tmp_path):
    """pandas writes an empty frame without columns as a bare newline (a design that estimated
    nothing); the export reads it as a table of no rows instead of stopping on it."""
    from inburgering.disclosure.assemble import concat
    from inburgering.disclosure.files import read_table

    empty = tmp_path / "city_instrument_did_pretrends.csv"
    pd.DataFrame().to_csv(empty, index=False)
    full = tmp_path / "pretrends.csv"
    pd.DataFrame({"design": ["reform_did"], "wald_p": [0.3]}).to_csv(full, index=False)
    assert read_table(empty).empty
    assert len(concat([full, empty])) == 1
