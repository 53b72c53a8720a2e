"""instrument_did targets the synthetic truth's estimand, and its clustered SEs are honest.

The population here is tiny and noise-free (outcome = expected outcome), so an estimator that
targets the truth's estimand reproduces it exactly; before the fix the G4 city's reform-date
bundle leaked into the estimate and the truth averaged over cohorts the estimator dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inburgering.designs.event_study import EventStudySettings
from inburgering.designs.instrument_did import (
    adoption_table,
    effective_municipalities,
    eligible_cohorts,
    instrument_rows,
    leverage_corrected,
    small_sample_intervals,
)
from inburgering.did import aggte, att_gt
from inburgering.synth import truth
from inburgering.synth.dates import quarter_from_label
from inburgering.synth.municipalities import NEVER
from inburgering.synth.shocks import PersonShocks

QUARTERS = [f"{y}Q{q}" for y in (2019, 2020) for q in range(1, 5)]
G4_CODE = "0599"
# municipality -> (adoption quarter or None, true effect at full exposure, quarters without persons)
MUNICIPALITIES = {
    G4_CODE: ("2020Q1", 0.1, ()),  # calendar city: adopts on the date of its own 0.2 shock
    "1001": ("2019Q4", 0.1, ()),  # cohort A: three municipalities, estimable
    "1002": ("2019Q4", 0.1, ()),
    "1003": ("2019Q4", 0.1, ()),
    "1004": ("2020Q2", 0.3, ()),  # cohort B: a single municipality
    "1005": ("2020Q3", 0.3, ()),  # cohort C: one municipality left in 2019Q2
    "1006": ("2020Q3", 0.3, ("2019Q2",)),
    "1007": ("2020Q4", 0.5, ("2019Q3",)),  # cohort D: an empty quarter
    **{f"101{k}": (None, 0.0, ()) for k in range(4)},  # never adopt
}


def _index(label: str) -> int:
    """The estimator's quarter index (year * 4 + quarter)."""
    return int(label[:4]) * 4 + int(label[-1])


def _population(per_quarter: int = 2) -> pd.DataFrame:
    """One row per person: municipality, cohort, Y(off) and Y(on) as probabilities."""
    rows = []
    for m, (adopt, effect, empty) in MUNICIPALITIES.items():
        for t, label in enumerate(QUARTERS):
            if label in empty:
                continue
            y0 = 0.2 + 0.02 * t + 0.01 * (int(m) % 5)
            if m == G4_CODE and label >= "2020Q1":
                y0 += 0.2  # the city's Wi2021 bundle, not the instrument
            exposure = 0.0 if adopt is None else np.clip((t - QUARTERS.index(adopt) + 1) / 4, 0, 1)
            rows += [{"municipality": m, "cohort": label, "y0": y0, "y1": y0 + effect * exposure}]
    frame = pd.DataFrame(rows * per_quarter)
    return frame.assign(person_id=[f"{i:09d}" for i in range(len(frame))])


def _design_inputs(people: pd.DataFrame):
    persons = people.assign(
        city=np.where(people["municipality"] == G4_CODE, "rotterdam", "rest_nl"),
        group="statushouder",
        regime="wi2013",
    )
    outcomes = pd.DataFrame(
        {"person_id": people["person_id"], "horizon": 12, "participation": people["y1"]}
    )
    others = [(m, a) for m, (a, _, _) in MUNICIPALITIES.items() if a and m != G4_CODE]
    table = pd.DataFrame(
        {
            "municipality": [m for m, _ in others],
            "instrument": "x",
            "start": [pd.Period(a, "Q").start_time for _, a in others],
        }
    )
    policies = {
        "municipalities": {"rotterdam": {"code": G4_CODE}},
        "instruments": {"x": {"adoption": {"rotterdam": {"start": "2020-01-01"}}}},
    }
    return persons, outcomes, adoption_table(policies, table)


def _truth_cells(people: pd.DataFrame) -> pd.DataFrame:
    adopt = {m: a for m, (a, _, _) in MUNICIPALITIES.items()}
    zeros = np.zeros(len(people))
    pot = pd.DataFrame(
        {
            "horizon": 12,
            "observed": True,
            "cohort_q": [quarter_from_label(c) for c in people["cohort"]],
            "adopt_x": [
                NEVER if adopt[m] is None else quarter_from_label(adopt[m])
                for m in people["municipality"]
            ],
            "city": np.where(people["municipality"] == G4_CODE, "rotterdam", "rest_nl"),
            "u": 0.5,
            **PersonShocks.none(len(people)).columns(),
            **{"obs_E": people["y1"], "obs_D": zeros, "obs_S": zeros},
            **{"off_x_E": people["y0"], "off_x_D": zeros, "off_x_S": zeros},
        }
    )
    cells = truth.instrument_cells(pot, (12,), ["x"], people["municipality"].to_numpy())
    return cells[cells["outcome"] == "participation"]


