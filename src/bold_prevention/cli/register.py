"""``bold register``: validate the risk factor register against the catalogues, export it, suggest variables."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import InputError
from .app import ProjectOption, app, console, out, user_errors

register_app = typer.Typer(help="The risk factor register: validate, export, suggest.", no_args_is_help=True)
app.add_typer(register_app, name="register")

RegisterOption = typer.Option(None, "--register", "-r",
                              help="Register YAML file (default: the register shipped with the toolkit).")


@register_app.command("validate")
@user_errors
def validate_cmd(project: Path | None = ProjectOption, register: Path | None = RegisterOption) -> None:
    """Check every register variable exists in the loaded catalogues (exit 1 if any is missing)."""
    from ..catalogue.store import read_stored
    from ..register import load_register, validate
    reg = load_register(register)
    report = validate(reg, read_stored(project))
    if report.findings:
        t = Table(title="Register variables to check against the loaded catalogues")
        for c in ("entry", "variable", "used in", "problem", "nearest in catalogue"):
            t.add_column(c, overflow="fold")
        for f in report.findings:
            style = "yellow" if f.problem == "description_differs" else "red"
            t.add_row(f.entry, f"{f.table}.{f.variable}", f.used_in, f"[{style}]{f.problem}[/]",
                      ", ".join(f.nearest) if f.nearest else (f.detail if f.problem == "description_differs" else ""))
        out.print(t)
    if report.not_checked:
        console.print(f"[dim]Not checked (no Data First catalogue): {', '.join(report.not_checked)}[/]")
    n_missing, n_warn = len(report.missing), len(report.warnings)
    summary = (f"register {reg.version}: {report.checked} variable references checked, {n_missing} missing, "
               f"{n_warn} with a different description")
    if report.ok:
        console.print(f"[green]OK[/] {summary}")
        return
    console.print(f"[red]Problems[/] {summary}")
    raise typer.Exit(1)


@register_app.command("export")
@user_errors
def export_cmd(
    fmt: str = typer.Option("csv", "--format", "-f", help="csv (the Step A register) or xlsx (GSS spreadsheet)."),
    out_path: Path = typer.Option(..., "--out", help="File to write."),
    register: Path | None = RegisterOption,
) -> None:
    """Export the register as the Step A CSV or an accessible XLSX workbook."""
    from ..register import export, load_register
    fmt = fmt.lower()
    if fmt not in ("csv", "xlsx"):
        raise InputError(f"unknown format {fmt!r}", hint="use --format csv or --format xlsx")
    reg = load_register(register)
    path = export(reg, out_path, format=fmt)
    out.print(f"wrote the register ({len(reg.entries)} entries, version {reg.version}) to {path}")


@register_app.command("suggest")
@user_errors
def suggest_cmd(
    driver: str | None = typer.Option(None, "--driver", "-d", help="Driver (or register entry) to suggest for."),
    outcome: str | None = typer.Option(None, "--outcome", "-o", help="Outcome to suggest for."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many variables to show."),
    project: Path | None = ProjectOption,
    register: Path | None = RegisterOption,
) -> None:
    """Catalogue variables that match a driver's vocabulary but are not yet in its register entry."""
    from ..catalogue.search import CatalogueIndex
    from ..catalogue.store import read_stored
    from ..register import load_register, suggest
    if bool(driver) == bool(outcome):
        raise InputError("give one of --driver or --outcome", hint="for example: bold register suggest --driver "
                         "accommodation")
    reg = load_register(register)
    entry_id = driver or outcome
    hits = suggest(reg, entry_id, CatalogueIndex(read_stored(project).variables), limit=limit)
    if not hits:
        out.print(f"No further catalogue variables match the {entry_id} vocabulary.")
        return
    t = Table(title=f"Suggested variables for {entry_id} (not yet in the register)")
    for c, j in (("#", "right"), ("score", "right"), ("dataset", "left"), ("table", "left"),
                 ("variable", "left"), ("description", "left")):
        t.add_column(c, justify=j, overflow="fold")
    for h in hits:
        t.add_row(str(h.rank), f"{h.score:.2f}", h.dataset, h.table_name, h.variable, h.description)
    out.print(t)
