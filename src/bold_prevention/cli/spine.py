"""``bold spine build`` (the Wave 0 person-level spine) and ``bold spine show``."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..project import Project
from .app import Fmt, FormatOption, ProjectOption, Typer, app, console, out, parse_date, user_errors
from .printing import Grid

spine_app = Typer(help="The Wave 0 person-level spine (persons linked through XJS, with needs).",
                        no_args_is_help=True)
app.add_typer(spine_app, name="spine")


@spine_app.command("build")
@user_errors
def build_cmd(
    as_at: str = typer.Option(..., "--as-at", help="The as-at date (YYYY-MM-DD): only records on or before it count."),
    band: str = typer.Option("medium", "--band", help="Linkage band of the XJS person ids: high, medium or low."),
    xjs: str = typer.Option("published", "--xjs", help="The XJS person id: published (extract.xjs_link) or improved "
                            "(linkage.xjs_link_improved: XJS persons joined where the toolkit's model links them "
                            "with high confidence; run `bold link xjs-audit` first)."),
    register: Path | None = typer.Option(None, "--register", help="A register YAML file (default: the shipped "
                                         "risk factor register)."),
    rebuild_records: bool = typer.Option(False, "--rebuild-records", help="Rebuild spine.person_record even if it "
                                         "is up to date."),
    rekey: bool = typer.Option(False, "--rekey", help="Accept a pseudonymisation key other than the one this "
                               "project was built with: first drop everything built under the old key (spine, "
                               "person records, timelines, cohorts, results, early-warning models)."),
    project: Path | None = ProjectOption,
) -> None:
    """Build spine.person (one row per linked person as at the date) and spine.person_need.

    Person records are rebuilt when the loaded extracts' content, the band or the key changed. Needs whose
    variables are missing or empty in the loaded extract are NULL (not measured), never "no need"."""
    from ..spine import build_spine
    from ..warehouse.engine import duckdb_connect

    d = parse_date(as_at)
    proj = Project.at(project)
    con = duckdb_connect(proj, read_only=False) if proj.warehouse_path.exists() else None
    if con is None:
        raise InputError(f"no warehouse at {proj.warehouse_path}", hint="run `bold load` first, or pass --project")
    try:
        with console.status("building the spine") as status:
            res = build_spine(con, as_at=d, band=band, register=register, rebuild_records=rebuild_records,
                              rekey=rekey, link_table=xjs, progress=lambda m: status.update(m))
    finally:
        con.close()
    if res.dropped:
        out.print(f"[yellow]Re-keyed:[/] dropped {len(res.dropped)} tables and folders built under the old key "
                  f"({', '.join(res.dropped[:8])}{' ...' if len(res.dropped) > 8 else ''})")
    out.print(f"[bold]spine.person[/] as at {res.as_at.isoformat()}, band {res.band}, {res.xjs} XJS id: "
              f"{res.persons:,} persons, {res.needs_rows:,} person-driver need rows, "
              f"drivers {', '.join(res.drivers)} ({res.seconds:.1f} s)")
    for line in unmeasured_lines(res.unmeasured):
        out.print(f"[yellow]Not measured:[/] {line}", highlight=False)
    if res.unmeasured:
        out.print("These persons have need_<driver> NULL (not measured), not \"no need\"; cohorts that read these "
                  "drivers are refused unless --allow-unmeasured. Load the variables and rebuild to measure them.",
                  highlight=False)
    console.print("Internal to the warehouse; take figures away with `bold cohort profile --out` or "
                  "`bold places prevalence --out` (disclosure-checked).")


def unmeasured_lines(gaps) -> list[str]:
    """One line per unmeasured driver and dataset (from :func:`bold_prevention.spine.build.unmeasured_needs`)."""
    return [f"{g['driver']} in {g['dataset']}: {g['persons']:,} persons ({g['reason']})" for g in gaps]


@spine_app.command("show")
@user_errors
def show_cmd(project: Path | None = ProjectOption, fmt: Fmt = FormatOption) -> None:
    """Show the current spine's as-at date, band and columns (no person-level data)."""
    from ..warehouse.engine import duckdb_connect, table_exists

    proj = Project.at(project)
    con = duckdb_connect(proj, read_only=True)
    try:
        info = con.execute("SELECT * FROM spine.spine_info").fetchall() if table_exists(
            con, "spine", "spine_info") else []
        if not info:
            raise InputError("no spine has been built in this warehouse",
                             hint="run `bold spine build --as-at YYYY-MM-DD` first")
        cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                           "'spine' AND table_name = 'person' ORDER BY ordinal_position").fetchall()
        names = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                           "'spine' AND table_name = 'spine_info' ORDER BY ordinal_position"
                                           ).fetchall()]
        from ..spine.build import unmeasured_needs

        gaps = unmeasured_needs(con)
    finally:
        con.close()
    row = dict(zip(names, info[0], strict=True))
    built = row["built_at"]
    out.print(f"Spine as at {row['as_at_date']}, band {row['band']}, {row.get('xjs_id') or 'published'} XJS id, "
              f"built {built:%Y-%m-%d %H:%M}: "
              f"{row['persons']:,} persons; drivers: {row['drivers']}")
    if row.get("inputs_digest"):
        out.print(f"Built from: extracts {row['inputs_digest'][:12]}, register {row['register_digest'][:12]}, "
                  f"key fingerprint {row['key_fingerprint']}", highlight=False)
    for line in unmeasured_lines(gaps):
        out.print(f"[yellow]Not measured:[/] {line}", highlight=False)
    t = Grid("columns", "spine.person columns")
    t.column("column").column("type")
    for c, ty in cols:
        t.row(c, ty)
    t.show()


