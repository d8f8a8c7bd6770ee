"""``bold outputs``: disclosure-check a table of counts from a file, and show the rule sets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..errors import InputError
from .app import Fmt, FormatOption, OverwriteOption, ProjectOption, Typer, app, console, out, user_errors
from .printing import Grid

outputs_app = Typer(help="Disclosure control (Safe Outputs): check tables and write reports.",
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


_TOTAL_LABELS = ("total", "all", "overall")


def _split_totals(df, count: str, rows: list[str], cols: list[str], source: str):
    """Drop the file's own total rows (a value such as 'Total' or 'All' in a row or column variable) after checking
    that each is the sum of its cells; a total that is not says which column and what it means."""
    import pandas as pd

    keys = rows + cols
    is_total = {k: df[k].astype(str).str.strip().str.lower().isin(_TOTAL_LABELS) for k in keys}
    any_total = pd.concat(is_total, axis=1).any(axis=1) if keys else pd.Series(False, index=df.index)
    if not any_total.any():
        return df
    cells = df[~any_total]
    for k in keys:
        others = [x for x in keys if x != k]
        tot = df[is_total[k] & ~pd.concat([is_total[o] for o in others], axis=1).any(axis=1)] if others \
            else df[is_total[k]]
        if tot.empty:
            continue
        sums = cells.groupby(others, observed=True)[count].sum() if others else pd.Series([cells[count].sum()])
        given = tot.set_index(others)[count] if others else tot[count].reset_index(drop=True)
        joined = pd.concat([given.rename("given"), sums.rename("sum")], axis=1).fillna(0)
        bad = joined[joined["given"] != joined["sum"]]
        if len(bad):
            more = (bad["given"] < bad["sum"]).any()
            raise InputError(
                f"{source}: the total rows of column {k!r} are not the sum of their cells in {len(bad)} place(s)"
                + (f" (the cells add up to more than the total: the same persons are counted in several {k!r} "
                   "categories)" if more else ""),
                hint=(f"if a person can fall in several {k!r} categories, pass --multi-response {k} so that no total "
                      f"across {k!r} is published; otherwise remove the total rows and let the check add them"))
    return cells


@outputs_app.command("check")
@user_errors
def check_cmd(
    table: Path = typer.Argument(..., help="An aggregated table (CSV, Parquet or XLSX): one row per cell."),
    count_column: str = typer.Option(..., "--count-column", help="Column holding the counts."),
    rows: str = typer.Option(..., "--rows", help="Row variable(s), comma-separated."),
    columns: str | None = typer.Option(None, "--columns", help="Column variable(s), comma-separated."),
    title: str | None = typer.Option(None, "--title", help="Table title (default: from the file name)."),
    profile: str = typer.Option("default", "--profile", help="Rule set: default, ons_10_5, ons_cell_key or opensafely, or a rules "
                                "YAML file."),
    threshold: int | None = typer.Option(None, "--threshold", help="Override the count threshold."),
    round_base: int | None = typer.Option(None, "--round", help="Override the rounding base (0: no rounding)."),
    no_totals: bool = typer.Option(False, "--no-totals", help="Publish the cells without row/column totals."),
    cell_key: str | None = typer.Option(None, "--cell-key", help="Column of cell keys (the sum of the records' keys "
                                        "0-255), for the cell-key profile (--profile ons_cell_key)."),
    multi_response: str | None = typer.Option(None, "--multi-response", help="A column variable whose categories "
                                              "are not a partition (a person can be in several): no total across "
                                              "it is published."),
    out_dir: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Folder to write: report.html, "
                                 "tables.xlsx and output-checking/ (results.json)."),
    overwrite: bool = OverwriteOption,
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
    row_vars = [r.strip() for r in rows.split(",") if r.strip()]
    col_vars = [c.strip() for c in columns.split(",") if c.strip()] if columns else []
    missing = [c for c in [count_column, *row_vars, *col_vars, *([cell_key] if cell_key else [])]
               if c not in df.columns]
    if missing:
        raise InputError(f"{table.name}: column(s) {', '.join(map(repr, missing))} not found",
                         hint=f"the file's columns are: {', '.join(map(str, df.columns[:30]))}")
    df = _split_totals(df, count_column, row_vars, col_vars, table.name)
    margins: bool | str = not no_totals
    measure: list[str] = []
    if multi_response:
        if multi_response in row_vars and not no_totals:
            margins = "column"
        elif multi_response in col_vars and not no_totals:
            margins = "row"
        elif not no_totals:
            raise InputError(f"--multi-response {multi_response!r} is not one of the row or column variables",
                             hint="name a variable passed to --rows or --columns")
        measure = [multi_response]
    checked = check_counts(df, count_column, row_vars, col_vars or None, title=name, rules=rules, margins=margins,
                           source=table.name, measure_dims=measure, population=f"file:{table.name}",
                           cell_key=cell_key)
    paths = write_release([checked], out_dir, title=name, source=table.name, overwrite=overwrite,
                          command=f"bold outputs check {table.name}")
    console.print(f"[bold]{escape(checked.title)}[/]: {escape(checked.public_summary())}")
    for r in checked.review:
        console.print(f"[yellow]Review:[/] {escape(r)}")
    out.print(f"report:          {paths.report}")
    out.print(f"spreadsheet:     {paths.spreadsheet}")
    out.print(f"output checking: {paths.checking / 'results.json'}")


@outputs_app.command("ledger")
@user_errors
def ledger_cmd(project: Path | None = ProjectOption, fmt: Fmt = FormatOption) -> None:
    """List the project's releases recorded in its ledger: what each published, for the output checker."""
    from ..outputs.ledger import ReleaseLedger
    from ..project import Project

    ledger = ReleaseLedger.for_project(Project.at(project))
    entries = ledger.entries()
    if not entries:
        console.print(f"No release recorded yet in {ledger.folder}.")
        if fmt == "table":
            return
    t = Grid("releases", f"Releases in {ledger.folder}")
    t.column("no.").column("release", fmt=escape).column("command", fmt=escape).column("created")
    t.column("cells published").column("cells suppressed").column("folder", fmt=escape)
    for e in entries:
        cells = e.system().cells
        pub = sum(c.status == "published" for c in cells)
        t.row(e.number, e.name, e.command, e.created, pub, len(cells) - pub, e.folder)
    t.show()


@outputs_app.command("rules")
@user_errors
def rules_cmd(
    profile: str | None = typer.Argument(None, help="Show one profile (or a rules YAML file) in full."),
    fmt: Fmt = FormatOption,
) -> None:
    """List the disclosure-control rule sets, or show one in full."""
    from ..outputs import PROFILES, get_rules
    if profile is None:
        t = Grid("profiles", "Disclosure-control profiles")
        for c in ("profile", "threshold", "zeros", "round to", "N-k", "p-ratio", "survival at risk", "model dof"):
            t.column(c)
        for name, rs in PROFILES.items():
            t.row(name, rs.threshold, "suppressed" if rs.zeros_disclosive else "shown", rs.round_base,
                  f"n={rs.nk_n}, k={rs.nk_k:g}", rs.p_ratio, rs.survival_min_at_risk, rs.model_min_dof)
        t.show()
        return
    rs = get_rules(profile)
    for line in rs.describe():
        out.print(line)
    t = Grid("rules", f"Rule set {profile}")
    t.column("rule").column("value", fmt=str)
    for k, v in rs.as_dict().items():
        t.row(k, v)
    if fmt == "table":
        for k, v in rs.as_dict().items():
            out.print(f"  {k}: {v}")
    else:
        t.show()
