"""The spine and cohort transformations as SQL scripts for another engine: Trino / Athena, Spark SQL or DuckDB.

The toolkit writes every spine and cohort step as a DuckDB-dialect SELECT (:func:`bold_prevention.spine.build.
spine_plan`, :func:`bold_prevention.cohorts.compile.compile_cohort`); this module puts them in order as a script of
``CREATE TABLE ... AS`` statements and transpiles it with sqlglot (raising on anything the target dialect cannot
express), so the Ministry's Athena / Trino estate can build the same tables from the same Data First extracts.

Intermediate steps become tables in a work schema (``spine_work`` by default: Trino and Athena have no temporary
tables) and are dropped at the end. Two inputs come from the toolkit rather than SQL:

* ``spine.geo_lsoa`` - the shipped geography and deprivation reference (``bold scale export`` writes it with the
  spine schema, or load ``bold_prevention/geography/data`` yourself);
* the person pseudonyms - HMAC-SHA256 of each XJS cluster id under the project's secret key. In Trino / Athena the
  script computes them with ``hmac_sha256``, the key being a placeholder (``${BOLD_PSEUDONYM_KEY}``) that the job
  runner substitutes at run time, so it is never stored in the script; for Spark and DuckDB the script reads the
  table ``spine_work._xjs_pseudonyms`` (``cluster_id``, ``person_id``), which :func:`write_pseudonyms`
  (``bold scale pseudonyms``) writes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlglot
from sqlglot import exp

from ..datafirst import MODEL
from ..errors import InputError
from ..linkage.pseudonym import ID_LENGTH

__all__ = ["DIALECTS", "Script", "spine_script", "cohort_script", "parse_check", "write_pseudonyms"]

#: Target dialects (sqlglot names); ``athena`` is Trino's dialect with Athena's quirks.
DIALECTS: tuple[str, ...] = ("trino", "athena", "spark", "duckdb")
WORK = "spine_work"
KEY_PLACEHOLDER = "${BOLD_PSEUDONYM_KEY}"


@dataclass
class Script:
    """A SQL script: ``statements`` in the target dialect, with a header comment."""

    dialect: str
    title: str
    header: list[str]
    statements: list[tuple[str, str]]  # (step name, SQL)

    def text(self) -> str:
        lines = [f"-- {h}" if h else "--" for h in [self.title, *self.header]]
        out = ["\n".join(lines), ""]
        for name, sql in self.statements:
            out.append(f"-- step: {name}")
            out.append(sql.rstrip().rstrip(";") + ";")
            out.append("")
        return "\n".join(out)


def _check_dialect(dialect: str) -> str:
    d = dialect.lower()
    if d not in DIALECTS:
        raise InputError(f"SQL dialect {dialect!r} is not supported", hint=f"use one of {', '.join(DIALECTS)}")
    return d


def _qualify(sql: str, names: set[str], read: str = "duckdb") -> exp.Expression:
    """Parse ``sql`` and move the unqualified tables among ``names`` into the work schema."""
    tree = sqlglot.parse_one(sql, read=read)
    for t in tree.find_all(exp.Table):
        if not t.db and t.name in names:
            t.set("db", exp.to_identifier(WORK))
    return tree


def _ctas(name: str, select: exp.Expression, *, temp_names: set[str]) -> exp.Expression:
    target = exp.to_table(name if "." in name else f"{WORK}.{name}")
    return exp.Create(this=target, kind="TABLE", replace=True, expression=select)


def _drop(name: str) -> exp.Expression:
    return sqlglot.parse_one(f"DROP TABLE IF EXISTS {WORK}.{name}", read="duckdb")


def _render(tree: exp.Expression, dialect: str) -> str:
    if dialect == "spark":
        from ..warehouse.spark import spark_safe

        tree = spark_safe(tree)
    return tree.sql(dialect=dialect, pretty=True, unsupported_level=sqlglot.ErrorLevel.RAISE)


def _pseudonym_sql(dialect: str) -> str | None:
    if dialect not in ("trino", "athena"):
        return None
    return (f"SELECT cluster_id, LOWER(SUBSTR(TO_HEX(HMAC_SHA256(TO_UTF8('person' || CHR(31) || cluster_id), "
            f"TO_UTF8('{KEY_PLACEHOLDER}'))), 1, {ID_LENGTH})) AS person_id "
            f"FROM (SELECT DISTINCT cluster_id FROM {WORK}._xjs_clusters) c")


def spine_script(dialect: str = "trino", *, as_at: date = date(2024, 12, 31), band: str = "medium",
                 register=None, tables: set[str] | None = None) -> Script:
    """The spine build (XJS person records, then every spine step) as a script in ``dialect``.

    ``tables``: the extract tables present (default: every table of the Data First model).
    """
    from ..linkage.xjs import person_record_sql, xjs_clusters_sql
    from ..spine.build import spine_plan
    from ..spine.rules import load_rules

    d = _check_dialect(dialect)
    present = set(tables) if tables is not None else set(MODEL.table_names)
    rules = load_rules(register)
    plan = spine_plan(as_at, band, rules, present)
    temp_names = {s.name for s in plan if not s.final} | {"_xjs_clusters", "_xjs_pseudonyms"}
    stmts: list[tuple[str, str]] = [("work schema", f"CREATE SCHEMA IF NOT EXISTS {WORK}")]
    stmts.append(("_xjs_clusters", _render(_ctas("_xjs_clusters", _qualify(xjs_clusters_sql(band), temp_names),
                                                 temp_names=temp_names), d)))
    pseud = _pseudonym_sql(d)
    if pseud is not None:
        stmts.append(("_xjs_pseudonyms", _render(
            _ctas("_xjs_pseudonyms", sqlglot.parse_one(pseud, read="trino"), temp_names=temp_names), d)))
    pr = _qualify(person_record_sql(band, sorted(present)), temp_names)
    stmts.append(("spine.person_record", _render(pr, d)))
    for step in plan:
        tree = _qualify(step.sql, temp_names)
        if step.final:
            stmts.append((step.name, _render(exp.Create(this=exp.to_table(step.name), kind="TABLE", replace=True,
                                                        expression=tree), d)))
        else:
            stmts.append((step.name, _render(_ctas(step.name, tree, temp_names=temp_names), d)))
    for name in sorted(temp_names):
        if name == "_xjs_pseudonyms" and pseud is None:
            continue  # written by the toolkit; kept for the next build
        stmts.append((f"drop {name}", _render(_drop(name), d)))
    header = [f"Spine as at {as_at.isoformat()} at linkage band {band}: spine.person_record, spine.person, "
              f"spine.person_need; dialect {d}.",
              f"Drivers: {', '.join(r.driver for r in rules)}.",
              "Needs spine.geo_lsoa (the shipped geography and deprivation reference) and the extract tables "
              "extract.<table> (analysis columns only).",
              (f"Pseudonyms: replace {KEY_PLACEHOLDER} with the project's secret at run time; never store it."
               if pseud is not None else
               f"Pseudonyms: {WORK}._xjs_pseudonyms (cluster_id, person_id) must exist first: "
               f"`bold scale pseudonyms --band {band}` writes it (HMAC-SHA256 with the project's secret)."),
              "Generated by `bold sql`; transformations are the toolkit's own, transpiled with sqlglot."]
    return Script(d, f"BOLD Prevention spine ({d})", header, stmts)


def cohort_script(name: str, dialect: str = "trino", *, as_at: date | None = None) -> Script:
    """The cohort ``name`` (a shipped spec or a YAML path) as a script in ``dialect``, over ``spine.person``."""
    from ..cohorts.build import cohort_table
    from ..cohorts.compile import compile_cohort
    from ..cohorts.spec import load_spec

    d = _check_dialect(dialect)
    spec = load_spec(name)
    when = as_at or spec.as_at or date(2024, 12, 31)
    steps = compile_cohort(spec, when)
    names = {s.name for s in steps}
    stmts: list[tuple[str, str]] = [("work schema", f"CREATE SCHEMA IF NOT EXISTS {WORK}")]
    for s in steps:
        stmts.append((f"{s.name}: {s.kind} {s.rule}", _render(_ctas(s.name, _qualify(s.sql, names),
                                                                    temp_names=names), d)))
    end = (f"CAST(index_date + INTERVAL {spec.follow_up_days} DAY AS DATE)" if spec.follow_up_days is not None
           else "CAST(NULL AS DATE)")
    final = _qualify(f"SELECT person_id, index_date, {end} AS end_date FROM {steps[-1].name}", names)
    stmts.append((cohort_table(spec.name), _render(exp.Create(this=exp.to_table(cohort_table(spec.name)),
                                                              kind="TABLE", replace=True, expression=final), d)))
    for s in steps:
        stmts.append((f"drop {s.name}", _render(_drop(s.name), d)))
    header = [f"Cohort {spec.name}: {spec.title}; as at {when.isoformat()}; dialect {d}.",
              "Reads spine.person (built by the spine script) and the extract tables for entry events.",
              "Attrition: the row and distinct person counts of each step table, in order.",
              "Generated by `bold sql`; transformations are the toolkit's own, transpiled with sqlglot."]
    return Script(d, f"BOLD Prevention cohort {spec.name} ({d})", header, stmts)


def parse_check(script: Script) -> int:
    """Parse every statement of ``script`` in its dialect (sqlglot); returns the number of statements."""
    n = 0
    for name, sql in script.statements:
        try:
            parsed = sqlglot.parse(sql, read=script.dialect)
        except sqlglot.errors.ParseError as e:
            raise InputError(f"step {name}: the {script.dialect} SQL does not parse: {str(e).splitlines()[0]}",
                             hint="report this: the transpiled SQL should always parse") from e
        n += len([p for p in parsed if p is not None])
    return n


def write_pseudonyms(con, band: str = "medium") -> int:
    """Write ``spine_work._xjs_pseudonyms`` (``cluster_id``, ``person_id``) for the XJS clusters at ``band``, on a
    DuckDB or Spark warehouse connection: the input the Spark and DuckDB spine scripts read (HMAC-SHA256 with
    ``$BOLD_PSEUDONYM_KEY``, computed here so that the key never enters a script). Returns the number of clusters."""
    import pyarrow as pa

    from ..linkage.xjs import fetch_arrow, pseudonymise_clusters, xjs_clusters_sql

    ids = fetch_arrow(con, f"SELECT DISTINCT cluster_id FROM ({xjs_clusters_sql(band)}) c ORDER BY cluster_id")
    col = ids.column("cluster_id").combine_chunks()
    table = pa.table({"cluster_id": col, "person_id": pseudonymise_clusters(col)})
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {WORK}")
    con.register("_xjs_pseudonym_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {WORK}._xjs_pseudonyms AS SELECT * FROM _xjs_pseudonym_arrow")
    finally:
        con.unregister("_xjs_pseudonym_arrow")
    return table.num_rows
