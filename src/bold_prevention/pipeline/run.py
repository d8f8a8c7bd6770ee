"""The whole Step A pipeline, stage by stage, over one project folder.

    catalogues -> register validate/export -> load and quality -> XJS spine join and spine
    -> Wave 3 linkage (local authority residents to the spine) -> cohorts and profiles -> place prevalence
    -> timelines and trajectories -> early-warning use cases -> disclosure-checked report and spreadsheets

:func:`run_pipeline` drives the library functions of each layer; it adds no logic of its own beyond choosing
what to run and collecting the disclosure-checked outputs into one release. Each stage reports progress through
``progress(stage, message)``; a stage that fails stops the run with the library's own error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, LoadBlocked
from ..project import Project
from .config import PipelineConfig

Progress = Callable[[str, str], None]

#: The shipped cohorts the pipeline builds and profiles.
DEFAULT_COHORTS = ("multiple_disadvantage", "multiple_disadvantage_4plus", "young_adults_cusp", "possession_claim",
                   "prison_leavers_nfa", "hard_edges_smd2")
USE_CASES = ("reoffending_12m_after_release", "possession_12m_after_claim")
FUNNELS = ("possession", "justice")
SURVIVAL = ("court_after_release", "possession_after_claim")


@dataclass
class PipelineResult:
    project: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    partial: bool = False


def _noop(_stage: str, _msg: str) -> None:
    return None


def run_pipeline(config: PipelineConfig, project: Project, *, progress: Progress | None = None) -> PipelineResult:
    """Run every stage of Step A on ``config``'s extracts into ``project`` and write the release."""
    from ..warehouse.engine import duckdb_connect

    say = progress or _noop
    project.ensure()
    res = PipelineResult(project=project.root)
    checked: list = []
    texts: list[tuple[str, str]] = []

    def stage(name: str):
        def deco(fn):
            t0 = time.perf_counter()
            say(name, "started")
            fn()
            res.timings[name] = round(time.perf_counter() - t0, 2)
            say(name, f"done in {res.timings[name]:.1f} s")
        return deco

    # ------------------------------------------------------------------ catalogues and register
    @stage("catalogues")
    def _catalogues():
        from ..catalogue import load_catalogues, read_stored

        if config.catalogues is None:
            say("catalogues", "no catalogue folder given: skipping catalogue discovery")
            return
        paths = sorted(p for p in Path(config.catalogues).iterdir() if p.suffix.lower() == ".ods")
        if not paths:
            raise InputError(f"no .ods catalogues in {config.catalogues}", hint="point `catalogues:` at the folder of "
                             "Data First ODS catalogues")
        load_catalogues(paths, project)
        cat = read_stored(project)
        res.figures["catalogue_variables"] = len(cat.variables) if hasattr(cat, "variables") else None

    @stage("register")
    def _register():
        from ..catalogue import read_stored
        from ..register import export, load_register, validate

        reg = load_register()
        folder = project.root / "register"
        folder.mkdir(exist_ok=True)
        export(reg, folder / "risk_factor_register.csv", "csv", overwrite=True)
        export(reg, folder / "risk_factor_register.xlsx", "xlsx", overwrite=True)
        res.outputs["register (Step A CSV)"] = folder / "risk_factor_register.csv"
        res.outputs["register (GSS spreadsheet)"] = folder / "risk_factor_register.xlsx"
        if config.catalogues is not None:
            report = validate(reg, read_stored(project))
            report.frame().to_csv(folder / "validation.csv", index=False)
            res.outputs["register validation"] = folder / "validation.csv"
            res.figures["register_missing_variables"] = len(report.missing)
            say("register", f"validated against the catalogues: {len(report.missing)} missing variable references")

    # ------------------------------------------------------------------ load and quality
    @stage("load")
    def _load():
        from ..warehouse.load import load_extracts

        result = load_extracts(project, config.extracts, snapshot_date=config.snapshot_date,
                               progress=lambda d, i, n: say("load", f"{d} ({i}/{n})"))
        if result.blocked:  # pragma: no cover - load_extracts raises LoadBlocked itself
            raise LoadBlocked("the load was blocked", hint="see the quality report")
        res.partial = result.partial
        res.figures["rows_loaded"] = result.rows_loaded
        res.figures["load_status"] = result.status
        if result.report_html:
            res.outputs["quality report"] = result.report_html
        if result.partial:
            say("load", f"partial load: outputs are marked partial ({', '.join(result.degraded_tables)})")

    con = duckdb_connect(project)
    try:
        # -------------------------------------------------------------- spine
        @stage("spine")
        def _spine():
            from ..spine import build_spine

            r = build_spine(con, as_at=config.as_at, band=config.band,
                            progress=lambda m: say("spine", m))
            res.figures["spine_persons"] = r.persons

        # -------------------------------------------------------------- Wave 3 linkage
        @stage("linkage")
        def _linkage():
            from ..linkage.wave import link_source_to_spine, score_against_truth

            have = con.execute("select count(*) from information_schema.tables where table_schema = 'linkage' "
                               "and table_name = 'identity_la_residents'").fetchall()[0][0]
            if not have:
                say("linkage", "no local-authority residents loaded: skipping Wave 3 linkage")
                return
            r = link_source_to_spine(con, "la_residents", model_path=project.models_dir / "la_residents_link.json",
                                     progress=lambda m: say("linkage", m))
            res.figures["la_residents"] = r.records
            res.figures["la_linked_by_band"] = r.linked
            res.outputs["local-authority linkage model"] = r.model_path
            if config.truth is not None:
                q = score_against_truth(con, "la_residents", config.truth)
                res.figures["la_link_quality"] = q
                say("linkage", f"against the synthetic truth: precision {q['precision']}, recall {q['recall']}, "
                    f"F1 {q['f1']}")
            _linkage_outputs(con, checked)

        # -------------------------------------------------------------- cohorts and places
        @stage("cohorts")
        def _cohorts():
            from ..cohorts import build_cohort
            from ..cohorts.release import cohort_outputs

            sizes = {}
            for spec in list(config.cohorts or DEFAULT_COHORTS):
                c = build_cohort(con, spec)
                sizes[c.name] = c.persons
                say("cohorts", f"{c.title}: {c.persons:,} persons")
                outs, t = cohort_outputs(con, c.name)
                checked.extend(outs)
                texts.extend(t)
            res.figures["cohort_sizes"] = sizes

        @stage("places")
        def _places():
            from ..cohorts.release import overlap_outputs, places_outputs

            outs, t = places_outputs(con)
            checked.extend(outs)
            texts.extend(t)
            ov, _n, _label = overlap_outputs(con)
            checked.append(ov)

        # -------------------------------------------------------------- trajectories
        @stage("trajectories")
        def _trajectories():
            from ..trajectories.export import checked_outputs
            from ..trajectories.pathways import funnel
            from ..trajectories.survival import ANALYSES, durations
            from ..trajectories.timeline import build_timeline

            s = build_timeline(con)
            res.figures["timeline_events"] = s.rows
            for name in FUNNELS:
                checked.extend(checked_outputs("funnel", funnel(con, name), title=f"Funnel: {name}"))
            for name in SURVIVAL:
                a = ANALYSES[name]
                d = durations(con, start=a.start, event=a.event)
                if len(d):
                    checked.extend(checked_outputs("survival", d, title=a.title))

        # -------------------------------------------------------------- early warning
        @stage("early-warning")
        def _early_warning():
            from ..early_warning.train import train

            aucs = {}
            for uc in USE_CASES:
                try:
                    rep = train(con, uc, project=project, truth=config.truth, n_boot=100,
                                progress=lambda m: say("early-warning", m))
                except InputError as e:
                    say("early-warning", f"{uc}: not trained ({e.message})")
                    continue
                checked.extend(rep.outputs)
                aucs[uc] = _auc_summary(rep.card)
                if rep.folder:
                    res.outputs[f"model card: {uc}"] = Path(rep.folder)
            res.figures["early_warning"] = aucs
    finally:
        con.close()

    # ------------------------------------------------------------------ release
    @stage("release")
    def _release():
        from ..cohorts.release import write_checked_release

        folder = project.outputs_dir / "step-a-release"
        title = "BOLD Prevention Step A: cohorts, places, trajectories and early warning"
        subtitle = ("Synthetic data: figures illustrate the pipeline, not the population."
                    if config.truth is not None else None)
        if res.partial:
            subtitle = ((subtitle + " ") if subtitle else "") + "PARTIAL: a non-critical source was missing or broken."
        from ..outputs.ledger import ReleaseLedger

        write_checked_release(checked, folder, title=title, texts=texts, subtitle=subtitle, overwrite=True,
                              command="bold demo", ledger=ReleaseLedger.for_project(project))
        res.outputs["report (HTML)"] = folder / "report.html"
        res.outputs["spreadsheets (GSS style)"] = folder / "tables.xlsx"
        res.outputs["output-checking log"] = folder / "output-checking"
        res.figures["checked_outputs"] = len(checked)
        (project.reports_dir / "pipeline.json").write_text(
            json.dumps({"internal": "Run summary for the analyst inside the secure setting: exact counts, not "
                                    "disclosure-checked. Take figures away only through a release folder.",
                        "figures": res.figures, "timings": res.timings, "partial": res.partial,
                        # relative to the project folder: `bold demo` builds it under a temporary name
                        "outputs": {k: (os.path.relpath(v, project.root) if str(v).startswith(str(project.root))
                                        else str(v)) for k, v in res.outputs.items()}}, indent=2, default=str),
            encoding="utf-8")
        res.outputs["run summary"] = project.reports_dir / "pipeline.json"

    return res


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


def _linkage_outputs(con, checked: list) -> None:
    """Disclosure-checked link rates of the Wave 3 source by band and sex."""
    import pandas as pd

    from ..outputs import check_counts

    df = con.execute("""
        select coalesce(r.band_joined, 'not linked') as band, coalesce(l.sex, 'U') as sex, count(*) as n
        from linkage.identity_la_residents l
        left join spine.person_record r on r.source_table = 'la_residents' and r.record_id = l.resident_id
        group by 1, 2""").df()
    if len(df):
        from ..cohorts.release import spine_version

        df = pd.DataFrame(df).rename(columns={"band": "Link band", "sex": "Sex"})
        checked.append(check_counts(df, "n", "Link band", "Sex",
                                    title="Local-authority residents linked to the justice spine, by band and sex",
                                    population=f"la_residents@{spine_version(con)}"))
