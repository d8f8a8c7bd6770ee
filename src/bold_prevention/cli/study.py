"""``bold study``: list, show and run the shipped studies (or a study YAML file) and write their releases."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ..errors import InputError
from ..project import Project
from .app import OverwriteOption, ProjectOption, Typer, app, console, out, user_errors

study_app = Typer(help="Studies: the BOLD pilots' analyses as versioned definitions (list, show, run).",
                        no_args_is_help=True)
app.add_typer(study_app, name="study")

FormatOption = typer.Option("table", "--format", "-f", help="table (default) or json.")


def _format(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise InputError(f"unknown format {fmt!r}", hint="use --format table or --format json")
    return fmt


@study_app.command("list")
@user_errors
def list_cmd(fmt: str = FormatOption) -> None:
    """The shipped studies: name, version, title and question."""
    from ..studies.run import list_studies

    specs = list_studies()
    if _format(fmt) == "json":
        out.print_json(json.dumps([{"name": s.name, "version": s.version, "title": s.title, "question": s.question,
                                    "band": s.band, "sensitivity_bands": s.sensitivity_bands} for s in specs]))
        return
    t = Table(title="Studies")
    for c in ("name", "version", "title", "question"):
        t.add_column(c)
    for s in specs:
        t.add_row(s.name, str(s.version), s.title, s.question)
    out.print(t)


@study_app.command("show")
@user_errors
def show_cmd(name: str = typer.Argument(..., help="A shipped study's name or a study YAML file."),
             fmt: str = FormatOption) -> None:
    """A study's definition: population, sources (and how to load each), analyses, outputs and methods note."""
    from ..studies.run import load_study

    s = load_study(name)
    if _format(fmt) == "json":
        out.print_json(json.dumps(s.model_dump(mode="json")))
        return
    out.print(f"[bold]{s.title}[/] ({s.name}, version {s.version})\n{s.question}\n")
    out.print(f"[bold]Population:[/] {s.population.description}")
    out.print(f"[bold]Band:[/] {s.band}; sensitivity: {', '.join(s.sensitivity_bands) or 'none'}\n")
    t = Table(title="Sources")
    for c in ("source", "required", "tables", "used for", "how to load"):
        t.add_column(c)
    for src in s.sources:
        t.add_row(src.name, "yes" if src.required else "optional", ", ".join(src.tables + src.linked),
                  src.used_for, src.load)
    out.print(t)
    t = Table(title="Analyses")
    for c in ("analysis", "kind", "title"):
        t.add_column(c)
    for a in s.analyses:
        t.add_row(a.name, a.kind, a.title)
    out.print(t)
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

    _format(fmt)
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
    if fmt == "json":
        out.print_json(json.dumps({
            "study": run.spec.name, "version": run.spec.version, "band": res.band, "release": str(paths.folder),
            "headlines": [{"name": h.name, "label": h.label, "value": h.value, "lower": h.lower, "upper": h.upper,
                           "units": h.units, **({"truth": h.truth, "recovers_truth": h.recovers_truth}
                                                if h.truth is not None else {})} for h in res.headlines],
            "not_available": res.not_available}))
        return
    t = Table(title=f"{run.spec.title} (band {res.band}): headline figures (published values)")
    for c, j in (("figure", "left"), ("value", "right"), ("interval", "right")) + (
            (("synthetic truth", "right"),) if truth else ()):
        t.add_column(c, justify=j)
    for h in res.headlines:
        iv = f"{h.lower:,.1f} to {h.upper:,.1f}" if h.value is not None and h.lower is not None else ""
        t.add_row(h.label, "withheld" if h.value is None else f"{h.value:,.1f} {h.units}", iv,
                  *([("" if h.truth is None else f"{h.truth:,.1f}"
                      + ("" if h.recovers_truth is None else (" (in)" if h.recovers_truth else " (out)")))]
                    if truth else []))
    out.print(t)
    for n in res.not_available:
        out.print(f"[yellow]Not available:[/] {n}")
    out.print(f"Release: {paths.folder}")
