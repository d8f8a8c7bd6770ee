"""``bold outputs``: disclosure-check a table of counts from a file, and show the rule sets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from .app import app, console, out, user_errors

outputs_app = typer.Typer(help="Disclosure control (Safe Outputs): check tables and write reports.",
                          no_args_is_help=True)
app.add_typer(outputs_app, name="outputs")


def _read_table(path: Path):
    import pandas as pd

    if not path.exists():
        raise InputError(f"table file {path} not found", hint="check the path")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, sep=None, engine="python")
        if suffix == ".xlsx":
            return pd.read_excel(path)
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise InputError(f"cannot read {path}: {e}", hint="pass a CSV, Parquet or XLSX file with a header row") from e
    raise InputError(f"table file {path} has an unsupported type {suffix!r}", hint="use .csv, .parquet or .xlsx")


@outputs_app.command("check")
@user_errors
def check_cmd(
    table: Path = typer.Argument(..., help="An aggregated table (CSV, Parquet or XLSX): one row per cell."),
    count_column: str = typer.Option(..., "--count-column", "-n", help="Column holding the counts."),
    rows: str = typer.Option(..., "--rows", "-r", help="Row variable(s), comma-separated."),
    columns: str | None = typer.Option(None, "--columns", "-c", help="Column variable(s), comma-separated."),
    title: str | None = typer.Option(None, "--title", help="Table title (default: from the file name)."),
    profile: str = typer.Option("default", "--profile", help="Rule set: default, ons_10_5 or opensafely, or a rules "
                                "YAML file."),
    threshold: int | None = typer.Option(None, "--threshold", help="Override the count threshold."),
    round_base: int | None = typer.Option(None, "--round", help="Override the rounding base (0: no rounding)."),
    no_totals: bool = typer.Option(False, "--no-totals", help="Publish the cells without row/column totals."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write: report.html, tables.xlsx and "
                                 "output-checking/ (results.json)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output folder if it exists."),
) -> None:
    """Check a table of counts against the disclosure rules and write the report, spreadsheet and checker files."""
    from ..outputs import check_counts, get_rules, write_release
    overrides: dict[str, object] = {}
    if threshold is not None:
        overrides["threshold"] = threshold
    if round_base is not None:
        overrides["round_base"] = round_base or None
    rules = get_rules(profile, **overrides)
    df = _read_table(table)
    name = title or table.stem.replace("_", " ").capitalize()
    checked = check_counts(df, count_column, [r.strip() for r in rows.split(",") if r.strip()],
                           [c.strip() for c in columns.split(",") if c.strip()] if columns else None,
                           title=name, rules=rules, margins=not no_totals, source=table.name)
    paths = write_release([checked], out_dir, title=name, source=table.name, overwrite=overwrite,
                          command=f"bold outputs check {table.name}")
    console.print(f"[bold]{escape(checked.title)}[/]: {escape(checked.public_summary())}")
    for r in checked.review:
        console.print(f"[yellow]Review:[/] {escape(r)}")
    out.print(f"report:          {paths.report}")
    out.print(f"spreadsheet:     {paths.spreadsheet}")
    out.print(f"output checking: {paths.checking / 'results.json'}")


@outputs_app.command("rules")
@user_errors
def rules_cmd(
    profile: str | None = typer.Argument(None, help="Show one profile (or a rules YAML file) in full."),
) -> None:
    """List the disclosure-control rule sets, or show one in full."""
    from ..outputs import PROFILES, get_rules
    if profile is None:
        t = Table("profile", "threshold", "zeros", "round to", "N-k", "p-ratio", "survival at risk", "model dof",
                  title="Disclosure-control profiles")
        for name, rs in PROFILES.items():
            t.add_row(name, str(rs.threshold), "suppressed" if rs.zeros_disclosive else "shown",
                      str(rs.round_base or "-"), f"n={rs.nk_n}, k={rs.nk_k:g}", f"{rs.p_ratio:g}",
                      str(rs.survival_min_at_risk), str(rs.model_min_dof))
        out.print(t)
        return
    rs = get_rules(profile)
    for line in rs.describe():
        out.print(line)
    for k, v in rs.as_dict().items():
        out.print(f"  {k}: {v}")
