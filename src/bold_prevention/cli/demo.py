"""``bold demo``: the whole Step A pipeline in one command."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from .app import FormatOption, OverwriteOption, SeedOption, app, console, out, user_errors
from .printing import Grid


@app.command("demo")
@user_errors
def demo_cmd(
    ctx: typer.Context,
    out_dir: Path | None = typer.Option(None, "--out", "-o", metavar="DIR",
                                        help="Folder for everything the demo makes (default: the project folder "
                                             "every command uses, $BOLD_PROJECT or ./bold-project)."),
    persons: int = typer.Option(50_000, "--persons", "-n", min=500, help="Size of the synthetic population (at "
                                "least 500)."),
    seed: int = SeedOption,
    config: Path | None = typer.Option(None, "--config", "-c", metavar="FILE", help="Run on real extracts instead: "
                                       "a YAML file naming the extract and catalogue folders (see docs/demo.md)."),
    project: Path | None = typer.Option(None, "--project", "-p", metavar="DIR",
                                        help="The project folder (with --config; without it, the same as --out)."),
    overwrite: bool = OverwriteOption,
    waves: str | None = typer.Option(None, "--waves", metavar="LIST",
                                     help="Also synthesise and link these waves' sources, comma-separated (1: pupils; "
                                          "2: benefits, earnings, health, drug treatment, deaths; 3: a victims' "
                                          "support service), so that every study runs."),
    xjs: str = typer.Option("published", "--xjs", metavar="ID",
                            help="The person id the spine is built on: published (the XJS linking table) or improved "
                                 "(XJS joined where the toolkit's own model links two of its persons with "
                                 "confidence; see bold link xjs-audit)."),
    fmt: str = FormatOption,
) -> None:
    """Run Step A end to end: synthetic population -> catalogues -> register -> load and quality -> spine ->
    linkage of the local-authority file (and, with --waves, the Wave 1-3 sources) -> cohorts and places ->
    timeline and pathways -> early warning -> the studies whose sources are loaded -> disclosure-checked releases."""
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
        def given_here(name: str) -> bool:  # on the command line or from the environment, not the default
            source = ctx.get_parameter_source(name)
            return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

        given = [f"--{name.replace('_dir', '')}" for name in ("out_dir", "persons", "seed", "overwrite", "waves", "xjs")
                 if given_here(name)]
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
        wave_list: list[int] = []
        for w in (waves or "").split(","):
            if w.strip():
                if w.strip() not in ("1", "2", "3"):
                    raise InputError(f"--waves: {w.strip()!r} is not a wave", hint="give 1, 2 and/or 3, e.g. --waves 1,2")
                wave_list.append(int(w))
        result = run_demo(out_dir or project, persons=persons, seed=seed, overwrite=overwrite, progress=progress,
                          waves=wave_list, xjs=xjs)
    g = Grid("outputs", "Where each output is")
    g.column("output").column("path")
    for k, v in result.outputs.items():
        g.row(k, str(v))
    g.show()
    if result.notes:
        notes = Grid("notes", "Notes")
        notes.column("note")
        for n in result.notes:
            notes.row(n)
        if fmt != "table":
            notes.show()
    for n in result.notes:
        console.print(f"[yellow]Note:[/] {n}", highlight=False)
    if result.partial:
        out.print("[yellow]The load was partial: outputs are marked partial.[/]")
    out.print(f"Finished in {time.perf_counter() - t0:.0f} s on {result.engine}. Project folder: {result.project}")
    out.print(f"Open the web application on it: .venv/bin/bold users add NAME --role analyst --project "
              f"{result.project}; .venv/bin/bold serve --project {result.project}")
