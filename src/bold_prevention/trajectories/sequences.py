"""Event sequences at case level: declarative, counted over cases and events without person linkage.

Family and civil records link to persons weakly (sparse dates of birth, names from court forms), so the annex asks
for aggregate or case-level outputs where person-level linkage is weak. An event sequence (``sequences/*.yaml``)
names the steps a case goes through - a claim, an order, a warrant, possession gained; an application, a hearing, an
order; a charge, a first hearing, the Crown Court, a sentence - each as rows of an extract table with a condition and
a date. Cases are followed through the extract's own case keys (and, for the magistrates to Crown Court journey,
through the ``mags_crown_journey`` table), never through person ids, so the counts carry no linkage error.

:func:`case_funnel` counts the cases reaching each step in order (a step counts only on or after the previous step's
date), with the median days between steps kept for the analyst; :func:`case_durations` gives the time from the first
step to a later one, censored at the data end, for Kaplan-Meier. :func:`sequence_outputs` checks both for release.
"""

from __future__ import annotations

import os
import re
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd
from pydantic import Field, model_validator

from ..config import ConfigModel, load_config, parse_config
from ..errors import InputError
from ..outputs import CheckedOutput, check_counts, rate_table, survival_table
from ..warehouse.engine import quote_ident, table_exists

_IDENT = r"^[a-z_][a-z0-9_]*$"


class ViaSchema(ConfigModel):
    """How a step's table is reached from the sequence's case key through a linking table."""

    table: str = Field(pattern=_IDENT)
    case_key: str = Field(pattern=_IDENT, description="The linking table's column holding the sequence's case key.")
    step_key: str = Field(pattern=_IDENT, description="The linking table's column holding the step table's key.")


class StepSchema(ConfigModel):
    name: str = Field(min_length=1)
    table: str = Field(pattern=_IDENT)
    date: str = Field(pattern=_IDENT, description="The date column of the step.")
    where: str | None = Field(None, description="A SQL condition over the table's columns.")
    key: str | None = Field(None, pattern=_IDENT, description="The table's key (default: the sequence's case key).")
    via: ViaSchema | None = None


class SequenceSchema(ConfigModel):
    """The keys and types of an event-sequence file."""

    name: str = Field(pattern=_IDENT)
    title: str
    description: str = ""
    unit: str = Field("cases", description="What is counted (cases, defendants on cases, applications).")
    case_key: str = Field(pattern=_IDENT)
    population: StepSchema | None = Field(None, description="Optional filter on the cases (e.g. claim types).")
    steps: list[StepSchema] = Field(min_length=2)
    person_funnel: str | None = Field(None, description="The person-level funnel to publish beside it, if any.")

    @model_validator(mode="after")
    def _where_safe(self) -> SequenceSchema:
        for s in [*self.steps, *([self.population] if self.population else [])]:
            if s.where and re.search(r";|--|/\*|\b(drop|delete|insert|update|attach|copy|create|alter)\b",
                                     s.where, re.I):
                raise ValueError(f"step {s.name!r}: the condition may only be an expression over the table's columns")
        return self


SEQUENCE_PACKAGE = "bold_prevention.trajectories"


def _folder():
    return resources.files(SEQUENCE_PACKAGE).joinpath("sequences")


def shipped_sequences() -> list[str]:
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".yaml"))