def _open(project: Path | None, *, read_only: bool = False):
    from ..warehouse.engine import duckdb_connect

    proj = Project.at(project)
    if not proj.warehouse_path.exists():
        raise InputError(f"no warehouse at {proj.warehouse_path}", hint="run `bold load` first, or pass --project")
    return proj, duckdb_connect(proj, read_only=read_only)


@spine_app.command("gold")
@user_errors
def gold_cmd(project: Path | None = ProjectOption) -> None:
    """Measure the drivers the linked Wave 2 sources measure (gold standard) beside the OASys proxy.

    Writes spine.person_need_gold and need_<driver>_gold on spine.person; drivers whose source is not linked are
    NULL with the reason. `bold spine build` does this itself when wave sources are linked."""
    from ..spine.gold import apply_gold

    _proj, con = _open(project)
    try:
        res = apply_gold(con)
    finally:
        con.close()
    for d, why in res.drivers.items():
        out.print(f"{d}: " + ("measured" if why is None else f"[yellow]not measured[/] ({why})"), highlight=False)


@spine_app.command("gold-report")
@user_errors
def gold_report_cmd(
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR", help="Release the comparison through "
                                        "disclosure control into this folder (checked counts and rates, audited "
                                        "with the ledger)."),
    rules: str = typer.Option("default", "--rules", help="Disclosure rule set for --out."),
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Compare the gold-standard needs with the OASys proxy: prevalence, agreement, Cohen's kappa and the people
    the proxy misses (results.gold_vs_proxy, internal to the warehouse)."""
    from ..spine.gold import apply_gold, gold_release_outputs, gold_report

    proj, con = _open(project)
    try:
        apply_gold(con)
        rows = gold_report(con)
        outputs = gold_release_outputs(con, rules=rules) if out_dir else None
    finally:
        con.close()
    def pct(v):
        return "" if v is None else f"{100 * v:.1f}"

    t = Grid("gold_vs_proxy", "Gold standard against the OASys proxy (internal: results.gold_vs_proxy)")
    t.column("driver").column("proxy share", fmt=pct).column("gold share", fmt=lambda v: "not measured"
                                                               if v is None else pct(v))
    t.column("both").column("agreement", fmt=pct).column("kappa", fmt=lambda v: "" if v is None else f"{v:.2f}")
    t.column("gold only").column("proxy only").column("missed, never assessed").column("missed share", fmt=pct)
    for r in rows:
        measured = r["gold_measured"] != 0
        t.row(r["driver"], r["proxy_prevalence"], r["gold_prevalence"] if measured else None,
              *((r["both"], r["agreement"], r["kappa"], r["gold_only"], r["proxy_only"],
                 r["missed_never_assessed"], r["missed_share"]) if measured else (None,) * 7))
    t.show()
    for r in rows:
        if r["reason"]:
            out.print(f"[yellow]Not measured:[/] {r['driver']}: {r['reason']}", highlight=False)
    if outputs is not None:
        from ..outputs import write_release
        from ..outputs.ledger import ReleaseLedger

        paths = write_release(outputs, out_dir, title="Gold standard and OASys proxy",
                              command="bold spine gold-report", ledger=ReleaseLedger.for_project(proj))
        out.print(f"Released (disclosure-checked): {paths.folder}")
    else:
        console.print("Internal to the warehouse; release with --out (disclosure-checked).")


@spine_app.command("outcomes")
@user_errors
def outcomes_cmd(
    as_at: str = typer.Option(..., "--as-at", help="Index date (YYYY-MM-DD): the window starts the day after."),
    window: str = typer.Option("12m", "--window", help="Window after the index date, e.g. 12m or 2y."),
    data_end: str | None = typer.Option(None, "--data-end", help="Last date the data are complete to (default: the "
                                        "latest court result date). Windows ending later are NULL."),
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Build spine.person_outcome: the six outcomes per person over the window (gold where the source is linked,
    else the proxy; NULL with the reason where unmeasured or the window is incomplete)."""
    from ..spine.outcomes import build_outcomes, parse_window

    _proj, con = _open(project)
    try:
        with console.status("measuring outcomes") as status:
            res = build_outcomes(con, as_at=parse_date(as_at), window_months=parse_window(window),
                                 data_end=parse_date(data_end, "data end"), progress=lambda m: status.update(m))
    finally:
        con.close()
    out.print(f"[bold]spine.person_outcome[/]: {res.persons:,} persons, window {res.window_start} to "
              f"{res.window_end}, data end {res.data_end} ({res.seconds:.1f} s)", highlight=False)
    t = Grid("outcomes", "Outcomes (internal counts; release through cohort profiles)")
    t.column("outcome").column("measured by").column("persons measured").column("with the outcome")
    for o, h in res.headline.items():
        t.row(o, h["kind"] or "not measured", h["measured"], h["positive"])
    t.show()
    for m, why in res.measures.items():
        if why:
            out.print(f"[yellow]NULL:[/] {m}: {why}", highlight=False)


