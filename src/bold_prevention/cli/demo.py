"""``bold demo``: the whole Step A pipeline in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .app import OverwriteOption, SeedOption, app, console, out, user_errors


@app.command("demo")
@user_errors
def demo_cmd(
    out_dir: Path = typer.Option(Path("bold-demo"), "--out", "-o", metavar="DIR",
                                 help="Folder for everything the demo makes."),
    persons: int = typer.Option(50_000, "--persons", "-n", min=100, help="Size of the synthetic population."),
    seed: int = SeedOption,
    config: Path | None = typer.Option(None, "--config", "-c", metavar="FILE", help="Run on real extracts instead: "
                                       "a YAML file naming the extract and catalogue folders (see docs/demo.md)."),
    project: Path | None = typer.Option(None, "--project", "-p", metavar="DIR",
                                        help="With --config: the project folder."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Run Step A end to end: synthetic population -> catalogues -> register -> load and quality -> linkage ->
    spine -> cohorts and places -> trajectories -> early warning -> disclosure-checked report and spreadsheets."""
    import time

    from ..pipeline.demo import run_demo, run_from_config

    t0 = time.perf_counter()
    state = {"stage": None}

    def progress(stage: str, msg: str) -> None:
        if stage != state["stage"]:
            state["stage"] = stage
            console.rule(f"[bold]{stage}")
        console.print(f"  {msg}", highlight=False)

    if config is not None:
        result = run_from_config(config, project, progress=progress)
    else:
        result = run_demo(out_dir, persons=persons, seed=seed, overwrite=overwrite, progress=progress)
    t = Table(title="Where each output is", show_lines=False)
    t.add_column("output")
    t.add_column("path", overflow="fold")
    for k, v in result.outputs.items():
        t.add_row(k, str(v))
    out.print(t)
    if result.partial:
        out.print("[yellow]The load was partial: outputs are marked partial.[/]")
    out.print(f"Finished in {time.perf_counter() - t0:.0f} s. Project folder: {result.project}")
    out.print(f"Open the web application on it: .venv/bin/bold users add NAME --role analyst --project "
              f"{result.project}; .venv/bin/bold serve --project {result.project}")
