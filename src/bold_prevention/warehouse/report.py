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
    data = report_dict(result)
    if json_path is not None:
        with atomic_file(json_path) as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")
    if html_path is not None:
        with atomic_file(html_path) as fh:
            fh.write(render_html(data))


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
    """The JSON quality report of the most recent load (blocked loads included)."""
    proj = project if isinstance(project, Project) else Project.at(project)
    d = quality_dir(proj)
    reports = sorted(d.glob("quality-*.json")) if d.is_dir() else []
    if not reports:
        raise InputError(f"no quality report in {d}", hint="run `bold load SOURCE` first, or pass --project")
    return reports[-1]


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