@spine_app.command("children")
@user_errors
def children_cmd(
    truth: Path | None = typer.Option(None, "--truth", help="Truth folder of a synthetic population: score the "
                                      "relation (precision and recall)."),
    project: Path | None = ProjectOption,
) -> None:
    """Build spine.person_child: the children of spine persons from Child Benefit, family court parties and NPD
    addresses, each with its source and band."""
    from ..spine.children import build_children, score_children

    _proj, con = _open(project)
    try:
        res = build_children(con)
        score = score_children(con, truth) if truth else None
    finally:
        con.close()
    out.print(f"[bold]spine.person_child[/]: {res.rows:,} relations, {res.persons:,} persons, "
              f"{res.children:,} children")
    for s, v in res.sources.items():
        out.print(f"  {s}: {v:,} relations" if isinstance(v, int) else f"  [yellow]{s}:[/] {v}", highlight=False)
    if score:
        o = score["overall"]
        out.print(f"Against the truth: precision {o['precision']}, recall {o['recall']}, F1 {o['f1']}")
        for s, v in score["by_source"].items():
            extra = v.get("against_truth_child_benefit")
            out.print(f"  {s}: precision {v['precision']}" + (f", recall against truth_child_benefit "
                                                              f"{extra['recall']}" if extra else ""))
