"""Build a cohort from its spec over the current spine, with its attrition table.

Writes (all internal to the warehouse; users take figures away only through disclosure control):

``results.cohort_<name>``            person_id, index_date, end_date: one row per person and index date;
``results.cohort_<name>_attrition``  step, kind (entry / inclusion / exclusion), rule, persons, episodes,
                                     persons_removed, note: after the entry and after each rule, in order;
``results.cohorts``                  one row per built cohort: name, title, as-at date, band, persons, spec and
                                     ``spine_fingerprint`` (what the spine it was built on was built from).

A cohort is built only over a spine that is current: if the loaded extracts changed since the spine was built the
build is refused (or, with ``rebuild_spine``, the spine is rebuilt first). A cohort whose rules read a need the
spine could not measure for some persons (``need_<driver>`` NULL: see :mod:`bold_prevention.spine.measured`) is
refused unless ``allow_unmeasured``; then the attrition table notes each rule that depends on it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from ..errors import InputError
from ..warehouse.engine import date_literal, sql_literal, table_exists
from .compile import CohortStep, _spine_columns_used, check_spine_columns, compile_cohort
from .spec import CohortSpec, load_spec

__all__ = ["CohortResult", "build_cohort", "check_outcomes_built", "check_spine_current", "cohort_table",
           "list_cohorts", "outcomes_used", "spine_state", "unmeasured_drivers_used"]


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
    #: unmeasured drivers the cohort's rules read (built anyway with ``allow_unmeasured``), as
    #: :func:`bold_prevention.spine.build.unmeasured_needs` rows
    unmeasured: tuple[dict, ...] = ()


def cohort_table(name: str) -> str:
    return f"results.cohort_{name}"


def _connection(con_or_project):
    from ..warehouse.engine import connection as conn

    return conn(con_or_project)


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def spine_state(con) -> tuple[date, str] | None:
    """The as-at date and band of the current spine, or None when no spine has been built."""
    if not table_exists(con, "spine", "spine_info"):
        return None
    row = _rows(con, "SELECT as_at_date, band FROM spine.spine_info")
    return (row[0][0], row[0][1]) if row else None


def _spine_columns(con) -> set[str]:
    return {r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'spine' AND table_name = 'person'")}


def check_spine_current(con) -> list[str]:
    """What changed in the loaded extracts since the current spine was built, in words (empty: current)."""
    from ..spine.build import spine_fingerprint_of
    from ..spine.fingerprint import changes, inputs_fingerprint

    old = spine_fingerprint_of(con)
    return changes(old, {"inputs": inputs_fingerprint(con)})


def outcomes_used(spec: CohortSpec) -> list[tuple[str, str, str]]:
    """(rule name, outcome, measure) of every condition on an outcome in the spec's rules (groups included)."""
    out: list[tuple[str, str, str]] = []

    def walk(rule: str, c) -> None:
        if c.outcome:
            out.append((rule, c.outcome[0], c.outcome[1]))
        for x in c.of:
            walk(rule, x)

    for r in (*spec.inclusion, *spec.exclusion):
        walk(r.name, r.criterion)
    return out


def check_outcomes_built(con, spec: CohortSpec) -> None:
    """A spec that names an outcome needs ``spine.person_outcome`` (``bold spine outcomes``) holding that outcome's
    measure; otherwise an :class:`InputError` names the missing table or measure and the command to run."""
    used = outcomes_used(spec)
    if not used:
        return
    rule, outcome, measure = used[0]
    run = "run `bold spine outcomes --as-at YYYY-MM-DD --window 12m` first (after `bold spine build`)"
    if not table_exists(con, "spine", "person_outcome"):
        raise InputError(f"cohort {spec.name}, rule {rule!r} reads outcome {outcome} ({measure}), but the warehouse "
                         "has no table spine.person_outcome: the outcomes have not been built", hint=run)
    have = set(_rows(con, "SELECT DISTINCT outcome, measure FROM spine.person_outcome"))
    missing = [(r, o, m) for r, o, m in used if (o, m) not in have]
    if missing:
        r, o, m = missing[0]
        raise InputError(f"cohort {spec.name}, rule {r!r} reads outcome {o} ({m}), which spine.person_outcome does "
                         "not hold (built by an earlier version, or with another measure list)",
                         hint="rebuild the outcomes: " + run[4:])


def _driver_columns(driver: str) -> set[str]:
    return {f"need_{driver}"} | {f"need_{driver}_{x}" for x in ("score", "dataset", "table", "variable", "date")}


def unmeasured_drivers_used(columns: set[str], gaps: list[dict]) -> list[dict]:
    """The rows of ``gaps`` (unmeasured drivers) whose driver the spine ``columns`` read (``need_count`` reads
    every driver)."""
    return [g for g in gaps if g["persons"] > 0 and ("need_count" in columns or columns & _driver_columns(g["driver"]))]


def _describe(gaps: list[dict]) -> str:
    return "; ".join(f"{g['driver']} in {g['dataset']} ({g['persons']:,} persons; {g['reason']})" for g in gaps)


