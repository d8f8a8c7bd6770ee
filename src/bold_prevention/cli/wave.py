"""``bold link wave SOURCE``: load a Wave 1-2 source under its contracts and link it to the spine."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from .app import Fmt, FormatOption, ProjectOption, console, out, user_errors
from .link import link_app
from .printing import Grid


@link_app.command("wave")
@user_errors
def wave(
    source: str = typer.Argument(..., help="npd, dwp, hmrc, hes, ndtms, deaths or support."),
    from_dir: Path = typer.Option(..., "--from", metavar="DIR", help="Folder holding the source's files (or a "
                                  "synthetic population folder with waves/)."),
    project: Path | None = ProjectOption,
    truth: Path = typer.Option(None, "--truth", help="Truth folder of a synthetic population: report precision, "
                                                     "recall and F1 by band, sex, age band and ethnic group."),
    retrain: bool = typer.Option(False, "--retrain", help="Train a new model even if one is saved."),
    report: Path = typer.Option(None, "--json-file", "--report", metavar="FILE",
                                help="Also write the load and link result to this JSON file."),
    fmt: Fmt = FormatOption,
) -> None:
    """Load SOURCE (data contracts; non-critical) and link its persons and events to the spine at three bands."""
    from ..files import atomic_file
    from ..linkage.wave_link import link_wave_source, load_wave_source
    from ..project import Project
    from ..warehouse.engine import duckdb_connect

    started = time.perf_counter()
    proj = Project.at(project)
    if not proj.warehouse_path.exists():
        from ..errors import InputError

        raise InputError(f"the project {proj.root} has no warehouse", hint="run `bold load` and `bold spine build` "
                                                                           "first")

    def say(msg: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:7.1f}s[/] {msg}")

    con = duckdb_connect(proj)
    try:
        loaded = load_wave_source(con, source, from_dir, progress=say)
        for p in loaded.problems:
            out.print(f"[yellow]{p}[/]")
        linked = link_wave_source(con, source, model_path=proj.root / "models" / f"wave-{source}.json",
                                  retrain=retrain, truth_dir=truth, progress=say)
        from ..spine.gold import apply_gold

        gold = apply_gold(con, progress=say)  # the drivers the linked sources measure, beside the OASys proxy
    finally:
        con.close()
    t = Grid("bands", f"{source}: {linked.records:,} {linked.person_table} records (spine band {linked.band})")
    for c in ("band", "linked", "precision", "recall", "F1"):
        t.column(c, fmt=None if c in ("band", "linked") else (lambda v: "" if v is None else str(v)))
    for b, n in linked.linked.items():
        q = linked.quality.get("bands", {}).get(b, {})
        t.row(b, n, *(q.get(k) for k in ("precision", "recall", "f1")))
    t.show()
    for ev, c in linked.events.items():
        out.print(f"{ev}: {c.get('linked', 0):,} of {c.get('records', 0):,} linked; "
                  f"{c.get('without_key', 0):,} without a key; {c.get('dates_out_of_order', 0):,} with dates out of "
                  "order (not linked)")
    measured = [d for d, why in gold.drivers.items() if why is None]
    out.print("Gold-standard needs measured: " + (", ".join(measured) or "none")
              + " (spine.person_need_gold; compare with `bold spine gold-report`)")
    for k, n in linked.refused.items():
        out.print(f"refused: {n:,} {k.replace('_', ' ')}")
    if report:
        with atomic_file(report) as fh:
            fh.write(json.dumps({"load": loaded.to_dict(), "link": linked.to_dict()}, indent=2, default=str))
