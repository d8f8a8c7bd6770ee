"""``bold demo``: the whole Step A pipeline in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import InputError
from .app import app, console, out, user_errors


@app.command("demo")
@user_errors
def demo_cmd(
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for everything the demo makes (default: the "
                                        "project folder every command uses, $BOLD_PROJECT or ./bold-project)."),
    persons: int | None = typer.Option(None, "--persons", min=500, help="Size of the synthetic population "
                                       "(default 50,000; at least 500)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (same seed, same outputs; default 42)."),
    config: Path | None = typer.Option(None, "--config", help="Run on real extracts instead: a YAML file naming the "
                                       "extract and catalogue folders (see docs/demo.md)."),
    project: Path | None = typer.Option(None, "--project", "-p", help="With --config: the project folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
) -> None:
    """Run Step A end to end: synthetic population -> catalogues -> register -> load and quality -> spine ->
    linkage of the local-authority file -> cohorts and places -> timeline and pathways -> early warning ->
    disclosure-checked report and spreadsheets."""
    import time

    from ..pipeline.demo import DEFAULT_PERSONS, DEFAULT_SEED, run_demo, run_from_config

    t0 = time.perf_counter()
    state = {"stage": None}

    def progress(stage: str, msg: str) -> None:
        if stage != state["stage"]:
            state["stage"] = stage
            console.rule(f"[bold]{stage}")
        console.print(f"  {msg}", highlight=False)

    if config is not None:
        given = [o for o, v in (("--out", out_dir), ("--persons", persons), ("--seed", seed),
                                ("--overwrite", overwrite or None)) if v is not None]
        if given:
            raise InputError(f"{', '.join(given)} cannot be used with --config: they describe the synthetic demo, "
                             "and a config runs on the extracts it names",
                             hint="give the project folder with --project (default $BOLD_PROJECT or ./bold-project), "
                                  "or drop --config to run the synthetic demo")
        result = run_from_config(config, project, progress=progress)
    else:
        if project is not None and out_dir is not None and project.absolute() != out_dir.absolute():
            raise InputError("--project and --out name two different folders for the demo",
                             hint="give one of them: the demo's folder is its project folder")
        result = run_demo(out_dir or project, persons=DEFAULT_PERSONS if persons is None else persons,
                          seed=DEFAULT_SEED if seed is None else seed, overwrite=overwrite, progress=progress)
    t = Table(title="Where each output is", show_lines=False)
    t.add_column("output")
    t.add_column("path", overflow="fold")
    for k, v in result.outputs.items():
        t.add_row(k, str(v))
    out.print(t)
    for n in result.notes:
        console.print(f"[yellow]Note:[/] {n}", highlight=False)
    if result.partial:
        out.print("[yellow]The load was partial: outputs are marked partial.[/]")
    out.print(f"Finished in {time.perf_counter() - t0:.0f} s on {result.engine}. Project folder: {result.project}")
    out.print(f"Open the web application on it: .venv/bin/bold users add NAME --role analyst --project "
              f"{result.project}; .venv/bin/bold serve --project {result.project}")
