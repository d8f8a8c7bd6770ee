"""``bold usecase``: from a use-case question to a use-case file, its feasibility plan, and its release."""

from __future__ import annotations

from pathlib import Path

import typer

from ..project import Project
from .app import Fmt, FormatOption, OverwriteOption, ProjectOption, Typer, app, out, user_errors
from .printing import Grid, show_document

usecase_app = Typer(help="Step A use cases: propose from a question (new), check feasibility on the loaded "
                               "project (plan), build and publish (run).", no_args_is_help=True)
app.add_typer(usecase_app, name="usecase")


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def _con(project: Path | None, *, read_only: bool = True):
    from ..warehouse.engine import duckdb_connect

    return duckdb_connect(Project.at(project), read_only=read_only)


@usecase_app.command("new")
@user_errors
def new_cmd(
    question: str = typer.Argument(..., help="The use-case question in words, in quotes."),
    out_file: Path | None = typer.Option(None, "--out", "-o", metavar="FILE",
                                         help="Where to write the use-case file (default: <name>.yaml here)."),
    name: str | None = typer.Option(None, "--name", help="The use case's name (default: from the question)."),
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Propose drivers, outcomes, measures and catalogue variables from QUESTION and write a use-case file to edit."""
    from ..planning import propose, write_use_case

    index = None
    proj = Project.at(project)
    if proj.warehouse_path.exists():
        from ..catalogue.search import as_index
        from ..errors import InputError

        try:
            index = as_index(project=proj)
        except InputError:
            index = None  # no catalogue loaded: propose from the register alone
    p = propose(question, name=name, catalogue=index)
    path = write_use_case(p.use_case, out_file or Path(f"{p.use_case.name}.yaml"), proposal=p, overwrite=overwrite)
    g = Grid("proposal", f"Use case {p.use_case.name}: written to {path}")
    g.column("kind").column("entry").column("matched on")
    for kind, ms in (("driver", p.drivers), ("outcome", p.outcomes)):
        for m in ms:
            g.row(kind, m.key, ", ".join(m.words))
    if p.cohort:
        g.row("cohort", p.cohort.key, ", ".join(p.cohort.words))
    g.show()
    for n in p.notes:
        out.print(f"[yellow]Note:[/] {n}", highlight=False)
    out.print(f"Next: edit {path}, then `bold usecase plan {path}`.", highlight=False)


@usecase_app.command("plan")
@user_errors
def plan_cmd(
    file: Path = typer.Argument(..., metavar="FILE", help="A use-case file (bold usecase new writes one)."),
    fmt: Fmt = FormatOption,
    project: Path | None = ProjectOption,
) -> None:
    """Each measure's coverage, missingness, link rate and band mix, register changes and wave needs, measured on
    the loaded project."""
    from ..planning import load_use_case, plan

    uc = load_use_case(file)
    con = _con(project)
    try:
        p = plan(con, uc)
    finally:
        con.close()
    if show_document(p.to_dict()):
        return
    out.print(f"[bold]{uc.name}[/]: {uc.question}\nSpine: {p.persons:,} persons at the {p.band} band "
              f"(planned in {p.seconds:.2f} s).", highlight=False)
    g = Grid("measures", "Measures")
    g.column("entry").column("kind").column("coverage", justify="right").column("tables loaded").column("adds")
    for m in p.measures:
        g.row(m.entry, m.kind, _pct(m.coverage), f"{len(m.loaded_tables)} of {len(m.tables)}",
              ", ".join(m.adds) or "-")
    g.show()
    lk = Grid("link", "Link rate and band mix of each table")
    lk.column("entry").column("table").column("rows", justify="right").column("link rate", justify="right") \
        .column("high / medium / low")
    for m in p.measures:
        for t in m.link:
            mix = " / ".join(_pct(t["band_mix"].get(b)) for b in ("high", "medium", "low")) if t["band_mix"] else "-"
            lk.row(m.entry, t["table"], t["rows"], _pct(t["link_rate"]), mix)
    lk.show()
    ms = Grid("missingness", "Missingness of each variable in the loaded extract")
    ms.column("entry").column("variable").column("empty", justify="right")
    for m in p.measures:
        for v, share in m.missingness.items():
            ms.row(m.entry, v, "not loaded" if share is None else _pct(share))
    ms.show()
    wn = Grid("wave_needs", "Gold-standard sources the register names (Waves 1-3)")
    wn.column("entry").column("wave", justify="right").column("source").column("loaded").column("how")
    for m in p.measures:
        for w in m.wave_needs:
            wn.row(m.entry, w["wave"], w["source"], "yes" if w["loaded"] else "no", w["how"])
    wn.show()
    for m in p.measures:
        for n in m.notes:
            out.print(f"[yellow]{m.entry}:[/] {n}", highlight=False)


@usecase_app.command("run")
@user_errors
def run_cmd(
    file: Path = typer.Argument(..., metavar="FILE", help="A use-case file."),
    out_dir: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Where to write the checked release."),
    rebuild_spine: bool = typer.Option(False, "--rebuild-spine/--no-rebuild-spine",
                                       help="Rebuild the spine at the use case's as-at date and band first."),
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
) -> None:
    """Build the use case's cohort and publish its profile, measures and outcomes as one checked release."""
    from ..outputs.ledger import ReleaseLedger
    from ..planning import load_use_case, run_use_case

    uc = load_use_case(file)
    proj = Project.at(project)
    con = _con(project, read_only=False)
    try:
        r = run_use_case(con, uc, out_dir, ledger=ReleaseLedger.for_project(proj), overwrite=overwrite,
                         rebuild_spine=rebuild_spine)
    finally:
        con.close()
    out.print(f"Cohort {r.cohort}: {r.persons:,} persons (internal, unchecked). Release: {r.release}",
              highlight=False)
    for n in r.notes:
        out.print(f"[yellow]Note:[/] {n}", highlight=False)


@usecase_app.command("feature-sets")
@user_errors
def feature_sets_cmd(
    query: str | None = typer.Argument(None, help="Words to search for (default: list every set)."),
    register_snippet: str | None = typer.Option(None, "--register-snippet", metavar="NAME",
                                                help="Print the register candidates that record the set NAME."),
    fmt: str = FormatOption,
    project: Path | None = ProjectOption,
) -> None:
    """Groups of related variables (assessment sections, process stages), found by search; name one in a use
    case's measure (feature_sets: [NAME]) to measure all its members."""
    import yaml

    from ..planning.feature_sets import (
        feature_sets,
        get_feature_set,
        register_candidates,
        search_feature_sets,
    )

    proj = Project.at(project)
    variables, index = None, None
    if proj.warehouse_path.exists():
        from ..catalogue.search import CatalogueIndex
        from ..warehouse.engine import table_exists

        con = _con(project)
        try:
            if table_exists(con, "catalogue", "variables"):
                variables = con.execute("SELECT * FROM catalogue.variables").fetchdf()
        finally:
            con.close()
        index = CatalogueIndex(variables) if variables is not None and len(variables) else None
    sets = feature_sets(variables)
    if register_snippet:
        fs = get_feature_set(register_snippet, sets)
        typer.echo(yaml.safe_dump({"candidates": register_candidates(fs)}, sort_keys=False, width=1000), nl=False)
        return
    ranked = search_feature_sets(query, sets, index) if query else [(s, None) for s in sets]
    g = Grid("feature_sets", "Feature sets" + (f" for {query!r}" if query else ""))
    g.column("name").column("kind").column("members", justify="right").column("title").column("score",
                                                                                               justify="right")
    for s, score in ranked:
        g.row(s.name, s.kind, len(s.variables), s.title, None if score is None else round(score, 2))
    g.show()
    if variables is None:
        out.print("[yellow]Note:[/] no catalogue loaded in this project: only the event sequences are listed "
                  "(bold catalogue load FILES...).", highlight=False)
