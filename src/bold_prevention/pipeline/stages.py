"""The stage registry: every stage of Step A, once, in the order the pipeline runs them.

Each :class:`Stage` is a name, a one-line account of what it does, the function that runs it over a :class:`Run`
(the run's configuration, project, open warehouse and collected outputs) and whether it runs on Spark. The stage
functions only call the library (``catalogue``, ``register``, ``warehouse``, ``scale``, ``linkage``, ``spine``,
``cohorts``, ``trajectories``, ``early_warning``, ``outputs``); the one query of their own is the local-authority
link-rate table of the release (:func:`_la_link_outputs`), which has no home in the library yet.

On Spark every stage that touches the warehouse runs on the Spark warehouse (``<project>/parquet``) except loading,
which checks the extracts under the data contracts on DuckDB and then exports the checked tables for Spark (said in
the run's notes). Wave 1-2 sources are staged and linked on DuckDB only, so a Spark run whose extracts hold them is
refused; a stage that cannot run on Spark says so before anything runs (:func:`check_engine`).

The ``studies`` stage runs every shipped study (``bold_prevention.studies``) whose required sources are loaded,
each published as its own release beside the others; a study whose source is missing is named in the run's notes
with how to load it (``bold demo --waves 2``), and on Spark the studies are left to ``bold study run`` on DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, LoadBlocked

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run

#: The shipped cohorts the pipeline builds and profiles when the configuration names none.
DEFAULT_COHORTS = ("multiple_disadvantage", "multiple_disadvantage_4plus", "young_adults_cusp", "possession_claim",
                   "prison_leavers_nfa", "hard_edges_smd2")
USE_CASES = ("reoffending_12m_after_release", "possession_12m_after_claim")
FUNNELS = ("possession", "justice")
SURVIVAL = ("court_after_release", "possession_after_claim")
#: The Wave 3 local-authority file linked to the spine by the ``waves`` stage when it is loaded.
LA_RESIDENTS = "la_residents"


@dataclass(frozen=True)
class Stage:
    """One stage: ``run(run)`` does it; ``spark`` says whether it runs on the Spark engine (else ``not_on_spark``
    says why, and a Spark run that asks for it is refused before anything runs)."""

    name: str
    does: str
    run: Callable[[Run], None]
    spark: bool = True
    not_on_spark: str = ""


# ---------------------------------------------------------------------------------------------- catalogue, register
def _catalogues(run: Run) -> None:
    from ..catalogue import load_catalogues, read_stored

    cfg = run.config
    if cfg.catalogues is None:
        run.say("no catalogue folder given: skipping catalogue discovery")
        return
    paths = sorted(p for p in Path(cfg.catalogues).iterdir() if p.suffix.lower() == ".ods")
    if not paths:
        raise InputError(f"no .ods catalogues in {cfg.catalogues}",
                         hint="point `catalogues:` at the folder of Data First ODS catalogues")
    load_catalogues(paths, run.project)
    cat = read_stored(run.project)
    run.result.figures["catalogue_variables"] = len(cat.variables) if hasattr(cat, "variables") else None


def _register(run: Run) -> None:
    from ..catalogue import read_stored
    from ..register import export, load_register, validate

    reg = load_register(run.config.register) if run.config.register is not None else load_register()
    folder = run.project.root / "register"
    folder.mkdir(exist_ok=True)
    export(reg, folder / "risk_factor_register.csv", "csv", overwrite=True)
    export(reg, folder / "risk_factor_register.xlsx", "xlsx", overwrite=True)
    run.output("register (Step A CSV)", folder / "risk_factor_register.csv")
    run.output("register (GSS spreadsheet)", folder / "risk_factor_register.xlsx")
    if run.config.catalogues is not None:
        report = validate(reg, read_stored(run.project))
        report.frame().to_csv(folder / "validation.csv", index=False)
        run.output("register validation", folder / "validation.csv")
        run.result.figures["register_missing_variables"] = len(report.missing)
        run.say(f"validated against the catalogues: {len(report.missing)} missing variable references")


# ---------------------------------------------------------------------------------------------- load
def _load(run: Run) -> None:
    from ..warehouse.load import load_extracts

    cfg = run.config
    if cfg.extracts is None:
        raise InputError("the load stage needs the folder of extracts, and the configuration names none",
                         hint="add `extracts: FOLDER` to the config, or leave the load stage out and run on the "
                              "project's loaded warehouse")
    result = load_extracts(run.project, cfg.extracts, snapshot_date=cfg.snapshot_date,
                           progress=lambda d, i, n: run.say(f"{d} ({i}/{n})"))
    if result.blocked:  # pragma: no cover - load_extracts raises LoadBlocked itself
        raise LoadBlocked("the load was blocked", hint="see the quality report")
    run.result.partial = result.partial
    run.result.figures["rows_loaded"] = result.rows_loaded
    run.result.figures["load_status"] = result.status
    if result.report_html:
        run.output("quality report", result.report_html)
    if result.partial:
        run.say(f"partial load: outputs are marked partial ({', '.join(result.degraded_tables)})")
    if run.engine == "spark":
        from ..scale.export import export_warehouse_to_parquet

        run.say("exporting the checked warehouse as Parquet for Spark")
        exp = export_warehouse_to_parquet(run.project, overwrite=True, progress=run.say)
        run.note(f"load: the extracts were checked under the data contracts on DuckDB and the checked tables "
                 f"({len(exp.tables)}) exported as the Parquet warehouse that Spark reads")


# ---------------------------------------------------------------------------------------------- link, spine, waves
def _link(run: Run) -> None:
    cfg = run.config
    wh = run.warehouse()
    if cfg.link_incremental:
        from ..scale.incremental import link_new_snapshot

        inc = link_new_snapshot(wh, model_path=cfg.link_model, progress=run.say)
        run.detail(incremental=True, existing=inc.existing, new=inc.new, changed=inc.changed, removed=inc.removed,
                   reopened=inc.reopened, pairs=inc.pairs, joined_existing=inc.joined_existing,
                   merged_clusters=inc.merged_clusters)
        return
    from ..scale.linkage import dedupe_justice_records

    chunks = (cfg.link_chunks, cfg.link_chunks) if cfg.link_chunks else None
    res = dedupe_justice_records(wh, model_path=cfg.link_model, chunks=chunks, progress=run.say)
    run.detail(records=res.records, pairs=res.pairs, excluded=res.excluded, clusters=res.clusters,
               model=str(res.model_path), trained=res.trained)


def _spine(run: Run) -> None:
    from ..spine import build_spine

    cfg = run.config
    kw = {}
    if cfg.xjs == "improved":  # XJS joined where the toolkit's own model links two of its persons with confidence
        from ..linkage.xjs_audit import audit_xjs

        rep = audit_xjs(run.warehouse().con, truth_dir=cfg.truth, progress=run.say)
        run.result.figures["xjs_audit"] = {k: rep[k] for k in ("xjs_persons_medium", "improved_persons_medium")
                                           if k in rep}
        kw["link_table"] = "improved"
    r = build_spine(run.warehouse().con, as_at=cfg.as_at, band=cfg.band, register=cfg.register, progress=run.say,
                    **kw)
    run.result.figures["spine_persons"] = r.persons
    run.detail(persons=r.persons, need_rows=r.needs_rows, as_at=r.as_at.isoformat(), band=r.band, xjs=cfg.xjs)


def _wave_folder(run: Run) -> Path | None:
    if run.config.extracts is None:
        return None
    folder = Path(run.config.extracts) / "waves"
    return folder if folder.is_dir() else None


def _waves(run: Run) -> None:
    """The local-authority file (Wave 3) when loaded, and the Wave 1-2 sources in ``<extracts>/waves`` when
    present, linked to the spine; then the outcomes those sources measure."""
    from ..linkage.wave import link_source_to_spine, residents_link_options, score_against_truth
    from ..warehouse.engine import table_exists

    cfg = run.config
    wh = run.warehouse()
    if table_exists(wh.con, "linkage", f"identity_{LA_RESIDENTS}"):
        r = link_source_to_spine(wh.con, LA_RESIDENTS, model_path=run.project.models_dir / "la_residents_link.json",
                                 progress=run.say, **residents_link_options(wh.con))
        run.result.figures["la_residents"] = r.records
        run.result.figures["la_linked_by_band"] = r.linked
        run.output("local-authority linkage model", r.model_path)
        if cfg.truth is not None:
            q = score_against_truth(wh.con, LA_RESIDENTS, cfg.truth)
            run.result.figures["la_link_quality"] = q
            run.say(f"against the synthetic truth: precision {q['precision']}, recall {q['recall']}, F1 {q['f1']}")
        if run.releasing:
            run.publish("linkage", _la_link_outputs(wh.con))
    else:
        run.say("no local-authority residents loaded: no Wave 3 linkage")
    sources = _wave_sources(run)
    if sources:
        if wh.is_spark:  # checked before the run by check_engine; kept here for direct calls
            raise InputError("Wave 1-2 sources cannot be loaded on Spark", hint=WAVES_NOT_ON_SPARK)
        from ..linkage.wave_link import link_wave_source, load_wave_source
        from ..spine import apply_gold, build_outcomes

        folder = _wave_folder(run)
        for source in sources:
            loaded = load_wave_source(wh.con, source, folder, snapshot_date=cfg.snapshot_date, progress=run.say)
            for p in loaded.problems:
                run.note(f"waves: {source}: {p}")
            res = link_wave_source(wh.con, source, model_path=run.project.models_dir / f"wave-{source}.json",
                                   truth_dir=cfg.truth, progress=run.say)
            run.result.figures.setdefault("wave_linked_by_band", {})[source] = res.linked
        apply_gold(wh.con, progress=run.say)
        out = build_outcomes(wh.con, as_at=cfg.as_at, progress=run.say)
        run.detail(sources=list(sources), outcome_rows=out.rows)
        if {"hmrc", "npd"} & set(sources):  # Child Benefit claims and pupils: the person-to-child relation
            from ..spine.children import build_children

            ch = build_children(wh.con, progress=run.say)
            run.detail(children_relations=ch.rows)


def _la_link_outputs(con) -> list:
    """Disclosure-checked link rates of the local-authority file by band and sex."""
    import pandas as pd

    from ..cohorts.release import spine_version
    from ..outputs import check_counts

    df = con.execute(f"""
        select coalesce(r.band_joined, 'not linked') as band, coalesce(l.sex, 'U') as sex, count(*) as n
        from linkage.identity_{LA_RESIDENTS} l
        left join spine.person_record r on r.source_table = '{LA_RESIDENTS}' and r.record_id = l.resident_id
        group by 1, 2""").df()
    if not len(df):
        return []
    df = pd.DataFrame(df).rename(columns={"band": "Link band", "sex": "Sex"})
    return [check_counts(df, "n", "Link band", "Sex",
                         title="Local-authority residents linked to the justice spine, by band and sex",
                         population=f"{LA_RESIDENTS}@{spine_version(con)}")]


WAVES_NOT_ON_SPARK = ("Wave 1-2 sources are staged, checked and linked on DuckDB only: run the pipeline with "
                      "`engine: duckdb`, or move the `waves/` folder out of the extracts folder for a Spark run")


def _wave_sources(run: Run) -> tuple[str, ...]:
    """The Wave 1-2 sources whose files are in ``<extracts>/waves`` (none when there is no such folder)."""
    from ..datafirst.waves import WAVE_SOURCES

    folder = _wave_folder(run)
    if folder is None:
        return ()
    names = {p.name.split(".")[0] for p in folder.iterdir()}
    return tuple(k for k, s in WAVE_SOURCES.items() if s.person_table in names)


# ---------------------------------------------------------------------------------------------- analyses
def _cohorts(run: Run) -> None:
    from ..cohorts import build_cohort

    named = list(run.config.cohorts)
    sizes: dict[str, int] = {}
    for spec in named or DEFAULT_COHORTS:
        try:
            c = build_cohort(run.warehouse().con, spec)
        except InputError as e:
            if named:
                raise
            run.note(f"cohort {spec} skipped: {e.message}")
            continue
        sizes[c.name] = c.persons
        run.say(f"{c.title}: {c.persons:,} persons")
        if run.releasing:
            from ..cohorts.release import cohort_outputs

            outs, texts = cohort_outputs(run.warehouse().con, c.name)
            run.publish("cohorts", outs, texts, part=c.name, part_title=c.title)
    run.result.figures["cohort_sizes"] = sizes
    run.detail(persons=sizes)


def _places(run: Run) -> None:
    from ..cohorts.release import overlap_outputs, places_outputs

    outs, texts = places_outputs(run.warehouse().con)
    ov, _n, _label = overlap_outputs(run.warehouse().con)
    run.publish("places", [*outs, ov], texts)
    run.detail(tables=len(outs) + 1)


def _timeline(run: Run) -> None:
    from ..trajectories.timeline import build_timeline

    s = build_timeline(run.analysis_backend())
    run.result.figures["timeline_events"] = s.rows
    run.detail(rows=s.rows, persons=s.persons)
    for skipped in s.skipped:
        run.note(f"timeline: {skipped}")


def _pathways(run: Run) -> None:
    from ..trajectories.export import checked_outputs
    from ..trajectories.pathways import funnel
    from ..trajectories.survival import ANALYSES, durations

    backend = run.analysis_backend()
    for name in FUNNELS:
        run.publish("pathways", checked_outputs("funnel", funnel(backend, name), title=f"Funnel: {name}"))
    for name in SURVIVAL:
        a = ANALYSES[name]
        d = durations(backend, start=a.start, event=a.event)
        if len(d):
            run.publish("pathways", checked_outputs("survival", d, title=a.title))
        else:
            run.note(f"pathways: {a.title}: no person has the start event; not published")


def _early_warning(run: Run) -> None:
    from ..early_warning.train import train

    aucs = {}
    for uc in USE_CASES:
        try:
            rep = train(run.analysis_backend(), uc, project=run.project, truth=run.config.truth, n_boot=100,
                        progress=run.say)
        except InputError as e:
            run.note(f"early warning: {uc} not trained ({e.message})")
            continue
        run.publish("early-warning", rep.outputs, part=uc,
                    part_title=((rep.card or {}).get("use_case") or {}).get("title") or uc)
        aucs[uc] = _auc_summary(rep.card)
        if rep.folder:
            run.output(f"model card: {uc}", Path(rep.folder))
    run.result.figures["early_warning"] = aucs


def _auc_summary(card: dict) -> dict:
    """The headline AUCs from a model card (the card's own structure, defensively read)."""
    out: dict[str, Any] = {}

    def walk(d: Any, path: str) -> None:
        if isinstance(d, dict):
            for k, v in d.items():
                p = f"{path}.{k}" if path else str(k)
                if k in ("auc", "oracle_auc", "roc_auc") and isinstance(v, (int, float, dict)):
                    out[p] = v.get("estimate", v.get("value")) if isinstance(v, dict) else v
                else:
                    walk(v, p)

    walk(card, "")
    return dict(list(out.items())[:8])


# ---------------------------------------------------------------------------------------------- studies
def _studies(run: Run) -> None:
    from ..studies.run import check_sources, ensure_improved_id, list_studies, run_study

    if run.engine == "spark":
        run.note("studies: not run on Spark (they read the DuckDB warehouse); run `bold study run NAME` there")
        return
    con = run.warehouse().con
    truth = run.config.truth
    ran = []
    ready = []
    for spec in list_studies():
        missing = [s for s in check_sources(con, spec) if s.required and not s.loaded]
        if missing:
            run.note(f"study {spec.name}: not run, it needs {', '.join(s.name for s in missing)} "
                     f"({missing[0].load}; on synthetic data: bold demo --waves 1,2,3)")
            continue
        ready.append(spec)
    audit = ensure_improved_id(con, ready, progress=run.say)  # the persons Studies 1 and 2 count on
    if audit is not None:
        run.detail(studies_xjs_audit_seconds=audit["seconds"])
    for spec in ready:
        try:
            sr = run_study(con, run.project, spec, truth=truth)
        except InputError as e:
            run.note(f"study {spec.name}: not run ({e.message})")
            continue
        run.studies.append(sr)
        ran.append(spec.name)
        run.say(f"study {spec.name}: " + "; ".join(
            f"{h.label} {h.value}" for h in sr.result.headlines[:2] if h.value is not None))
    run.detail(studies=ran)
    run.result.figures["studies"] = ran


# ---------------------------------------------------------------------------------------------- release
@dataclass(frozen=True)
class Question:
    """One release: the question its tables answer."""

    key: str
    title: str
    question: str


#: The releases the release stage writes, one per question, in this order (studies will add theirs).
QUESTIONS: tuple[Question, ...] = (
    Question("linkage", "Linkage of the local-authority file to the justice spine",
             "How many local-authority residents link to a person on the justice spine, and at which band?"),
    Question("cohorts", "Cohorts on the justice spine",
             "Who is in each cohort, and how does each cohort differ from the spine population?"),
    Question("places", "Needs by place", "Where is each need most prevalent, and which needs occur together?"),
    Question("pathways", "Pathways and time to event",
             "How do people move through the possession and justice processes, and how soon do they return to "
             "court or lose their home?"),
    Question("early-warning", "Early warning",
             "How well can reoffending after release from prison, and possession after a first claim, be "
             "predicted, and for whom does the prediction work less well?"),
)
QUESTION_KEYS = tuple(q.key for q in QUESTIONS)
RELEASES_FOLDER = "releases"
INDEX_TITLE = "BOLD Prevention Step A: the releases"
SOURCE = "BOLD Prevention spine (Data First, linked through XJS)"


def _release(run: Run) -> None:
    from ..outputs import write_release
    from ..outputs.ledger import ReleaseLedger
    from ..outputs.release import write_release_index

    if not any(run.published.values()) and not run.studies:
        raise InputError("the release stage has nothing to publish: no stage of this run made a checked output",
                         hint="run the release with the stages that make its tables (waves, cohorts, places, "
                              "pathways, early-warning)")
    root = run.project.outputs_dir / RELEASES_FOLDER
    subtitle = ("Synthetic data: figures illustrate the pipeline, not the population."
                if run.config.truth is not None else None)
    if run.result.partial:
        subtitle = ((subtitle + " ") if subtitle else "") + "PARTIAL: a non-critical source was missing or broken."
    ledger = ReleaseLedger.for_project(run.project)  # every release audited with the ones before it
    written = []
    for q in QUESTIONS:
        for key in [k for k in run.published if k == q.key or k.startswith(q.key + "/")]:
            outs = run.published[key]
            if not outs:
                continue
            folder = key.replace("/", "-")
            title = q.title if key == q.key else f"{q.title}: {run.part_titles.get(key, key)}"
            paths = write_release(outs, root / folder, title=title, question=q.question, subtitle=subtitle,
                                  source=SOURCE, texts=run.texts.get(key, []), overwrite=True, command=run.command,
                                  ledger=ledger, index_href="../index.html")
            written.append(paths)
            run.output(f"release: {folder}", paths.report)
            for t, _why in paths.withheld:
                run.note(f"release {folder}: table withheld ({t}): an earlier release published it")
    if run.studies:
        from ..studies.run import write_study_release

        for sr in run.studies:
            paths = write_study_release(sr, root / f"study-{sr.spec.name}", ledger=ledger, overwrite=True)
            written.append(paths)
            run.output(f"release: study-{sr.spec.name}", paths.report)
            for title, _why in paths.withheld:
                run.note(f"release study-{sr.spec.name}: table withheld ({title}): an earlier release published it")
    index = write_release_index(root, written, title=INDEX_TITLE, intro=subtitle)
    run.output("releases (index page)", index)
    import json

    def n_outputs(paths) -> int:
        return len(json.loads((paths.folder / "output-checking" / "results.json").read_text(encoding="utf-8"))
                   ["results"])

    # the questions' tables and the studies' apart: studies run on DuckDB only, so the first is the same on both
    run.result.figures["checked_outputs"] = sum(n_outputs(p) for p in written if not p.folder.name.startswith("study-"))
    run.result.figures["study_outputs"] = sum(n_outputs(p) for p in written if p.folder.name.startswith("study-"))
    run.detail(folder=str(root), releases=[p.folder.name for p in written])


#: Every stage, in the order the pipeline runs them.
STAGES: tuple[Stage, ...] = (
    Stage("catalogues", "read the Data First ODS catalogues into the project", _catalogues),
    Stage("register", "export the risk factor register and validate it against the catalogues", _register),
    Stage("load", "load the extracts under the data contracts, with a quality report (then export them for Spark)",
          _load),
    Stage("link", "Splink dedupe of the justice identities (linkage.justice_pairs, linkage.justice_clusters), "
                  "to set beside the XJS persons", _link),
    Stage("spine", "the XJS person records and the person-level spine", _spine),
    Stage("waves", "link the local-authority file and any Wave 1-2 sources to the spine; their outcomes", _waves),
    Stage("cohorts", "build the cohorts (and their disclosure-checked profiles for the release)", _cohorts),
    Stage("places", "prevalence of needs by place, and their overlap", _places),
    Stage("timeline", "every person's events in one timeline", _timeline),
    Stage("pathways", "funnels and time to event (survival) over the timeline", _pathways),
    Stage("early-warning", "train and evaluate the early-warning use cases; their model cards", _early_warning),
    Stage("studies", "run every shipped study whose sources are loaded (each its own release)", _studies),
    Stage("release", "one disclosure-checked release of every table above, audited with the project's earlier "
                     "releases", _release),
)
BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
#: Earlier names of stages, still accepted.
ALIASES = {"timelines": "timeline", "linkage": "waves", "trajectories": "pathways", "early_warning": "early-warning"}
#: ``bold demo``: the whole of Step A (the justice dedupe ``link`` is a separate check of the XJS persons).
DEMO_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.name != "link")
#: ``bold scale run`` without ``--stages``.
SCALE_STAGES: tuple[str, ...] = ("spine", "cohorts", "timeline")


