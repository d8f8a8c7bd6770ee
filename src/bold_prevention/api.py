"""The toolkit from Python: ``import bold_prevention as bold; p = bold.Project("bold-project")``.

:class:`Project` is a thin handle on a project folder with one method per step of the Step A workflow. Each method
calls the same library function the ``bold`` command calls and returns a tidy :class:`pandas.DataFrame` (one row
per observation, plain column names) or disclosure-checked outputs (:class:`~bold_prevention.outputs.CheckedOutput`,
which show as tables in a notebook). Nothing here holds analysis SQL.

Frames returned by :meth:`Project.persons`, :meth:`Project.profile`, :meth:`Project.places`, the pathway methods
and :meth:`Project.load` are **internal, unchecked** figures: they stay in the secure setting. What leaves it goes
through :meth:`Project.cohort_outputs`, :meth:`Project.places_outputs` or :meth:`Project.pathway_outputs` (checked)
and :meth:`Project.release` (audited with the project's earlier releases).

The connection the library functions take
-----------------------------------------
Library functions (``bold_prevention.cohorts.build_cohort(con, ...)``, ``bold_prevention.trajectories.pathways.
funnel(con, ...)`` ...) take a connection to the project's DuckDB warehouse. Get it with :meth:`Project.connect`
(a context manager that closes it), or, without this module, with
``bold_prevention.warehouse.engine.duckdb_connect(bold_prevention.project.Project.at(path))``. One process may hold
one writing connection to a warehouse file at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from .outputs import CheckedOutput
    from .project import Project as CoreProject
    from .trajectories.export import Kind as PathwayKind

__all__ = ["DEFAULT_SEED", "Project"]

DEFAULT_SEED = 42  # the demo's seed: the default of every ``bold`` command and method here that draws at random

PathLike = str | os.PathLike[str]


def _date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    from .errors import InputError

    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise InputError(f"{value!r} is not a date", hint="give it as a date or as YYYY-MM-DD") from e


def _frame(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(columns))


class Project:
    """A project folder (``warehouse.duckdb``, reports, models, outputs) and the workflow's steps on it.

    ``path``: the folder; default ``$BOLD_PROJECT`` or ``./bold-project``, as for the ``bold`` commands.
    """

    def __init__(self, path: PathLike | None = None) -> None:
        from .project import Project as CoreProject

        self._project: CoreProject = CoreProject.at(path)

    def __repr__(self) -> str:
        return f"bold.Project({str(self.root)!r})"

    @property
    def root(self) -> Path:
        """The project folder."""
        return self._project.root

    @property
    def project(self) -> CoreProject:
        """The library's :class:`bold_prevention.project.Project` (for library functions that take one)."""
        return self._project

    # ------------------------------------------------------------------------------------------ the warehouse
    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the project's DuckDB warehouse, closed at the end of the ``with`` block: the ``con``
        that the library functions take."""
        from .errors import InputError
        from .warehouse.engine import duckdb_connect

        if read_only and not self._project.warehouse_path.exists():
            raise InputError(f"no warehouse at {self._project.warehouse_path}",
                             hint="load extracts first: bold.Project(path).load(folder)")
        con = duckdb_connect(self._project, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """A read-only query on the warehouse as a frame (internal figures: they stay in the secure setting)."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, list(params) if params is not None else None).df()

    # ------------------------------------------------------------------------------------------ synthetic data
    def synth(self, persons: int = 10_000, *, seed: int = DEFAULT_SEED, out: PathLike | None = None,
              file_format: str = "parquet", overwrite: bool = False, sources: Sequence[str] = ()) -> pd.DataFrame:
        """Write a synthetic Data First population with its truth to ``out`` (default ``<project>/synthetic``),
        as ``bold synth`` does. Returns one row per table written: ``dataset``, ``table``, ``rows``."""
        from .datafirst.waves import WAVE_MODEL, resolve_sources
        from .synth import check_request, generate

        folder = Path(out) if out is not None else self.root / "synthetic"
        check_request(folder, persons, seed, file_format, overwrite)
        chosen = resolve_sources(list(sources), []) if sources else None
        kwargs: dict[str, Any] = {"sources": chosen} if chosen else {}
        m = generate(folder, persons=persons, seed=seed, fmt=file_format, overwrite=overwrite, **kwargs)
        rows = [{"dataset": WAVE_MODEL.table(n).dataset, "table": n, "rows": e.rows} for n, e in m.tables.items()]
        rows += [{"dataset": "truth", "table": n, "rows": e.rows} for n, e in m.truth.items()]
        return _frame(rows, ["dataset", "table", "rows"])

    # ------------------------------------------------------------------------------------------ load
    def load(self, source: PathLike, *, snapshot_date: date | str | None = None,
             datasets: Sequence[str] | None = None) -> pd.DataFrame:
        """Load a folder of extracts under the data contracts, as ``bold load`` does. Returns one row per table:
        ``table``, ``dataset``, ``status``, ``decision``, ``rows``, ``reason``. A blocked load raises
        :class:`bold_prevention.errors.LoadBlocked` and changes nothing."""
        from .warehouse.load import load_extracts

        r = load_extracts(self._project.ensure(), Path(source), snapshot_date=_date(snapshot_date),
                          datasets=list(datasets) if datasets else None)
        rows = [{"table": t.table, "dataset": t.dataset, "status": t.status, "decision": t.decision,
                 "rows": t.rows, "reason": t.reason} for t in r.tables.values()]
        return _frame(rows, ["table", "dataset", "status", "decision", "rows", "reason"])

    # ------------------------------------------------------------------------------------------ link
    def link(self, *, model: PathLike | None = None) -> pd.DataFrame:
        """Deduplicate the justice identities with Splink (the pipeline's link stage), saving or reusing the model
        (default ``<project>/models/justice_dedupe.json``). Returns one row per band: ``band``, ``persons``."""
        from .scale.linkage import dedupe_justice_records
        from .warehouse.engine import open_warehouse

        with open_warehouse(self._project, "duckdb") as wh:
            res = dedupe_justice_records(wh, model_path=Path(model) if model else None)
        return _frame([{"band": b, "persons": n, "records": res.records, "pairs": res.pairs}
                       for b, n in res.clusters.items()], ["band", "persons", "records", "pairs"])

    def link_files(self, config: PathLike, out: PathLike, *, overwrite: bool = False) -> pd.DataFrame:
        """Link the two files of a linkage config (or deduplicate one), as ``bold link --config``. Returns one row
        per band: ``band``, ``threshold``, ``pairs``, ``persons``."""
        from .linkage.run import link_files

        s = link_files(Path(config), Path(out), overwrite=overwrite)
        return _frame([{"band": b, "threshold": s["thresholds"][b], "pairs": s["pairs"]["by_band"][b],
                        "persons": c["persons"]} for b, c in s["clusters"].items()],
                      ["band", "threshold", "pairs", "persons"])

    # ------------------------------------------------------------------------------------------ spine
    def spine(self, as_at: date | str, *, band: str = "medium", register: PathLike | None = None) -> pd.DataFrame:
        """Build the person-level spine as at ``as_at`` at linkage ``band``, as ``bold spine build``. Returns one
        row per driver: ``driver``, ``as_at``, ``band``, ``persons`` and the persons not measured for it."""
        from .spine import build_spine

        d = _date(as_at)
        assert d is not None
        with self.connect() as con:
            r = build_spine(con, as_at=d, band=band, register=Path(register) if register else None)
        gaps: dict[str, int] = {}
        for g in r.unmeasured:
            gaps[g["driver"]] = gaps.get(g["driver"], 0) + int(g["persons"])
        return _frame([{"driver": dr, "as_at": r.as_at, "band": r.band, "persons": r.persons,
                        "persons_not_measured": gaps.get(dr, 0)} for dr in r.drivers],
                      ["driver", "as_at", "band", "persons", "persons_not_measured"])

    def persons(self) -> pd.DataFrame:
        """``spine.person``: one row per linked person (pseudonymised ids; internal, unchecked)."""
        return self.query("SELECT * FROM spine.person")

    # ------------------------------------------------------------------------------------------ cohorts
    def cohort(self, spec: str | PathLike, *, as_at: date | str | None = None, band: str | None = None,
               rebuild_spine: bool = False, allow_unmeasured: bool = False) -> pd.DataFrame:
        """Build a cohort (a shipped spec's name or a YAML file), as ``bold cohort build``. Returns its attrition:
        ``step``, ``rule``, ``persons``, ``removed``."""
        from .cohorts import build_cohort

        with self.connect() as con:
            r = build_cohort(con, str(spec), as_at=_date(as_at), band=band, rebuild_spine=rebuild_spine,
                             allow_unmeasured=allow_unmeasured)
        return _frame([{"cohort": r.name, "step": a["step"], "rule": a["rule"], "persons": a["persons"],
                        "removed": a["persons_removed"]} for a in r.attrition],
                      ["cohort", "step", "rule", "persons", "removed"])

    def cohorts(self) -> pd.DataFrame:
        """The shipped cohort specs and, where built in this project, their size: ``cohort``, ``title``,
        ``persons`` (missing where not built)."""
        from .cohorts import load_spec, shipped_specs
        from .warehouse.engine import table_exists

        built: dict[str, int] = {}
        if self._project.warehouse_path.exists():
            with self.connect(read_only=True) as con:
                if table_exists(con, "results", "cohorts"):
                    built = dict(con.execute("SELECT cohort, persons FROM results.cohorts").fetchall())
        names = list(dict.fromkeys([*shipped_specs(), *built]))
        rows = [{"cohort": n, "title": load_spec(n).title if n in shipped_specs() else None,
                 "persons": built.get(n)} for n in names]
        return _frame(rows, ["cohort", "title", "persons"]).astype({"persons": "Int64"})

    def profile(self, name: str) -> pd.DataFrame:
        """A built cohort's profile by sex, age band, ethnic group, region, local authority and deprivation
        (internal, unchecked counts with Wilson intervals), as ``bold cohort profile``."""
        from .cohorts import profile

        with self.connect() as con:
            return profile(con, name).to_pandas()

    def cohort_outputs(self, name: str, *, rules: str | None = None) -> list[CheckedOutput]:
        """A built cohort's profile tables through disclosure control (ready for :meth:`release`)."""
        from .cohorts.release import cohort_outputs

        with self.connect() as con:
            outs, _texts = cohort_outputs(con, name, rules=rules)
        return list(outs)

    # ------------------------------------------------------------------------------------------ places
    def places(self, *, cohort: str | None = None) -> pd.DataFrame:
        """Needs prevalence by local authority for every driver (internal, unchecked), as
        ``bold places prevalence``."""
        from .cohorts import places_prevalence

        with self.connect() as con:
            return places_prevalence(con, cohort=cohort).to_pandas()

    def places_outputs(self, *, cohort: str | None = None, geography: str = "auto",
                       rules: str | None = None) -> list[CheckedOutput]:
        """Needs prevalence by place through disclosure control (ready for :meth:`release`)."""
        from .cohorts.release import places_outputs

        with self.connect() as con:
            outs, _texts = places_outputs(con, cohort=cohort, rules=rules, geography=geography)
        return list(outs)

    # ------------------------------------------------------------------------------------------ pathways
    def timeline(self) -> pd.DataFrame:
        """Build ``spine.timeline`` (every event of a linked person, in order), as ``bold timeline build``.
        Returns the events by type: ``event_type``, ``events``."""
        from .trajectories.timeline import build_timeline

        with self.connect() as con:
            s = build_timeline(con)
        return _frame([{"event_type": k, "events": n} for k, n in s.by_event_type.items()],
                      ["event_type", "events"])

    def pathways(self, kind: PathwayKind = "funnel", name: str = "possession", **options: Any) -> pd.DataFrame:
        """A pathway table from ``spine.timeline``: ``kind`` is ``funnel`` (``name`` possession or justice),
        ``sequences``, ``transitions``, ``flows`` or ``survival`` (``name`` a time-to-event analysis, the
        Kaplan-Meier curve with numbers at risk). ``options`` go to the library function (e.g. ``level``,
        ``window_days``, ``max_gap_days``). Internal, unchecked: publish through :meth:`pathway_outputs`."""
        from .errors import InputError
        from .trajectories import pathways as pw
        from .trajectories.export import KINDS
        from .trajectories.survival import ANALYSES, durations, kaplan_meier

        if kind not in KINDS:
            raise InputError(f"unknown pathway table {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
        if kind == "survival" and name not in ANALYSES:
            raise InputError(f"unknown time-to-event analysis {name!r}", hint=f"use one of: {', '.join(ANALYSES)}")
        with self.connect(read_only=True) as con:
            if kind == "funnel":
                return pw.funnel(con, name, **options)
            if kind == "sequences":
                return pw.frequent_sequences(con, **options)
            if kind == "transitions":
                return pw.transition_matrix(con, **options)
            if kind == "flows":
                return pw.flows(con, **options)
            a = ANALYSES[name]
            return kaplan_meier(durations(con, start=a.start, event=a.event, **options))

    def pathway_outputs(self, kind: PathwayKind, table: pd.DataFrame, *, title: str) -> list[CheckedOutput]:
        """A pathway table from :meth:`pathways` through disclosure control (for survival, pass the durations)."""
        from .trajectories.export import checked_outputs

        return list(checked_outputs(kind, table, title=title))

    # ------------------------------------------------------------------------------------------ early warning
    def early_warning(self, use_case: str, *, seed: int = DEFAULT_SEED, bootstrap: int = 200,
                      truth: PathLike | None = None, bands: bool = True) -> pd.DataFrame:
        """Train and evaluate a use case's models and write the model card, as ``bold ew train``. Returns the
        test-period performance: ``measure``, ``model``, ``value``, ``lower``, ``upper`` (95% bootstrap)."""
        from .early_warning.train import train

        with self.connect() as con:
            r = train(con, use_case, project=self._project.ensure(), seed=seed, n_boot=bootstrap,
                      truth=Path(truth) if truth else None, bands=bands)
        ev = r.card["evaluation"]
        rows = []
        for which in ("primary", "baseline"):
            for m, e in (ev.get(which) or {}).get("metrics", {}).items():
                if isinstance(e, dict):
                    rows.append({"measure": m, "model": which, "value": e.get("value"), "lower": e.get("lower"),
                                 "upper": e.get("upper")})
        return _frame(rows, ["measure", "model", "value", "lower", "upper"])

    # ------------------------------------------------------------------------------------------ studies
    def studies(self) -> pd.DataFrame:
        """The shipped studies: ``name``, ``version``, ``title``, ``question``."""
        from .studies.run import list_studies

        return _frame([{"name": s.name, "version": s.version, "title": s.title, "question": s.question}
                       for s in list_studies()], ["name", "version", "title", "question"])

    def study(self, name: str, *, band: str | None = None, truth: PathLike | None = None) -> list[CheckedOutput]:
        """Run a study on the warehouse (at its band, no sensitivity reruns) and return its checked outputs."""
        from .studies.run import run_study

        with self.connect() as con:
            run = run_study(con, self._project, name, band=band, bands=(), truth=truth)
        return list(run.result.outputs)

    # ------------------------------------------------------------------------------------------ release
    def release(self, outputs: Sequence[CheckedOutput], folder: PathLike | None = None, *, title: str,
                overwrite: bool = False) -> Path:
        """Write checked outputs as one release (page, workbook, tidy CSV, output-checking files), audited with
        the project's earlier releases and recorded in its ledger. ``folder`` defaults to
        ``<project>/outputs/<title as a name>``. Returns the release folder."""
        import re

        from .outputs import write_release
        from .outputs.ledger import ReleaseLedger

        proj = self._project.ensure()
        dest = Path(folder) if folder is not None else proj.outputs_dir / (
            re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "release")
        paths = write_release(list(outputs), dest, title=title, overwrite=overwrite, command="bold.Project.release",
                              ledger=ReleaseLedger.for_project(proj))
        return Path(paths.folder)

    def releases(self) -> pd.DataFrame:
        """The project's ledger: one row per release (``number``, ``release``, ``command``, ``created``,
        ``folder``)."""
        from .outputs.ledger import ReleaseLedger

        return _frame([{"number": e.number, "release": e.name, "command": e.command, "created": e.created,
                        "folder": e.folder} for e in ReleaseLedger.for_project(self._project).entries()],
                      ["number", "release", "command", "created", "folder"])
