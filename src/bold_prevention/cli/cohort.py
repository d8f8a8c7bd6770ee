"""``bold cohort`` (build, profile, list, sql) and ``bold places`` (prevalence, overlap, load-geography)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..project import Project
from .app import (
    Fmt,
    FormatOption,
    OverwriteOption,
    ProjectOption,
    Typer,
    app,
    console,
    out,
    parse_date,
    user_errors,
)
from .printing import Grid

cohort_app = Typer(help="Cohorts defined as YAML specs over the spine: build, profile, list.",
                         no_args_is_help=True)
places_app = Typer(help="Place-based analysis: needs prevalence by local authority, risk-factor overlap, "
                         "geography and deprivation reference.", no_args_is_help=True)
app.add_typer(cohort_app, name="cohort")
app.add_typer(places_app, name="places")

RulesOption = typer.Option(None, "--rules", help="Disclosure-control rule set: default, ons_10_5, opensafely, or a "
                           "YAML rules file.")


def _con(project: Path | None, *, read_only: bool = False):
    from ..warehouse.engine import duckdb_connect

    proj = Project.at(project)
    if not proj.warehouse_path.exists():
        raise InputError(f"no warehouse at {proj.warehouse_path}", hint="run `bold load` first, or pass --project")
    return duckdb_connect(proj, read_only=read_only)


def _rules(rules: str | None):
    if rules is None:
        return None
    from ..outputs import load_rules

    p = Path(rules)
    return load_rules(p) if p.suffix in (".yaml", ".yml") or p.exists() else rules


@cohort_app.command("build")
@user_errors
def build_cmd(
    spec: str = typer.Argument(..., help="A cohort spec YAML file, or the name of a shipped spec "
                               "(see `bold cohort list`)."),
    as_at: str | None = typer.Option(None, "--as-at", help="As-at date (YYYY-MM-DD); must match the spine unless "
                                     "--rebuild-spine."),
    band: str | None = typer.Option(None, "--band", help="Linkage band; must match the spine unless --rebuild-spine."),
    rebuild_spine: bool = typer.Option(False, "--rebuild-spine", help="Rebuild the spine at --as-at / --band first "
                                       "(also when the loaded extracts changed since it was built)."),
    allow_unmeasured: bool = typer.Option(False, "--allow-unmeasured", help="Build even if a rule reads a need the "
                                          "spine could not measure for some persons (they count as not having it; "
                                          "the attrition table marks those steps)."),
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Build a cohort over the current spine and show its attrition."""
    from ..cohorts import build_cohort

    con = _con(project)
    try:
        with console.status(f"building cohort {spec}"):
            res = build_cohort(con, spec, as_at=parse_date(as_at) if as_at else None, band=band,
                               rebuild_spine=rebuild_spine, allow_unmeasured=allow_unmeasured)
    finally:
        con.close()
    t = Grid("attrition", f"{res.title}: attrition (as at {res.as_at}, band {res.band})")
    noted = any(a.get("note") for a in res.attrition)
    for c in ("step", "rule", "persons", "removed") + (("note",) if noted else ()):
        t.column(c)
    for a in res.attrition:
        t.row(a["step"], a["rule"], a["persons"], a["persons_removed"], *([a.get("note")] if noted else []))
    t.show()
    for g in res.unmeasured:
        out.print(f"[yellow]Unmeasured driver:[/] {g['driver']} in {g['dataset']}: {g['persons']:,} persons not "
                  f"measured ({g['reason']}); they count as not having the need in this cohort.", highlight=False)
    out.print(f"results.cohort_{res.name}: {res.persons:,} persons ({res.seconds:.1f} s)")
    console.print("Counts on screen are unchecked and stay in the secure setting; "
                  f"`bold cohort profile {res.name} --out DIR` writes a disclosure-checked release.")


@cohort_app.command("profile")
@user_errors
def profile_cmd(
    name: str = typer.Argument(..., help="A built cohort's name."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR", help="Write a disclosure-checked "
                                        "release here (report.html, tables.xlsx, output-checking/)."),
    rules: str | None = RulesOption,
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
) -> None:
    """Profile a cohort by sex, age band, ethnic group, region, local authority and IMD decile (Wilson 95% CIs)."""
    from ..cohorts import profile
    from ..cohorts.release import cohort_outputs, write_checked_release
    from ..spine.build import unmeasured_needs
    from .spine import unmeasured_lines

    con = _con(project)
    try:
        table = profile(con, name)
        unmeasured = unmeasured_lines(unmeasured_needs(con))
        release = None
        if out_dir is not None:
            outs, texts = cohort_outputs(con, name, rules=_rules(rules))
            release = write_checked_release(outs, out_dir, title=f"Cohort profile: {name}", texts=texts,
                                            overwrite=overwrite, command=f"bold cohort profile {name}",
                                            ledger=_ledger(project))
    finally:
        con.close()
    rows = table.to_pylist()
    total = rows[0]
    out.print(f"results.cohort_{name}_profile written: {len(rows)} rows over "
              f"{len({r['dimension'] for r in rows}) - 1} dimensions; cohort {total['cohort_n']:,} of "
              f"{total['population_n']:,} spine persons (internal, unchecked).")
    for line in unmeasured:
        out.print(f"[yellow]Not measured in the spine:[/] {line}", highlight=False)
    if release:
        out.print(f"Disclosure-checked release: {release}")
    else:
        console.print("Add --out DIR for a disclosure-checked release to take away.")


