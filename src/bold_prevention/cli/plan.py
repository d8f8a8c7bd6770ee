"""``bold plan cost``: time and memory per stage for a target size, the whole run's time, and which engine and
machine to use."""

from __future__ import annotations

from pathlib import Path

import typer

from ..project import Project
from .app import FormatOption, ProjectOption, app, console, out, user_errors
from .printing import Grid, show_document

plan_app = typer.Typer(help="Plan a run before making it: cost estimates from the benchmark curves.",
                       no_args_is_help=True)
app.add_typer(plan_app, name="plan")


@plan_app.command("cost")
@user_errors
def cost_cmd(
    persons: int = typer.Option(..., "--persons", "-n", min=1, help="Population size to plan for."),
    engine: str = typer.Option("duckdb", "--engine", "-e", metavar="ENGINE", help="duckdb or spark."),
    stages: str | None = typer.Option(None, "--stages", metavar="LIST",
                                      help="Stages to estimate, comma-separated (default: those of `bold demo`; "
                                           "add link for the justice dedupe)."),
    chunks: int | None = typer.Option(None, "--chunks", min=1,
                                      help="Score the linkage in N x N chunks (default: the fewest that fit)."),
    curves: Path | None = typer.Option(None, "--curves", metavar="FILE",
                                       help="Measured points of your own (the shape of the shipped cost_curves.yaml)."),
    memory_gb: float | None = typer.Option(None, "--memory-gb", help="Memory of the machine to run on (default: "
                                                                     "this machine's)."),
    fmt: str = FormatOption,
    project: Path | None = ProjectOption,
) -> None:
    """Predict each stage's time and peak memory at --persons and the whole run's time, and advise on engine and
    machine size. Linkage follows the candidate pairs its blocking rules make at that size; with a project whose
    justice records were linked (the pipeline's link stage), the pairs are counted on its own records."""
    from ..planning.cost import estimate, load_curves, pair_sample

    samples = None
    chosen = [s.strip().replace("-", "_") for s in stages.split(",") if s.strip()] if stages else None
    proj = Project.at(project)
    if (chosen is None or "link" in chosen) and proj.warehouse_path.exists():
        from ..warehouse.engine import duckdb_connect, table_exists

        con = duckdb_connect(proj, read_only=True)
        try:
            if table_exists(con, "linkage", "justice_standardised") and table_exists(con, "linkage",
                                                                                      "justice_clusters"):
                console.print("counting candidate pairs on the project's linked records ...", highlight=False)
                samples = pair_sample(con, "(SELECT s.*, c.cluster_medium FROM linkage.justice_standardised s "
                                           "JOIN linkage.justice_clusters c ON c.record_id = s.unique_id) AS records",
                                      person="cluster_medium")
        finally:
            con.close()
    est = estimate(persons, engine=engine.lower(), stages=chosen, curves=load_curves(curves) if curves else None,
                   machine_gb=memory_gb, chunks=chunks, pair_samples=samples)
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
