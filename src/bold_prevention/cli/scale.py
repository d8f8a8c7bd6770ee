"""``bold scale ...`` (the pipeline on DuckDB or Spark, the Parquet warehouse, the Spark environment) and
``bold sql`` (spine and cohort transformations as Trino / Athena, Spark or DuckDB SQL)."""

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
from .link import BlockingJsonOption, SampleOption, show_blocking_counts
from .printing import Grid

scale_app = Typer(help="Scale-out: the same pipeline on DuckDB or Apache Spark (local mode or a cluster), "
                             "the Parquet warehouse Spark reads, and the Spark environment.",
                        no_args_is_help=True)
app.add_typer(scale_app, name="scale")

EngineOption = typer.Option(None, "--engine", "-e", help="Engine: duckdb (default, or $BOLD_ENGINE) or spark.")
MasterOption = typer.Option(None, "--spark-master", help="Spark master: local[*] (default, or $BOLD_SPARK_MASTER), "
                                                         "local[N], spark://HOST:PORT, k8s://... or yarn.")


@scale_app.command("export")
@user_errors
def export_cmd(
    project: Path | None = ProjectOption,
    overwrite: bool = OverwriteOption,
    schemas: str = typer.Option("extract,linkage,meta,catalogue", "--schemas",
                                help="Comma-separated warehouse schemas to export."),
) -> None:
    """Export the checked DuckDB warehouse as the Parquet warehouse (<project>/parquet) the Spark engine reads."""
    from ..scale.export import export_warehouse_to_parquet

    with console.status("exporting") as status:
        res = export_warehouse_to_parquet(Project.at(project), schemas=[s.strip() for s in schemas.split(",")
                                                                        if s.strip()],
                                          overwrite=overwrite, progress=lambda m: status.update(m))
    out.print(f"[bold]Parquet warehouse[/] {res.folder}: {len(res.tables)} tables, {res.rows:,} rows "
              f"({res.seconds:.1f} s)")


@scale_app.command("load")
@user_errors
def load_cmd(
    source: Path = typer.Argument(..., help="Folder of extract files, or a synthetic output folder."),
    project: Path | None = ProjectOption,
    snapshot_date: str | None = typer.Option(None, "--snapshot-date", help="Date of the extract (YYYY-MM-DD)."),
) -> None:
    """Load and check extracts (on DuckDB, under the data contracts), then export them as Parquet for Spark."""
    from ..scale.export import load_to_parquet

    with console.status("loading") as status:
        res = load_to_parquet(Project.at(project), source, snapshot_date=parse_date(snapshot_date, "snapshot date"),
                              progress=lambda m: status.update(m))
    out.print(f"[bold]Loaded and exported[/] {res.folder}: {len(res.tables)} tables, {res.rows:,} rows")


