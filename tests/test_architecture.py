"""The architecture as docs/architecture.md states it: layers (import-linter contracts in pyproject.toml, run by
`make test`) and no package reaching into another package's private names."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "bold_prevention"


def _package(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0].removesuffix(".py")


def _private_imports() -> list[str]:
    found = []
    for f in ROOT.rglob("*.py"):
        here = _package(f)
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0:
                if not (node.module or "").startswith("bold_prevention."):
                    continue
                target = node.module.split(".")[1]
            else:
                base = list(f.relative_to(ROOT).parts[:-1])
                up = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                parts = up + [p for p in (node.module or "").split(".") if p]
                target = parts[0].removesuffix(".py") if parts else here
            if target == here:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{f.relative_to(ROOT)} imports {alias.name} from {target}")
    return found


def test_no_package_imports_another_packages_private_names():
    assert _private_imports() == []


def test_the_layer_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT.parents[1])
    assert r.returncode == 0, r.stdout[-3000:]


# ------------------------------------------------------------------------------------------------ one home per helper
#: Modules allowed to speak to the catalogue of tables or to open a transaction directly: the warehouse's engine
#: (the one home) and the Spark connection (which answers those statements on Spark).
ENGINE_MODULES = {"warehouse/engine.py", "warehouse/spark.py"}
#: Listings of tables the shared helpers do not give, each with its reason; the number is how many are allowed.
TABLE_LISTING_EXCEPTIONS = {
    "app/warehouse.py": 1,  # the in-memory single-view index (catalogue ``memory``), not the warehouse
    "scale/export.py": 1,  # base tables only (views are not exported to Parquet)
    "spine/build.py": 1,  # drops the derived tables and views of spine/results: needs each one's type
    "pipeline/run.py": 1,  # the Step A orchestrator, being merged into the one pipeline
}


def _modules():
    for f in sorted(ROOT.rglob("*.py")):
        try:
            text = f.read_text(encoding="utf-8")
        except FileNotFoundError:  # removed while the tree was listed
            continue
        yield str(f.relative_to(ROOT)), ast.parse(text)


def _strings(tree) -> list[str]:
    """Every string literal (an f-string as its literal parts)."""
    out, parts = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts |= {id(v) for v in node.values}
            out.append("".join(v.value for v in node.values if isinstance(v, ast.Constant)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            out.append(node.value)
    return out


def _functions(tree, *, top_level: bool = False):
    nodes = tree.body if top_level else ast.walk(tree)
    return [n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _quotes_identifiers(fn) -> bool:
    """The body doubles double quotes (``x.replace('"', '""')``): an SQL identifier quoting helper."""
    for node in ast.walk(fn):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
                and [a.value for a in node.args if isinstance(a, ast.Constant)] == ['"', '""']):
            return True
    return False


def _quotes_values(node) -> bool:
    """``x.replace("'", "''")``: SQL string-literal quoting (by a helper or written inline)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
            and [a.value for a in node.args if isinstance(a, ast.Constant)] == ["'", "''"])


