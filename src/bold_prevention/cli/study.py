"""``bold study``: list, show and run the shipped studies (or a study YAML file) and write their releases."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..project import Project
from .app import FormatOption, OverwriteOption, ProjectOption, Typer, app, console, out, user_errors
from .printing import Grid, show_document

study_app = Typer(help="Studies: the BOLD pilots' analyses as versioned definitions (list, show, run).",
                        no_args_is_help=True)
app.add_typer(study_app, name="study")

@study_app.command("list")
@user_errors
def list_cmd(fmt: str = FormatOption) -> None:
    """The shipped studies: name, version, title and question."""
    from ..studies.run import list_studies

    g = Grid("studies", "Studies")
    g.column("name").column("version").column("title").column("question").column("band") \
        .column("sensitivity bands")
    for s in list_studies():
        g.row(s.name, s.version, s.title, s.question, s.band, list(s.sensitivity_bands))
    g.show()


@study_app.command("show")
@user_errors
def show_cmd(name: str = typer.Argument(..., help="A shipped study's name or a study YAML file."),
             fmt: str = FormatOption) -> None:
    """A study's definition: population, sources (and how to load each), analyses, outputs and methods note."""
    from ..studies.run import load_study

    s = load_study(name)
    if show_document(s.model_dump(mode="json")):
        return
    out.print(f"[bold]{s.title}[/] ({s.name}, version {s.version})\n{s.question}\n")
    out.print(f"[bold]Population:[/] {s.population.description}")
    out.print(f"[bold]Band:[/] {s.band}; sensitivity: {', '.join(s.sensitivity_bands) or 'none'}\n")
    g = Grid("sources", "Sources")
    g.column("source").column("required").column("tables").column("used for").column("how to load")
    for src in s.sources:
        g.row(src.name, "yes" if src.required else "optional", ", ".join(src.tables + src.linked), src.used_for,
              src.load)
    g.show()
    g = Grid("analyses", "Analyses")
    g.column("analysis").column("kind").column("title")
    for a in s.analyses:
        g.row(a.name, a.kind, a.title)
    g.show()
    out.print(f"\n[bold]Methods[/]\n{s.methods_text()}\n\n[bold]Synthetic truth[/]\n{s.truth}")


@study_app.command("run")
@user_errors
def run_cmd(
    name: str = typer.Argument(..., help="A shipped study's name or a study YAML file."),
    band: str | None = typer.Option(None, "--band", help="Linkage band: high, medium or low (default: the "
                                    "study's)."),
    no_sensitivity: bool = typer.Option(False, "--no-sensitivity", help="Do not rerun at the sensitivity bands."),
    truth: Path | None = typer.Option(None, "--truth", help="Synthetic population folder: add the synthetic check "
                                      "(the true values and whether each interval holds them)."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR",
                                        help="Release folder (default <project>/outputs/study-NAME)."),
    overwrite: bool = OverwriteOption,
    fmt: str = FormatOption,
    project: Path | None = ProjectOption,
) -> None:
    """Run a study on the project's warehouse and write its disclosure-checked release."""
    from ..outputs.ledger import ReleaseLedger
    from ..studies.run import load_study, run_study, write_study_release
    from ..warehouse.engine import duckdb_connect

    spec = load_study(name)
    proj = Project.at(project)
    if not proj.warehouse_path.exists():
        raise InputError(f"no warehouse at {proj.warehouse_path}", hint="run `bold load` first, or pass --project")
    con = duckdb_connect(proj)
    try:
        with console.status(f"running study {name}"):
            run = run_study(con, proj, spec, band=band, bands=() if no_sensitivity else None, truth=truth)
    finally:
        con.close()
    folder = out_dir or proj.outputs_dir / f"study-{run.spec.name}"
    with console.status("writing the release (release-wide disclosure audit)"):
        paths = write_study_release(run, folder, ledger=ReleaseLedger.for_project(proj), overwrite=overwrite)
    res = run.result
    g = Grid("headlines", f"{run.spec.title} (band {res.band}): headline figures (published values)")
    g.column("figure").column("value", justify="right").column("lower", justify="right") \
        .column("upper", justify="right").column("units")
    if truth:
        g.column("synthetic truth", justify="right").column("within the interval")
    for h in res.headlines:
        g.row(h.label, h.value, h.lower if h.value is not None else None, h.upper if h.value is not None else None,
              h.units, *((h.truth, h.recovers_truth) if truth else ()))
    g.show()
    for n in res.not_available:
        out.print(f"[yellow]Not available:[/] {n}")
    out.print(f"Release: {paths.folder}", highlight=False)
