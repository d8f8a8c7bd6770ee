"""``bold sensitivity``: cohort profiles and place prevalence at the three linkage bands, as one checked release."""

from __future__ import annotations

from pathlib import Path

import typer

from ..project import Project
from .app import Fmt, FormatOption, OverwriteOption, ProjectOption, app, console, out, user_errors
from .printing import Grid

DEFAULT_COHORTS = ["multiple_disadvantage", "young_adults_cusp", "prison_leavers_nfa"]


@app.command("sensitivity")
@user_errors
def sensitivity_cmd(
    out_dir: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Where to write the checked release."),
    cohort: list[str] = typer.Option(None, "--cohort", metavar="NAME",
                                     help="A cohort to build at each band (repeat the option; default: "
                                          + ", ".join(DEFAULT_COHORTS) + ")."),
    places: bool = typer.Option(True, "--places/--no-places", help="Include needs prevalence by place."),
    bands: str = typer.Option("high,medium,low", "--bands", metavar="LIST", help="Linkage bands, comma-separated."),
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Compute the cohorts and place tables at each linkage band and publish them side by side with the
    differences explained. An up-to-date spine is used as it stands for its own band and the spine is built at the
    other bands (persons whose records are the same as at the current band are carried over, not recomputed); the
    project ends with the spine at the band it had."""
    from ..cohorts.release import write_checked_release
    from ..outputs.ledger import ReleaseLedger
    from ..planning.sensitivity import band_sensitivity
    from ..warehouse.engine import duckdb_connect

    proj = Project.at(project)
    names = list(cohort or DEFAULT_COHORTS)
    con = duckdb_connect(proj)
    try:
        res = band_sensitivity(con, names, places=places, bands=tuple(b.strip() for b in bands.split(",") if b.strip()),
                               progress=lambda m: console.print(f"[dim]{m}[/]", highlight=False))
        folder = write_checked_release(res.outputs, out_dir, title="Sensitivity to linkage: the three bands",
                                       texts=res.texts, overwrite=overwrite,
                                       command="bold sensitivity", ledger=ReleaseLedger.for_project(proj))
    finally:
        con.close()
    g = Grid("cohorts", "Published persons per cohort and band")
    g.column("cohort")
    for b in res.bands:
        g.column(f"{b} band", justify="right", fmt=lambda v: "[c]" if v is None else f"{v:,.0f}")
    for c, by in res.published.items():
        g.row(c, *[by.get(b) for b in res.bands])
    g.show()
    out.print(f"Release: {folder}", highlight=False)
