"""The spine and cohort transformations as SQL scripts for another engine: Trino / Athena, Spark SQL or DuckDB.

The toolkit writes every spine and cohort step as a DuckDB-dialect SELECT (:func:`bold_prevention.spine.build.
spine_plan`, :func:`bold_prevention.cohorts.compile.compile_cohort`); this module puts them in order as a script of
``CREATE TABLE ... AS`` statements and transpiles it with sqlglot (raising on anything the target dialect cannot
express), so the Ministry's Athena / Trino estate can build the same tables from the same Data First extracts.

Intermediate steps become tables in a work schema (``spine_work`` by default: Trino and Athena have no temporary
tables) and are dropped at the end.

Athena has no ``CREATE OR REPLACE TABLE ... AS``: its CTAS is ``CREATE TABLE ... WITH (format = 'PARQUET',
write_compression = 'SNAPPY'[, external_location = '...']) AS SELECT``, so for ``athena`` every table is a
``DROP TABLE IF EXISTS`` followed by that CTAS (the table properties from :func:`athena_properties`; without a
``location`` Athena writes each table under the workgroup's query result location). Trino, Spark and DuckDB use
``CREATE OR REPLACE TABLE ... AS``.

:func:`write_dbt` writes the same transformations as a dbt project instead: one model per table (``{{ ref() }}``
between them, ``{{ source() }}`` for the extracts, the geography reference and the pseudonyms), ``sources.yml`` and
``dbt_project.yml``. Two inputs come from the toolkit rather than SQL:

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
from ..warehouse.tables import PERSON_RECORD

__all__ = ["DIALECTS", "Script", "athena_properties", "cohort_script", "parse_check", "spine_script",
           "write_dbt", "write_pseudonyms"]

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


def athena_properties(table: str, location: str | None = None) -> exp.Properties:
    """Athena CTAS table properties: Parquet, Snappy, and ``external_location`` ``<location>/<schema>/<table>/``
    when a location (an S3 prefix) is given."""
    props: list[exp.Expression] = [exp.FileFormatProperty(this=exp.Literal.string("PARQUET")),
                                   exp.Property(this=exp.var("write_compression"), value=exp.Literal.string("SNAPPY"))]
    if location:
        if not location.startswith("s3://") or "'" in location:
            raise InputError(f"Athena table location {location!r} is not an S3 prefix",
                             hint="give --location as s3://bucket/prefix")
        schema, _, name = table.rpartition(".")
        props.append(exp.LocationProperty(this=exp.Literal.string(
            f"{location.rstrip('/')}/{schema or WORK}/{name}/")))
    return exp.Properties(expressions=props)


def _ctas(name: str, select: exp.Expression, *, temp_names: set[str] | None = None, dialect: str = "duckdb",
          location: str | None = None) -> list[exp.Expression]:
    """The statements that (re)create table ``name`` from ``select``: ``CREATE OR REPLACE TABLE ... AS``, or for
    Athena ``DROP TABLE IF EXISTS`` and ``CREATE TABLE ... WITH (...) AS``."""
    full = name if "." in name else f"{WORK}.{name}"
    target = exp.to_table(full)
    if dialect == "athena":
        return [sqlglot.parse_one(f"DROP TABLE IF EXISTS {full}", read="duckdb"),
                exp.Create(this=target, kind="TABLE", expression=select, properties=athena_properties(full, location))]
    return [exp.Create(this=target, kind="TABLE", replace=True, expression=select)]


def _drop(name: str) -> exp.Expression:
    return sqlglot.parse_one(f"DROP TABLE IF EXISTS {WORK}.{name}", read="duckdb")


def _add(stmts: list[tuple[str, str]], step: str, trees: list[exp.Expression], dialect: str) -> None:
    for i, t in enumerate(trees):
        stmts.append((step if i == len(trees) - 1 else f"{step} (drop before create)", _render(t, dialect)))


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
                 register=None, tables: set[str] | None = None, location: str | None = None) -> Script:
    """The spine build (XJS person records, then every spine step) as a script in ``dialect``.

    ``tables``: the extract tables present (default: every table of the Data First model). ``location``: with
    ``athena``, the S3 prefix the tables are written under (default: the workgroup's result location).
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
    _add(stmts, "_xjs_clusters", _ctas("_xjs_clusters", _qualify(xjs_clusters_sql(band), temp_names), dialect=d,
                                       location=location), d)
    pseud = _pseudonym_sql(d)
    if pseud is not None:
        _add(stmts, "_xjs_pseudonyms", _ctas("_xjs_pseudonyms", sqlglot.parse_one(pseud, read="trino"), dialect=d,
                                             location=location), d)
    pr = _qualify(person_record_sql(band, sorted(present)), temp_names)
    if d == "athena":  # person_record_sql is a CREATE OR REPLACE TABLE ... AS: Athena's CTAS instead
        pr_select = pr.expression if isinstance(pr, exp.Create) else pr
        _add(stmts, PERSON_RECORD, _ctas(PERSON_RECORD, pr_select, dialect=d, location=location), d)
    else:
        stmts.append((PERSON_RECORD, _render(pr, d)))
    for step in plan:
        tree = _qualify(step.sql, temp_names)
        _add(stmts, step.name, _ctas(step.name, tree, dialect=d, location=location), d)
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


def cohort_script(name: str, dialect: str = "trino", *, as_at: date | None = None,
                  location: str | None = None) -> Script:
    """The cohort ``name`` (a shipped spec or a YAML path) as a script in ``dialect``, over ``spine.person``
    (``location``: as for :func:`spine_script`)."""
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
        _add(stmts, f"{s.name}: {s.kind} {s.rule}", _ctas(s.name, _qualify(s.sql, names), dialect=d,
                                                          location=location), d)
    end = (f"CAST(index_date + INTERVAL {spec.follow_up_days} DAY AS DATE)" if spec.follow_up_days is not None
           else "CAST(NULL AS DATE)")
    final = _qualify(f"SELECT person_id, index_date, {end} AS end_date FROM {steps[-1].name}", names)
    _add(stmts, cohort_table(spec.name), _ctas(cohort_table(spec.name), final, dialect=d, location=location), d)
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


# ------------------------------------------------------------------------------------------------ dbt
#: Schemas whose tables a dbt project reads as sources (the toolkit or the loading jobs write them).
DBT_SOURCES = {"extract": "The Data First extract tables (analysis columns only), as loaded.",
               "spine": "The shipped geography and deprivation reference (geo_lsoa), written by `bold scale export`.",
               WORK: "The person pseudonyms (_xjs_pseudonyms: cluster_id, person_id), written by "
                     "`bold scale pseudonyms` so that the secret key never enters dbt."}


def _model_name(table: str) -> str:
    """A dbt model name for a table (``spine.person`` -> ``person``; ``_xjs_clusters`` -> ``xjs_clusters``)."""
    return table.rpartition(".")[2].lstrip("_")


def _dbt_sql(sql: str, *, models: dict[tuple[str, str], str], read: str, dialect: str,
             sources: dict[str, set[str]], config: str) -> str:
    """``sql`` (a SELECT) in ``dialect`` with every table that another model builds as ``{{ ref() }}`` and every
    other schema-qualified table as ``{{ source() }}`` (recorded in ``sources``)."""
    tree = sqlglot.parse_one(sql, read=read)
    if isinstance(tree, exp.Create):
        tree = tree.expression
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    jinja: dict[str, str] = {}
    for t in list(tree.find_all(exp.Table)):
        key = (t.db or "", t.name)
        if not t.db and t.name in ctes:
            continue
        if key in models:
            text = f"{{{{ ref('{models[key]}') }}}}"
        elif t.db:
            sources.setdefault(t.db, set()).add(t.name)
            text = f"{{{{ source('{t.db}', '{t.name}') }}}}"
        else:
            raise InputError(f"table {t.name} has no schema and no model builds it",
                             hint="report this: every table of a toolkit transformation is known")
        token = f"__dbt_{len(jinja)}__"
        jinja[token] = text
        alias = t.alias or t.name
        t.replace(exp.Table(this=exp.to_identifier(token), alias=exp.TableAlias(this=exp.to_identifier(alias))))
    text = _render(tree, dialect)
    for token, j in jinja.items():
        text = text.replace(token, j)
    return config + "\n" + text + "\n"


def write_dbt(folder, *, dialect: str = "athena", as_at: date = date(2024, 12, 31), band: str = "medium",
              register=None, cohorts: list[str] | tuple[str, ...] = (), tables: set[str] | None = None,
              overwrite: bool = False):
    """Write a dbt project for the spine (and the named ``cohorts``) to ``folder``: ``dbt_project.yml``,
    ``models/sources.yml`` and one model per table (``models/spine/``, ``models/cohorts/``), materialised as
    Parquet tables. Returns the folder. The pseudonyms are a source (``bold scale pseudonyms`` writes them)."""
    from pathlib import Path

    import yaml

    from ..cohorts.build import cohort_table
    from ..cohorts.compile import compile_cohort
    from ..cohorts.spec import load_spec
    from ..files import atomic_dir
    from ..linkage.xjs import person_record_sql, xjs_clusters_sql
    from ..spine.build import spine_plan
    from ..spine.rules import load_rules

    d = _check_dialect(dialect)
    present = set(tables) if tables is not None else set(MODEL.table_names)
    rules = load_rules(register)
    plan = spine_plan(as_at, band, rules, present)
    # (schema, table) as the toolkit's SQL names it -> model; unqualified work tables have schema ""
    models: dict[tuple[str, str], str] = {("", "_xjs_clusters"): "xjs_clusters",
                                          ("spine", "person_record"): "person_record"}
    for step in plan:
        schema, _, name = step.name.rpartition(".")
        models[(schema, name)] = _model_name(step.name)
    header = "-- Generated by `bold sql --dbt`: the toolkit's own transformation, transpiled with sqlglot."
    conf = "{{ config(materialized='table') }}\n" + header
    sources: dict[str, set[str]] = {WORK: {"_xjs_pseudonyms"}}
    files: dict[str, str] = {}

    def model(path: str, sql: str, read: str = "duckdb") -> None:
        files[path] = _dbt_sql(sql, models=models, read=read, dialect=d, sources=sources, config=conf)

    clusters = xjs_clusters_sql(band)
    model("models/spine/xjs_clusters.sql", clusters)
    pr = person_record_sql(band, sorted(present)).replace("_xjs_pseudonyms", f"{WORK}._xjs_pseudonyms")
    model("models/spine/person_record.sql", pr)
    for step in plan:
        model(f"models/spine/{_model_name(step.name)}.sql", step.sql)
    for name in cohorts:
        spec = load_spec(name)
        steps = compile_cohort(spec, spec.as_at or as_at)
        cmodels = dict(models)
        cmodels.update({("", s.name): f"{spec.name}__{_model_name(s.name)}" for s in steps})
        for s in steps:
            files[f"models/cohorts/{cmodels[('', s.name)]}.sql"] = _dbt_sql(
                s.sql, models=cmodels, read="duckdb", dialect=d, sources=sources, config=conf)
        end = (f"CAST(index_date + INTERVAL {spec.follow_up_days} DAY AS DATE)" if spec.follow_up_days is not None
               else "CAST(NULL AS DATE)")
        final = f"SELECT person_id, index_date, {end} AS end_date FROM {steps[-1].name}"
        files[f"models/cohorts/{_model_name(cohort_table(spec.name))}.sql"] = _dbt_sql(
            final, models=cmodels, read="duckdb", dialect=d, sources=sources, config=conf)
    src = {"version": 2, "sources": [
        {"name": schema, "schema": schema, "description": DBT_SOURCES.get(schema, ""),
         "tables": [{"name": t} for t in sorted(names)]} for schema, names in sorted(sources.items())]}
    project = {"name": "bold_prevention", "version": "1.0.0", "config-version": 2, "profile": "bold_prevention",
               "model-paths": ["models"],
               "vars": {"as_at": as_at.isoformat(), "band": band},
               "models": {"bold_prevention": {"+materialized": "table", "+format": "parquet",
                                              "spine": {"+schema": "spine"}, "cohorts": {"+schema": "results"}}}}
    out = Path(folder)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for rel, text in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        (tmp / "models").mkdir(exist_ok=True)
        (tmp / "models" / "sources.yml").write_text(yaml.safe_dump(src, sort_keys=False), encoding="utf-8")
        (tmp / "dbt_project.yml").write_text(
            f"# dbt project for the BOLD Prevention spine as at {as_at.isoformat()} (band {band}), dialect {d}.\n"
            "# Run `bold scale pseudonyms` first: the pseudonyms are a source, so the key never enters dbt.\n"
            + yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    return out
