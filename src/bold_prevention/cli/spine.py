"""``bold spine build`` (the Wave 0 person-level spine) and ``bold spine show``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import InputError
from ..project import Project
from .app import ProjectOption, app, console, out, parse_date, user_errors

spine_app = typer.Typer(help="The Wave 0 person-level spine (persons linked through XJS, with needs).",
                        no_args_is_help=True)
app.add_typer(spine_app, name="spine")


@spine_app.command("build")
@user_errors
def build_cmd(
    as_at: str = typer.Option(..., "--as-at", help="The as-at date (YYYY-MM-DD): only records on or before it count."),
    band: str = typer.Option("medium", "--band", help="Linkage band of the XJS person ids: high, medium or low."),
    register: Path | None = typer.Option(None, "--register", help="A register YAML file (default: the shipped "
                                         "risk factor register)."),
    rebuild_records: bool = typer.Option(False, "--rebuild-records", help="Rebuild spine.person_record even if it "
                                         "is up to date."),
    project: Path | None = ProjectOption,
) -> None:
    """Build spine.person (one row per linked person as at the date) and spine.person_need."""
    from ..spine import build_spine
    from ..warehouse.engine import duckdb_connect

    d = parse_date(as_at)
    proj = Project.at(project)
    con = duckdb_connect(proj, read_only=False) if proj.warehouse_path.exists() else None
    if con is None:
        raise InputError(f"no warehouse at {proj.warehouse_path}", hint="run `bold load` first, or pass --project")
    try:
        with console.status("building the spine") as status:
            res = build_spine(con, as_at=d, band=band, register=register, rebuild_records=rebuild_records,
                              progress=lambda m: status.update(m))
    finally:
        con.close()
    out.print(f"[bold]spine.person[/] as at {res.as_at.isoformat()}, band {res.band}: "
              f"{res.persons:,} persons, {res.needs_rows:,} person-driver need rows, "
              f"drivers {', '.join(res.drivers)} ({res.seconds:.1f} s)")
    console.print("Internal to the warehouse; take figures away with `bold cohort profile --out` or "
                  "`bold places prevalence --out` (disclosure-checked).")


@spine_app.command("show")
@user_errors
def show_cmd(project: Path | None = ProjectOption) -> None:
    """Show the current spine's as-at date, band and columns (no person-level data)."""
    from ..warehouse.engine import duckdb_connect

    proj = Project.at(project)
    con = duckdb_connect(proj, read_only=True)
    try:
        info = con.execute("SELECT * FROM spine.spine_info").fetchall() if con.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'spine' "
            "AND table_name = 'spine_info'").fetchall()[0][0] else []
        if not info:
            raise InputError("no spine has been built in this warehouse",
                             hint="run `bold spine build --as-at YYYY-MM-DD` first")
        cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                           "'spine' AND table_name = 'person' ORDER BY ordinal_position").fetchall()
    finally:
        con.close()
    as_at, band, drivers, persons, need_rows, built = info[0]
    out.print(f"Spine as at {as_at}, band {band}, built {built:%Y-%m-%d %H:%M}: {persons:,} persons; "
              f"drivers: {drivers}")
    t = Table(title="spine.person columns")
    t.add_column("column")
    t.add_column("type")
    for c, ty in cols:
        t.add_row(c, ty)
    out.print(t)
