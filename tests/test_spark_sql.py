"""`bold sql`: the spine and cohort transformations as Trino / Athena, Spark and DuckDB scripts.

Every script parses with sqlglot in its dialect; the DuckDB script, run statement by statement on a loaded
warehouse, builds exactly the tables the library builds.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.cohorts import build_cohort, shipped_specs
from bold_prevention.errors import InputError
from bold_prevention.project import Project
from bold_prevention.scale.sql import (
    DIALECTS,
    KEY_PLACEHOLDER,
    cohort_script,
    parse_check,
    spine_script,
    write_pseudonyms,
)
from bold_prevention.spine import build_spine
from bold_prevention.warehouse.engine import duckdb_connect
from bold_prevention.warehouse.load import load_extracts

pytestmark = pytest.mark.spark

AS_AT = date(2024, 12, 31)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_spine_script_parses(dialect):
    script = spine_script(dialect, as_at=AS_AT)
    n = parse_check(script)
    assert n == len(script.statements) > 20
    names = [name for name, _ in script.statements]
    assert names.index("spine.person_record") < names.index("spine.person") < names.index("spine.person_need")
    text = script.text()
    for stmt in sqlglot.parse(text, read=dialect):  # the whole file, as a user would run it
        assert stmt is not None
    if dialect in ("trino", "athena"):
        assert "HMAC_SHA256" in text and KEY_PLACEHOLDER in text
    else:
        assert "HMAC" not in text.upper().replace("HMAC-SHA256", "")
    assert "test-only-pseudonym-key" not in text  # the secret never enters a script


@pytest.mark.parametrize("dialect", ["trino", "athena", "spark"])
def test_every_shipped_cohort_script_parses(dialect):
    for name in sorted(shipped_specs()):
        script = cohort_script(name, dialect, as_at=AS_AT)
        assert parse_check(script) == len(script.statements)
        assert script.statements[-len([s for s in script.statements if s[0].startswith("drop")]) - 1][0] == \
            f"results.cohort_{name}"


def test_unknown_dialect():
    with pytest.raises(InputError, match="not supported"):
        spine_script("oracle")


def test_sql_command(tmp_path):
    out = tmp_path / "possession.sql"
    res = CliRunner().invoke(app, ["sql", "cohort", "possession_claim", "--dialect", "trino", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert parse_check(cohort_script("possession_claim", "trino")) > 0
    assert sqlglot.parse(out.read_text(), read="trino")
    res = CliRunner().invoke(app, ["sql", "spine", "--dialect", "athena"])
    assert res.exit_code == 0 and "CREATE TABLE spine.person\nWITH (" in res.output  # Athena's CTAS
    res = CliRunner().invoke(app, ["sql", "cohort"])
    assert res.exit_code == 2 and "needs the cohort's name" in res.output


def _rows(con, table):
    t = con.sql(f"SELECT * FROM {table}").to_arrow_table()
    data = list(zip(*[t.column(c).to_pylist() for c in t.column_names], strict=True))
    return sorted(data, key=lambda r: tuple((v is None, str(v)) for v in r))


def test_duckdb_script_builds_the_same_spine_and_cohort(synth_dir, tmp_path):
    proj = Project(tmp_path / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    con = duckdb_connect(proj)
    try:
        build_spine(con, as_at=AS_AT)
        build_cohort(con, "possession_claim")
        expected = {t: _rows(con, t) for t in ("spine.person_record", "spine.person", "spine.person_need",
                                               "results.cohort_possession_claim")}
        con.execute("DROP TABLE spine.person_need")
        con.execute("DROP TABLE spine.person")
        con.execute("DROP TABLE spine.person_record")
        con.execute("DROP TABLE results.cohort_possession_claim")
        assert write_pseudonyms(con, "medium") > 100
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'extract'").fetchall()}
        for script in (spine_script("duckdb", as_at=AS_AT, tables=tables),
                       cohort_script("possession_claim", "duckdb", as_at=AS_AT)):
            for _name, sql in script.statements:
                con.execute(sql)
        for t, rows in expected.items():
            assert _rows(con, t) == rows, t
        left = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'spine_work'"
                           ).fetchall()
        assert left == [("_xjs_pseudonyms",)]
    finally:
        con.close()