@cohort_app.command("list")
@user_errors
def list_cmd(project: Path | None = ProjectOption, fmt: Fmt = FormatOption) -> None:
    """List the shipped cohort specs and the cohorts built in this project."""
    from ..cohorts import load_spec, shipped_specs

    t = Grid("specs", "Shipped cohort specs")
    t.column("name").column("title")
    for n in shipped_specs():
        t.row(n, load_spec(n).title)
    t.show()
    proj = Project.at(project)
    if proj.warehouse_path.exists():
        con = _con(project, read_only=True)
        try:
            from ..warehouse import table_exists

            if table_exists(con, "results", "cohorts"):
                rows = con.execute("SELECT cohort, as_at_date, band, persons, built_at FROM results.cohorts "
                                   "ORDER BY cohort").fetchall()
                b = Grid("built", "Built cohorts")
                b.column("cohort").column("as at").column("band").column("persons")
                b.column("built", fmt=lambda v: v[:16].replace("T", " "))
                for c, a, bd, p, built in rows:
                    b.row(c, a, bd, p, built.isoformat(timespec="seconds"))
                b.show()
        finally:
            con.close()


@cohort_app.command("sql")
@user_errors
def sql_cmd(
    spec: str = typer.Argument(..., help="A cohort spec YAML file or shipped spec name."),
    as_at: str = typer.Option(..., "--as-at", help="As-at date (YYYY-MM-DD)."),
    dialect: str = typer.Option("duckdb", "--dialect", help="duckdb, spark or trino."),
) -> None:
    """Print the SQL a cohort compiles to (in DuckDB, Spark or Trino dialect)."""
    from ..cohorts import compile_cohort, load_spec, transpile_cohort

    s = load_spec(spec)
    d = parse_date(as_at)
    if dialect not in ("duckdb", "spark", "trino"):
        raise InputError(f"unknown dialect {dialect!r}", hint="use duckdb, spark or trino")
    steps = ([(x.name, x.sql) for x in compile_cohort(s, d)] if dialect == "duckdb"
             else transpile_cohort(s, d, dialect))
    for name, sql in steps:
        typer.echo(f"-- {name}\n{sql};\n")


def _ledger(project: Path | None):
    """The project's ledger of published cells (every release is audited with the earlier ones)."""
    from ..outputs.ledger import ReleaseLedger

    return ReleaseLedger.for_project(Project.at(project))


@places_app.command("prevalence")
@user_errors
def prevalence_cmd(
    cohort: str | None = typer.Option(None, "--cohort", help="Restrict to a built cohort (default: the spine)."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR",
                                        help="Write a disclosure-checked release here."),
    rules: str | None = RulesOption,
    geography: str = typer.Option("auto", "--geography", help="Areas of the release: auto (local authorities on a "
                                  "large spine, deprivation deciles on a small one), local_authority, region or "
                                  "imd_decile."),
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
) -> None:
    """Needs prevalence by local authority (every driver of the register), with Wilson 95% CIs."""
    from ..cohorts import places_prevalence
    from ..cohorts.release import places_outputs, write_checked_release

    con = _con(project)
    try:
        table = places_prevalence(con, cohort=cohort)
        release = None
        if out_dir is not None:
            outs, texts = places_outputs(con, cohort=cohort, rules=_rules(rules), geography=geography)
            release = write_checked_release(outs, out_dir, title="Needs prevalence by place",
                                            texts=texts, overwrite=overwrite, command="bold places prevalence",
                                            ledger=_ledger(project))
    finally:
        con.close()
    las = len({r["lad_code"] for r in table.to_pylist()})
    out.print(f"results.places_prevalence written: {table.num_rows:,} rows ({las:,} local authorities; internal, "
              "unchecked).")
    if release:
        out.print(f"Disclosure-checked release: {release}")


@places_app.command("overlap")
@user_errors
def overlap_cmd(
    population: str = typer.Option("oasys", "--population", help="oasys (persons with an OASys assessment), spine, "
                                   "or a built cohort's name."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR", help="Write a disclosure-checked "
                                        "release with the network drawing here."),
    rules: str | None = RulesOption,
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
) -> None:
    """Risk-factor overlap: co-occurrence counts and lift between drivers, drawn as a network."""
    from ..cohorts import driver_overlap
    from ..cohorts.release import overlap_outputs, write_checked_release

    con = _con(project)
    try:
        table = driver_overlap(con, population=population)
        release = None
        if out_dir is not None:
            checked, n, label = overlap_outputs(con, population=population, rules=_rules(rules))
            release = write_checked_release([checked], out_dir, title=f"Risk-factor overlap ({label})",
                                            network=(checked, n), overwrite=overwrite,
                                            command="bold places overlap", ledger=_ledger(project))
    finally:
        con.close()
    out.print(f"results.driver_overlap written: {table.num_rows} driver pairs (internal, unchecked).")
    if release:
        out.print(f"Disclosure-checked release: {release}")


@places_app.command("load-geography")
@user_errors
def load_geography_cmd(
    deprivation: list[Path] = typer.Option([], "--deprivation", help="An official deprivation file: IoD2019 File 1 "
                                           "(.xlsx), IoD2019/IoD2025 File 7 (.csv) or WIMD 2019 (.ods). Repeatable."),
    regions: Path | None = typer.Option(None, "--regions", help="ONS local authority district to region lookup "
                                        "(CSV with LADyyCD and RGNyyNM)."),
    project: Path | None = ProjectOption,
) -> None:
    """Install the geography and deprivation reference (shipped copy, updated by any official files given)."""
    from ..geography.reference import install_geography

    con = _con(project)
    try:
        n = install_geography(con, deprivation=list(deprivation), regions=regions)
    finally:
        con.close()
    out.print(f"spine.geo_lsoa: {n:,} LSOAs"
              + (f", deprivation from {', '.join(p.name for p in deprivation)}" if deprivation else "")
              + (f", regions from {regions.name}" if regions else ""))
    console.print("Rebuild the spine (`bold spine build`) to use the new reference.")
