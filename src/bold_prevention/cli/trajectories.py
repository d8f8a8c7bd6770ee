"""``bold timeline``, ``bold pathways`` and ``bold ew``: timelines, pathway analyses and early-warning models."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import typer

from ..errors import InputError
from ..project import Project
from .app import (
    Fmt,
    FormatOption,
    OverwriteOption,
    ProjectOption,
    SeedOption,
    Typer,
    app,
    console,
    out,
    parse_date,
    user_errors,
)
from .printing import Grid

timeline_app = Typer(help="Person timelines: every event of a linked person, in order (spine.timeline).",
                           no_args_is_help=True)
pathways_app = Typer(help="Pathways through services: sequences, transitions, flows, funnels and "
                                "time-to-event curves (from spine.timeline).", no_args_is_help=True)
ew_app = Typer(help="Early-warning models: train and evaluate the use cases (decision support only).",
                     no_args_is_help=True)
app.add_typer(timeline_app, name="timeline")
app.add_typer(pathways_app, name="pathways")
app.add_typer(ew_app, name="ew")

LevelOption = typer.Option("dataset", "--level", help="State: dataset (service) or event_type.")
OutOption = typer.Option(None, "--out", "-o", metavar="DIR", help="Also export the table, through disclosure "
                         "control, to this folder (HTML report, spreadsheet and output-checking files).")


@contextlib.contextmanager
def _con(project: Path | None, *, read_only: bool = False):
    """The project and a warehouse connection, closed when the command ends."""
    from ..warehouse.engine import duckdb_connect  # library layers load inside commands

    proj = Project.at(project)
    if not proj.warehouse_path.exists():
        raise InputError(f"no warehouse at {proj.warehouse_path}",
                         hint="run `bold demo` or `bold load` first, or pass --project")
    con = duckdb_connect(proj, read_only=read_only)
    try:
        yield proj, con
    finally:
        con.close()


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"
    return str(v)


def _print(df, title: str, name: str) -> None:
    import pandas as pd

    t = Grid(name, title)
    for c in df.columns:
        t.column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left", fmt=_fmt)
    for row in df.itertuples(index=False):
        t.row(*row)
    t.show()


def _export(kind: str, df, title: str, folder: Path | None, overwrite: bool, project: Path | None = None) -> None:
    if folder is None:
        return
    from ..outputs.ledger import ReleaseLedger
    from ..trajectories.export import export_table

    paths = export_table(kind, df, title=title, folder=folder, overwrite=overwrite,
                         ledger=ReleaseLedger.for_project(Project.at(project)))
    for p in paths:
        out.print(f"Exported (disclosure-checked): {p}")


def _types(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


# ------------------------------------------------------------------------------------------------ timeline
@timeline_app.command("build")
@user_errors
def timeline_build(project: Path | None = ProjectOption, fmt: Fmt = FormatOption) -> None:
    """Build spine.timeline from the loaded extracts and spine.person_record."""
    from ..trajectories.timeline import EVENT_LABELS, build_timeline

    with _con(project) as (_, con):
        with console.status("building person timelines from every linked dataset"):
            s = build_timeline(con)
        out.print(f"[bold]spine.timeline[/]: {s.rows:,} events of {s.persons:,} persons")
        t = Grid("events_by_type", "Events by type")
        t.column("event type").column("what it is").column("events")
        for k, n in s.by_event_type.items():
            t.row(k, EVENT_LABELS.get(k, ""), n)
        t.show()
        for note in s.skipped:
            console.print(f"[yellow]skipped[/] {note}")


# ------------------------------------------------------------------------------------------------ pathways
@pathways_app.command("sequences")
@user_errors
def pathways_sequences(
    project: Path | None = ProjectOption,
    level: str = LevelOption,
    window_days: int = typer.Option(365, "--window-days", help="Days after each person's anchor event."),
    start: str | None = typer.Option(None, "--start", help="Comma-separated event types that anchor the window "
                                     "(default: each person's first event)."),
    max_length: int = typer.Option(5, "--max-length", help="Longest sequence shown (states)."),
    top: int = typer.Option(20, "--top", help="How many sequences to show."),
    out_dir: Path | None = OutOption,
    overwrite: bool = OverwriteOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Most frequent sequences of service contact within a window."""
    from ..trajectories.pathways import frequent_sequences

    with _con(project, read_only=True) as (_, con):
        with console.status("counting sequences"):
            df = frequent_sequences(con, level=level, window_days=window_days, start_event_types=_types(start),
                                    max_length=max_length, top=top)
        title = f"Most frequent sequences of contact within {window_days} days"
        _print(df, title, "sequences")
        _export("sequences", df, title, out_dir, overwrite, project)


