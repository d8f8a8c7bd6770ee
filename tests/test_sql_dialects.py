"""`bold sql` for Athena (its CTAS: DROP TABLE IF EXISTS, then CREATE TABLE ... WITH (format = 'PARQUET') AS
SELECT) and as a dbt project (models with ref() and source(), sources.yml, dbt_project.yml)."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlglot
import yaml
from sqlglot import exp
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.cohorts import shipped_specs
from bold_prevention.errors import InputError
from bold_prevention.scale.sql import cohort_script, parse_check, spine_script, write_dbt

AS_AT = date(2024, 12, 31)
runner = CliRunner()


def _creates(text: str, dialect: str) -> list[exp.Create]:
    return [s for s in sqlglot.parse(text, read=dialect) if isinstance(s, exp.Create) and s.kind == "TABLE"]


@pytest.mark.parametrize("make", [lambda loc: spine_script("athena", as_at=AS_AT, location=loc),
                                  lambda loc: cohort_script("possession_claim", "athena", as_at=AS_AT, location=loc)],
                         ids=["spine", "cohort"])
@pytest.mark.parametrize("location", [None, "s3://analysis-bucket/bold/"])
def test_athena_scripts_use_athena_ctas(make, location):
    script = make(location)
    assert parse_check(script) == len(script.statements)
    text = script.text()
    assert "CREATE OR REPLACE" not in text.upper()
    for read in ("athena", "trino"):  # Athena's engine is Trino's: the script parses as both
        creates = _creates(text, read)
        assert creates
        for c in creates:
            props = {p.name.lower() if not isinstance(p, exp.FileFormatProperty) else "format": p
                     for p in c.args["properties"].expressions}
            assert "format" in props and "PARQUET" in props["format"].sql(read).upper()
            assert c.expression is not None  # a CTAS, not an empty table
    # every table is dropped right before it is created
    stmts = [sql for _, sql in script.statements]
    for i, sql in enumerate(stmts):
        m = re.match(r"CREATE TABLE (\S+)", sql)
        if m:
            assert stmts[i - 1] == f"DROP TABLE IF EXISTS {m.group(1)}"
    locations = re.findall(r"external_location='([^']+)'", text)
    if location is None:
        assert not locations
    else:
        assert len(locations) == len(set(locations)) == len(_creates(text, "athena"))
        assert all(loc.startswith("s3://analysis-bucket/bold/") and loc.endswith("/") for loc in locations)


def test_other_dialects_keep_create_or_replace():
    for d in ("trino", "spark", "duckdb"):
        assert "CREATE OR REPLACE TABLE spine.person " in spine_script(d, as_at=AS_AT).text()


def test_bad_athena_location_is_refused():
    with pytest.raises(InputError, match="not an S3 prefix"):
        spine_script("athena", location="/local/folder")
    with pytest.raises(InputError, match="not an S3 prefix"):
        spine_script("athena", location="s3://b/x'; DROP TABLE y; --")


JINJA = re.compile(r"\{\{\s*(ref|source)\(([^)]*)\)\s*\}\}")


def _plain(sql: str) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    """The model's SQL with its Jinja replaced by table names, and the refs and sources it names."""
    calls = []

    def sub(m):
        args = tuple(a.strip().strip("'\"") for a in m.group(2).split(","))
        calls.append((m.group(1), args))
        return ".".join(args) if m.group(1) == "source" else args[0]

    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("{{ config("))
    return JINJA.sub(sub, body), calls


@pytest.mark.parametrize("dialect", ["athena", "trino"])
def test_dbt_project_parses_and_its_refs_resolve(tmp_path, dialect):
    cohorts = sorted(shipped_specs())
    folder = write_dbt(tmp_path / "dbt", dialect=dialect, as_at=AS_AT, cohorts=cohorts)
    project = yaml.safe_load((folder / "dbt_project.yml").read_text())
    assert project["name"] == "bold_prevention" and project["model-paths"] == ["models"]
    sources = yaml.safe_load((folder / "models" / "sources.yml").read_text())
    declared = {(s["name"], t["name"]) for s in sources["sources"] for t in s["tables"]}
    models = {p.stem: p for p in (folder / "models").rglob("*.sql")}
    assert {"person_record", "person", "person_need"} <= set(models)
    assert {f"cohort_{c}" for c in cohorts} <= set(models)
    deps: dict[str, set[str]] = {}
    used_sources = set()
    for name, path in models.items():
        text = path.read_text()
        assert text.startswith("{{ config(materialized='table') }}")
        plain, calls = _plain(text)
        assert "{{" not in plain and "{%" not in plain
        parsed = sqlglot.parse_one(plain, read=dialect)
        assert isinstance(parsed, exp.Query)
        deps[name] = {a[0] for kind, a in calls if kind == "ref"}
        assert deps[name] <= set(models), f"{name} refers to a model that was not written"
        for kind, a in calls:
            if kind == "source":
                assert a in declared, f"{name} reads an undeclared source {a}"
                used_sources.add(a)
    assert used_sources == declared
    assert ("spine_work", "_xjs_pseudonyms") in declared  # the key never enters dbt
    assert "BOLD_PSEUDONYM_KEY" not in "".join(p.read_text() for p in models.values())
    # the refs form a DAG that builds every model
    done: set[str] = set()
    while len(done) < len(models):
        ready = {m for m in models if m not in done and deps[m] <= done}
        assert ready, f"cyclic refs among {sorted(set(models) - done)}"
        done |= ready

    def upstream(m: str) -> set[str]:
        out, todo = set(), [m]
        while todo:
            for d in deps[todo.pop()] - out:
                out.add(d)
                todo.append(d)
        return out

    assert {"person_record", "xjs_clusters"} <= upstream("person")
    assert {"person", "person_record"} <= upstream("cohort_possession_claim")


def test_sql_command_athena_and_dbt(tmp_path):
    r = runner.invoke(app, ["sql", "spine", "--dialect", "athena"])
    assert r.exit_code == 0, r.output
    assert "CREATE TABLE spine.person\nWITH (" in r.output and "DROP TABLE IF EXISTS spine.person;" in r.output
    assert "CREATE OR REPLACE" not in r.output
    out = tmp_path / "dbt"
    r = runner.invoke(app, ["sql", "--dbt", str(out), "--dialect", "athena"])
    assert r.exit_code == 0, r.output
    assert (out / "dbt_project.yml").is_file() and (out / "models" / "sources.yml").is_file()
    r = runner.invoke(app, ["sql", "--dbt", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = runner.invoke(app, ["sql", "cohort", "possession_claim", "--dbt", str(out), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert {p.stem for p in (out / "models" / "cohorts").glob("*.sql")} >= {"cohort_possession_claim"}
    assert not list((out / "models" / "cohorts").glob("cohort_hard_edges*.sql"))
