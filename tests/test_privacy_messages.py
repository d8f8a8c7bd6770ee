"""No identifier value in any message, report, log or ``meta`` table, whatever goes wrong.

A small extract carries one person with distinctive identifiers (forename Zyxqwert, surname Qvorpaldine, postcode
ZZ9 9ZZ, born 1971-07-19, NI number AB123456C). Every error path we can drive (bad dates, a headerless file, a wrong
delimiter, wrong types, ragged rows, duplicate columns, misaligned columns, bad link configurations) is run through
the command line and the library, and everything they produce is scanned for those values.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pytest
import yaml
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.datafirst import MODEL
from bold_prevention.errors import BoldError
from bold_prevention.warehouse.load import load_extracts
from helpers_load import build_tables, replace_column, write_tables

SECRETS = ("Zyxqwert", "Qvorpaldine", "ZZ9 9ZZ", "ZZ99ZZ", "1971-07-19", "19/07/1971", "AB123456C")
SNAP = "2025-01-31"
runner = CliRunner()
PERSON = {"forename": "Zyxqwert", "surname": "Qvorpaldine", "postcode": "ZZ9 9ZZ",
          "date_of_birth": date(1971, 7, 19)}


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


@pytest.fixture(scope="module")
def tables():
    """Every model table; the first record of every person table is the distinctive person."""
    out = build_tables(12)
    for name, tab in out.items():
        model = MODEL.table(name)
        for role, value in PERSON.items():
            col = model.identifier_roles.get(role)
            if col and col in tab.column_names:
                vals = tab.column(col).to_pylist()
                vals[0] = value
                tab = replace_column(tab, col, vals)
        out[name] = tab
    return out


def _person_table(tables) -> str:
    return next(n for n in ("moj_probation_flatfile", "mags_defendant_case") if n in tables)


def _csv_lines(tab) -> list[str]:
    import io

    buf = io.BytesIO()
    pacsv.write_csv(tab, buf)
    return buf.getvalue().decode().splitlines()


def _break(kind: str, src: Path, tables) -> None:
    """Break the person table's file in one way (it holds the distinctive person on its first data line)."""
    name = _person_table(tables)
    tab = tables[name]
    (src / f"{name}.parquet").unlink()
    lines = _csv_lines(tab)
    header = lines[0].split(",")
    p = src / f"{name}.csv"
    if kind == "headerless":
        p.write_text("\n".join(lines[1:]) + "\n")
    elif kind == "delimiter":
        p.write_text("\n".join(ln.replace(",", ":") for ln in lines) + "\n")
    elif kind == "ragged":
        p.write_text("\n".join(lines[:2] + [lines[2] + ',"Zyxqwert","ZZ9 9ZZ"'] + lines[3:]) + "\n")
    elif kind == "duplicate_columns":
        k = header.index('"surname"') if '"surname"' in header else 3
        header[k] = header[k - 1]
        p.write_text("\n".join([",".join(header)] + lines[1:]) + "\n")
    elif kind == "shifted":
        # the identifiers shifted one column to the left: names land in code, date and number columns
        rows = [ln.split(",") for ln in lines[1:]]
        p.write_text("\n".join([lines[0]] + [",".join(r[1:] + [r[0]]) for r in rows]) + "\n")
    elif kind == "bad_dates":
        dob = next(i for i, h in enumerate(header) if h.strip('"') in ("date_of_birth",))
        other = next(i for i, h in enumerate(header) if h.strip('"').endswith("_date"))
        rows = [ln.split(",") for ln in lines[1:]]
        rows[0][dob] = '"19/07/1971"'
        rows[0][other] = '"Zyxqwert"'
        rows[1][other] = '"ZZ9 9ZZ"'
        p.write_text("\n".join([lines[0]] + [",".join(r) for r in rows]) + "\n")
    elif kind == "wrong_types":
        num = [c.name for c in MODEL.table(name).columns if c.dtype in ("int", "float") and not c.identifier]
        t2 = tab
        for c in num[:2]:
            t2 = t2.set_column(t2.schema.get_field_index(c), c, [[("Zyxqwert" if i % 2 else "ZZ9 9ZZ")
                                                                    for i in range(t2.num_rows)]])
        pacsv.write_csv(t2, p)
    elif kind == "codes":
        coded = next(c.name for c in MODEL.table(name).columns if c.codes and not c.identifier)
        t2 = tab.set_column(tab.schema.get_field_index(coded), coded,
                            [["Qvorpaldine", "ZZ9 9ZZ"] * (tab.num_rows // 2)])
        pacsv.write_csv(t2, p)
    else:  # pragma: no cover
        raise AssertionError(kind)


def _meta_text(project: Path) -> str:
    wh = project / "warehouse.duckdb"
    if not wh.exists():
        return ""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        parts = []
        for (t,) in con.execute("select table_name from information_schema.tables where table_schema = 'meta'"
                                ).fetchall():
            parts.append(json.dumps(con.execute(f'select * from meta."{t}"').fetchall(), default=str))
        return "\n".join(parts)
    finally:
        con.close()


def _files_text(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*")
                     if p.is_file() and p.suffix in (".json", ".html", ".md", ".csv", ".txt", ".log"))


BREAKS = ["headerless", "delimiter", "ragged", "duplicate_columns", "shifted", "bad_dates", "wrong_types", "codes"]


@pytest.mark.parametrize("kind", BREAKS)
def test_load_errors_never_show_identifiers(tmp_path, tables, kind, caplog):
    src = write_tables(tables, tmp_path / "src")
    _break(kind, src, tables)
    proj = tmp_path / "proj"
    caplog.set_level(logging.DEBUG)
    r = runner.invoke(app, ["load", str(src), "--project", str(proj), "--snapshot-date", SNAP])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    show = runner.invoke(app, ["quality", "show", "--project", str(proj)])
    show_json = runner.invoke(app, ["quality", "show", "--project", str(proj), "--json"])
    texts = {"load output": r.output, "quality show": show.output, "quality show --json": show_json.output,
             "reports": _files_text(proj / "reports"), "meta": _meta_text(proj), "log": caplog.text}
    for where, text in texts.items():
        assert not _leaks(text), f"{kind}: identifier values {_leaks(text)} in {where}"
    assert r.exit_code in (0, 2)


def test_library_errors_never_show_identifiers(tmp_path, tables):
    """Breaks through the library: exception text (message and hint) and the result (the CLI test covers them all)."""
    for kind in ("headerless", "shifted", "codes"):
        src = write_tables(tables, tmp_path / kind / "src")
        _break(kind, src, tables)
        try:
            res = load_extracts(tmp_path / kind / "proj", src, snapshot_date=SNAP)
            text = json.dumps(res.to_dict(), default=str)
        except BoldError as e:
            text = str(e) + json.dumps(getattr(e, "result", None).to_dict() if getattr(e, "result", None) else {},
                                       default=str)
        assert not _leaks(text), f"{kind}: {_leaks(text)}"


# ------------------------------------------------------------------------------------------------ bold link
def _link_files(tmp: Path) -> dict[str, Path]:
    head = "nino,fn,sn,dob,pc"
    rows = ["AB123456C,Zyxqwert,Qvorpaldine,1971-07-19,ZZ9 9ZZ"] + \
        [f"QQ{100000 + i}A,Ann{i % 7},Lee{i % 5},19{50 + i % 40}-0{1 + i % 9}-1{i % 9},SW{i % 9} 1AB"
         for i in range(1, 40)]
    files = {
        "ok.csv": [head] + rows,
        "headerless.csv": rows,
        "dup_ids.csv": [head] + rows + [rows[0]],
        "same.csv": [head] + [f"QQ{i}A,Zyxqwert,Qvorpaldine,1971-07-19,ZZ9 9ZZ" for i in range(30)],
        "bad_dates.csv": [head] + [r.replace("1971-07-19", "19/07/1971") for r in rows],
        "semicolon.csv": [head.replace(",", ";")] + [r.replace(",", ";") for r in rows],
    }
    out = {}
    for name, lines in files.items():
        p = tmp / name
        p.write_text("\n".join(lines) + "\n")
        out[name] = p
    return out


LINK_CASES = {
    "headerless": ("headerless.csv", {}),
    "missing id": ("ok.csv", {"id": "ref"}),
    "missing column": ("ok.csv", {"columns": {"forename": "first", "surname": "sn"}}),
    "duplicate ids": ("dup_ids.csv", {}),
    "identical records": ("same.csv", {}),
    "unparsable dates": ("bad_dates.csv", {"date_format": "%Y-%m-%d"}),
    "wrong delimiter": ("semicolon.csv", {}),
    "unknown role": ("ok.csv", {"columns": {"forename": "fn", "shoe_size": "sn"}}),
}


@pytest.mark.parametrize("case", sorted(LINK_CASES))
def test_link_errors_never_show_identifiers(tmp_path, case, caplog):
    files = _link_files(tmp_path)
    fname, extra = LINK_CASES[case]
    side = {"path": fname, "id": "nino", "postcode_format": "any",
            "columns": {"forename": "fn", "surname": "sn", "date_of_birth": "dob", "postcode": "pc"}}
    side.update(extra)
    cfg = tmp_path / "link.yaml"
    cfg.write_text(yaml.safe_dump({"left": side}))
    caplog.set_level(logging.DEBUG)
    r = runner.invoke(app, ["link", "--config", str(cfg), "--out", str(tmp_path / "out")])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    for where, text in {"output": r.output, "log": caplog.text}.items():
        assert not _leaks(text), f"{case}: identifier values {_leaks(text)} in {where}: {text[-1500:]}"
    assert files  # the files were written


def test_blocking_count_errors_never_show_identifiers(tmp_path):
    _link_files(tmp_path)
    cfg = tmp_path / "link.yaml"
    cfg.write_text(yaml.safe_dump({"left": {"path": "headerless.csv", "id": "nino",
                                            "columns": {"forename": "fn", "surname": "sn"}}}))
    r = runner.invoke(app, ["link", "blocking", "--config", str(cfg)])
    assert r.exit_code == 2 and not _leaks(r.output) and "Traceback" not in r.output