def build_cohort(con_or_project, spec: str | Path | dict | CohortSpec, *, as_at: date | None = None,
                 band: str | None = None, register=None, rebuild_spine: bool = False,
                 allow_unmeasured: bool = False) -> CohortResult:
    """Build the cohort ``spec`` (a YAML path, a shipped spec's name, a mapping or a parsed spec).

    The cohort is built over the current spine. ``as_at`` / ``band`` (or the spec's ``as_at``) that differ from the
    current spine's, or loaded extracts that changed since the spine was built, are an error, unless
    ``rebuild_spine`` is given, in which case the spine is rebuilt first. Rules reading a driver the spine could
    not measure for some persons are an error unless ``allow_unmeasured``.
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
        stale = check_spine_current(con)
        if stale:
            if not rebuild_spine:
                raise InputError(f"cohort {spec.name}: the spine is out of date: " + "; ".join(stale),
                                 hint="rebuild the spine (`bold spine build --as-at ...`) or pass --rebuild-spine")
            from ..spine.build import build_spine

            build_spine(con, as_at=state[0], band=state[1], register=register)
            state = spine_state(con)
        spine_as_at, spine_band = state
        check_spine_columns(spec, _spine_columns(con))
        check_outcomes_built(con, spec)
        from ..spine.build import unmeasured_needs

        gaps = unmeasured_needs(con)
        steps = compile_cohort(spec, spine_as_at)
        rules = {r.name: r for r in (*spec.inclusion, *spec.exclusion)}
        notes: dict[str, list[dict]] = {}
        for r in rules.values():
            used = unmeasured_drivers_used(set(_spine_columns_used(r.criterion)), gaps)
            if used:
                notes[r.name] = used
        all_used = [g for g in gaps if any(g is u for us in notes.values() for u in us)]
        if all_used and not allow_unmeasured:
            first = all_used[0]
            raise InputError(
                f"cohort {spec.name} depends on a need the spine could not measure: {_describe(all_used)}; those "
                f"persons have need_{first['driver']} NULL (not measured), so the cohort would leave them out "
                "unannounced",
                hint=f"load the missing variables ({first['variables']} of {first['tables']}) and rebuild the "
                     "spine, or pass --allow-unmeasured to build it anyway (the attrition table marks the steps "
                     "that depend on unmeasured drivers)")
        attrition = _run(con, steps)
        for a in attrition:
            used = notes.get(a["rule"]) if a["kind"] != "entry" else None
            if used:
                a["note"] = "depends on unmeasured driver " + ", ".join(
                    f"{g['driver']} ({g['dataset']})" for g in used)
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
                            time.perf_counter() - t0, tuple(all_used))
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
                    "persons_removed": 0 if prev_persons is None else int(prev_persons - persons), "note": ""})
        prev_persons = persons
    return out


def _write_attrition(con, name: str, attrition: list[dict]) -> None:
    rows = " UNION ALL ".join(
        f"SELECT {a['step']} AS step, {sql_literal(a['kind'])} AS kind, {sql_literal(a['rule'])} AS rule, "
        f"CAST({a['persons']} AS BIGINT) AS persons, CAST({a['episodes']} AS BIGINT) AS episodes, "
        f"CAST({a['persons_removed']} AS BIGINT) AS persons_removed, "
        f"CAST({sql_literal(a.get('note') or None)} AS VARCHAR) AS note"
        for a in attrition)
    con.execute(f"CREATE OR REPLACE TABLE {cohort_table(name)}_attrition AS {rows}")


def _register(con, spec: CohortSpec, as_at: date, band: str, persons: int, episodes: int) -> None:
    from ..spine.build import spine_fingerprint_of

    exists = table_exists(con, "results", "cohorts")
    if exists and "spine_fingerprint" not in {r[0] for r in _rows(
            con, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'results' "
                 "AND table_name = 'cohorts'")}:
        con.execute("ALTER TABLE results.cohorts ADD COLUMN spine_fingerprint VARCHAR")
    fp = spine_fingerprint_of(con)
    spec_text = yaml.safe_dump(spec.raw, sort_keys=False) if spec.raw else ""
    new = (f"SELECT {sql_literal(spec.name)} AS cohort, {sql_literal(spec.title)} AS title, "
           f"{sql_literal(spec.description)} AS description, {date_literal(as_at)} AS as_at_date, "
           f"{sql_literal(band)} AS band, CAST({persons} AS BIGINT) AS persons, "
           f"CAST({episodes} AS BIGINT) AS episodes, {sql_literal(spec_text)} AS spec, "
           f"CURRENT_TIMESTAMP AS built_at, "
           f"CAST({sql_literal(json.dumps(fp, sort_keys=True) if fp else None)} AS VARCHAR) AS spine_fingerprint")
    if exists:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _c_registry AS SELECT * FROM results.cohorts "
                    f"WHERE cohort <> {sql_literal(spec.name)} UNION ALL {new}")
        con.execute("CREATE OR REPLACE TABLE results.cohorts AS SELECT * FROM _c_registry ORDER BY cohort")
        con.execute("DROP TABLE IF EXISTS _c_registry")
    else:
        con.execute(f"CREATE OR REPLACE TABLE results.cohorts AS {new}")


def list_cohorts(con) -> list[dict]:
    """The built cohorts (``results.cohorts``): name, title, description, as-at date and band of each, by name."""
    rows = _rows(con, "SELECT cohort, title, description, as_at_date, band FROM results.cohorts ORDER BY cohort")
    return [{"name": n, "title": t, "description": d, "as_at": a, "band": b} for n, t, d, a, b in rows]
