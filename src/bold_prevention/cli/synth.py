"""``bold synth``: generate a synthetic Data First population with a known truth."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .app import Fmt, FormatOption, OverwriteOption, SeedOption, app, console, out, user_errors
from .printing import Grid


@app.command("synth")
@user_errors
def synth(
    persons: int = typer.Option(10_000, "--persons", "-n", help="Number of persons in the population."),
    seed: int = SeedOption,
    out_dir: Path = typer.Option(Path("synthetic"), "--out", "-o", metavar="DIR",
                                 help="Output folder (must not exist unless --overwrite)."),
    file_format: str = typer.Option("parquet", "--file-format", metavar="parquet|csv",
                                    help="Format of the files written: parquet (default) or csv."),
    overwrite: bool = OverwriteOption,
    waves: str = typer.Option("", "--waves", help="Add the Wave 1-2 sources of these waves, e.g. 1,2 (files under "
                                                  "waves/); none by default."),
    sources: str = typer.Option("", "--sources", help="Add these wave sources: npd, dwp, hmrc, hes, ndtms, "
                                                      "deaths, support (the victims' support service; also "
                                                      "--waves 3) (comma-separated)."),
    fmt: Fmt = FormatOption,
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
                         hint="use --waves 1,2,3 and/or --sources npd,dwp,hmrc,hes,ndtms,deaths,support") from None
    check_request(out_dir, persons, seed, file_format, overwrite)
    STAGES = stages_for(chosen)
    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn(
            "{task.completed}/{task.total}"), TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(f"Synthetic population: {persons:,} persons", total=len(STAGES))

        def progress(stage: str, i: int, n: int) -> None:
            nxt = STAGES[i] if i < len(STAGES) else "done"
            bar.update(task, completed=i, description=f"{stage} done; {nxt}")

        manifest = generate(out_dir, persons=persons, seed=seed, fmt=file_format, overwrite=overwrite, progress=progress,
                            sources=chosen)
    elapsed = time.perf_counter() - started

    table = Grid("tables", f"Wrote {manifest.path} ({manifest.format}, seed {manifest.seed})")
    table.column("dataset").column("table").column("rows")
    total = 0
    for name, entry in manifest.tables.items():
        table.row(WAVE_MODEL.table(name).dataset, name, entry.rows)
        total += entry.rows
    for name, entry in manifest.truth.items():
        table.row("truth", name, entry.rows)
    table.show()
    s = manifest.summary
    out.print(f"{manifest.persons:,} persons in {s.get('households', 0):,} households; "
              f"{s.get('persons_with_magistrates_case', 0):,} with a magistrates' case; "
              f"{total:,} extract rows in {elapsed:.1f} s.")
    out.print(f"Manifest (seed, parameters, row counts, checksums): {manifest.path / 'manifest.json'}")