@scale_app.command("run")
@user_errors
def run_cmd(
    engine: str | None = EngineOption,
    spark_master: str | None = MasterOption,
    stages: str = typer.Option("spine,cohorts,timeline", "--stages",
                               help="Comma-separated stages, run in the pipeline's order: catalogues, register, "
                                    "load, link (Splink dedupe of the justice identities), spine (XJS person "
                                    "records and the spine), waves, cohorts, places, timeline, pathways, "
                                    "early-warning, release."),
    as_at: str | None = typer.Option(None, "--as-at", help="As-at date of the spine (YYYY-MM-DD; default "
                                     "2024-12-31)."),
    band: str | None = typer.Option(None, "--band", help="Linkage band of the XJS person ids: high, medium "
                                    "(default), low."),
    register: Path | None = typer.Option(None, "--register", help="A register YAML file (default: shipped)."),
    cohort: list[str] | None = typer.Option(None, "--cohort", help="Cohort spec(s) to build (default: the shipped "
                                            "cohorts the release profiles, those the register cannot support "
                                            "skipped with a note)."),
    model: Path | None = typer.Option(None, "--model", help="Saved Splink model for the link stage (default "
                                      "<project>/models/justice_dedupe.json, trained there when missing)."),
    chunks: int | None = typer.Option(None, "--chunks", help="Link stage: split prediction into N x N chunks."),
    incremental: bool = typer.Option(False, "--incremental", help="Link stage: link only the records new or "
                                     "changed since the last link run, with its saved model, instead of "
                                     "relinking everything."),
    partitions: int | None = typer.Option(None, "--partitions", help="Spark shuffle partitions (default 8)."),
    config: Path | None = typer.Option(None, "--config", help="A pipeline configuration (YAML with engine, "
                                       "spark_master, extracts, as_at, band...): load (and export for Spark) its "
                                       "extracts, then run the stages."),
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Run the pipeline's stages on DuckDB or Spark (the same pipeline as `bold demo`)."""
    from ..pipeline import PipelineConfig, run_from_config, run_pipeline

    proj = Project.at(project)
    with console.status("starting") as status:
        say = lambda stage, m: status.update(f"{stage}: {m}")  # noqa: E731
        if config is not None:
            given = [o for o, v in (("--as-at", as_at), ("--band", band), ("--register", register),
                                    ("--cohort", cohort or None), ("--model", model), ("--chunks", chunks),
                                    ("--incremental", incremental or None), ("--partitions", partitions))
                     if v is not None]
            if given:
                raise InputError(f"{', '.join(given)} cannot be used with --config: the config file holds the run's "
                                 "settings", hint="set them in the config file (see docs/scale-out.md); only "
                                                  "--engine and --spark-master override it")
            chosen = [s.strip() for s in stages.split(",") if s.strip()]
            run = run_from_config(config, proj, stages=["load", *chosen], engine=engine,
                                  spark_master=spark_master, progress=say, command="bold scale run")
        else:
            from ..warehouse.engine import engine_setting

            cfg = PipelineConfig(engine=engine_setting(engine), spark_master=spark_master, partitions=partitions,
                                 as_at=parse_date(as_at or "2024-12-31"), band=band or "medium",
                                 cohorts=list(cohort or []), register=register, link_model=model,
                                 link_chunks=chunks, link_incremental=incremental)
            run = run_pipeline(cfg, stages, project=proj, progress=say, command="bold scale run")
    g = Grid("stages", f"Pipeline on {run.engine}" + (f" ({run.master})" if run.master else ""))
    g.column("stage").column("seconds", justify="right").column("result")
    g.row("open", round(run.open_seconds, 1), {})
    for s in run.stages:
        g.row(s.stage, round(s.seconds, 1), s.detail)
    g.show()
    for n in run.notes:
        console.print(f"[yellow]Note:[/] {n}")
    console.print("Tables are internal to the warehouse; take figures away through disclosure control "
                  "(`--stages ...,release`, or `bold cohort profile --out`).")


@scale_app.command("blocking")
@user_errors
def blocking_cmd(
    engine: str | None = EngineOption,
    spark_master: str | None = MasterOption,
    model: Path | None = typer.Option(None, "--model", help="Saved Splink model (default "
                                      "<project>/models/justice_dedupe.json; a new model's rules when missing)."),
    sample: float = SampleOption,
    json_out: Path | None = BlockingJsonOption,
    project: Path | None = ProjectOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Count the candidate pairs each blocking rule of the justice dedupe would make, before a run at scale."""
    from ..scale.linkage import justice_blocking_counts
    from ..warehouse.engine import open_warehouse

    proj = Project.at(project)
    with console.status("counting candidate pairs per blocking rule"):
        wh = open_warehouse(proj, engine, spark_master=spark_master)
        try:
            counts = justice_blocking_counts(wh, model_path=model, sample=sample)
        finally:
            wh.close()
    show_blocking_counts(counts, f"Justice dedupe on {wh.engine}: candidate pairs per blocking rule", json_out)


@scale_app.command("check")
@user_errors
def check_cmd(
    spark_master: str | None = MasterOption,
    start: bool = typer.Option(False, "--start", help="Also start a Spark session and run a query."),
    project: Path | None = ProjectOption,
) -> None:
    """Check the Spark environment: Java, PySpark, Splink's similarity jar, the master, the Parquet warehouse."""
    import os

    from ..warehouse import spark as sp

    master = spark_master or os.environ.get("BOLD_SPARK_MASTER") or sp.DEFAULT_MASTER
    java = sp.check_java()
    out.print(f"Java: {java}")
    try:
        import pyspark

        out.print(f"PySpark: {pyspark.__version__}")
    except ImportError as e:
        raise InputError("PySpark is not installed", hint="uv sync --all-extras") from e
    jar = sp.similarity_jar()
    out.print(f"Splink similarity jar: {jar or 'not found'}")
    sp.check_master(master)
    out.print(f"Spark master {master}: reachable")
    proj = Project.at(project)
    if proj.parquet_dir.exists():
        sp.check_parquet_warehouse(proj.parquet_dir, create=False)
        out.print(f"Parquet warehouse {proj.parquet_dir}: schema version {sp.schema_version()}")
    else:
        out.print(f"Parquet warehouse {proj.parquet_dir}: not exported yet (`bold scale export`)")
    if start:
        with console.status("starting Spark"):
            s = sp.spark_session(master)
            n = s.sql("SELECT 1 AS one").collect()[0][0]
        out.print(f"Spark {s.version} on {s.sparkContext.master}: query ok ({n})")


@scale_app.command("pseudonyms")
@user_errors
def pseudonyms_cmd(
    engine: str | None = EngineOption,
    spark_master: str | None = MasterOption,
    band: str = typer.Option("medium", "--band", help="Linkage band of the XJS person ids."),
    project: Path | None = ProjectOption,
) -> None:
    """Write spine_work._xjs_pseudonyms (XJS cluster id -> person id, keyed hash), which the Spark and DuckDB
    spine scripts of `bold sql` read."""
    from ..scale.sql import write_pseudonyms
    from ..warehouse.engine import open_warehouse

    with console.status("pseudonymising"), open_warehouse(project, engine, spark_master=spark_master) as wh:
        n = write_pseudonyms(wh.con, band)
    out.print(f"spine_work._xjs_pseudonyms: {n:,} persons at the {band} band")


@app.command("sql")
@user_errors
def sql_cmd(
    what: str = typer.Argument("spine", help="spine, or cohort"),
    name: str | None = typer.Argument(None, help="With `cohort`: the cohort spec (shipped name or YAML path)."),
    dialect: str = typer.Option("trino", "--dialect", help="trino, athena, spark or duckdb."),
    as_at: str = typer.Option("2024-12-31", "--as-at", help="As-at date (YYYY-MM-DD)."),
    band: str = typer.Option("medium", "--band", help="Linkage band of the XJS person ids (spine)."),
    register: Path | None = typer.Option(None, "--register", help="A register YAML file (spine; default shipped)."),
    output: Path | None = typer.Option(None, "--out", "-o", metavar="FILE", help="Write the script to this file "
                                       "(default: print)."),
    location: str | None = typer.Option(None, "--location", metavar="S3PREFIX", help="Athena: write the tables "
                                        "under this S3 prefix (external_location; default: the workgroup's)."),
    dbt: Path | None = typer.Option(None, "--dbt", metavar="DIR", help="Write a dbt project (models with ref() and "
                                    "source(), sources.yml, dbt_project.yml) for the spine and the shipped cohorts "
                                    "(or the one cohort named) instead of a script."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Write the spine or a cohort's transformations as SQL for Trino / Athena, Spark or DuckDB, or as a dbt
    project (--dbt)."""
    from ..scale.sql import cohort_script, parse_check, spine_script, write_dbt

    when = parse_date(as_at)
    if dbt is not None:
        from ..cohorts import shipped_specs

        if what not in ("spine", "cohort"):
            raise InputError(f"unknown transformation {what!r}", hint="use `spine` or `cohort NAME`")
        cohorts = [name] if what == "cohort" and name else sorted(shipped_specs())
        folder = write_dbt(dbt, dialect=dialect, as_at=when, band=band, register=register, cohorts=cohorts,
                           overwrite=overwrite)
        n = len(list((folder / "models").rglob("*.sql")))
        console.print(f"wrote the dbt project {folder} ({n} models, {dialect}; cohorts: {', '.join(cohorts)})")
        return
    if what == "spine":
        script = spine_script(dialect, as_at=when, band=band, register=register, location=location)
    elif what == "cohort":
        if not name:
            raise InputError("`bold sql cohort` needs the cohort's name", hint="e.g. bold sql cohort possession_claim")
        script = cohort_script(name, dialect, as_at=when, location=location)
    else:
        raise InputError(f"unknown transformation {what!r}", hint="use `spine` or `cohort NAME`")
    n = parse_check(script)
    text = script.text()
    if output is None:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        from ..files import atomic_file

        with atomic_file(output) as fh:
            fh.write(text)
        console.print(f"wrote {output} ({n} statements, {script.dialect}; parsed with sqlglot)")