def _returns_typed_literal(fn) -> bool:
    """The function returns an f-string that starts ``DATE '`` or ``TIMESTAMP '``: a date literal helper."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.JoinedStr) and node.value.values:
            head = node.value.values[0]
            if isinstance(head, ast.Constant) and re.match(r"\s*(DATE|TIMESTAMP)\s*'", str(head.value), re.I):
                return True
    return False


def helper_definitions() -> dict[str, list[str]]:
    """Where each kind of shared helper is defined or hand-written."""
    found: dict[str, list[str]] = {"table exists": [], "identifier quoting": [], "transaction": [],
                                   "wilson": [], "kaplan-meier": [], "value quoting": []}
    listings: dict[str, int] = {}
    for rel, tree in _modules():
        # the engine modules' own methods (Warehouse.table_exists, the Spark connection's) are the engine itself
        for fn in _functions(tree, top_level=rel in ENGINE_MODULES):
            if fn.name in ("table_exists", "has_table", "_table_exists", "_has_table"):
                found["table exists"].append(f"{rel}:{fn.name}")
            if _quotes_identifiers(fn):
                found["identifier quoting"].append(f"{rel}:{fn.name}")
            if re.fullmatch(r"_?wilson(_interval|_ci)?", fn.name):
                found["wilson"].append(f"{rel}:{fn.name}")
            if re.fullmatch(r"_?(kaplan_meier|km|km_curve|km_table)", fn.name):
                found["kaplan-meier"].append(f"{rel}:{fn.name}")
            if _returns_typed_literal(fn):
                found["value quoting"].append(f"{rel}:{fn.name}")
        # string literals quoted by hand: a helper or inline (the Spark connection quotes for Spark SQL its own way)
        if rel != "warehouse/spark.py":
            for node in ast.walk(tree):
                if _quotes_values(node):
                    fn = next((f.name for f in _functions(tree) if node in set(ast.walk(f))), "<module>")
                    if f"{rel}:{fn}" not in found["value quoting"]:
                        found["value quoting"].append(f"{rel}:{fn}")
        if rel in ENGINE_MODULES:
            continue
        for s in _strings(tree):
            low = s.lower()
            if "information_schema.tables" in low or "duckdb_tables()" in low:
                listings[rel] = listings.get(rel, 0) + 1
            if re.fullmatch(r"\s*begin(\s+transaction)?\s*;?\s*", low):
                found["transaction"].append(f"{rel}: BEGIN")
        src = ast.unparse(tree)
        if "KaplanMeierFitter" in src:
            found["kaplan-meier"].append(f"{rel}: KaplanMeierFitter")
    for rel, n in listings.items():
        if n > TABLE_LISTING_EXCEPTIONS.get(rel, 0):
            found["table exists"].append(f"{rel}: information_schema.tables / duckdb_tables() x{n}")
    return found


def test_no_helper_is_defined_twice():
    """One home each: table exists / table listings, SQL identifier quoting and transactions in
    ``warehouse/engine.py``; SQL value literals (strings, dates) in ``warehouse/engine.py``; the Wilson interval in
    ``outputs/intervals.py``; Kaplan-Meier in ``trajectories/survival.py``."""
    found = helper_definitions()
    assert sorted(found["value quoting"]) == ["warehouse/engine.py:date_literal",
                                              "warehouse/engine.py:sql_literal"], found["value quoting"]
    assert found["table exists"] == ["warehouse/engine.py:table_exists"], found["table exists"]
    assert found["identifier quoting"] == ["warehouse/engine.py:quote_ident"], found["identifier quoting"]
    assert found["transaction"] == [], found["transaction"]
    assert found["wilson"] == ["outputs/intervals.py:wilson"], found["wilson"]
    assert sorted(found["kaplan-meier"]) == ["trajectories/survival.py: KaplanMeierFitter",
                                             "trajectories/survival.py:kaplan_meier"], found["kaplan-meier"]


def test_the_helper_check_finds_a_second_copy(tmp_path, monkeypatch):
    """The check is not blind: a module with a hand-written copy of each helper is reported."""
    import tests.test_architecture as me

    fake = tmp_path / "bold_prevention"
    (fake / "linkage").mkdir(parents=True)
    (fake / "linkage" / "copy.py").write_text(
        "def _q(n):\n    return '\"' + n.replace('\"', '\"\"') + '\"'\n\n\n"
        "def _has_table(con, s, t):\n    return con.execute('select 1 from information_schema.tables')\n\n\n"
        "def go(con):\n    con.execute('BEGIN TRANSACTION')\n\n\n"
        "def wilson(k, n):\n    return k / n\n\n\n"
        "def _lit(v):\n    return \"'\" + v.replace(\"'\", \"''\") + \"'\"\n\n\n"
        "def day(d):\n    return f\"DATE '{d.isoformat()}'\"\n\n\n"
        "def where(con, x):\n    return con.execute(\"select 1 where a = '\" + x.replace(\"'\", \"''\") + \"'\")\n",
        encoding="utf-8")
    monkeypatch.setattr(me, "ROOT", fake)
    found = me.helper_definitions()
    assert found["identifier quoting"] == ["linkage/copy.py:_q"]
    assert "linkage/copy.py:_has_table" in found["table exists"]
    assert any("information_schema" in x for x in found["table exists"])
    assert found["transaction"] == ["linkage/copy.py: BEGIN"]
    assert found["wilson"] == ["linkage/copy.py:wilson"]
    assert sorted(found["value quoting"]) == ["linkage/copy.py:_lit", "linkage/copy.py:day", "linkage/copy.py:where"]


def test_tables_named_by_several_packages_are_named_once():
    """A warehouse table read by several packages is named by its constant in ``warehouse/tables.py``, not spelt
    out (``"spine.person_record"``) in each."""
    from bold_prevention.warehouse.tables import PERSON, PERSON_RECORD, TABLES

    by_table: dict[str, set[str]] = {}
    for rel, tree in _modules():
        if rel == "warehouse/tables.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TABLES:
                by_table.setdefault(node.value, set()).add(rel.split("/")[0])
    assert not {t: p for t, p in by_table.items() if len(p) >= 3}
    assert PERSON not in by_table and PERSON_RECORD not in by_table, by_table


def test_the_documented_layers_are_the_enforced_layers():
    """docs/architecture.md's layer table lists the packages in the order of the import-linter contract."""
    import tomllib

    root = ROOT.parents[1]
    contract = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = [{p.strip().removeprefix("bold_prevention.") for p in layer.split("|")}
              for layer in contract["contracts"][0]["layers"]][::-1]
    documented = []
    for line in (root / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| (\d+) \| (.+?) \|", line)
        if m:
            documented.append(set(re.findall(r"`([a-z_]+)`", m.group(2))))
    core = {"errors", "config", "files", "project"}
    enforced = [layer for layer in layers if not layer <= core]
    assert documented[0] == core
    assert documented[1:] == enforced
