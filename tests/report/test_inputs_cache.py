"""Exports reads each table once per report; sections get copies they may change."""

from __future__ import annotations

from export_fixtures import write_minimal_export

from inburgering.report.inputs import Exports


def test_tables_are_read_once_and_handed_out_as_copies(tmp_path):
    exports = Exports(write_minimal_export(tmp_path / "export"))
    first = exports.table("estimates")
    first.loc[:, "estimate"] = -99.0
    first.drop(first.index, inplace=True)
    second = exports.table("estimates")
    assert len(second) > 0 and not (second["estimate"] == -99.0).any()
    (exports.folder / "estimates.csv").unlink()  # read already: the report keeps its table
    assert exports.table("estimates").equals(second)
