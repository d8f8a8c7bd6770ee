"""``bold sequence``: case-level event sequences (family, civil, the court journey), counted without person
linkage and published beside the person-level funnel."""

from __future__ import annotations

from pathlib import Path

import typer

from ..project import Project
from .app import FormatOption, OverwriteOption, ProjectOption, app, out, user_errors
from .printing import Grid

sequence_app = typer.Typer(help="Case-level event sequences: claim -> order -> warrant -> possession, application "
                                "-> hearing -> order, offence -> first hearing -> Crown Court -> sentence.",
                           no_args_is_help=True)
app.add_typer(sequence_app, name="sequence")


@sequence_app.command("list")
@user_errors
def list_cmd(fmt: str = FormatOption) -> None:
    """The shipped event sequences and their steps."""
    from ..trajectories.sequences import load_sequence, shipped_sequences

    g = Grid("sequences", "Event sequences (case level)")
    g.column("name").column("counts").column("steps")
    for n in shipped_sequences():
        s = load_sequence(n)
        g.row(n, s.unit, " -> ".join(st.name for st in s.steps))
    g.show()


@sequence_app.command("run")
@user_errors
def run_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="A shipped sequence's name or a sequence YAML file."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR",
                                        help="Write a checked release: the case-level funnel and time to the last "
                                             "step, beside the person-level funnel where there is one."),
    fmt: str = FormatOption,
    overwrite: bool = OverwriteOption,
    project: Path | None = ProjectOption,
) -> None:
    """Count the cases reaching each step (internal figures here; --out for the checked release)."""
    from ..trajectories.sequences import case_funnel, load_sequence, sequence_outputs
    from ..warehouse.engine import duckdb_connect, table_exists

    seq = load_sequence(name)
    proj = Project.at(project)
    con = duckdb_connect(proj, read_only=out_dir is None)
    try:
        f = case_funnel(con, seq)
        release = None
        if out_dir is not None:
            from ..cohorts.release import write_checked_release
            from ..outputs.ledger import ReleaseLedger
            from ..trajectories.export import checked_outputs
            from ..trajectories.pathways import FUNNELS, funnel

            outs = sequence_outputs(con, seq)
            texts = [("What is counted", f"{seq.description.strip()} Case-level counts carry no linkage error; "
                      "the person-level funnel beside them (where there is one) follows each linked person's first "
                      "event of each kind and depends on the linkage band.")]
            if seq.person_funnel in FUNNELS and table_exists(con, "spine", "timeline"):
                outs += checked_outputs("funnel", funnel(con, seq.person_funnel),
                                        title=f"{seq.title} (person level)")
            elif seq.person_funnel:
                texts.append(("Person level", "The person-level funnel needs the timeline: run `bold timeline "
                              "build` first."))
            release = write_checked_release(outs, out_dir, title=seq.title, texts=texts, overwrite=overwrite,
                                            command=f"bold sequence run {seq.name}",
                                            ledger=ReleaseLedger.for_project(proj))
    finally:
        con.close()
    g = Grid("steps", f"{seq.title} (internal, unchecked)")
    g.column("step").column(seq.unit, justify="right").column("median days from previous", justify="right")
    for r in f.itertuples():
        g.row(r.name, r.cases, r.median_days_from_previous)
    g.show()
    if release:
        out.print(f"Checked release: {release}", highlight=False)
