"""``bold plan cost``: time and memory per stage for a target size, and which engine and machine to use."""

from __future__ import annotations

from pathlib import Path

import typer

from ..project import Project
from .app import FormatOption, ProjectOption, app, out, user_errors
from .printing import Grid, show_document

plan_app = typer.Typer(help="Plan a run before making it: cost estimates from the benchmark curves.",
                       no_args_is_help=True)
app.add_typer(plan_app, name="plan")


@plan_app.command("cost")
@user_errors
def cost_cmd(
    persons: int = typer.Option(..., "--persons", "-n", min=1, help="Population size to plan for."),
    engine: str = typer.Option("duckdb", "--engine", "-e", metavar="ENGINE", help="duckdb or spark."),
    curves: Path | None = typer.Option(None, "--curves", metavar="FILE",
                                       help="Measured points of your own (the shape of the shipped cost_curves.yaml)."),
    memory_gb: float | None = typer.Option(None, "--memory-gb", help="Memory of the machine to run on (default: "
                                                                     "this machine's)."),
    fmt: str = FormatOption,
    project: Path | None = ProjectOption,
) -> None:
    """Predict each stage's time and peak memory at --persons, and advise on engine and machine size. With a
    loaded project, linkage is scaled by its own candidate pairs per record."""
    from ..planning.cost import estimate, load_curves, project_blocking_ratio

    ratio = None
    proj = Project.at(project)
    if proj.warehouse_path.exists():
        from ..warehouse.engine import duckdb_connect

        con = duckdb_connect(proj, read_only=True)
        try:
            ratio = project_blocking_ratio(con)
        finally:
            con.close()
    est = estimate(persons, engine=engine.lower(), curves=load_curves(curves) if curves else None,
                   blocking_ratio=ratio, machine_gb=memory_gb)
    if show_document(est.to_dict()):
        return
    g = Grid("stages", f"Estimated cost of a run at {persons:,} persons ({est.engine})")
    g.column("stage").column("engine").column("seconds", justify="right").column("peak GB", justify="right") \
        .column("basis").column("note")
    for s in est.stages:
        g.row(s.stage, s.engine, round(s.seconds, 1), round(s.peak_gb, 2),
              "extrapolated" if s.extrapolated else "interpolated", s.note or "")
    g.show()
    out.print(f"Total about {est.seconds / 60:.1f} minutes; peak about {est.peak_gb:.1f} GB.", highlight=False)
    out.print(f"[bold]Advice:[/] {est.advice}", highlight=False)
    for n in est.notes:
        out.print(f"[yellow]Note:[/] {n}", highlight=False)
