"""Loading a folder of extracts into the warehouse under data contracts, in one transaction.

:func:`load_extracts` stages every table of the source folder with DuckDB's own readers, runs the contract checks
(:mod:`.quality`) in SQL, applies the failure policy (:func:`.contracts.decide`) and then either commits everything
or rolls everything back, so that a blocked load leaves the warehouse exactly as it was:

* ``extract.<table>``: the table's analysis columns (no personal identifiers) plus ``snapshot_date``;
* ``linkage.identity_<table>``: for person tables with identifiers, the record id, the identifier columns and the
  sex column (the linkage layer's identity store);
* ``meta.loads``, ``meta.snapshots`` (per snapshot and table: rows and content checksum), ``meta.load_decisions``,
  ``meta.quality_results``, ``meta.profiles`` and ``meta.drift``.

Loading the same snapshot again (same date, same content) changes nothing. A new snapshot is compared with the
previous one (volume and population stability index of the key categorical columns) and drift is flagged.
A quality report (JSON and HTML) is written for every load, blocked loads included. A load killed after its commit
but before its report was written gets the report rebuilt from ``meta.*`` at the next load (or ``bold quality
show``). Paths under the project folder are recorded relative to it (``reports/quality/...``), so a project built
under a temporary name and renamed into place (``bold demo``) records its final paths. Temporary files that killed
runs left in the project folder are removed at the start of the next load.
"""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from .. import __version__
from ..datafirst import MODEL
from ..errors import InputError, LoadBlocked
from ..files import clean_stale_temporaries, storage_errno, storage_error
from ..project import Project
from .contracts import DEFAULT_POLICY, Policy, TableContract, TableDecision, contracts, decide
from .engine import duckdb_connect, sql_literal, table_exists, transaction
from .quality import (
    CheckResult,
    ColumnPlan,
    DriftResult,
    data_checks,
    drift_checks,
    foreign_key_check,
    plan_columns,
    primary_key_check,
    profile,
    profiled_columns,
    q,
)
from .readers import FileInfo, inspect_files, scan_source, translate_read_error

Progress = Callable[[str, int, int], None]
STAGING = "bold_staging"

META_DDL = (
    """CREATE TABLE IF NOT EXISTS meta.loads (
        load_id VARCHAR PRIMARY KEY, snapshot_date DATE, source VARCHAR, started_at TIMESTAMP,
        finished_at TIMESTAMP, status VARCHAR, partial BOOLEAN, datasets VARCHAR[], missing_datasets VARCHAR[],
        degraded_tables VARCHAR[], tables_loaded INTEGER, rows_loaded BIGINT, checks_failed INTEGER,
        checks_warned INTEGER, report_json VARCHAR, report_html VARCHAR, toolkit_version VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS meta.snapshots (
        snapshot_date DATE, load_id VARCHAR, source VARCHAR, loaded_at TIMESTAMP, table_name VARCHAR,
        dataset VARCHAR, status VARCHAR, format VARCHAR, files VARCHAR, rows BIGINT, checksum VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS meta.load_decisions (
        load_id VARCHAR, table_name VARCHAR, dataset VARCHAR, decision VARCHAR, reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS meta.quality_results (
        load_id VARCHAR, table_name VARCHAR, check_name VARCHAR, column_name VARCHAR, status VARCHAR,
        failing BIGINT, total BIGINT, threshold VARCHAR, blocking BOOLEAN, message VARCHAR, examples VARCHAR[],
        offending_values VARCHAR[])""",
    """CREATE TABLE IF NOT EXISTS meta.profiles (
        load_id VARCHAR, snapshot_date DATE, table_name VARCHAR, column_name VARCHAR, value VARCHAR, n BIGINT)""",
    """CREATE TABLE IF NOT EXISTS meta.drift (
        load_id VARCHAR, previous_snapshot VARCHAR, table_name VARCHAR, column_name VARCHAR, metric VARCHAR,
        previous DOUBLE, current DOUBLE, value DOUBLE, flagged BOOLEAN)""",
)


