"""The web application's audit log: append-only, hash-chained, one JSON object per line.

Every sign-in, search, person view and refusal is written here: who (account name), their role, when (UTC), what
(``action`` and ``outcome``), which person (the pseudonymised id only) and why (the stated reason). No name, date of
birth, postcode or search term is ever written: a search entry records which kinds of field were used, not their values.

Each entry carries ``prev`` (the hash of the entry before it; 64 zeros for the first) and ``hash``, the SHA-256 of
``prev`` and the entry's canonical JSON without ``hash``. Changing, removing or reordering any line breaks the chain;
removing lines from the end is caught by the head anchor file (``audit.head``: the last sequence number and hash),
and rewriting the whole file is caught by checking a head hash recorded elsewhere (``verify_audit(..., expect_head=)``,
``bold audit verify --head``).

Layout under ``<project>/audit/``::

    audit.log     the entries (JSON lines, UTF-8)
    audit.head    {"seq": N, "hash": "..."}: the newest entry, rewritten atomically after each append
    audit.lock    lock file serialising writers (the server and the command line)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..project import Project

GENESIS = "0" * 64
LOG_NAME = "audit.log"
HEAD_NAME = "audit.head"
LOCK_NAME = "audit.lock"

#: Actions written to the log.
ACTIONS = ("sign_in", "sign_out", "search", "view", "refusal", "account")
#: Fields of an entry, in order (``prev`` and ``hash`` are added by :meth:`AuditLog.append`).
FIELDS = ("seq", "time", "actor", "role", "action", "outcome", "person_id", "reason", "reason_text", "detail")


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(prev: str, entry: dict[str, Any]) -> str:
    """The chain hash of ``entry`` (without its ``hash`` field) following ``prev``."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(prev.encode("ascii") + b"\n" + _canonical(body)).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """The audit log of one project. Safe to share between threads; writers in other processes are serialised
    through a lock file."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.log_path = self.folder / LOG_NAME
        self.head_path = self.folder / HEAD_NAME
        self.lock_path = self.folder / LOCK_NAME
        self._lock = threading.Lock()

    @classmethod
    def of(cls, project: Project) -> AuditLog:
        return cls(project.audit_dir)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_head(self) -> tuple[int, str]:
        if not self.head_path.exists():
            if self.log_path.exists() and self.log_path.stat().st_size > 0:
                raise InputError(f"the audit log {self.log_path} has entries but its head anchor "
                                 f"{self.head_path} is missing",
                                 hint="run `bold audit verify` and investigate before writing to this log")
            return 0, GENESIS
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            return int(head["seq"]), str(head["hash"])
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"the audit head anchor {self.head_path} is unreadable",
                             hint="run `bold audit verify` and investigate before writing to this log") from e

    def append(self, *, actor: str, role: str | None, action: str, outcome: str = "ok",
               person_id: str | None = None, reason: str | None = None, reason_text: str | None = None,
               detail: str | None = None) -> dict[str, Any]:
        """Append one entry and return it (with ``seq``, ``time``, ``prev`` and ``hash``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        with self._locked():
            seq, prev = self._read_head()
            entry: dict[str, Any] = {
                "seq": seq + 1, "time": _now(), "actor": actor, "role": role, "action": action,
                "outcome": outcome, "person_id": person_id, "reason": reason, "reason_text": reason_text,
                "detail": detail, "prev": prev,
            }
            entry["hash"] = entry_hash(prev, entry)
            line = _canonical(entry) + b"\n"
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            tmp = self.head_path.with_name(f".{HEAD_NAME}.tmp-{os.getpid()}-{threading.get_ident()}")
            tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}), encoding="utf-8")
            os.replace(tmp, self.head_path)
            return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first (lines that are not JSON are skipped; :func:`verify_audit` reports them)."""
        if not self.log_path.exists():
            return
        with open(self.log_path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    def search(self, *, actor: str | None = None, action: str | None = None, person_id: str | None = None,
               outcome: str | None = None, since: dt.date | None = None, until: dt.date | None = None,
               limit: int = 200) -> tuple[list[dict[str, Any]], int]:
        """Entries matching every given filter, newest first, at most ``limit``; and the number matching."""
        found: list[dict[str, Any]] = []
        for e in self.entries():
            if actor and e.get("actor") != actor:
                continue
            if action and e.get("action") != action:
                continue
            if person_id and e.get("person_id") != person_id:
                continue
            if outcome and e.get("outcome") != outcome:
                continue
            day = str(e.get("time", ""))[:10]
            if since and day < since.isoformat():
                continue
            if until and day > until.isoformat():
                continue
            found.append(e)
        found.reverse()
        return found[:limit], len(found)


@dataclass
class AuditVerification:
    """The result of checking an audit log's chain."""

    ok: bool
    entries: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def verify_audit(folder: str | os.PathLike | Project, *, expect_head: str | None = None) -> AuditVerification:
    """Check the chain of the audit log in ``folder`` (or a project's audit folder).

    Reports every broken link: a line that is not JSON, a sequence number out of order, a ``prev`` that is not the
    previous entry's hash, a hash that does not match the entry, or a head anchor that does not match the last entry.
    With ``expect_head``, also checks that a previously recorded head hash is still in the chain.
    """
    log = AuditLog.of(folder) if isinstance(folder, Project) else AuditLog(folder)
    problems: list[str] = []
    warnings: list[str] = []
    if not log.log_path.exists():
        if log.head_path.exists():
            problems.append(f"{log.log_path} is missing but its head anchor exists: the log was removed")
        return AuditVerification(ok=not problems, entries=0, head_hash=GENESIS, problems=problems)
    prev = GENESIS
    seq = 0
    seen_expected = expect_head is None
    with open(log.log_path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                problems.append(f"line {lineno}: empty line")
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                problems.append(f"line {lineno}: not a JSON entry")
                continue
            if not isinstance(entry, dict):
                problems.append(f"line {lineno}: not a JSON object")
                continue
            if entry.get("seq") != seq + 1:
                problems.append(f"line {lineno}: sequence number {entry.get('seq')} follows {seq} "
                                "(an entry was removed, added or reordered)")
            if entry.get("prev") != prev:
                problems.append(f"line {lineno}: link to the previous entry is broken")
            if entry.get("hash") != entry_hash(str(entry.get("prev", "")), entry):
                problems.append(f"line {lineno}: entry was altered (its hash does not match its content)")
            seq = entry.get("seq") if isinstance(entry.get("seq"), int) else seq + 1
            prev = str(entry.get("hash"))
            if expect_head is not None and prev == expect_head:
                seen_expected = True
    if not log.head_path.exists():
        problems.append(f"head anchor {log.head_path} is missing")
    else:
        try:
            head = json.loads(log.head_path.read_text(encoding="utf-8"))
            hseq, hhash = int(head["seq"]), str(head["hash"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"head anchor {log.head_path} is unreadable")
        else:
            if hhash != prev or hseq != seq:
                if hseq == seq - 1 and not problems:
                    warnings.append("the head anchor is one entry behind the log (a write was interrupted "
                                    "after the entry was saved)")
                elif hseq > seq:
                    problems.append(f"the head anchor records {hseq} entries but the log has {seq}: "
                                    "entries were removed from the end")
                else:
                    problems.append("the head anchor does not match the last entry")
    if not seen_expected:
        problems.append("the recorded head hash is not in the chain: the log was rewritten")
    return AuditVerification(ok=not problems, entries=seq, head_hash=prev, problems=problems, warnings=warnings)
