"""The side-table contract: declared once, and what the export, the reports and the registry
say about side tables agrees with it."""

from __future__ import annotations

import pandas as pd
import pytest

from inburgering.contracts.side_tables import COUNTS, SIDE_TABLES
from inburgering.contracts.tidy import CELL_COLUMNS, tidy_frame
from inburgering.designs.registry import exported_side_tables
from inburgering.disclosure import assemble
from inburgering.report.inputs import BY_NAME

CELL = {
    "design": "reform_did",
    "treatment": "wi2021",
    "city": "rotterdam",
    "comparison": "rest_nl",
    "outcome": "participation",
    "horizon": 12,
}


def _estimates() -> pd.DataFrame:
    return tidy_frame(
        [
            {
                **CELL,
                "estimand": "att_overall",
                "subgroup": "all",
                "estimator": "cs_dr",
                "headline": True,
                "estimate": 0.1,
                "inference": "analytic",
                "n_treated": 400,
                "n_control": 5000,
            }
        ]
    )


def test_every_exported_side_table_has_a_contract():
    assert set(exported_side_tables()) == set(SIDE_TABLES)


@pytest.mark.parametrize("name", sorted(SIDE_TABLES))
def test_reports_read_only_columns_the_export_writes(name):
    contract = SIDE_TABLES[name]
    written = {*contract.keys, *contract.values, *contract.counts}
    assert set(BY_NAME[name].columns) <= written, sorted(set(BY_NAME[name].columns) - written)


def test_pretrends_one_row_per_test_with_the_contract_columns():
    raw = pd.DataFrame(
        [{**CELL, "wald_stat": 3.2, "wald_df": 4, "wald_p": 0.5, "slope": 0.01}]
    ).assign(slope_se=0.02, slope_p=0.6)
    table, spec = assemble.pretrends_item(raw, _estimates())
    contract = SIDE_TABLES["pretrends"]
    assert list(table.columns) == list(contract.columns)
    assert table[["test", "statistic", "df", "p_value"]].values.tolist() == [
        ["wald", 3.2, 4, 0.5],
        ["linear_slope", 0.01, 1, 0.6],
    ]
    assert spec.group_columns == contract.keys and spec.count_columns == COUNTS
    assert table["n_treated"].tolist() == [400, 400]


def test_design_column_names_are_renamed_from_the_contract():
    raw = pd.DataFrame([{**CELL, "ri_p": 0.2, "ri_floor": 0.025, "ri_q": 1.5}]).assign(
        ri_placebos=39, t=1.1
    )
    table, spec = assemble.inference_item(raw, _estimates())
    assert {"p_value", "p_floor", "n_placebos", "method"} <= set(table.columns)
    assert not {"ri_p", "ri_floor", "ri_placebos"} & set(table.columns)
    assert spec.value_columns == SIDE_TABLES["inference"].values
    assert table["n_clusters"].tolist() == [40]


def test_side_tables_join_their_estimates_on_the_cell_key():
    for contract in SIDE_TABLES.values():
        assert contract.keys[: len(CELL_COLUMNS)] == CELL_COLUMNS, contract.name
