"""python -m inburgering.synth takes the reform date from the policy calendar it is given, as
the workflow does (prepare.reform_date, kept equal to the calendar by the start-up check)."""

from __future__ import annotations

import json

import yaml
from synth_helpers import ROOT

from inburgering.synth.__main__ import main


def test_the_command_line_generates_with_the_calendars_reform_date(tmp_path):
    policies = yaml.safe_load((ROOT / "config" / "policies.yaml").read_text(encoding="utf-8"))
    policies["reform"]["date"] = "2023-01-01"
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump(policies), encoding="utf-8")
    out = tmp_path / "run"
    arguments = ["--persons", "400", "--seed", "3", "--format", "parquet"]
    main([*arguments, "--out", str(out), "--policies", str(path)])
    parameters = json.loads((out / "truth" / "parameters.json").read_text(encoding="utf-8"))
    assert parameters["reform_date"] == "2023-01-01"