def choose(stages: str | list[str] | tuple[str, ...] | None, default: tuple[str, ...] = DEMO_STAGES) -> list[str]:
    """The stages asked for (names, or one comma-separated string), checked and in the registry's order."""
    if stages is None:
        stages = default
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    names = [ALIASES.get(s, s) for s in stages]
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise InputError(f"unknown pipeline stage(s) {', '.join(unknown)}",
                         hint=f"use some of {', '.join(BY_NAME)}")
    if not names:
        raise InputError("no pipeline stage was chosen", hint=f"name some of {', '.join(BY_NAME)}")
    return [s.name for s in STAGES if s.name in names]


def check_engine(chosen: list[str], engine: str, run: Run | None = None) -> None:
    """Refuse, before anything runs, a Spark run of a stage that cannot run on Spark."""
    if engine != "spark":
        return
    for name in chosen:
        st = BY_NAME[name]
        if not st.spark:
            raise InputError(f"the {name} stage cannot run on Spark: {st.not_on_spark}",
                             hint="run it with engine duckdb, or leave it out of the stages")
    if run is not None and "waves" in chosen and _wave_sources(run):
        raise InputError(f"the waves stage cannot run on Spark: the extracts folder holds Wave 1-2 sources "
                         f"({', '.join(_wave_sources(run))})", hint=WAVES_NOT_ON_SPARK)