@dataclass
class TableLoad:
    """What happened to one model table in a load."""

    table: str
    dataset: str
    critical: bool
    status: str  # loaded | degraded | missing | blocked | unchanged
    decision: str  # load | warn | degrade | block
    reason: str
    fmt: str | None = None
    files: list[str] = field(default_factory=list)
    rows: int = 0
    checksum: str | None = None
    identity_rows: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class LoadResult:
    """The outcome of :func:`load_extracts`."""

    load_id: str
    snapshot_date: date
    source: str
    status: str  # complete | partial | unchanged | blocked
    started_at: datetime
    finished_at: datetime | None = None
    tables: dict[str, TableLoad] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    drift: list[DriftResult] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    missing_datasets: list[str] = field(default_factory=list)
    previous_load: str | None = None
    report_json: Path | None = None
    report_html: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.status == "partial"

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows for t in self.tables.values() if t.status == "loaded")

    @property
    def degraded_tables(self) -> list[str]:
        return sorted(t.table for t in self.tables.values() if t.status in ("degraded", "missing")
                      and not t.critical)

    @property
    def blocking_reasons(self) -> list[str]:
        return [d["reason"] for d in self.decisions if d["decision"] == "block"]

    @property
    def seconds(self) -> float:
        return ((self.finished_at or datetime.now(UTC)) - self.started_at).total_seconds()

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_dict(self) -> dict:
        return {
            "load_id": self.load_id,
            "snapshot_date": self.snapshot_date.isoformat(),
            "source": self.source,
            "status": self.status,
            "partial": self.partial,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": round(self.seconds, 3),
            "datasets": self.datasets,
            "missing_datasets": self.missing_datasets,
            "degraded_tables": self.degraded_tables,
            "previous_load": self.previous_load,
            "rows_loaded": self.rows_loaded,
            "check_counts": self.counts(),
            "decisions": self.decisions,
            "tables": {k: v.to_dict() for k, v in sorted(self.tables.items())},
            "checks": [c.to_dict() for c in self.checks],
            "drift": [d.to_dict() for d in self.drift],
            "notes": self.notes,
            "toolkit_version": __version__,
        }


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as e:
        raise InputError(f"snapshot date {value!r} is not a date", hint="write it as YYYY-MM-DD") from e


def _manifest_snapshot(source_dir: Path) -> date | None:
    for p in (source_dir / "manifest.json", source_dir.parent / "manifest.json"):
        if p.is_file():
            try:
                value = json.loads(p.read_text(encoding="utf-8")).get("snapshot_date")
            except (OSError, ValueError, AttributeError):
                return None
            return _as_date(value) if value else None
    return None


def _resolve_datasets(datasets: Iterable[str] | None) -> list[str]:
    known = [d.key for d in MODEL.datasets]
    if datasets is None:
        return known
    chosen = [d.strip() for d in datasets if d and d.strip()]
    bad = [d for d in chosen if d not in known]
    if bad:
        raise InputError(f"unknown dataset(s): {', '.join(bad)}", hint=f"choose from: {', '.join(known)}")
    return [d for d in known if d in chosen]


def ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``meta`` tables the loader writes (if absent)."""
    for ddl in META_DDL:
        con.execute(ddl)


def load_extracts(
    project: Project | str | Path | None,
    source_dir: str | Path,
    *,
    snapshot_date: date | str | None = None,
    engine: str = "duckdb",
    progress: Progress | None = None,
    datasets: Iterable[str] | None = None,
    delimiter: str | None = None,
    policy: Policy = DEFAULT_POLICY,
    write_report: bool = True,
    memory_limit: str | None = "4GB",
) -> LoadResult:
    """Load a folder of extracts into the project's warehouse under the Data First contracts.

    Args:
        project: the project folder (a :class:`Project`, a path, or None for ``$BOLD_PROJECT`` / ``./bold-project``).
        source_dir: the folder of extract files (``<table>.parquet|.csv``, multi-part ``<table>_NN.parquet``),
            or a synthetic output folder holding ``extracts/``.
        snapshot_date: the date of the extract; default the source's ``manifest.json`` ``snapshot_date``, else today.
        engine: only ``duckdb`` loads; the Spark engine reads the warehouse exported as Parquet.
        progress: called as ``progress(description, done, total)``.
        datasets: the datasets this load covers (default every dataset of the model); tables of other datasets
            are left untouched in the warehouse.
        delimiter: force the CSV delimiter (default: sniffed per file among comma, tab, semicolon and pipe).
        policy: failure-policy thresholds.
        write_report: write the JSON and HTML quality report under ``<project>/reports/quality/``.
        memory_limit: DuckDB memory limit for the load (None: DuckDB's default).

    Returns:
        The :class:`LoadResult` (status ``complete``, ``partial`` or ``unchanged``).

    Raises:
        LoadBlocked: the failure policy blocked the load; nothing was committed (the exception's ``result``
            holds the :class:`LoadResult` and the report paths).
        InputError: the source folder or an argument is unusable.
    """
    if engine != "duckdb":
        raise InputError(f"loading with the {engine!r} engine is not supported",
                         hint="load with the DuckDB engine (the default); the Spark engine reads the loaded warehouse")
    proj = project if isinstance(project, Project) else Project.at(project)
    try:
        return _load(proj, source_dir, snapshot_date=snapshot_date, progress=progress, datasets=datasets,
                     delimiter=delimiter, policy=policy, write_report=write_report, memory_limit=memory_limit)
    except (OSError, duckdb.Error) as e:
        err = storage_error(e, proj.root) if storage_errno(e) is not None or isinstance(e, OSError) else None
        if err is None:
            raise
        raise err from e


def _load(proj: Project, source_dir, *, snapshot_date, progress, datasets, delimiter, policy, write_report,
          memory_limit) -> LoadResult:
    scan = scan_source(source_dir)
    scope = _resolve_datasets(datasets)
    snap = _as_date(snapshot_date) or _manifest_snapshot(scan.root) or date.today()
    today = date.today()
    started = datetime.now(UTC)
    load_id = started.strftime("%Y%m%dT%H%M%S%fZ")
    result = LoadResult(load_id=load_id, snapshot_date=snap, source=_portable(proj, scan.root), status="complete",
                        started_at=started, datasets=scope)
    in_scope = [t for t in MODEL.tables if t.dataset in scope]
    if not any(t.name in scan.tables or t.name in scan.broken for t in in_scope):
        listed = ", ".join(sorted(scan.unknown)) or "no files"
        raise InputError(
            f"no Data First tables found in {scan.root} ({listed})",
            hint="name each file after a table of the Data First model: <table>.parquet or <table>.csv "
                 "(parts: <table>_01.parquet ...); the tables are " + ", ".join(MODEL.table_names))
    if snap > today:
        raise InputError(f"snapshot date {snap.isoformat()} is in the future",
                         hint="pass the date the extract was taken, as YYYY-MM-DD")

    existed = proj.warehouse_path.exists()
    proj.root.mkdir(parents=True, exist_ok=True)
    staging_path = proj.root / f".staging-{load_id}.duckdb"
    con = duckdb_connect(proj)
    committed = False
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        # scratch databases left by a killed load (we hold the warehouse's write lock: no other load is running)
        for stale in proj.root.glob(".staging-*.duckdb*"):
            stale.unlink(missing_ok=True)
        for folder in (proj.root, proj.reports_dir, proj.reports_dir / "quality"):
            clean_stale_temporaries(folder)
        if write_report:
            _rebuild_missing_report(con, proj)
        # Stage in a separate scratch database: a file that fails to read aborts only its own statement, and the
        # warehouse is not touched until the single transaction that commits the load.
        con.execute(f"ATTACH {sql_literal(staging_path)} AS {STAGING}")
        tc = contracts(con)
        staged = _stage_and_check(con, scan, in_scope, tc, result, snap, today, policy, delimiter, progress)
        _decide_all(scan, in_scope, tc, result, staged)
        if any(d["decision"] == "block" for d in result.decisions):
            result.status = "blocked"
        else:
            _checksums(con, staged, tc, result)
            prev = _previous_tables(con)
            result.previous_load = _previous_load(con)
            if _unchanged(result, prev, snap):
                result.status = "unchanged"
                result.notes.append(
                    f"snapshot {snap.isoformat()} is already loaded with identical content "
                    f"(load {result.previous_load}); nothing changed")
                for t in result.tables.values():
                    if t.status == "loaded":
                        t.status = "unchanged"
            else:
                _snapshot_notes(result, prev, snap)
                _drift(con, staged, tc, result, prev, policy)
                with transaction(con):
                    ensure_meta(con)
                    _materialise(con, staged, tc, result, in_scope, snap, progress)
                    if any(t.status in ("degraded", "missing") for t in result.tables.values()):
                        result.status = "partial"
                    result.finished_at = datetime.now(UTC)
                    _paths(proj, result)
                    _record(con, result)
                committed = True
    except BaseException:
        try:
            _close(con, staging_path)
        except (duckdb.Error, OSError):
            pass
        _forget_new_warehouse(proj, existed)
        raise
    if committed:
        try:
            con.execute("CHECKPOINT")
        except duckdb.Error:
            pass
    _close(con, staging_path)
    if result.status == "blocked":
        _forget_new_warehouse(proj, existed)
    result.finished_at = result.finished_at or datetime.now(UTC)
    if result.status == "unchanged":
        _previous_report_paths(proj, result)
    elif write_report:
        from .report import write_reports

        _paths(proj, result)
        write_reports(result, result.report_json, result.report_html)
    if result.status == "blocked":
        reasons = result.blocking_reasons
        msg = f"load blocked: {len(reasons)} table(s) failed a blocking check; nothing was committed:\n  - " + \
            "\n  - ".join(reasons[:8])
        if len(reasons) > 8:
            msg += f"\n  - and {len(reasons) - 8} more"
        hint = "fix the extract files and load again"
        if result.report_html:
            hint += f"; the quality report is {result.report_html}"
        err = LoadBlocked(msg, hint=hint)
        err.result = result  # type: ignore[attr-defined]
        raise err
    return result


def _close(con: duckdb.DuckDBPyConnection, staging_path: Path) -> None:
    """Close the connection and remove the scratch staging database."""
    try:
        con.execute(f"DETACH {STAGING}")
    except duckdb.Error:
        pass
    finally:
        con.close()
        for p in (staging_path, staging_path.with_name(staging_path.name + ".wal")):
            p.unlink(missing_ok=True)


def _snapshot_notes(result: LoadResult, prev: dict[str, dict], snap: date) -> None:
    dates = {p["snapshot_date"] for name, p in prev.items() if name in result.tables and p["status"] == "loaded"}
    if snap in dates:
        result.notes.append(f"snapshot {snap.isoformat()} was loaded before with different content; "
                            "this load replaces it")
    elif dates and snap < max(dates):
        result.notes.append(f"snapshot {snap.isoformat()} is older than the one it replaces "
                            f"({max(dates).isoformat()})")


def _forget_new_warehouse(proj: Project, existed: bool) -> None:
    """A blocked first load leaves no warehouse file behind."""
    if existed:
        return
    for p in (proj.warehouse_path, proj.warehouse_path.with_name(proj.warehouse_path.name + ".wal")):
        p.unlink(missing_ok=True)


def _portable(proj: Project, path: Path) -> str:
    """A path as recorded: relative to the project folder when inside it (the folder may be renamed), else absolute."""
    try:
        return Path(path).absolute().relative_to(proj.root.absolute()).as_posix() or "."
    except ValueError:
        return str(Path(path).absolute())


def _report_rel(path: Path | None) -> str | None:
    """A report path as recorded in ``meta.loads``: relative to the project folder (``reports/quality/...``)."""
    return Path(*Path(path).parts[-3:]).as_posix() if path is not None else None


def _rebuild_missing_report(con, proj: Project) -> None:
    """Rebuild the report of the latest committed load when a killed run never wrote it."""
    from .report import rebuild_report

    try:
        rebuild_report(con, proj)
    except (OSError, duckdb.Error):
        pass  # reported by `bold quality show`; the load itself goes on


def _paths(proj: Project, result: LoadResult) -> None:
    d = proj.reports_dir / "quality"
    result.report_json = d / f"quality-{result.load_id}.json"
    result.report_html = d / f"quality-{result.load_id}.html"


def _previous_report_paths(proj: Project, result: LoadResult) -> None:
    """An unchanged load points at the report of the load that holds the snapshot."""
    if result.previous_load:
        d = proj.reports_dir / "quality"
        j, h = d / f"quality-{result.previous_load}.json", d / f"quality-{result.previous_load}.html"
        result.report_json = j if j.exists() else None
        result.report_html = h if h.exists() else None


# -------------------------------------------------------------------------------------------------- the stages
def _staged_name(table: str) -> str:
    return f"{STAGING}.main.{q(table)}"


def _stage_and_check(con, scan, in_scope, tc: dict[str, TableContract], result: LoadResult, snap: date,
                     today: date, policy: Policy, delimiter: str | None, progress: Progress | None
                     ) -> dict[str, tuple[ColumnPlan, int]]:
    """Stage each table present in the folder and run its own checks. Returns table -> (plan, rows)."""
    for name, msg in sorted(scan.unknown.items()):
        result.checks.append(CheckResult("(source folder)", "unknown_table", "warn",
                                         f"{msg}; the file was not loaded", column=name))
    staged: dict[str, tuple[ColumnPlan, int]] = {}
    todo = [t for t in in_scope if t.name in scan.tables or t.name in scan.broken]
    total = len(todo) + 2
    for i, t in enumerate(todo):
        if progress:
            progress(f"checking {t.name}", i, total)
        contract = tc[t.name]
        if t.name in scan.broken:
            result.checks.append(CheckResult(t.name, "file", "fail", scan.broken[t.name], blocking=True))
            result.tables[t.name] = TableLoad(t.name, t.dataset, contract.critical, "blocked", "", "")
            continue
        tf = scan.tables[t.name]
        tl = TableLoad(t.name, t.dataset, contract.critical, "loaded", "", "", fmt=tf.fmt,
                       files=[p.name for p in tf.files])
        result.tables[t.name] = tl
        info = inspect_files(tf, con, delimiter=delimiter)
        if info.error:
            result.checks.append(CheckResult(t.name, "file", "fail", f"{t.name}: {info.error}", blocking=True))
            continue
        for note in info.notes:
            result.notes.append(note)
        plan, schema = plan_columns(contract, info)
        result.checks.extend(schema)
        if plan.schema_break:
            continue
        ok = _stage(con, t.name, contract, plan, info, result)
        if not ok:
            continue
        rows = con.execute(f"SELECT count(*) FROM {_staged_name(t.name)}").fetchone()[0]
        tl.rows = int(rows)
        staged[t.name] = (plan, int(rows))
        checks = data_checks(con, _staged_name(t.name), contract, plan, rows=int(rows), today=today,
                             snapshot_date=snap, policy=policy)
        result.checks.extend(checks)
        if rows and all(k in plan.present for k in contract.primary_key):
            result.checks.append(primary_key_check(con, _staged_name(t.name), contract, plan, rows=int(rows),
                                                   policy=policy))
    if progress:
        progress("checking foreign keys", len(todo), total)
    for name, (plan, rows) in staged.items():
        contract = tc[name]
        if not rows:
            continue
        for fk in contract.foreign_keys:
            if fk.ref_table in staged and staged[fk.ref_table][1]:
                parent = _staged_name(fk.ref_table)
            elif MODEL.table(fk.ref_table).dataset not in result.datasets and \
                    table_exists(con, "extract", fk.ref_table):
                parent = f"extract.{q(fk.ref_table)}"
            else:
                parent = None
            result.checks.append(foreign_key_check(con, _staged_name(name), contract, fk, parent, plan,
                                                   rows=rows, policy=policy))
    return staged


def _stage(con, table: str, contract: TableContract, plan: ColumnPlan, info: FileInfo, result: LoadResult) -> bool:
    sql = f"CREATE OR REPLACE TABLE {_staged_name(table)} AS SELECT {plan.select_sql(contract)} " \
          f"FROM {info.relation_sql()}"
    try:
        con.execute(sql)
    except duckdb.Error as e:
        if storage_errno(e) in (errno.ENOSPC, errno.EROFS):
            raise  # a full or read-only disk is not bad data: the load stops and says so
        kind, msg = translate_read_error(info, e)
        result.checks.append(CheckResult(table, "file", "fail", f"{table}: {msg}", blocking=True))
        return False
    return True


def _decide_all(scan, in_scope, tc: dict[str, TableContract], result: LoadResult, staged) -> None:
    """The failure policy's decision for every table in scope (missing tables included)."""
    by_table: dict[str, list[CheckResult]] = {}
    for c in result.checks:
        by_table.setdefault(c.table, []).append(c)
    missing_ds: dict[str, list[str]] = {}
    for t in in_scope:
        contract = tc[t.name]
        if t.name not in result.tables:
            missing_ds.setdefault(t.dataset, []).append(t.name)
            continue
        d = decide(contract, by_table.get(t.name, []))
        tl = result.tables[t.name]
        if d.decision != "block" and d.decision != "degrade" and t.name not in staged:
            d = TableDecision(t.name, t.dataset, "block" if contract.critical else "degrade",
                              f"{t.name}: could not be staged")
        tl.decision, tl.reason = d.decision, d.reason
        if d.decision == "degrade":
            tl.status = "degraded"
        elif d.decision == "block":
            tl.status = "blocked"
        result.decisions.append({"table": t.name, "dataset": t.dataset, "decision": d.decision,
                                 "reason": d.reason})
    for ds_key, tables in missing_ds.items():
        ds = MODEL.dataset(ds_key)
        whole = len(tables) == len(ds.tables)
        for name in tables:
            if ds.critical:
                decision = "block"
                if whole:
                    reason = (f"{name}: missing; dataset {ds_key} ({ds.title}) is critical and none of its "
                              "tables is in the folder (load a subset with --datasets)")
                else:
                    reason = f"{name}: missing from the folder; dataset {ds_key} is critical"
            else:
                decision = "degrade"
                reason = (f"{name}: missing; dataset {ds_key} ({ds.title}) is not critical: loaded without it, "
                          "outputs marked partial")
            result.tables[name] = TableLoad(name, ds_key, ds.critical, "missing", decision, reason)
            result.decisions.append({"table": name, "dataset": ds_key, "decision": decision, "reason": reason})
            result.checks.append(CheckResult(name, "file", "fail", reason, blocking=True))
        if whole and not ds.critical:
            result.missing_datasets.append(ds_key)
    left_out = {n for n, tl in result.tables.items() if tl.status in ("degraded", "missing")}
    for d in result.decisions:
        tl = result.tables.get(d["table"])
        if tl is None or tl.status != "loaded":
            continue
        for fk in MODEL.table(d["table"]).foreign_keys:
            if fk.ref_table in left_out:
                msg = (f"{d['table']}: its parent table {fk.ref_table} is left out of this load, so its "
                       f"{'+'.join(fk.columns)} values point at records not in the warehouse")
                result.checks.append(CheckResult(d["table"], "foreign_key", "warn", msg,
                                                 column="+".join(fk.columns), threshold="parent loaded"))
                if d["decision"] == "load":
                    d["decision"], d["reason"] = "warn", msg
                    tl.decision, tl.reason = "warn", msg
    for c in result.checks:
        if c.table == "(source folder)":
            result.decisions.append({"table": c.column or "", "dataset": "", "decision": "warn",
                                     "reason": c.message})
    order = {t.name: i for i, t in enumerate(MODEL.tables)}
    result.decisions.sort(key=lambda d: (order.get(d["table"], len(order)), d["table"]))


def _checksums(con, staged, tc: dict[str, TableContract], result: LoadResult) -> None:
    for name, (_plan, _rows) in staged.items():
        tl = result.tables[name]
        if tl.status != "loaded":
            continue
        cols = tc[name].column_names
        present = [c for c in cols if c in _plan.present or c in _plan.filled]
        expr = ", ".join(q(c) for c in present)
        s = con.execute(f"SELECT count(*), coalesce(sum(hash({expr})), 0) FROM {_staged_name(name)}").fetchone()
        digest = hashlib.sha256(json.dumps([present, int(s[0]), str(s[1])]).encode()).hexdigest()[:32]
        tl.checksum = digest


def _previous_tables(con) -> dict[str, dict]:
    """The latest committed state of each table: snapshot date, status, rows, checksum, load id."""
    if not table_exists(con, "meta", "snapshots"):
        return {}
    rows = con.execute(
        "SELECT table_name, snapshot_date, status, rows, checksum, load_id FROM meta.snapshots "
        "QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY loaded_at DESC, load_id DESC) = 1"
    ).fetchall()
    return {r[0]: {"snapshot_date": r[1], "status": r[2], "rows": r[3], "checksum": r[4], "load_id": r[5]}
            for r in rows}


def _previous_load(con) -> str | None:
    if not table_exists(con, "meta", "loads"):
        return None
    r = con.execute("SELECT load_id FROM meta.loads ORDER BY started_at DESC, load_id DESC LIMIT 1").fetchone()
    return r[0] if r else None


def _unchanged(result: LoadResult, prev: dict[str, dict], snap: date) -> bool:
    if not prev:
        return False
    for name, tl in result.tables.items():
        p = prev.get(name)
        if p is None or p["snapshot_date"] != snap:
            return False
        if tl.status == "loaded":
            if p["status"] != "loaded" or p["checksum"] != tl.checksum:
                return False
        elif p["status"] == "loaded":
            return False
    return True


def _drift(con, staged, tc, result: LoadResult, prev: dict[str, dict], policy: Policy) -> None:
    result._profiles = {}  # type: ignore[attr-defined]
    for name, (plan, rows) in staged.items():
        tl = result.tables[name]
        if tl.status != "loaded":
            continue
        cols = profiled_columns(tc[name], plan.present)
        prof = profile(con, _staged_name(name), cols, {c: tc[name].column(c).codes for c in cols})
        result._profiles[name] = prof  # type: ignore[attr-defined]
        p = prev.get(name)
        if not p or p["status"] != "loaded":
            continue
        prev_prof = con.execute("SELECT column_name, value, n FROM meta.profiles WHERE load_id = ? "
                                "AND table_name = ?", [p["load_id"], name]).fetchall()
        label = f"{p['snapshot_date'].isoformat()} (load {p['load_id']})"
        drifts, checks = drift_checks(name, rows, int(p["rows"]), prof, prev_prof, label, policy=policy)
        result.drift.extend(drifts)
        result.checks.extend(checks)


def _materialise(con, staged, tc: dict[str, TableContract], result: LoadResult, in_scope, snap: date,
                 progress: Progress | None) -> None:
    n = len(in_scope)
    for _i, t in enumerate(in_scope):
        contract = tc[t.name]
        tl = result.tables.get(t.name)
        ident = f"linkage.{q('identity_' + t.name)}"
        if tl is None or tl.status != "loaded":
            con.execute(f"DROP TABLE IF EXISTS extract.{q(t.name)}")
            con.execute(f"DROP TABLE IF EXISTS {ident}")
            continue
        if progress:
            progress(f"writing {t.name}", len(staged) + 1, len(staged) + 2)
        plan, _rows = staged[t.name]
        cols = [c for c in contract.analysis_columns if c in plan.present or c in plan.filled]
        select = ", ".join(q(c) for c in cols)
        con.execute(f"CREATE OR REPLACE TABLE extract.{q(t.name)} AS SELECT {select}, "
                    f"DATE '{snap.isoformat()}' AS snapshot_date FROM {_staged_name(t.name)}")
        id_cols = contract.identity_columns(plan.present)
        if contract.identifier_columns and plan.identifiers and contract.record_id in plan.present:
            con.execute(f"CREATE OR REPLACE TABLE {ident} AS SELECT {', '.join(q(c) for c in id_cols)} "
                        f"FROM {_staged_name(t.name)}")
            tl.identity_rows = tl.rows
        else:
            con.execute(f"DROP TABLE IF EXISTS {ident}")
    if progress:
        progress("recording the snapshot", n, n)


def _insert(con, table: str, rows: list[list]) -> None:
    """Insert rows through one Arrow scan (much faster than row-by-row inserts)."""
    if not rows:
        return
    import pyarrow as pa

    desc = con.execute(f"DESCRIBE {table}").fetchall()
    cols, types = [r[0] for r in desc], [r[1] for r in desc]
    arrays = {}
    for k, (name, typ) in enumerate(zip(cols, types, strict=True)):
        values = [r[k] for r in rows]
        if typ.endswith("[]"):
            arrays[name] = pa.array(values, type=pa.list_(pa.string()))
        else:
            arrays[name] = pa.array(values)
    batch = pa.table(arrays)  # noqa: F841 - read by DuckDB's replacement scan
    select = ", ".join(f"CAST(batch.{q(c)} AS {t}) AS {q(c)}" for c, t in zip(cols, types, strict=True))
    con.execute(f"INSERT INTO {table} SELECT {select} FROM batch")


def _record(con, result: LoadResult) -> None:
    lid, snap = result.load_id, result.snapshot_date
    counts = result.counts()
    _insert(con, "meta.loads", [[
        lid, snap, result.source, result.started_at.replace(tzinfo=None),
        (result.finished_at or datetime.now(UTC)).replace(tzinfo=None), result.status, result.partial,
        result.datasets, result.missing_datasets, result.degraded_tables,
        sum(1 for t in result.tables.values() if t.status == "loaded"), result.rows_loaded, counts["fail"],
        counts["warn"], _report_rel(result.report_json), _report_rel(result.report_html), __version__]])
    loaded_at = result.started_at.replace(tzinfo=None)
    _insert(con, "meta.snapshots", [
        [snap, lid, result.source, loaded_at, t.table, t.dataset, t.status, t.fmt, ", ".join(t.files),
         t.rows if t.status == "loaded" else 0, t.checksum] for t in result.tables.values()])
    _insert(con, "meta.load_decisions",
            [[lid, d["table"], d["dataset"], d["decision"], d["reason"]] for d in result.decisions])
    _insert(con, "meta.quality_results", [
        [lid, c.table, c.check, c.column, c.status, c.failing, c.total, c.threshold, c.blocking, c.message,
         c.examples, c.values] for c in result.checks])
    _insert(con, "meta.profiles", [[lid, snap, t, c, v, n] for t, prof in getattr(result, "_profiles", {}).items()
                                   for c, v, n in prof])
    _insert(con, "meta.drift", [
        [lid, d.previous_snapshot, d.table, d.column, d.metric, d.previous, d.current, d.value, d.flagged]
        for d in result.drift])


# ------------------------------------------------------------------------------------------------ reading back
def latest_load(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The latest committed load: snapshot date, status, whether it is partial, and what was left out.

    Downstream layers use this to mark their own outputs partial when the load they rest on was partial.
    """
    if not table_exists(con, "meta", "loads"):
        return None
    r = con.execute("SELECT load_id, snapshot_date, status, partial, missing_datasets, degraded_tables, source, "
                    "report_html FROM meta.loads ORDER BY started_at DESC, load_id DESC LIMIT 1").fetchone()
    if r is None:
        return None
    keys = ("load_id", "snapshot_date", "status", "partial", "missing_datasets", "degraded_tables", "source",
            "report_html")
    out = dict(zip(keys, r, strict=True))
    root = _warehouse_folder(con)
    for k in ("source", "report_html"):
        if out[k] and root is not None and not Path(out[k]).is_absolute():
            out[k] = str(root / out[k])
    return out


def load_decisions(con: duckdb.DuckDBPyConnection, load_id: str) -> list[tuple]:
    """The decision of the load ``load_id`` on each table: ``(table_name, dataset, decision, reason)``."""
    return con.execute("select table_name, dataset, decision, reason from meta.load_decisions "
                       "where load_id = ? order by dataset, table_name", [load_id]).fetchall()


def load_checks(con: duckdb.DuckDBPyConnection, load_id: str):
    """The quality checks of the load ``load_id`` (a frame: table_name, check_name, column_name, status, failing,
    total, threshold), failures first, then warnings, then passes."""
    return con.execute(
        "select table_name, check_name, coalesce(column_name, '') as column_name, status, failing, total, "
        "coalesce(threshold, '') as threshold from meta.quality_results where load_id = ? "
        "order by case status when 'fail' then 0 when 'warn' then 1 else 2 end, table_name, check_name, "
        "column_name", [load_id]).df()


def _warehouse_folder(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The project folder of the warehouse ``con`` is open on (recorded paths are relative to it)."""
    try:
        r = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    except duckdb.Error:
        return None
    return Path(r[0]).parent if r and r[0] else None
