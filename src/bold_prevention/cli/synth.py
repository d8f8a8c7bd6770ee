"""``bold synth``: generate a synthetic Data First population with a known truth."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .app import app, console, out, user_errors


@app.command("synth")
@user_errors
def synth(
    persons: int = typer.Option(10_000, "--persons", "-n", help="Number of persons in the population."),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed: the same seed gives byte-identical files."),
    out_dir: Path = typer.Option(Path("synthetic"), "--out", "-o", help="Output folder (must not exist unless "
                                                                       "--overwrite)."),
    fmt: str = typer.Option("parquet", "--format", "-f", help="parquet (default) or csv."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output folder if it exists."),
    waves: str = typer.Option("", "--waves", help="Add the Wave 1-2 sources of these waves, e.g. 1,2 (files under "
                                                  "waves/); none by default."),
    sources: str = typer.Option("", "--sources", help="Add these Wave 1-2 sources: npd, dwp, hmrc, hes, ndtms, "
                                                      "deaths (comma-separated)."),
) -> None:
    """Generate a synthetic population and write Data First-shaped extracts, the XJS table and the truth."""
    from ..datafirst.waves import WAVE_MODEL, resolve_sources
    from ..errors import InputError
    from ..synth import check_request, generate, stages_for

    try:
        wave_list = [int(w) for w in waves.split(",") if w.strip()]
        chosen = resolve_sources([x.strip() for x in sources.split(",") if x.strip()], wave_list)
    except (KeyError, ValueError) as e:
        raise InputError(f"unknown wave or source in --waves/--sources ({e})",
                         hint="use --waves 1,2 and/or --sources npd,dwp,hmrc,hes,ndtms,deaths") from None
    check_request(out_dir, persons, seed, fmt, overwrite)
    STAGES = stages_for(chosen)
    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn(
            "{task.completed}/{task.total}"), TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(f"Synthetic population: {persons:,} persons", total=len(STAGES))

        def progress(stage: str, i: int, n: int) -> None:
            nxt = STAGES[i] if i < len(STAGES) else "done"
            bar.update(task, completed=i, description=f"{stage} done; {nxt}")

        manifest = generate(out_dir, persons=persons, seed=seed, fmt=fmt, overwrite=overwrite, progress=progress,
                            sources=chosen)
    elapsed = time.perf_counter() - started

    table = Table(title=f"Wrote {manifest.path} ({manifest.format}, seed {manifest.seed})")
    table.add_column("dataset")
    table.add_column("table")
    table.add_column("rows", justify="right")
    total = 0
    for name, entry in manifest.tables.items():
        table.add_row(WAVE_MODEL.table(name).dataset, name, f"{entry.rows:,}")
        total += entry.rows
    for name, entry in manifest.truth.items():
        table.add_row("truth", name, f"{entry.rows:,}")
    out.print(table)
    s = manifest.summary
    out.print(f"{manifest.persons:,} persons in {s.get('households', 0):,} households; "
              f"{s.get('persons_with_magistrates_case', 0):,} with a magistrates' case; "
              f"{total:,} extract rows in {elapsed:.1f} s.")
    out.print(f"Manifest (seed, parameters, row counts, checksums): {manifest.path / 'manifest.json'}")
