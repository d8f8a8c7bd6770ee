"""Build a cohort from its spec over the current spine, with its attrition table.

Writes (all internal to the warehouse; users take figures away only through disclosure control):

``results.cohort_<name>``            person_id, index_date, end_date: one row per person and index date;
``results.cohort_<name>_attrition``  step, kind (entry / inclusion / exclusion), rule, persons, episodes,
                                     persons_removed: after the entry and after each rule, in order;
``results.cohorts``                  one row per built cohort: name, title, as-at date, band, persons, spec.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from ..errors import InputError
from ..spine.sources import date_literal, sql_literal
from .compile import CohortStep, check_spine_columns, compile_cohort
from .spec import CohortSpec, load_spec

__all__ = ["CohortResult", "build_cohort", "cohort_table", "spine_state"]


@dataclass(frozen=True)
class CohortResult:
    name: str
    title: str
    as_at: date
    band: str
    persons: int
    episodes: int
    attrition: list[dict]
    seconds: float


def cohort_table(name: str) -> str:
    return f"results.cohort_{name}"


def _connection(con_or_project):
    from ..linkage.xjs import _connection as conn

    return conn(con_or_project)


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def spine_state(con) -> tuple[date, str] | None:
    """The as-at date and band of the current spine, or None when no spine has been built."""
    if not _rows(con, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'spine' "
                      "AND table_name = 'spine_info'")[0][0]:
        return None
    row = _rows(con, "SELECT as_at_date, band FROM spine.spine_info")
    return (row[0][0], row[0][1]) if row else None


def _spine_columns(con) -> set[str]:
    return {r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'spine' AND table_name = 'person'")}


def build_cohort(con_or_project, spec: str | Path | dict | CohortSpec, *, as_at: date | None = None,
                 band: str | None = None, register=None, rebuild_spine: bool = False) -> CohortResult:
    """Build the cohort ``spec`` (a YAML path, a shipped spec's name, a mapping or a parsed spec).

    The cohort is built over the current spine. ``as_at`` / ``band`` (or the spec's ``as_at``) that differ from the
    current spine's are an error, unless ``rebuild_spine`` is given, in which case the spine is rebuilt first.
    """
    t0 = time.perf_counter()
    spec = spec if isinstance(spec, CohortSpec) else load_spec(spec)
    con, close = _connection(con_or_project)
    try:
        state = spine_state(con)
        want_as_at = as_at or spec.as_at
        if state is None or (want_as_at and state[0] != want_as_at) or (band and state[1] != band):
            if not rebuild_spine:
                if state is None:
                    raise InputError("no spine has been built in this warehouse",
                                     hint="run `bold spine build --as-at YYYY-MM-DD` first")
                raise InputError(
                    f"cohort {spec.name} asks for as-at {want_as_at or state[0]} at band {band or state[1]}, but the "
                    f"spine is built as at {state[0]} at band {state[1]}",
                    hint="rebuild the spine (`bold spine build --as-at ... --band ...`) or pass --rebuild-spine")
            from ..spine.build import build_spine

            if want_as_at is None and state is None:
                raise InputError("no spine has been built and no as-at date was given",
                                 hint="pass --as-at YYYY-MM-DD")
            build_spine(con, as_at=want_as_at or state[0], band=band or (state[1] if state else "medium"),
                        register=register)
            state = spine_state(con)
        spine_as_at, spine_band = state
        check_spine_columns(spec, _spine_columns(con))
        steps = compile_cohort(spec, spine_as_at)
        attrition = _run(con, steps)
        final = steps[-1].name
        end = (f"CAST(index_date + INTERVAL {spec.follow_up_days} DAY AS DATE)" if spec.follow_up_days is not None
               else "CAST(NULL AS DATE)")
        con.execute(f"CREATE OR REPLACE TABLE {cohort_table(spec.name)} AS "
                    f"SELECT person_id, index_date, {end} AS end_date FROM {final}")
        _write_attrition(con, spec.name, attrition)
        persons, episodes = attrition[-1]["persons"], attrition[-1]["episodes"]
        _register(con, spec, spine_as_at, spine_band, persons, episodes)
        for s in steps:
            con.execute(f"DROP TABLE IF EXISTS {s.name}")
        return CohortResult(spec.name, spec.title, spine_as_at, spine_band, persons, episodes, attrition,
                            time.perf_counter() - t0)
    finally:
        if close:
            con.close()


def _run(con, steps: list[CohortStep]) -> list[dict]:
    out = []
    prev_persons = None
    for i, s in enumerate(steps):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {s.name} AS {s.sql}")
        persons, episodes = _rows(con, f"SELECT COUNT(DISTINCT person_id), COUNT(*) FROM {s.name}")[0]
        out.append({"step": i, "kind": s.kind, "rule": s.rule, "persons": int(persons), "episodes": int(episodes),
                    "persons_removed": 0 if prev_persons is None else int(prev_persons - persons)})
        prev_persons = persons
    return out


def _write_attrition(con, name: str, attrition: list[dict]) -> None:
    rows = " UNION ALL ".join(
        f"SELECT {a['step']} AS step, {sql_literal(a['kind'])} AS kind, {sql_literal(a['rule'])} AS rule, "
        f"CAST({a['persons']} AS BIGINT) AS persons, CAST({a['episodes']} AS BIGINT) AS episodes, "
        f"CAST({a['persons_removed']} AS BIGINT) AS persons_removed"
        for a in attrition)
    con.execute(f"CREATE OR REPLACE TABLE {cohort_table(name)}_attrition AS {rows}")


def _register(con, spec: CohortSpec, as_at: date, band: str, persons: int, episodes: int) -> None:
    exists = _rows(con, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'results' "
                        "AND table_name = 'cohorts'")[0][0]
    spec_text = yaml.safe_dump(spec.raw, sort_keys=False) if spec.raw else ""
    new = (f"SELECT {sql_literal(spec.name)} AS cohort, {sql_literal(spec.title)} AS title, "
           f"{sql_literal(spec.description)} AS description, {date_literal(as_at)} AS as_at_date, "
           f"{sql_literal(band)} AS band, CAST({persons} AS BIGINT) AS persons, "
           f"CAST({episodes} AS BIGINT) AS episodes, {sql_literal(spec_text)} AS spec, "
           f"CURRENT_TIMESTAMP AS built_at")
    if exists:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _c_registry AS SELECT * FROM results.cohorts "
                    f"WHERE cohort <> {sql_literal(spec.name)} UNION ALL {new}")
        con.execute("CREATE OR REPLACE TABLE results.cohorts AS SELECT * FROM _c_registry ORDER BY cohort")
        con.execute("DROP TABLE IF EXISTS _c_registry")
    else:
        con.execute(f"CREATE OR REPLACE TABLE results.cohorts AS {new}")
