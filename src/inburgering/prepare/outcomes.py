"""Register outcomes from state spells: `outcomes` (person × horizon) and `person_months`.

The state on a date (shared definition with the synthetic generator): employed = a SECM spell
with an employed code running on that date (start ≤ date ≤ end); social_assistance likewise
for the social-assistance codes; in_education = an education enrolment spell running;
participation = employed or in education. A horizon's date is obligation_start +
DateOffset(months=h) (DuckDB's month arithmetic clips to month end the same way); dates after
the end of the register data are censored: missing, never zero.

Both tables are computed in DuckDB (range joins on person id) so memory stays bounded;
person_months is written straight to parquet. Without an education source in_education is
missing and participation equals employment (logged).
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from inburgering.prepare.settings import Settings

log = logging.getLogger(__name__)

OUTCOMES = ["employed", "in_education", "participation", "social_assistance"]


def connect(settings: Settings, threads: int, temp_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{settings.memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_dir.as_posix()}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def register(
    con: duckdb.DuckDBPyConnection,
    persons: pd.DataFrame,
    secm: pd.DataFrame,
    education: pd.DataFrame | None,
    codes: dict,
) -> None:
    """Persons and spells as DuckDB tables; spells reduced to person × state × interval."""
    con.register("persons_in", pa.Table.from_pandas(persons[["person_id", "obligation_start"]]))
    states = {c: "employed" for c in codes["secm_employed"]}
    states.update({c: "social_assistance" for c in codes["secm_social_assistance"]})
    columns = ["person_id", "state", "start", "end"]
    spells = [secm.assign(state=secm["category"].map(states)).dropna(subset=["state"])[columns]]
    if education is not None:
        spells.append(education.assign(state="in_education")[columns])
    frame = pd.concat(spells, ignore_index=True).astype({"state": "string"})
    con.register("spells_in", pa.Table.from_pandas(frame, preserve_index=False))
    con.execute(
        "CREATE TEMP TABLE spells AS SELECT person_id, state, start::DATE AS start, "
        '"end"::DATE AS "end" FROM spells_in'
    )


def _states_sql(dates: str, education: bool) -> str:
    """Aggregate spells running on each (person_id, date) row of the `dates` relation."""
    in_education = (
        "coalesce(bool_or(s.state = 'in_education'), false)" if education else "NULL::BOOLEAN"
    )
    return f"""
        SELECT d.*,
            coalesce(bool_or(s.state = 'employed'), false) AS employed,
            {in_education} AS in_education,
            coalesce(bool_or(s.state = 'social_assistance'), false) AS social_assistance
        FROM {dates} d
        LEFT JOIN spells s
            ON s.person_id = d.person_id AND s.start <= d.date AND s."end" >= d.date
        GROUP BY ALL
    """


def build_outcomes(
    con: duckdb.DuckDBPyConnection, settings: Settings, education: bool
) -> pd.DataFrame:
    """Person × horizon outcomes as floats (1/0, missing when censored)."""
    horizons = ", ".join(f"({int(h)})" for h in settings.horizons)
    dates = f"""(
        SELECT p.person_id, h.horizon,
            (p.obligation_start::DATE + to_months(h.horizon))::DATE AS date
        FROM persons_in p CROSS JOIN (VALUES {horizons}) AS h(horizon)
    )"""
    end = settings.data_end.date().isoformat()
    censor = [
        f"CASE WHEN date > DATE '{end}' THEN NULL ELSE {c}::DOUBLE END AS {c}"
        for c in ("employed", "in_education", "social_assistance")
    ]
    query = f"""
        SELECT person_id, horizon, {", ".join(censor)}
        FROM ({_states_sql(dates, education)})
    """
    frame = con.sql(query).df()
    frame["participation"] = _participation(frame["employed"], frame["in_education"], education)
    frame["horizon"] = frame["horizon"].astype("int64")
    frame["person_id"] = frame["person_id"].astype("string")
    frame = frame.sort_values(["person_id", "horizon"], kind="mergesort").reset_index(drop=True)
    return frame[["person_id", "horizon", *OUTCOMES]]


def _participation(employed: pd.Series, in_education: pd.Series, education: bool) -> pd.Series:
    if not education:
        return employed
    return pd.Series(np.fmax(employed, in_education), index=employed.index).where(employed.notna())


def write_person_months(
    con: duckdb.DuckDBPyConnection, settings: Settings, education: bool, path: Path
) -> int:
    """Person × calendar month (obligation start month .. data end), state at month end."""
    end = settings.data_end.date().isoformat()
    dates = f"""(
        SELECT p.person_id, m.month::DATE AS month,
            (datediff('month', date_trunc('month', p.obligation_start::DATE), m.month))::INTEGER
                AS months_since_start,
            (m.month + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS date
        FROM persons_in p,
            LATERAL (SELECT unnest(generate_series(
                date_trunc('month', p.obligation_start::DATE), DATE '{end}', INTERVAL 1 MONTH
            )) AS month) m
    )"""
    participation = "employed OR in_education" if education else "employed"
    query = f"""
        SELECT person_id, month, months_since_start, employed, in_education,
            {participation} AS participation, social_assistance
        FROM ({_states_sql(dates, education)})
        ORDER BY person_id, month
    """
    copied = con.execute(
        f"COPY ({query}) TO '{path.as_posix()}' (FORMAT parquet, COMPRESSION zstd)"
    ).fetchall()
    rows = copied[0][0]
    log.info("person_months: %d rows", rows)
    return int(rows)
