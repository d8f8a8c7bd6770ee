"""One option vocabulary over every ``bold`` command, checked by walking the command tree (not a hand list):
``--out``/``-o`` only for output, ``--project``/``-p`` wherever a command reads or writes a project,
``--format table|json|csv`` wherever a command prints a table (``--json`` an alias of ``--format json``), one
meaning per short option, one default seed, switches shown as flags, usage lines in capitals; and every
``--format json`` output parses (the cheap commands, run on a tiny project)."""

from __future__ import annotations

import ast
import csv
import inspect
import io
import json
import re
import textwrap
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.cli.app import DEFAULT_SEED, FORMATS, BoldCommand, BoldGroup, FormatOption, _switch_words
from bold_prevention.cli.printing import Grid, printing

runner = CliRunner()
ROOT = typer.main.get_command(app)

# Code that reads or writes a project folder: a command whose code (followed through the cli package's helpers)
# names one of these must take --project.
PROJECT_NAMES = {"Project", "read_stored", "duckdb_connect", "open_warehouse", "ReleaseLedger", "AccountStore",
                 "AuditLog", "latest_report_checked"}
# Code that draws a table.
TABLE_NAMES = {"Grid", "Table"}
# Commands whose printout does not go through cli/printing.py (none now). Named here so that it shows.
FORMAT_PENDING: set[str] = set()


def _commands(cmd=ROOT, path=()):
    yield " ".join(path), cmd
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = [(p, c) for p, c in _commands() if p]