def test_estimate_equals_truth_on_a_noise_free_population():
    people = _population()
    persons, outcomes, adoption = _design_inputs(people)
    settings = EventStudySettings.from_schema_defaults(
        horizons=[12], cities=[], alpha=0.05, covariates=[], wild_draws=99
    )
    rows = instrument_rows(
        persons, outcomes, adoption, ["x"], ["participation"], settings, exclude=[G4_CODE]
    )
    rows = rows[rows["headline"]]
    expected = truth.instrument_rows(_truth_cells(people), quarter_from_label(QUARTERS[0]))
    overall = rows.loc[rows["estimand"] == "att_overall", "estimate"].item()
    # Only cohort A is estimable (B one municipality, C one in 2019Q2, D an empty quarter, the
    # G4 city left out), so the overall effect is the mean of cohort A's ramp
    # 0.1 * (1/4, 2/4, 3/4, 1, 1) over its five post quarters.
    assert overall == pytest.approx(0.1 * 3.5 / 5, abs=1e-9)
    assert overall == pytest.approx(
        expected.loc[expected["estimand"] == "att_overall", "truth"].item(), abs=1e-9
    )
    events = rows[rows["estimand"] == "att_event"].merge(
        expected[expected["estimand"] == "att_event"].astype({"event_time": "Int64"}),
        on="event_time",
        validate="one_to_one",
    )
    assert len(events) == (rows["estimand"] == "att_event").sum() == 7
    assert np.allclose(events["estimate"], events["truth"], atol=1e-9)


def test_truth_and_estimator_keep_the_same_cohorts():
    people = _population()
    persons, _, adoption = _design_inputs(people)
    frame = persons[persons["municipality"] != G4_CODE]
    frame = frame.assign(
        q=[_index(c) for c in frame["cohort"]],
        g=frame["municipality"].map(adoption.set_index("municipality")["g"]).fillna(0),
    )
    kept = set(eligible_cohorts(frame, "x")["g"]) - {0}
    assert kept == {_index("2019Q4")}
    cells = _truth_cells(people)
    assert set(cells.loc[cells["eligible"], "group"]) == {"2019Q4"}
    assert set(cells["group"]) == {"2019Q4", "2020Q2", "2020Q3", "2020Q4"}  # no G4 adopter


def _one_cohort_fit(rng: np.random.Generator, treated_sizes: list[int], controls: int = 40):
    """Two quarters, one cohort treated in the second; y is pure person-level noise."""
    blocks = [(f"t{k}", size, 2) for k, size in enumerate(treated_sizes)]
    blocks += [(f"c{k}", 5, 0) for k in range(controls)]
    frame = pd.DataFrame(
        [(m, g, t) for m, size, g in blocks for t in (1, 2) for _ in range(size)],
        columns=["municipality", "g", "q"],
    )
    frame["y"] = rng.standard_normal(len(frame))
    res = att_gt(
        frame,
        outcome="y",
        time="q",
        group="g",
        control="never",
        cluster="municipality",
        bootstrap=0,
        method="reg",
    )
    return res, frame["q"].to_numpy(float)


def test_leverage_correction_makes_the_clustered_variance_unbiased():
    # Shares 0.7 / 0.2 / 0.1: plain clustering keeps only 1 - sum(share^2) = 0.46 of the treated
    # side's variance 2/10; the comparison side adds 2/200.
    rng = np.random.default_rng(7)
    plain, corrected, estimates = [], [], []
    for _ in range(300):
        res, period = _one_cohort_fit(rng, [7, 2, 1])
        plain.append(aggte(res, "simple").overall_se ** 2)
        agg = aggte(leverage_corrected(res, period), "simple")
        corrected.append(agg.overall_se**2)
        estimates.append(agg.overall_att)
    true_var = 2 / 10 + 2 / 200
    assert np.var(estimates) == pytest.approx(true_var, rel=0.2)
    assert np.mean(corrected) == pytest.approx(true_var, rel=0.1)
    assert np.mean(plain) < 0.6 * true_var


def test_effective_municipalities_and_t_intervals():
    rng = np.random.default_rng(3)
    res, period = _one_cohort_fit(rng, [7, 2, 1])
    agg = aggte(leverage_corrected(res, period), "simple")
    # lambda per municipality = persons * (1/10)^2 over both quarters: 0.14, 0.04, 0.02 plus
    # 40 comparison municipalities of 10 * (1/200)^2 each.
    lam = np.array([0.14, 0.04, 0.02, *[10 / 200**2] * 40])
    assert effective_municipalities(agg, period)[0] == pytest.approx(
        lam.sum() ** 2 / (lam**2).sum(), rel=1e-9
    )
    res10, period10 = _one_cohort_fit(rng, [3] * 10)
    g10 = effective_municipalities(aggte(leverage_corrected(res10, period10), "simple"), period10)
    # Ten equal treated municipalities (6 persons of weight 1/30 each) count as ten, and the
    # comparison side adds a little.
    lam10 = np.array([*[6 / 30**2] * 10, *[10 / 200**2] * 40])
    assert g10[0] == pytest.approx(lam10.sum() ** 2 / (lam10**2).sum(), rel=1e-9)
    assert 10 < g10[0] < 14
    rows = pd.DataFrame({"estimate": [0.0, 0.0], "se": [1.0, 1.0]})
    wide = small_sample_intervals(rows, np.array([2.0, 1000.0]), 0.05)
    assert wide["ci_high"].iloc[0] == pytest.approx(12.706, abs=1e-3)  # t with 1 df
    assert wide["ci_high"].iloc[1] == pytest.approx(1.962, abs=1e-3)
