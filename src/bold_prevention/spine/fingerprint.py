"""Fingerprints of what the spine, cohorts and timelines were built from, so that rebuilds are decided by content.

A build records, in its ``*_info`` table, a fingerprint of each of its inputs:

``inputs``    a content digest of every loaded extract table (row count and the sum of a hash of every row over the
              table's columns, computed in the engine: about 0.2 s for 5M rows on DuckDB), one per table;
``register``  a digest of the derivation rules the needs were derived with;
``band``      the linkage band of the person ids;
``as_at``     the as-at date;
``key``       the fingerprint of the pseudonymisation key (:func:`bold_prevention.linkage.pseudonym.key_fingerprint`);
``xjs``       the XJS person id the persons were built on: ``published`` (``extract.xjs_link``, whose content is among
              the inputs) or ``improved <digest>`` (``linkage.xjs_link_improved`` of ``bold link xjs-audit``, with a
              digest of its content); a fingerprint recorded without it was built on the published id.

:func:`changes` compares two sets of fingerprints and says in words what changed, naming the extract tables whose
content differs. ``spine.person_record`` is rebuilt when its inputs, band or key differ; ``spine.person`` records
the fingerprints in ``spine.spine_info``; a cohort or a timeline records the spine's fingerprint it was built on and
is refused once the spine (or the loaded extracts under it) has changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from ..warehouse.engine import quote_ident
from ..warehouse.engine import tables as warehouse_tables

__all__ = ["changes", "digest", "extract_frozen", "frozen_memo", "inputs_fingerprint", "register_digest",
           "spine_fingerprint", "table_digest"]

#: Results computed from the loaded extracts alone, kept while :func:`extract_frozen` is in force.
_FROZEN: ContextVar[dict | None] = ContextVar("bold_extract_frozen", default=None)


@contextmanager
def extract_frozen() -> Iterator[None]:
    """Within the block the loaded extracts are taken as unchanged, so what is computed from them alone (their
    fingerprint, which evidence they can measure) is computed once per connection and reused: for runs that build
    several things from the same extracts without loading in between (band sensitivity builds the spine at each
    band and a cohort on each). Loading inside the block is a mistake the memo would not see."""
    token = _FROZEN.set({})
    try:
        yield
    finally:
        _FROZEN.reset(token)


def frozen_memo(con, key: tuple, compute: Callable[[], object]):
    """``compute()``, remembered under (``con``, ``key``) while :func:`extract_frozen` is in force (else always
    computed)."""
    memo = _FROZEN.get()
    if memo is None:
        return compute()
    k = (id(con), key)
    if k not in memo:
        memo[k] = (con, compute())  # the connection is held so that its id is not reused while remembered
    return memo[k][1]


def digest(value) -> str:
    """A short stable digest of a JSON-serialisable value (32 hex characters)."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _columns(con, schema: str, table: str) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                       "AND table_name = ?", [schema, table]).fetchall()
    return sorted(r[0] for r in rows)


def table_digest(con, schema: str, table: str) -> str:
    """A digest of the content of ``schema.table``: its columns, row count and an order-free sum of row hashes."""
    cols = _columns(con, schema, table)
    if not cols:
        return digest([table, "absent"])
    expr = ", ".join(quote_ident(c) for c in cols)
    n, s = con.execute(f"SELECT COUNT(*), COALESCE(SUM(hash({expr})), 0) FROM {schema}.{quote_ident(table)}").fetchall()[0]
    return digest([table, cols, int(n), str(s)])


def inputs_fingerprint(con, tables: Iterable[str] | None = None, *, schema: str = "extract") -> dict[str, str]:
    """``{table: content digest}`` of the loaded extract tables (all of them unless ``tables`` names some).

    Wave 1-2 source tables (:mod:`bold_prevention.datafirst.waves`) are left out: they are linked to the spine
    after it is built (``bold link wave``), so loading one does not make the spine or its person records stale."""
    from ..datafirst.waves import wave_tables

    def compute() -> dict[str, str]:
        present = warehouse_tables(con, schema)
        if tables is None:
            present -= {t.name for t in wave_tables()}
        names = sorted(present if tables is None else set(tables) & present)
        return {t: table_digest(con, schema, t) for t in names}

    wanted = None if tables is None else tuple(sorted(set(tables)))
    return dict(frozen_memo(con, ("inputs", schema, wanted), compute))


def register_digest(rules) -> str:
    """A digest of derivation rules (:class:`~bold_prevention.spine.rules.DriverRule` objects, in order)."""
    return digest([repr(r) for r in rules])


def spine_fingerprint(*, inputs: Mapping[str, str], register: str, band: str, as_at, key: str,
                      xjs: str = "published") -> dict:
    """The fingerprints of one spine build, as one mapping (stored as JSON)."""
    return {"inputs": dict(sorted(inputs.items())), "register": register, "band": band, "as_at": str(as_at),
            "key": key, "xjs": xjs}


_WORDS = {"register": "the register's derivation rules", "band": "the linkage band", "as_at": "the as-at date",
          "key": "the pseudonymisation key"}


def changes(old: Mapping | None, new: Mapping) -> list[str]:
    """What differs between two fingerprints, in words (empty when nothing did). ``old`` None: not recorded."""
    if not old:
        return ["it was built before fingerprints were recorded"]
    out = []
    oi, ni = dict(old.get("inputs") or {}), dict(new.get("inputs") or {})
    if "inputs" in new and oi != ni:
        changed = sorted(t for t in set(oi) | set(ni) if oi.get(t) != ni.get(t))
        shown = ", ".join(f"extract.{t}" for t in changed[:6]) + (f" and {len(changed) - 6} more"
                                                                  if len(changed) > 6 else "")
        out.append(f"the loaded extracts changed ({shown})")
    for k in ("register", "band", "as_at", "key"):
        if k in new and old.get(k) != new.get(k):
            detail = f" ({old.get(k)} -> {new.get(k)})" if k in ("band", "as_at") else ""
            out.append(f"{_WORDS[k]} changed{detail}")
    if "xjs" in new and old.get("xjs", "published") != new["xjs"]:
        out.append(f"the XJS person id changed ({old.get('xjs', 'published')} -> {new['xjs']})")
    return out
