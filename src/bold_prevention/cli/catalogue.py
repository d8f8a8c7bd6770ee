"""``bold catalogue``: load the Data First ODS catalogues, write them for synthetic data, search and export."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..project import Project
from .app import Fmt, FormatOption, OverwriteOption, ProjectOption, Typer, app, console, out, user_errors
from .printing import Grid

catalogue_app = Typer(help="Data First catalogues: load the ODS files, search variables, export.",
                            no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")


@catalogue_app.command("load")
@user_errors
def load_cmd(
    paths: list[Path] = typer.Argument(..., help="Catalogue .ods files, or folders holding them."),
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Read Data First catalogues and store them in the project's warehouse (all or nothing)."""
    from ..catalogue.reader import expand_paths, read_catalogue, read_catalogues
    from ..catalogue.store import store_catalogue
    proj = Project.at(project)
    files = expand_paths(paths)
    with console.status("reading catalogues") as status:
        for i, f in enumerate(files, start=1):
            status.update(f"checking {f.name} ({i}/{len(files)})")
            read_catalogue(f)  # fail early, naming the file, before anything is stored
        status.update("normalising")
        catalogue = read_catalogues(files)
        status.update(f"storing in {proj.warehouse_path}")
        counts = store_catalogue(proj, catalogue)
    t = Grid("datasets", f"Catalogue stored in {proj.warehouse_path}")
    for c in ("dataset", "file", "sheets", "variables", "codes"):
        t.column(c)
    v = catalogue.variables
    for ds in sorted(counts):
        rows = v[v["dataset"] == ds]
        codes = catalogue.code_lists[catalogue.code_lists["dataset"] == ds]
        t.row(ds, ", ".join(sorted(rows["source_file"].unique())), ", ".join(sorted(rows["sheet"].unique())),
              int(counts[ds]), len(codes))
    t.show()
    routine = [s for s in catalogue.skipped_sheets if s[2].startswith("cover")]
    if routine:
        console.print(f"[dim]Skipped {len(routine)} cover, contents and notes sheets.[/]")
    for f, s, why in catalogue.skipped_sheets:
        if not why.startswith("cover"):
            console.print(f"[yellow]Skipped {f}, sheet {s!r}: {why}.[/]")


@catalogue_app.command("write-synthetic")
@user_errors
def write_synthetic_cmd(
    out_dir: Path = typer.Argument(..., help="Folder to write the eight catalogue files into."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Write the eight Data First catalogues (published file names and layouts) for the synthetic data."""
    from ..catalogue.writer import write_synthetic_catalogues
    paths = write_synthetic_catalogues(out_dir, overwrite=overwrite)
    for p in paths:
        out.print(f"wrote {p}")
    console.print(f"[green]{len(paths)} catalogues written.[/] Load them with "
                  f"`bold catalogue load {out_dir}`.")


def _short(values: str, width: int = 60) -> str:
    one = "; ".join(x.strip() for x in (values or "").splitlines() if x.strip())
    return one if len(one) <= width else one[: width - 1] + "…"


@catalogue_app.command("search")
@user_errors
def search_cmd(
    query: str = typer.Argument("", help="Words to search for (may be empty with --driver or --outcome)."),
    driver: str | None = typer.Option(None, "--driver", "-d", help="Expand the query with a driver's vocabulary."),
    outcome: str | None = typer.Option(None, "--outcome", help="Expand with an outcome's vocabulary."),
    dataset: str | None = typer.Option(None, "--dataset", help="Only variables of this dataset."),
    limit: int = typer.Option(20, "--limit", help="How many variables to show."),
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Ranked catalogue variables for a query, a driver or an outcome."""
    from ..catalogue.search import CatalogueIndex
    from ..catalogue.store import read_stored
    index = CatalogueIndex(read_stored(project).variables)
    hits = index.search(query, driver=driver, outcome=outcome, dataset=dataset, limit=limit)
    title = " + ".join(x for x in (repr(query) if query else "", f"driver {driver}" if driver else "",
                                   f"outcome {outcome}" if outcome else "") if x)
    if not hits:
        console.print(f"No catalogue variables match {title}.")
    t = Grid("variables", f"Catalogue search: {title}")
    t.column("rank").column("score", fmt=lambda v: f"{v:.2f}").column("dataset").column("table")
    t.column("variable", style="bold").column("description").column("values", fmt=_short)
    for h in hits:
        t.row(h.rank, float(h.score), h.dataset, h.table_name, h.variable, h.description, h.values)
    if hits or fmt != "table":  # an empty table still parses
        t.show()


@catalogue_app.command("export")
@user_errors
def export_cmd(
    out_path: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="CSV file to write."),
    code_lists: bool = typer.Option(False, "--code-lists", help="Export the code lists instead of the variables."),
    project: Path | None = ProjectOption,
) -> None:
    """Export the stored catalogue (variables, or code lists) as CSV."""
    from ..catalogue.store import export_csv, read_stored
    if out_path.suffix.lower() != ".csv":
        raise InputError(f"{out_path} does not end in .csv", hint="give an output name ending .csv")
    catalogue = read_stored(project)
    export_csv(catalogue, out_path, what="code_lists" if code_lists else "variables")
    n = len(catalogue.code_lists) if code_lists else len(catalogue.variables)
    out.print(f"wrote {n} rows to {out_path}")