def load_sequence(name_or_path: str | os.PathLike) -> SequenceSchema:
    """A shipped sequence by name, or a sequence YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return load_config(p, SequenceSchema, source=str(p))
    name = str(name_or_path)
    if name not in shipped_sequences():
        raise InputError(f"no event sequence {name!r}",
                         hint=f"use one of: {', '.join(shipped_sequences())}, or the path of a YAML file")
    return parse_config(_folder().joinpath(f"{name}.yaml").read_bytes(), SequenceSchema, source=f"{name}.yaml")


def _check_tables(con, seq: SequenceSchema) -> None:
    need = {s.table for s in seq.steps} | {s.via.table for s in seq.steps if s.via}
    if seq.population:
        need.add(seq.population.table)
    missing = sorted(t for t in need if not table_exists(con, "extract", t))
    if missing:
        raise InputError(f"event sequence {seq.name} reads {', '.join(missing)}, which the warehouse has not loaded",
                         hint="load the Data First extracts that hold it (bold load), or choose another sequence")


def _step_sql(seq: SequenceSchema, s: StepSchema) -> str:
    """(case_key, d) rows of a step."""
    t = f"extract.{quote_ident(s.table)}"
    where = f"WHERE ({s.where})" if s.where else ""
    key = quote_ident(s.key or seq.case_key)
    if s.via is None:
        return f"SELECT {key} AS case_key, CAST({quote_ident(s.date)} AS DATE) AS d FROM {t} {where}"
    v = f"extract.{quote_ident(s.via.table)}"
    return (f"SELECT j.{quote_ident(s.via.case_key)} AS case_key, CAST(x.{quote_ident(s.date)} AS DATE) AS d "
            f"FROM {t} x JOIN {v} j ON j.{quote_ident(s.via.step_key)} = x.{key} "
            f"{'WHERE (' + s.where + ')' if s.where else ''}")


def _dated_sql(seq: SequenceSchema) -> str:
    """One row per case that entered the sequence, with the date it reached each step (NULL when it did not)."""
    first = seq.steps[0]
    base = f"SELECT case_key, MIN(d) AS d0 FROM ({_step_sql(seq, first)}) s WHERE d IS NOT NULL GROUP BY case_key"
    if seq.population:
        p = seq.population
        base = (f"SELECT b.* FROM ({base}) b WHERE b.case_key IN (SELECT {quote_ident(p.key or seq.case_key)} FROM "
                f"extract.{quote_ident(p.table)} WHERE {p.where or 'TRUE'})")
    sql = f"WITH c0 AS ({base})"
    for i, s in enumerate(seq.steps[1:], start=1):
        cols = ", ".join(f"c.d{k}" for k in range(i))
        sql += (f", c{i} AS (SELECT c.case_key, {cols}, MIN(x.d) AS d{i} FROM c{i - 1} c "
                f"LEFT JOIN ({_step_sql(seq, s)}) x ON x.case_key = c.case_key AND x.d >= c.d{i - 1} "
                f"GROUP BY c.case_key, {cols})")
    return sql + f" SELECT * FROM c{len(seq.steps) - 1}"


def case_funnel(con, seq: SequenceSchema | str) -> pd.DataFrame:
    """Cases reaching each step in order (``name``, ``cases``, ``median_days_from_previous``)."""
    seq = seq if isinstance(seq, SequenceSchema) else load_sequence(seq)
    _check_tables(con, seq)
    n = len(seq.steps)
    parts = []
    for i in range(n):
        gap = "NULL" if i == 0 else f"MEDIAN(DATE_DIFF('day', d{i - 1}, d{i})) FILTER (WHERE d{i} IS NOT NULL)"
        parts.append(f"COUNT(d{i}) AS n{i}, {gap} AS g{i}")
    row = con.execute(f"SELECT {', '.join(parts)} FROM ({_dated_sql(seq)}) z").fetchone()
    return pd.DataFrame({"name": [s.name for s in seq.steps],
                         "cases": [int(row[2 * i] or 0) for i in range(n)],
                         "median_days_from_previous": [None if row[2 * i + 1] is None else float(row[2 * i + 1])
                                                       for i in range(n)]})


def case_durations(con, seq: SequenceSchema | str, *, to_step: int = -1, data_end: date | None = None) -> pd.DataFrame:
    """Days from each case's first step to step ``to_step`` (``observed`` 1), or to the data end (censored, 0)."""
    seq = seq if isinstance(seq, SequenceSchema) else load_sequence(seq)
    _check_tables(con, seq)
    k = to_step % len(seq.steps)
    if k == 0:
        raise InputError("a duration needs a later step than the first", hint="give to_step 1 or more")
    end = f"DATE '{data_end.isoformat()}'" if data_end else f"(SELECT MAX(d) FROM ({_step_sql(seq, seq.steps[0])}) e)"
    return con.execute(f"""SELECT CAST(DATE_DIFF('day', d0, COALESCE(d{k}, {end})) AS DOUBLE) AS duration,
       CASE WHEN d{k} IS NOT NULL THEN 1 ELSE 0 END AS observed, 'All' AS "group"
FROM ({_dated_sql(seq)}) z WHERE COALESCE(d{k}, {end}) >= d0""").fetchdf()


def sequence_outputs(con, seq: SequenceSchema | str, *, rules=None,
                     population: str | None = None) -> list[CheckedOutput]:
    """The checked case-level funnel (cases reaching each step and conversion from the previous step) and the
    Kaplan-Meier time from the first to the last step. ``population`` versions the cells (e.g. the extract's load)."""
    seq = seq if isinstance(seq, SequenceSchema) else load_sequence(seq)
    f = case_funnel(con, seq)
    unit = seq.unit[:1].upper() + seq.unit[1:]
    names = list(f["name"])
    d = f.rename(columns={"name": "Step"})
    pop = population or f"cases:{seq.name}"
    reached = check_counts(d, "cases", "Step", title=f"{seq.title}: {seq.unit} reaching each step (case level)",
                           name=f"sequence_{seq.name}", rules=rules, margins=False, levels={"Step": names},
                           value_label=unit, measure_dims=["Step"], population=f"{pop}:reached_{{Step}}")
    prev = d.assign(previous=d["cases"].shift(1).fillna(d["cases"].iloc[0]).astype(int))
    before = check_counts(prev, "previous", "Step", title=f"{seq.title}: {seq.unit} at the previous step",
                          name=f"sequence_{seq.name}_previous", rules=rules, margins=False, levels={"Step": names},
                          value_label=unit, measure_dims=["Step"], population=f"{pop}:previous_{{Step}}")
    conv = rate_table(reached, before, per=100, decimals=1, name=f"sequence_{seq.name}_conversion",
                      title=f"{seq.title}: conversion from the previous step, % of {seq.unit} (case level)")
    outs = [reached, conv]
    dur = case_durations(con, seq)
    if len(dur):
        outs.append(survival_table(dur, "duration", "observed", group="group", rules=rules,
                                   name=f"sequence_{seq.name}_time",
                                   title=f"{seq.title}: days from {seq.steps[0].name.lower()} to "
                                         f"{seq.steps[-1].name.lower()} (case level, Kaplan-Meier)"))
    return outs