@pathways_app.command("transitions")
@user_errors
def pathways_transitions(
    project: Path | None = ProjectOption,
    level: str = LevelOption,
    collapse: bool = typer.Option(False, "--collapse/--keep-repeats", help="Collapse repeated contacts with one "
                                  "service before counting."),
    out_dir: Path | None = OutOption,
    overwrite: bool = OverwriteOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Transition matrix between services (counts, row shares, median days between contacts)."""
    from ..trajectories.pathways import transition_matrix

    with _con(project, read_only=True) as (_, con):
        with console.status("counting transitions"):
            df = transition_matrix(con, level=level, collapse_repeats=collapse)
        title = "Transitions between consecutive contacts"
        _print(df, title, "transitions")
        _export("transitions", df, title, out_dir, overwrite, project)


@pathways_app.command("flows")
@user_errors
def pathways_flows(
    project: Path | None = ProjectOption,
    level: str = LevelOption,
    steps: int = typer.Option(3, "--steps", help="Number of steps."),
    window_days: int = typer.Option(365, "--window-days", help="Days after each person's first event."),
    out_dir: Path | None = OutOption,
    overwrite: bool = OverwriteOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Flows from the service at step k to the service at step k+1 (the data of a Sankey chart)."""
    from ..trajectories.pathways import flows

    with _con(project, read_only=True) as (_, con):
        with console.status("counting flows"):
            df = flows(con, level=level, steps=steps, window_days=window_days)
        title = f"Flows between services, first {steps} steps"
        _print(df, title, "flows")
        _export("flows", df, title, out_dir, overwrite, project)


@pathways_app.command("funnel")
@user_errors
def pathways_funnel(
    name: str = typer.Argument("possession", help="possession (claim -> order -> warrant -> repossession) or "
                               "justice (magistrates -> Crown Court -> custody -> probation)."),
    project: Path | None = ProjectOption,
    max_gap_days: int | None = typer.Option(None, "--max-gap-days", help="Only count a stage reached within this "
                                            "many days of the previous one."),
    out_dir: Path | None = OutOption,
    overwrite: bool = OverwriteOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Conversion through a staged process, with median days between stages."""
    from ..trajectories.pathways import funnel

    with _con(project, read_only=True) as (_, con):
        with console.status("following people through the funnel"):
            df = funnel(con, name, max_gap_days=max_gap_days)
        title = f"Funnel: {name}"
        _print(df, title, "funnel")
        _export("funnel", df, title, out_dir, overwrite, project)


@pathways_app.command("survival")
@user_errors
def pathways_survival(
    name: str = typer.Argument(..., help="court_after_release, custody_after_release, court_after_court, "
                               "possession_after_claim or order_after_claim."),
    project: Path | None = ProjectOption,
    group_by: str | None = typer.Option(None, "--group-by", help="Column of spine.person (or of the cohort table) "
                                        "to draw one curve per group."),
    cohort: str | None = typer.Option(None, "--cohort", help="Cohort table of person ids (schema.table)."),
    max_days: int | None = typer.Option(None, "--max-days", help="Stop following people after this many days."),
    out_dir: Path | None = OutOption,
    overwrite: bool = OverwriteOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Kaplan-Meier time-to-event curves with numbers at risk."""
    from ..trajectories.survival import ANALYSES, durations, kaplan_meier, median_time

    if name not in ANALYSES:
        raise InputError(f"unknown time-to-event analysis {name!r}", hint=f"use one of: {', '.join(ANALYSES)}")
    a = ANALYSES[name]
    with _con(project, read_only=True) as (_, con):
        with console.status("computing durations"):
            d = durations(con, start=a.start, event=a.event, max_days=max_days, cohort=cohort, group_by=group_by)
        _print(kaplan_meier(d), a.title, "survival")
        _print(median_time(d), "Median time to event (days)", "median_days")
        _export("survival", d, a.title, out_dir, overwrite, project)


# ------------------------------------------------------------------------------------------------ early warning
@ew_app.command("list")
@user_errors
def ew_list(fmt: Fmt = FormatOption) -> None:
    """The shipped use cases."""
    from ..early_warning.usecase import load_use_case, shipped_use_cases

    t = Grid("use_cases", "Early-warning use cases")
    t.column("name", no_wrap=True).column("prediction time (T0)").column("outcome")
    for n in shipped_use_cases():
        uc = load_use_case(n)
        t.row(n, uc.index.event_type + ("" if uc.index.occurrence == "all" else f" ({uc.index.occurrence})"),
              f"{uc.outcome.label} ({uc.outcome.window_months} months)")
    t.show()


def _report(r, project: Project) -> None:
    ev = r.card["evaluation"]
    def shown(v) -> str:  # counts on the card are rounded, or withheld (None) below the threshold
        return f"{v:,}" if isinstance(v, int | float) else "fewer than the threshold"

    out.print(f"[bold]{r.model.version}[/]: tested on {shown(ev.get('n'))} index events ({shown(ev.get('events'))} "
              f"outcomes) from {r.model.test_start}")
    t = Grid("performance", "Test-period performance (95% bootstrap intervals)")
    t.column("measure", fmt=lambda v: v.replace("_", " ")).column("model")
    for c in ("value", "lower", "upper"):
        t.column(c, fmt=lambda v: "n/a" if v is None else f"{v:.3f}")
    models = {"primary": "primary (gradient boosting)", "baseline": "baseline (logistic)"}
    for m in ev["primary"]["metrics"]:
        for which, label in models.items():
            e = ev[which]["metrics"].get(m)
            if isinstance(e, dict):
                t.row(m, label, e.get("value"), e.get("lower"), e.get("upper"))
    t.show()
    from ..early_warning.train import card_summary

    for which in models:  # withheld by disclosure control, or not estimable (with the reason)
        mets = ev[which]["metrics"]
        if "withheld" in mets:
            out.print(f"{which} model: test-period measures {mets['withheld']}", markup=False)
        for m, e in mets.items():
            if isinstance(e, dict) and e.get("note"):
                out.print(f"{which} model: {m.replace('_', ' ')} not estimable ({e['note']})", markup=False)
    sm = card_summary(r.card)
    for line in sm["bands"] + sm["static"] + sm["oracle"]:
        out.print(line, markup=False)
    if r.folder:
        out.print(f"Model card: {r.folder / 'model_card.md'} (and model_card.json)")
    if r.scores_written:
        out.print(f"Scores of {r.scores_written:,} index events written to results.early_warning_scores "
                  f"(model {r.model.version}); they stay in the warehouse.")


@ew_app.command("train")
@user_errors
def ew_train(
    use_case: str = typer.Argument(..., help="A shipped use case (see `bold ew list`) or a use case YAML file."),
    project: Path | None = ProjectOption,
    seed: int = SeedOption,
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples for confidence intervals."),
    truth: Path | None = typer.Option(None, "--truth", help="Synthetic population folder: compare with the oracle "
                                      "(its true outcome probabilities)."),
    bands: bool = typer.Option(True, "--bands/--no-bands", help="Re-evaluate at each linkage band."),
    data_end: str | None = typer.Option(None, "--data-end", help="Last date of the data (YYYY-MM-DD); default: the "
                                        "latest outcome event."),
    fmt: Fmt = FormatOption,
) -> None:
    """Train the baseline and gradient-boosted models of a use case, evaluate them and write the model card."""
    from ..early_warning.train import train

    with _con(project) as (proj, con):
        proj.ensure()
        end = parse_date(data_end, "--data-end")
        with console.status("training") as st:
            r = train(con, use_case, project=proj, seed=seed, n_boot=bootstrap, truth=truth, bands=bands,
                      data_end=end, progress=lambda m: st.update(m))
        _report(r, proj)


@ew_app.command("evaluate")
@user_errors
def ew_evaluate(
    use_case: str = typer.Argument(..., help="The use case name of a trained model."),
    project: Path | None = ProjectOption,
    version: str | None = typer.Option(None, "--version", help="Model version (default: the latest)."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples for confidence intervals."),
    truth: Path | None = typer.Option(None, "--truth", help="Synthetic population folder for the oracle "
                                      "comparison."),
    bands: bool = typer.Option(True, "--bands/--no-bands", help="Re-evaluate at each linkage band."),
    fmt: Fmt = FormatOption,
) -> None:
    """Re-evaluate a trained model on the warehouse as it is now and rewrite its model card."""
    from ..early_warning.train import evaluate

    with _con(project) as (proj, con):
        name = Path(use_case).stem if use_case.endswith((".yaml", ".yml")) else use_case
        with console.status("evaluating") as st:
            r = evaluate(con, name, project=proj, version=version, n_boot=bootstrap, truth=truth, bands=bands,
                         progress=lambda m: st.update(m))
        _report(r, proj)


