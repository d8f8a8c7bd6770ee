"""The quality report of a load, as JSON and as one self-contained, accessible HTML page.

Both carry, per table and check: pass / warn / fail, the failing and checked counts, the threshold, the message and
example record ids. They never carry identifier values (names, dates of birth, postcodes): checks on identifier
columns report counts and record ids only (see :mod:`.quality`). The HTML page has no scripts and no external
resources (styling inline, in the GOV.UK manner), so it opens offline inside a secure research environment.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..files import atomic_file
from ..project import Project

if TYPE_CHECKING:
    from .load import LoadResult

_CSS = """
body{font-family:Arial,"Helvetica Neue",Helvetica,sans-serif;color:#0b0c0c;margin:0;background:#fff;
 font-size:19px;line-height:1.32}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fd0;padding:6px;color:#0b0c0c}
header{background:#0b0c0c;color:#fff;padding:12px 30px;border-bottom:10px solid #1d70b8}
header p{margin:0;font-weight:700;font-size:24px}
main{max-width:1100px;margin:0 auto;padding:20px 30px 60px}
h1{font-size:40px;margin:20px 0 10px}h2{font-size:30px;margin:40px 0 15px}h3{font-size:24px;margin:30px 0 10px}
.lead{font-size:22px;color:#505a5f}
table{border-collapse:collapse;width:100%;margin:10px 0 25px;font-size:16px}
caption{text-align:left;font-weight:700;font-size:19px;padding-bottom:8px}
th,td{border-bottom:1px solid #b1b4b6;padding:8px 10px 8px 0;text-align:left;vertical-align:top}
th{font-weight:700}td.num,th.num{text-align:right}
.tag{display:inline-block;padding:2px 8px;font-weight:700;font-size:15px;letter-spacing:1px;text-transform:uppercase}
.pass,.load,.complete{background:#cce2d8;color:#005a30}.warn,.partial,.unchanged{background:#fff7bf;color:#594d00}
.fail,.block,.blocked,.degrade{background:#f4cdc6;color:#942514}
.panel{border:5px solid #1d70b8;padding:15px 20px;margin:15px 0}
.panel.bad{border-color:#d4351c}.panel.mid{border-color:#ffdd00}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 20px;margin:10px 0}dt{font-weight:700}dd{margin:0}
code{font-family:monospace;font-size:15px;background:#f3f2f1;padding:0 3px}
details{margin:5px 0 20px}summary{color:#1d70b8;cursor:pointer;text-decoration:underline}
footer{border-top:1px solid #b1b4b6;color:#505a5f;font-size:16px;padding:20px 30px}
"""


def report_dict(result: LoadResult) -> dict:
    """The JSON-ready content of the report."""
    return result.to_dict()


def write_reports(result: LoadResult, json_path: Path | None, html_path: Path | None) -> None:
    """Write the JSON and HTML reports atomically (under their final names only when complete)."""
    write_report_data(report_dict(result), json_path, html_path)


def write_report_data(data: dict, json_path: Path | None, html_path: Path | None) -> None:
    """Write a report dictionary as JSON and HTML (the HTML first: the JSON is what marks a report written)."""
    if html_path is not None:
        with atomic_file(html_path) as fh:
            fh.write(render_html(data))
    if json_path is not None:
        with atomic_file(json_path) as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")


def _tag(status: str) -> str:
    return f'<strong class="tag {escape(status)}">{escape(status)}</strong>'


def render_html(data: dict) -> str:
    """A self-contained HTML page for a report dictionary (as written to JSON)."""
    status = data["status"]
    counts = data["check_counts"]
    panel = {"blocked": "bad", "partial": "mid"}.get(status, "")
    out: list[str] = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Quality report: load {escape(data['load_id'])} ({escape(status)})</title>",
        f"<style>{_CSS}</style>", "</head>", "<body>",
        '<a class="skip" href="#main">Skip to main content</a>',
        "<header><p>BOLD Prevention toolkit</p></header>", '<main id="main">',
        "<h1>Extract quality report</h1>",
        f'<p class="lead">Load {escape(data["load_id"])} of snapshot {escape(data["snapshot_date"])}</p>',
        f'<div class="panel {panel}"><p>Outcome: {_tag(status)}</p><p>{escape(_outcome_sentence(data))}</p></div>',
        "<dl>",
        f"<dt>Source</dt><dd><code>{escape(data['source'])}</code></dd>",
        f"<dt>Snapshot date</dt><dd>{escape(data['snapshot_date'])}</dd>",
        f"<dt>Datasets in scope</dt><dd>{escape(', '.join(data['datasets']))}</dd>",
        f"<dt>Rows loaded</dt><dd>{data['rows_loaded']:,}</dd>",
        f"<dt>Checks</dt><dd>{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed</dd>",
        f"<dt>Previous load</dt><dd>{escape(data.get('previous_load') or 'none')}</dd>",
        f"<dt>Time taken</dt><dd>{data['seconds']:.1f} seconds</dd>",
        "</dl>",
    ]
    if data.get("superseded_by"):
        out.append(f'<div class="panel bad"><p><strong>Not the latest load:</strong> '
                   f'{escape(str(data["superseded_by"]))}.</p></div>')
    if data.get("notes"):
        out.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in data["notes"]) + "</ul>")
    problems = [c for c in data["checks"] if c["status"] != "pass"]
    if problems:
        out.append('<h2 id="problems">Problems found</h2>')
        out.append(_checks_table(problems, f"Checks that warned or failed ({len(problems)})", with_table=True))
    out += ['<h2 id="decisions">Decisions</h2>',
            "<p>The failure policy: <strong>block</strong> (nothing committed) on a broken file, a missing or "
            "wrongly typed required column, duplicated keys or a severe completeness failure in a critical "
            "dataset; <strong>degrade</strong> (the table is left out and the load is marked partial) for the same "
            "in a non-critical dataset; <strong>warn</strong> for everything else.</p>",
            "<table><caption>Decision per table</caption><thead><tr><th scope=\"col\">Table</th>"
            "<th scope=\"col\">Dataset</th><th scope=\"col\">Decision</th><th scope=\"col\">Reason</th></tr>"
            "</thead><tbody>"]
    for d in data["decisions"]:
        out.append(f"<tr><td>{escape(d['table'])}</td><td>{escape(d['dataset'])}</td><td>{_tag(d['decision'])}</td>"
                   f"<td>{escape(d['reason'])}</td></tr>")
    out.append("</tbody></table>")
    out += ['<h2 id="tables">Tables</h2>',
            "<table><caption>Rows and content checksum per table</caption><thead><tr>"
            "<th scope=\"col\">Table</th><th scope=\"col\">Status</th><th scope=\"col\">Files</th>"
            "<th scope=\"col\" class=\"num\">Rows</th><th scope=\"col\">Checksum</th></tr></thead><tbody>"]
    for name, t in data["tables"].items():
        files = ", ".join(t["files"][:2]) + (f" (+{len(t['files']) - 2} parts)" if len(t["files"]) > 2 else "")
        out.append(f"<tr><td>{escape(name)}</td><td>{escape(t['status'])}</td><td>{escape(files)}</td>"
                   f"<td class=\"num\">{t['rows']:,}</td><td><code>{escape(t['checksum'] or '')}</code></td></tr>")
    out.append("</tbody></table>")
    if data.get("drift"):
        out += ['<h2 id="drift">Changes since the previous snapshot</h2>',
                "<table><caption>Volume change and population stability index (PSI) of key categorical columns"
                "</caption><thead><tr><th scope=\"col\">Table</th><th scope=\"col\">Column</th>"
                "<th scope=\"col\">Measure</th><th scope=\"col\" class=\"num\">Value</th>"
                "<th scope=\"col\">Flagged</th></tr></thead><tbody>"]
        for d in data["drift"]:
            value = f"{d['value']:+.1%}" if d["metric"] == "rows" else f"{d['value']:.3f}"
            measure = "row count change" if d["metric"] == "rows" else "PSI"
            out.append(f"<tr><td>{escape(d['table'])}</td><td>{escape(d['column'] or '')}</td><td>{measure}</td>"
                       f"<td class=\"num\">{value}</td><td>{_tag('warn') if d['flagged'] else 'no'}</td></tr>")
        out.append("</tbody></table>")
    out.append('<h2 id="checks">Checks per table</h2>')
    by_table: dict[str, list[dict]] = defaultdict(list)
    for c in data["checks"]:
        by_table[c["table"]].append(c)
    for table, checks in by_table.items():
        bad = [c for c in checks if c["status"] != "pass"]
        good = [c for c in checks if c["status"] == "pass"]
        out.append(f"<h3 id=\"t-{escape(table)}\">{escape(table)}</h3>")
        out.append(f"<p>{len(good)} passed, {sum(c['status'] == 'warn' for c in checks)} warnings, "
                   f"{sum(c['status'] == 'fail' for c in checks)} failed.</p>")
        if bad:
            out.append(_checks_table(bad, f"Problems found in {table}"))
        if good:
            out.append(f"<details><summary>Passed checks ({len(good)})</summary>"
                       f"{_checks_table(good, f'Passed checks of {table}')}</details>")
    out += ["</main>",
            "<footer>Examples show record ids only; identifier values (names, dates of birth, postcodes) are "
            f"never shown. Toolkit version {escape(str(data.get('toolkit_version', '')))}.</footer>",
            "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _checks_table(checks: list[dict], caption: str, *, with_table: bool = False) -> str:
    first = '<th scope="col">Table</th>' if with_table else ""
    rows = ["<table>", f"<caption>{escape(caption)}</caption>",
            f"<thead><tr>{first}<th scope=\"col\">Check</th><th scope=\"col\">Column</th><th scope=\"col\">Result</th>"
            "<th scope=\"col\" class=\"num\">Failing</th><th scope=\"col\" class=\"num\">Checked</th>"
            "<th scope=\"col\">Threshold</th><th scope=\"col\">Detail</th></tr></thead><tbody>"]
    for c in checks:
        detail = escape(c["message"])
        if c.get("examples"):
            detail += "<br>Example record ids: " + ", ".join(f"<code>{escape(e)}</code>" for e in c["examples"])
        if c.get("values"):
            detail += "<br>Values: " + ", ".join(escape(v) for v in c["values"])
        block = " (blocking)" if c.get("blocking") and c["status"] == "fail" else ""
        cell = f"<td>{escape(c['table'])}</td>" if with_table else ""
        rows.append(f"<tr>{cell}<td>{escape(c['check'])}</td><td>{escape(c['column'] or '')}</td>"
                    f"<td>{_tag(c['status'])}{block}</td><td class=\"num\">{c['failing']:,}</td>"
                    f"<td class=\"num\">{c['total']:,}</td><td>{escape(c['threshold'] or '')}</td>"
                    f"<td>{detail}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _outcome_sentence(data: dict) -> str:
    s = data["status"]
    if s == "blocked":
        n = sum(1 for d in data["decisions"] if d["decision"] == "block")
        return (f"The load was blocked by {n} table(s) failing a blocking check. Nothing was committed: the "
                "warehouse is as it was before the load.")
    if s == "partial":
        left = ", ".join(data["degraded_tables"]) or "some tables"
        return (f"The load is partial: {left} were left out (non-critical sources missing or broken). "
                "Outputs built on this snapshot are marked partial.")
    if s == "unchanged":
        return "This snapshot was already loaded with identical content; nothing changed."
    c = data["check_counts"]
    if c["warn"] or c["fail"]:
        return (f"Every table in scope was loaded; {c['warn'] + c['fail']} check(s) warned or failed without "
                "blocking (listed below).")
    return "Every table in scope was loaded and every check passed."


# --------------------------------------------------------------------------------------------------- reading back
def quality_dir(project: Project) -> Path:
    return project.reports_dir / "quality"


def latest_report(project: Project | str | Path | None) -> Path:
    """The JSON quality report of the most recent load (blocked loads included).

    When the latest load committed to the warehouse has no report (the run was killed after its commit), the report
    is rebuilt from the warehouse's ``meta`` tables first, so that an earlier load's report is never taken for it.
    """
    return latest_report_checked(project)[0]


def latest_report_checked(project: Project | str | Path | None) -> tuple[Path, str | None]:
    """(the latest report, a warning when it belongs to an earlier load than the latest one committed)."""
    proj = project if isinstance(project, Project) else Project.at(project)
    d = quality_dir(proj)
    latest_committed = None
    if proj.warehouse_path.exists():
        import duckdb

        try:
            con = duckdb.connect(str(proj.warehouse_path), read_only=True)
        except duckdb.Error:
            con = None  # in use by a running load: show what is on disk
        if con is not None:
            try:
                latest_committed = _latest_load_id(con)
                try:
                    rebuild_report(con, proj)
                except OSError:
                    pass
            finally:
                con.close()
    reports = sorted(d.glob("quality-*.json")) if d.is_dir() else []
    if not reports:
        if latest_committed:
            raise InputError(f"load {latest_committed} has no quality report in {d}, and it could not be rebuilt",
                             hint="run `bold load SOURCE` again to write a new report")
        raise InputError(f"no quality report in {d}", hint="run `bold load SOURCE` first, or pass --project")
    newest = reports[-1]
    shown = newest.stem.removeprefix("quality-")
    if latest_committed and shown < latest_committed:
        return newest, (f"this report belongs to load {shown}, an earlier load than the latest one "
                        f"({latest_committed}), whose report is missing")
    return newest, None


def _latest_load_id(con) -> str | None:
    from .engine import table_exists

    if not table_exists(con, "meta", "loads"):
        return None
    r = con.execute("SELECT load_id FROM meta.loads ORDER BY started_at DESC, load_id DESC LIMIT 1").fetchone()
    return r[0] if r else None


def rebuild_report(con, project: Project) -> Path | None:
    """Rebuild the report of the latest committed load when it is missing (a run killed after its commit).

    Returns the JSON path written, or None when nothing was missing. The rebuilt report says it was rebuilt; the
    run's own notes are not kept in the warehouse and are lost.
    """
    load_id = _latest_load_id(con)
    if load_id is None:
        return None
    d = quality_dir(project)
    json_path, html_path = d / f"quality-{load_id}.json", d / f"quality-{load_id}.html"
    if json_path.exists():
        if not html_path.exists():
            write_report_data(read_report(json_path), None, html_path)
        return None
    write_report_data(report_from_meta(con, load_id), json_path, html_path)
    return json_path


def report_from_meta(con, load_id: str) -> dict:
    """A committed load's report dictionary, rebuilt from ``meta.loads``, ``meta.snapshots``,
    ``meta.load_decisions``, ``meta.quality_results`` and ``meta.drift``."""
    from .. import __version__

    r = con.execute("SELECT load_id, snapshot_date, source, started_at, finished_at, status, partial, datasets, "
                    "missing_datasets, degraded_tables, rows_loaded, toolkit_version FROM meta.loads "
                    "WHERE load_id = ?", [load_id]).fetchone()
    if r is None:
        raise InputError(f"load {load_id} is not in the warehouse", hint="choose a load listed in meta.loads")
    prev = con.execute("SELECT load_id FROM meta.loads WHERE started_at < ? ORDER BY started_at DESC LIMIT 1",
                       [r[3]]).fetchone()
    decisions = [{"table": t, "dataset": ds, "decision": dc, "reason": rs} for t, ds, dc, rs in con.execute(
        "SELECT table_name, dataset, decision, reason FROM meta.load_decisions WHERE load_id = ?", [load_id]
    ).fetchall()]
    by_table = {d["table"]: d for d in decisions}
    tables = {}
    for t, ds, st, fmt, files, rows, checksum in con.execute(
            "SELECT table_name, dataset, status, format, files, rows, checksum FROM meta.snapshots "
            "WHERE load_id = ? ORDER BY table_name", [load_id]).fetchall():
        d = by_table.get(t, {})
        tables[t] = {"table": t, "dataset": ds, "critical": None, "status": st, "decision": d.get("decision", ""),
                     "reason": d.get("reason", ""), "fmt": fmt, "files": files.split(", ") if files else [],
                     "rows": int(rows or 0), "checksum": checksum, "identity_rows": None}
    keys = ("table", "check", "column", "status", "failing", "total", "threshold", "blocking", "message",
            "examples", "values")
    checks = [dict(zip(keys, (a, b, c, st, int(f or 0), int(n or 0), th, bool(bl), m, list(ex or []),
                              list(v or [])), strict=True))
              for a, b, c, st, f, n, th, bl, m, ex, v in con.execute(
                  "SELECT table_name, check_name, column_name, status, failing, total, threshold, blocking, message, "
                  "examples, offending_values FROM meta.quality_results WHERE load_id = ?", [load_id]).fetchall()]
    drift = [dict(zip(("previous_snapshot", "table", "column", "metric", "previous", "current", "value", "flagged"),
                      row, strict=True)) for row in con.execute(
        "SELECT previous_snapshot, table_name, column_name, metric, previous, current, value, flagged FROM meta.drift "
        "WHERE load_id = ?", [load_id]).fetchall()]
    counts = {"pass": 0, "warn": 0, "fail": 0}
    for c in checks:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    started, finished = r[3], r[4]
    return {
        "load_id": r[0], "snapshot_date": r[1].isoformat(), "source": r[2], "status": r[5], "partial": bool(r[6]),
        "started_at": started.isoformat() if started else None,
        "finished_at": finished.isoformat() if finished else None,
        "seconds": round((finished - started).total_seconds(), 3) if started and finished else 0.0,
        "datasets": list(r[7] or []), "missing_datasets": list(r[8] or []), "degraded_tables": list(r[9] or []),
        "previous_load": prev[0] if prev else None, "rows_loaded": int(r[10] or 0), "check_counts": counts,
        "decisions": decisions, "tables": tables, "checks": checks, "drift": drift,
        "notes": ["this report was rebuilt from the warehouse's records: the load committed but its run stopped "
                  "before writing the report (the run's own notes are not kept)"],
        "rebuilt": True, "toolkit_version": r[11] or __version__,
    }


def read_report(path: str | Path) -> dict:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read the quality report {p}: {e}", hint="load again to write a new report") from e


def summary_lines(data: dict, *, max_problems: int = 20) -> list[str]:
    """A plain-text summary of a report: outcome, decisions that were not plain loads, problems found."""
    c = data["check_counts"]
    lines = [f"Load {data['load_id']} of snapshot {data['snapshot_date']}: {data['status'].upper()}",
             f"  source: {data['source']}",
             f"  rows loaded: {data['rows_loaded']:,}; checks: {c['pass']} passed, {c['warn']} warnings, "
             f"{c['fail']} failed",
             "  " + _outcome_sentence(data)]
    if data.get("superseded_by"):
        lines.insert(0, f"NOT THE LATEST LOAD: {data['superseded_by']}")
    if data.get("rebuilt"):
        lines.append("  (rebuilt from the warehouse's records: the run stopped before writing its report)")
    notable = [d for d in data["decisions"] if d["decision"] in ("block", "degrade")]
    if notable:
        lines.append("Decisions:")
        lines += [f"  {d['decision'].upper():8} {d['reason']}" for d in notable]
    problems = [x for x in data["checks"] if x["status"] != "pass"]
    if problems:
        lines.append(f"Problems ({len(problems)}):")
        for x in problems[:max_problems]:
            lines.append(f"  {x['status'].upper():5} {x['message']}")
        if len(problems) > max_problems:
            lines.append(f"  ... and {len(problems) - max_problems} more (see the HTML report)")
    return lines
