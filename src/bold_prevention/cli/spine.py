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
    rekey: bool = typer.Option(False, "--rekey", help="Accept a pseudonymisation key other than the one this "
                               "project was built with: first drop everything built under the old key (spine, "
                               "person records, timelines, cohorts, results, early-warning models)."),
    project: Path | None = ProjectOption,
) -> None:
    """Build spine.person (one row per linked person as at the date) and spine.person_need.

    Person records are rebuilt when the loaded extracts' content, the band or the key changed. Needs whose
    variables are missing or empty in the loaded extract are NULL (not measured), never "no need"."""
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
                              rekey=rekey, progress=lambda m: status.update(m))
    finally:
        con.close()
    if res.dropped:
        out.print(f"[yellow]Re-keyed:[/] dropped {len(res.dropped)} tables and folders built under the old key "
                  f"({', '.join(res.dropped[:8])}{' ...' if len(res.dropped) > 8 else ''})")
    out.print(f"[bold]spine.person[/] as at {res.as_at.isoformat()}, band {res.band}: "
              f"{res.persons:,} persons, {res.needs_rows:,} person-driver need rows, "
              f"drivers {', '.join(res.drivers)} ({res.seconds:.1f} s)")
    for line in unmeasured_lines(res.unmeasured):
        out.print(f"[yellow]Not measured:[/] {line}", highlight=False)
    if res.unmeasured:
        out.print("These persons have need_<driver> NULL (not measured), not \"no need\"; cohorts that read these "
                  "drivers are refused unless --allow-unmeasured. Load the variables and rebuild to measure them.",
                  highlight=False)
    console.print("Internal to the warehouse; take figures away with `bold cohort profile --out` or "
                  "`bold places prevalence --out` (disclosure-checked).")


def unmeasured_lines(gaps) -> list[str]:
    """One line per unmeasured driver and dataset (from :func:`bold_prevention.spine.build.unmeasured_needs`)."""
    return [f"{g['driver']} in {g['dataset']}: {g['persons']:,} persons ({g['reason']})" for g in gaps]


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
        names = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                           "'spine' AND table_name = 'spine_info' ORDER BY ordinal_position"
                                           ).fetchall()]
        from ..spine.build import unmeasured_needs

        gaps = unmeasured_needs(con)
    finally:
        con.close()
    row = dict(zip(names, info[0], strict=True))
    built = row["built_at"]
    out.print(f"Spine as at {row['as_at_date']}, band {row['band']}, built {built:%Y-%m-%d %H:%M}: "
              f"{row['persons']:,} persons; drivers: {row['drivers']}")
    if row.get("inputs_digest"):
        out.print(f"Built from: extracts {row['inputs_digest'][:12]}, register {row['register_digest'][:12]}, "
                  f"key fingerprint {row['key_fingerprint']}", highlight=False)
    for line in unmeasured_lines(gaps):
        out.print(f"[yellow]Not measured:[/] {line}", highlight=False)
    t = Table(title="spine.person columns")
    t.add_column("column")
    t.add_column("type")
    for c, ty in cols:
        t.add_row(c, ty)
    out.print(t)