def _names(fn, seen=None) -> set[str]:
    """Every name the function's code uses, following the cli package's own helpers it calls."""
    seen = set() if seen is None else seen
    fn = inspect.unwrap(fn)
    if fn in seen:
        return set()
    seen.add(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    for n in list(names):
        obj = fn.__globals__.get(n)
        if inspect.isfunction(obj) and obj.__module__.startswith("bold_prevention.cli"):
            names |= _names(obj, seen)
    return names


def _options(cmd) -> list[TyperOption]:
    return [p for p in cmd.params if isinstance(p, TyperOption)]


def _long(p) -> list[str]:
    return [o for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]


def _help(path: str) -> str:
    r = runner.invoke(app, [*path.split(), "--help"], terminal_width=120)
    assert r.exit_code == 0, r.output
    return r.output


# ------------------------------------------------------------------------------------------- the walk
def test_the_walk_finds_every_command_group():
    groups = {p for p, c in COMMANDS if getattr(c, "commands", None)}
    assert {"cohort", "link", "outputs", "scale", "spine", "pathways", "ew"} <= groups
    assert len(COMMANDS) > 50


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_uses_the_vocabulary_classes(path, cmd):
    assert isinstance(cmd, BoldCommand | BoldGroup), (
        f"`bold {path}` is a plain Typer command: make its group with bold_prevention.cli.app.Typer")


def test_each_short_option_has_one_meaning_everywhere():
    meanings: dict[str, set[str]] = {}
    for _path, cmd in COMMANDS:
        for p in _options(cmd):
            for s in (o for o in p.opts if not o.startswith("--")):
                meanings.setdefault(s, set()).add(_long(p)[0])
    clashes = {s: sorted(m) for s, m in meanings.items() if len(m) > 1}
    assert clashes == {}
    fixed = {"-o": "--out", "-p": "--project", "-f": "--format", "-c": "--config", "-s": "--seed"}
    assert {s: next(iter(meanings[s])) for s in fixed if s in meanings} == {s: fixed[s] for s in fixed
                                                                             if s in meanings}


def test_out_only_ever_means_output():
    for path, cmd in COMMANDS:
        for p in _options(cmd):
            if "--out" in p.opts:
                assert p.name.startswith(("out", "output")), f"`bold {path}`: --out is {p.name}"
                assert p.metavar in ("DIR", "FILE"), f"`bold {path}`: --out shows {p.metavar!r}"
            if "-o" in p.opts:
                assert "--out" in p.opts, f"`bold {path}`: -o is {p.opts}"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_project_wherever_a_command_reads_or_writes_one(path, cmd):
    if cmd.callback is None:
        return
    proj = [p for p in _options(cmd) if "--project" in p.opts]
    touches = _names(cmd.callback) & PROJECT_NAMES
    if touches:
        assert proj, f"`bold {path}` uses {sorted(touches)} but has no --project"
    for p in proj:
        assert p.opts == ["--project", "-p"] and p.metavar == "DIR" and p.default is None


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_format_wherever_a_command_prints_a_table(path, cmd):
    if cmd.callback is None or path in FORMAT_PENDING:
        return
    fmt = [p for p in _options(cmd) if p.opts and p.opts[0] == "--format"]
    for p in fmt:
        assert p.name == "fmt" and p.metavar == "|".join(FORMATS) and p.default == "table"
        # the shared option: then the command's text goes to standard error in json/csv and its tables to stdout
        assert inspect.signature(inspect.unwrap(cmd.callback)).parameters["fmt"].default is FormatOption, path
    if any("--json" in p.opts for p in _options(cmd)):
        json_opt = next(p for p in _options(cmd) if "--json" in p.opts)
        assert json_opt.is_flag and fmt, f"`bold {path}`: --json must be a flag beside --format"
    if _names(cmd.callback) & TABLE_NAMES:
        assert fmt, f"`bold {path}` prints a table but has no --format table|json|csv"


def test_a_format_that_is_not_one_is_refused():
    for args in (["outputs", "rules"], ["ew", "list"]):
        r = runner.invoke(app, [*args, "--format", "xml"])
        assert r.exit_code == 2 and "xml" in r.output and "json" in r.output, r.output
        assert runner.invoke(app, [*args, "--format", "JSON"]).exit_code == 0


def test_one_default_seed():
    seeds = {path: p.default for path, cmd in COMMANDS for p in _options(cmd) if "--seed" in p.opts}
    assert seeds and set(seeds.values()) == {DEFAULT_SEED}, seeds


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_help_shows_switches_as_flags_and_arguments_in_capitals(path, cmd):
    text = _help(path)
    assert "<bool>" not in text
    ctx = typer.Context(cmd)
    for p in _options(cmd):
        shown = p.display_type_rich(ctx) or ""
        assert "list[" not in shown and ("bool" not in shown) and (not p.is_flag or shown == ""), (path, p.opts)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage
    for p in cmd.params:
        if isinstance(p, TyperArgument):
            assert p.metavar and p.metavar == p.metavar.upper(), f"`bold {path}`: argument {p.name}"
            assert p.metavar in usage
        elif isinstance(p, TyperOption) and "--overwrite" in p.opts:
            assert p.is_flag and p.secondary_opts == ["--no-overwrite"], f"`bold {path}`: {p.opts}"


# ------------------------------------------------------------------------------------------- switches
SWITCHES = ["--overwrite", "--verbose", "--bands"]


class _Cmd:
    """Just enough of a command for the switch reader: --overwrite/--no-overwrite, --verbose, --bands/--no-bands."""

    def __init__(self):
        self.params = [TyperOption(param_decls=["--overwrite/--no-overwrite"], is_flag=True, default=False,
                                   type_descriptor=None),
                       TyperOption(param_decls=["--verbose"], is_flag=True, default=False, type_descriptor=None),
                       TyperOption(param_decls=["--bands/--no-bands"], is_flag=True, default=True,
                                   type_descriptor=None)]


TRUTH = ("true", "false")


@given(st.lists(st.sampled_from([*SWITCHES, "true", "false", "TRUE", "False", "x", "--out", "-o",
                                 "--overwrite=true", "--verbose=false", "--bands=False"]), max_size=12))
def test_true_and_false_after_a_switch_are_read_as_the_switch(args):
    fixed = _switch_words(_Cmd(), args)
    names = {*SWITCHES, "--no-overwrite", "--no-bands"}
    assert all("=" not in a for a in fixed)
    # every other word stays, in order: only the truth words right after a switch are read into it
    eaten = {i for i, a in enumerate(args) if a.lower() in TRUTH and i and args[i - 1] in SWITCHES}
    kept = [a for i, a in enumerate(args) if i not in eaten and a.split("=")[0] not in SWITCHES]
    assert [a for a in fixed if a not in names] == kept
    # each switch given is on or off as its word says (a bare switch is on)
    for i, a in enumerate(args):
        name, _, word = a.partition("=")
        if name in SWITCHES and (word or i + 1 in eaten):
            assert sum(1 for x in fixed if x in (name, name.replace("--", "--no-"))) >= 1 or (
                (word or args[i + 1]).lower() == "false" and name == "--verbose")


def test_words_after_double_dash_are_left_alone():
    assert _switch_words(_Cmd(), ["--", "--overwrite", "true"]) == ["--", "--overwrite", "true"]
    assert _switch_words(_Cmd(), ["--overwrite", "false"]) == ["--no-overwrite"]
    assert _switch_words(_Cmd(), ["--verbose", "false"]) == []
    assert _switch_words(_Cmd(), ["--bands=TRUE", "name"]) == ["--bands", "name"]


def test_overwrite_true_on_a_real_command(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("la,n\na,20\nb,30\n")
    args = ["outputs", "check", str(table), "--count-column", "n", "--rows", "la", "--out", str(tmp_path / "o")]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--overwrite", "false"]).exit_code == 2  # exists, not replaced
    r = runner.invoke(app, [*args, "--overwrite", "true"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, [*args, "--overwrite=TRUE"]).exit_code == 0


# ------------------------------------------------------------------------------------------- printing
def test_rich_tables_keep_ids_whole_at_80_columns():
    from rich.console import Console

    g = Grid("t", "ids")
    g.column("person_id").column("description")
    pid = "p_0123456789abcdef0123456789abcdef0123"
    g.row(pid, "a long description " * 8)
    buf = io.StringIO()
    Console(file=buf, width=80).print(g.rich())
    assert pid in buf.getvalue()
    assert max(len(line) for line in buf.getvalue().splitlines()) <= 80


@given(st.lists(st.tuples(st.text(max_size=20), st.one_of(st.none(), st.integers(), st.floats(allow_nan=True),
                                                            st.booleans())), max_size=8))
def test_json_and_csv_output_parse_whatever_the_values(rows):
    for fmt in ("json", "csv"):
        out = io.StringIO()
        import sys

        real = sys.stdout
        sys.stdout = out
        try:
            with printing(fmt):
                g = Grid("rows", "t")
                g.column("text").column("value")
                for r in rows:
                    g.row(*r)
                g.show()
        finally:
            sys.stdout = real
        if fmt == "json":
            got = json.loads(out.getvalue())["rows"]
            assert [r["text"] for r in got] == [r[0] for r in rows]
        else:
            got = list(csv.DictReader(io.StringIO(out.getvalue())))
            assert [r["text"] for r in got] == [r[0] for r in rows]
            assert [r["value"] for r in got] == ["" if v is None or v != v or v in (float("inf"), float("-inf"))
                                                 else str(v).lower() if isinstance(v, bool) else repr(v)
                                                 for _, v in rows]


# ------------------------------------------------------------------------------------------- --format json runs
@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny project: the synthetic catalogues loaded and one small disclosure-checked release in the ledger."""
    import pandas as pd

    from bold_prevention.catalogue.reader import read_catalogues
    from bold_prevention.catalogue.store import store_catalogue
    from bold_prevention.catalogue.writer import write_synthetic_catalogues
    from bold_prevention.outputs import check_counts, write_release
    from bold_prevention.outputs.ledger import ReleaseLedger
    from bold_prevention.project import Project

    root = tmp_path_factory.mktemp("tiny")
    cats = root / "cats"
    files = write_synthetic_catalogues(cats)
    proj = Project(root / "project").ensure()
    store_catalogue(proj, read_catalogues(files))
    df = pd.DataFrame({"la": ["a", "b", "c"], "n": [20, 35, 3]})
    checked = check_counts(df, "n", "la", title="Tiny")
    write_release([checked], proj.outputs_dir / "tiny", title="Tiny", command="test",
                  ledger=ReleaseLedger.for_project(proj))
    return proj.root


CHEAP = [
    ["ew", "list"],
    ["outputs", "rules"],
    ["outputs", "rules", "opensafely"],
    ["outputs", "ledger", "-p", "{p}"],
    ["cohort", "list", "-p", "{p}"],
    ["catalogue", "search", "accommodation", "-p", "{p}"],
    ["catalogue", "search", "no-such-word-anywhere", "-p", "{p}"],
    ["register", "suggest", "--driver", "accommodation", "-p", "{p}"],
    ["register", "validate", "-p", "{p}"],
]


@pytest.mark.parametrize("args", CHEAP, ids=[" ".join(a[:2]) for a in CHEAP])
def test_format_json_and_csv_parse(tiny, args):
    args = [a.replace("{p}", str(tiny)) for a in args]
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exit_code in (0, 1), r.output
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict) and doc and all(isinstance(v, list) for v in doc.values())
    c = runner.invoke(app, [*args, "-f", "csv"])
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    first = next(iter(doc.values()))
    assert len(rows) == len(first)
    if first:
        assert list(rows[0]) == list(first[0])
    t = runner.invoke(app, args)
    assert t.exit_code == r.exit_code
    assert not re.search(r"^\s*[\[{]", t.stdout)  # the table format is for reading, not JSON


def test_every_cheap_command_is_one_with_format():
    paths = {" ".join(a for a in args if not a.startswith(("-", "{")) and a not in ("accommodation", "opensafely",
                                                                                    "no-such-word-anywhere"))
             for args in CHEAP}
    for path in paths:
        cmd = dict(COMMANDS)[path]
        assert any(p.opts[:1] == ["--format"] for p in _options(cmd)), path
