"""``bold register``: validate the risk factor register against the catalogues, export it, suggest variables."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from .app import Fmt, FormatOption, ProjectOption, Typer, app, console, out, user_errors
from .printing import Grid

register_app = Typer(help="The risk factor register: validate, export, suggest.", no_args_is_help=True)
app.add_typer(register_app, name="register")

RegisterOption = typer.Option(None, "--register", metavar="FILE",
                              help="Register YAML file (default: the register shipped with the toolkit).")


@register_app.command("validate")
@user_errors
def validate_cmd(project: Path | None = ProjectOption, register: Path | None = RegisterOption,
                 fmt: Fmt = FormatOption) -> None:
    """Check every register variable exists in the loaded catalogues (exit 1 if any is missing)."""
    from ..catalogue.store import read_stored
    from ..register import load_register, validate
    reg = load_register(register)
    report = validate(reg, read_stored(project))
    if report.findings or fmt != "table":
        t = Grid("findings", "Register variables to check against the loaded catalogues")
        t.column("entry").column("variable").column("used in")
        t.column("problem", fmt=lambda v: f"[{'yellow' if v == 'description_differs' else 'red'}]{v}[/]")
        t.column("nearest in catalogue")
        for f in report.findings:
            t.row(f.entry, f"{f.table}.{f.variable}", f.used_in, f.problem,
                  ", ".join(f.nearest) if f.nearest else (f.detail if f.problem == "description_differs" else ""))
        t.show()
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
    file_format: str | None = typer.Option(None, "--file-format", "--format", metavar="csv|xlsx",
                                           help="csv (the Step A register) or xlsx (GSS spreadsheet); default: "
                                                "from the --out name's ending, else csv. (--format is kept for "
                                                "this export, which prints no table.)"),
    out_path: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="File to write."),
    register: Path | None = RegisterOption,
) -> None:
    """Export the register as the Step A CSV or an accessible XLSX workbook."""
    from ..register import export, load_register
    fmt = (file_format or ("xlsx" if out_path.suffix.lower() == ".xlsx" else "csv")).lower()
    if fmt not in ("csv", "xlsx"):
        raise InputError(f"unknown format {fmt!r}", hint="use --file-format csv or --file-format xlsx")
    reg = load_register(register)
    path = export(reg, out_path, format=fmt)
    out.print(f"wrote the register ({len(reg.entries)} entries, version {reg.version}) to {path}")


@register_app.command("suggest")
@user_errors
def suggest_cmd(
    driver: str | None = typer.Option(None, "--driver", "-d", help="Driver (or register entry) to suggest for."),
    outcome: str | None = typer.Option(None, "--outcome", help="Outcome to suggest for."),
    limit: int = typer.Option(20, "--limit", help="How many variables to show."),
    project: Path | None = ProjectOption,
    register: Path | None = RegisterOption,
    fmt: Fmt = FormatOption,
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
        console.print(f"No further catalogue variables match the {entry_id} vocabulary.")
    t = Grid("suggestions", f"Suggested variables for {entry_id} (not yet in the register)")
    t.column("rank").column("score", fmt=lambda v: f"{v:.2f}").column("dataset").column("table")
    t.column("variable").column("description")
    for h in hits:
        t.row(h.rank, float(h.score), h.dataset, h.table_name, h.variable, h.description)
    if hits or fmt != "table":
        t.show()
