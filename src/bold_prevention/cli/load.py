"""``bold load`` (extracts into the warehouse under data contracts) and ``bold quality show``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import LoadBlocked
from ..project import Project
from .app import Fmt, FormatOption, JsonOption, ProjectOption, Typer, app, console, out, user_errors
from .printing import Grid, show_document

quality_app = Typer(help="Quality reports of extract loads.", no_args_is_help=True)
app.add_typer(quality_app, name="quality")

_STYLE = {"complete": "green", "partial": "yellow", "unchanged": "cyan", "blocked": "red"}


@app.command("load")
@user_errors
def load_cmd(
    source: Path = typer.Argument(..., help="Folder of extract files (<table>.parquet|.csv, or parts "
                                  "<table>_01.parquet ...), or a synthetic output folder."),
    project: Path | None = ProjectOption,
    snapshot_date: str | None = typer.Option(None, "--snapshot-date", help="Date of the extract (YYYY-MM-DD); "
                                             "default: the source's manifest, else today."),
    datasets: str | None = typer.Option(None, "--datasets", help="Comma-separated datasets this load covers "
                                        "(default: every dataset of the model)."),
    delimiter: str | None = typer.Option(None, "--delimiter", help="Force the CSV delimiter (default: sniffed)."),
    fmt: Fmt = FormatOption,
) -> None:
    """Load a folder of extracts into the warehouse, checked against the Data First contracts."""
    from ..warehouse.load import load_extracts
    proj = Project.at(project)
    snap = date.fromisoformat(snapshot_date) if _valid_date(snapshot_date) else snapshot_date
    ds = datasets.split(",") if datasets else None
    delim = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(delimiter or "", delimiter)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("reading the source folder", total=None)

        def progress(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        try:
            result = load_extracts(proj, source, snapshot_date=snap, progress=progress, datasets=ds,
                                   delimiter=delim)
        except LoadBlocked as e:
            bar.stop()
            r = getattr(e, "result", None)
            if r is not None:
                _summary(r)
            raise
    _summary(result)
    _unmeasured(proj)


def _unmeasured(proj: Project) -> None:
    """Name the register's drivers whose variables are missing or empty in the loaded extract (not measured)."""
    from ..spine.measured import evidence_status, format_unmeasured, unmeasured_by_driver
    from ..spine.rules import load_rules
    from ..warehouse.engine import duckdb_connect

    con = duckdb_connect(proj, read_only=True)
    try:
        lines = format_unmeasured(unmeasured_by_driver(evidence_status(con, load_rules())))
    finally:
        con.close()
    for line in lines:
        out.print(f"[yellow]Not measured:[/] {line}", highlight=False)
    if lines:
        out.print("Variables loaded as empty measure nothing: the spine records these needs as not measured (NULL), "
                  "not as \"no need\"; load an extract that has them to measure the drivers.", highlight=False)


def _checks_grid(data: dict) -> Grid:
    """The report's checks, one row each (table, column, check, status, detail)."""
    g = Grid("checks", "Checks")
    rows = data.get("checks") or []
    cols = list(dict.fromkeys(k for r in rows for k in r)) or ["table", "check", "status"]
    for c in cols:
        g.column(c)
    for r in rows:
        g.row(*[r.get(c) for c in cols])
    return g


def _valid_date(s: str | None) -> bool:
    if not s:
        return False
    try:
        date.fromisoformat(s)
        return True
    except ValueError:
        return False


def _summary(r) -> None:
    from ..datafirst import MODEL
    style = _STYLE.get(r.status, "white")
    out.print(f"[bold]Load {r.load_id}[/] of snapshot {r.snapshot_date.isoformat()}: "
              f"[bold {style}]{r.status.upper()}[/]")
    t = Grid("tables", "Tables")
    t.column("table").column("dataset")
    t.column("decision", fmt=lambda v: f"[{ {'block': 'red', 'degrade': 'yellow', 'warn': 'yellow'}.get(v, 'green')}]"
             f"{v}[/]")
    t.column("rows").column("warn").column("fail")
    per: dict[str, dict[str, int]] = {}
    for c in r.checks:
        per.setdefault(c.table, {"warn": 0, "fail": 0})
        if c.status in ("warn", "fail"):
            per[c.table][c.status] += 1
    order = {n: i for i, n in enumerate(MODEL.table_names)}
    for name, tl in sorted(r.tables.items(), key=lambda kv: order.get(kv[0], 0)):
        k = per.get(name, {"warn": 0, "fail": 0})
        t.row(name, tl.dataset, tl.decision or tl.status, tl.rows, k["warn"], k["fail"])
    t.show()
    counts = r.counts()
    out.print(f"Rows loaded: {r.rows_loaded:,}. Checks: {counts['pass']} passed, {counts['warn']} warnings, "
              f"{counts['fail']} failed. {r.seconds:.1f} s.")
    for note in r.notes:
        out.print(f"[cyan]Note:[/] {note}")
    if r.status == "partial":
        out.print(f"[yellow]Partial load:[/] left out {', '.join(r.degraded_tables)}; outputs built on this "
                  "snapshot are marked partial.")
    if r.report_html:
        out.print(f"Quality report: {r.report_html}")
        out.print(f"                {r.report_json}")


@quality_app.command("show")
@user_errors
def quality_show(
    project: Path | None = ProjectOption,
    report: Path | None = typer.Option(None, "--report", help="A quality report JSON (default: the latest)."),
    fmt: Fmt = FormatOption,
    as_json: bool = JsonOption,
) -> None:
    """Print the summary of the latest load's quality report."""
    from ..warehouse.report import latest_report_checked, read_report, summary_lines
    path, warning = (report, None) if report else latest_report_checked(project)
    data = read_report(path)
    if warning:
        data["superseded_by"] = warning
    if show_document(data):  # --format json (or --json): the report itself
        return
    if fmt == "csv":
        _checks_grid(data).show()
        return
    if warning:
        console.print(f"[bold yellow]Warning:[/] {escape(warning)}")
    for line in summary_lines(data):
        out.print(line, markup=False, highlight=False)
    html = Path(path).with_suffix(".html")
    out.print(f"Report: {path}" + (f"\n        {html}" if html.exists() else ""), markup=False, highlight=False)
