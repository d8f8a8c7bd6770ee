"""Stable person ids across runs and snapshots.

Splink's cluster ids are the smallest record id of each cluster: they change whenever that record leaves or a
smaller one joins, so a person's id in last month's output could not be followed into this month's. A run now
gives every cluster a person id (``P`` and a serial number) and, given the previous run, maps its clusters onto the
previous run's ids by largest overlap:

1. count the records each (current cluster, previous id) pair shares;
2. assign in order of overlap, largest first (ties: the smaller previous id, then the smaller cluster id), each
   previous id to at most one cluster and each cluster at most one previous id;
3. clusters left over get new serial numbers, above every number ever issued (the high-water mark is kept in
   ``person_ids.json``, so a retired id is never issued again).

So an id persists while its person persists. A previous person split over several clusters keeps its id on the
largest part (the others are new persons); clusters merged from several previous persons keep the id of the
largest (the others retire). Every split, merge, new and retired id is counted in the report and listed in
``person_id_changes_<band>.csv`` (ids only, never an identifier).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..errors import InputError
from ..warehouse.engine import sql_literal

PREFIX = "P"
WIDTH = 9
STATE_FILE = "person_ids.json"


@dataclass
class IdAssignment:
    """The result of :func:`assign_person_ids` for one band."""

    table: str  # dataset, record_id, cluster_id, person_id
    next_serial: int
    report: dict[str, Any] = field(default_factory=dict)
    changes: pa.Table | None = None


def format_id(serial: int, prefix: str = PREFIX) -> str:
    return f"{prefix}{serial:0{WIDTH}d}"


def _serial(pid: str, prefix: str) -> int | None:
    if pid.startswith(prefix) and pid[len(prefix):].isdigit():
        return int(pid[len(prefix):])
    return None


def assign_person_ids(con: duckdb.DuckDBPyConnection, current: str, previous: str | None = None, *,
                      next_serial: int = 1, prefix: str = PREFIX, out: str = "__person_ids") -> IdAssignment:
    """Person ids for the clusters of ``current`` (``dataset, record_id, cluster_id``), kept from ``previous``
    (``dataset, record_id, person_id``) by largest overlap; writes table ``out`` (the current rows plus
    ``person_id``)."""
    clusters = con.execute(f"""
        select cluster_id, min(dataset || chr(31) || record_id) as first_record, count(*) as n
        from {current} group by 1 order by first_record, cluster_id""").fetchall()
    assigned: dict[Any, str] = {}
    report: dict[str, Any] = {"persons": len(clusters), "previous_persons": 0, "kept": 0, "new": 0, "retired": 0,
                              "splits": 0, "merges": 0, "records_in_both_runs": 0}
    changes: list[tuple[str, str, str]] = []
    split_parts: list[tuple[str, Any]] = []
    parts_of: dict[str, set] = {}
    retired: list[str] = []
    if previous is not None:
        overlap = con.execute(f"""
            select c.cluster_id, p.person_id, count(*) as n
            from {current} c join {previous} p on p.dataset = c.dataset and p.record_id = c.record_id
            group by 1, 2 order by n desc, p.person_id, c.cluster_id""").fetchall()
        prev_ids = [r[0] for r in con.execute(f"select distinct person_id from {previous} order by 1").fetchall()]
        report["previous_persons"] = len(prev_ids)
        report["records_in_both_runs"] = int(sum(r[2] for r in overlap))
        used: set[str] = set()
        for cid, pid, _n in overlap:
            if cid in assigned or pid in used:
                continue
            assigned[cid] = pid
            used.add(pid)
        for pid in prev_ids:
            s = _serial(str(pid), prefix)
            if s is not None:
                next_serial = max(next_serial, s + 1)
        sources_of: dict[Any, set] = {}
        for cid, pid, _n in overlap:
            parts_of.setdefault(pid, set()).add(cid)
            sources_of.setdefault(cid, set()).add(pid)
        for pid, parts in sorted(parts_of.items()):
            if len(parts) > 1:
                report["splits"] += 1
                split_parts += [(str(pid), cid) for cid in sorted(parts, key=str)]
        for srcs in sources_of.values():
            if len(srcs) > 1:
                report["merges"] += 1
        retired = [p for p in prev_ids if p not in used]
        report["retired"] = len(retired)
    for cid, _first, _n in clusters:
        if cid in assigned:
            report["kept"] += 1
            continue
        assigned[cid] = format_id(next_serial, prefix)
        next_serial += 1
        report["new"] += 1
    # the ids of split parts and of the persons a retired id merged into are known only now
    changes += [("split", pid, assigned[cid]) for pid, cid in split_parts]
    for p in retired:
        into = sorted({assigned[c] for c in parts_of.get(p, ())})
        changes.append(("retired", str(p), ";".join(into)))
    mapping = pa.table({"cluster_id": pa.array([str(c) for c in assigned], pa.string()),
                        "person_id": pa.array(list(assigned.values()), pa.string())})
    con.register("__person_id_map", mapping)
    con.execute(f"""create or replace table {out} as
        select c.dataset, c.record_id, c.cluster_id, m.person_id from {current} c
        join __person_id_map m on m.cluster_id = cast(c.cluster_id as varchar) order by c.dataset, c.record_id""")
    con.unregister("__person_id_map")
    change_table = pa.table({"change": [c[0] for c in changes], "previous_person_id": [c[1] for c in changes],
                             "person_id": [c[2] for c in changes]},
                            schema=pa.schema([("change", pa.string()), ("previous_person_id", pa.string()),
                                              ("person_id", pa.string())]))
    return IdAssignment(table=out, next_serial=next_serial, report=report, changes=change_table)


def assign_person_ids_arrow(current: pa.Table, previous: pa.Table | None = None, *, next_serial: int = 1,
                            prefix: str = PREFIX) -> tuple[pa.Table, IdAssignment]:
    """:func:`assign_person_ids` for Arrow tables, in an embedded DuckDB: ``current`` has ``dataset, record_id,
    cluster_id``, ``previous`` (or None) ``dataset, record_id, person_id``. Returns the current rows with
    ``person_id`` (in ``dataset, record_id`` order) and the assignment (report, changes, next serial).

    The engine-independent home of the rules, used by the scale linkage on Spark as well as on DuckDB: only the
    (dataset, record_id, cluster id) rows travel, a few hundred megabytes at five million records."""
    con = duckdb.connect()
    try:
        con.register("__ids_current", current.select(["dataset", "record_id", "cluster_id"]))
        if previous is not None:
            con.register("__ids_previous", previous.select(["dataset", "record_id", "person_id"]))
        res = assign_person_ids(con, "__ids_current", "__ids_previous" if previous is not None else None,
                                next_serial=next_serial, prefix=prefix, out="__ids_out")
        table = con.sql(f"select * from {res.table}").to_arrow_table()
    finally:
        con.close()
    return table, res


def parse_state(text: str, band: str) -> int:
    """The next serial of ``band`` from a ``person_ids.json`` text (``{"next_serial": {band: n}}``); ValueError
    when it is damaged."""
    try:
        n = int(json.loads(text)["next_serial"][band])
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise ValueError("damaged person id state") from None
    if n < 1:
        raise ValueError("damaged person id state")
    return n


def state_text(next_serial: dict[str, int]) -> str:
    """The ``person_ids.json`` text for the high-water marks ``{band: next serial}``."""
    return json.dumps({"next_serial": {b: int(n) for b, n in next_serial.items()}}, indent=2)


def read_previous(con: duckdb.DuckDBPyConnection, run_dir: Path, band: str, table: str) -> tuple[str, int]:
    """Load the person ids of an earlier run's band into ``table``; returns (table, next serial)."""
    path = Path(run_dir) / f"clusters_{band}.csv"
    if not path.is_file():
        raise InputError(f"previous run {run_dir}: clusters_{band}.csv not found",
                         hint="give `previous_run:` the output folder of an earlier `bold link` run")
    con.execute(f"create or replace table {table}_raw as select * from read_csv({sql_literal(path)}, all_varchar=true)")
    cols = [r[0] for r in con.execute(f"describe {table}_raw").fetchall()]
    if not {"dataset", "record_id"} <= set(cols) or not ({"person_id", "cluster_id"} & set(cols)):
        raise InputError(f"previous run {run_dir}: clusters_{band}.csv has no dataset, record_id and person id",
                         hint="give `previous_run:` the output folder of an earlier `bold link` run")
    pid = "person_id" if "person_id" in cols else "cluster_id"
    con.execute(f"create or replace table {table} as select dataset, record_id, {pid} as person_id "
                f"from {table}_raw")
    con.execute(f"drop table {table}_raw")
    state = Path(run_dir) / STATE_FILE
    nxt = 1
    if state.is_file():
        try:
            nxt = parse_state(state.read_text("utf-8"), band)
        except ValueError:
            raise InputError(f"previous run {run_dir}: {STATE_FILE} is damaged",
                             hint="restore it from the run's output folder, or start ids afresh without "
                                  "`previous_run:`") from None
    return table, nxt
