"""The web application's audit log: append-only, chained with a keyed MAC, one JSON object per line.

Every sign-in, search, person view, refusal and account change by a signed-in or identified user is written here: who
(account name), their role, when (UTC), what (``action`` and ``outcome``), which person (the pseudonymised id only;
for a search, ``persons``: the pseudonymised ids of every candidate it showed) and why (the stated reason, and
``break_glass`` when the person was outside the practitioner's caseload). No name, date of birth, postcode or search
term is ever written: a search entry records which kinds of field were used, not their values.

Each entry carries ``prev`` (the seal of the entry before it; 64 zeros for the first) and ``hash``, the
HMAC-SHA256, keyed with ``$BOLD_AUDIT_KEY``, of ``prev`` and the entry's canonical JSON without ``hash``. The key is
held outside the log (like ``$BOLD_PSEUDONYM_KEY``), so whoever can write the file but does not hold the key cannot
alter, insert or delete an entry and recompute the chain: ``verify`` reports a MAC mismatch. Cutting entries off the
end leaves a chain that is still consistent, so the head (the newest entry's number and seal) is also exported to a
separate file that another party keeps (``head_file``: every ``head_every`` entries, and by ``bold audit head``);
``verify_audit(..., head_file=)`` reports a log that no longer reaches an exported head (truncated) or holds another
seal at that number (rewritten).

Unauthenticated bad requests (a form without a valid token from a signed-out client, a refused sign-in rate) are
not written here but to :class:`SecurityLog`, a plain rate-limited file, so nobody can flood the audit chain.

Layout under ``<project>/audit/``::

    audit.log      the entries (JSON lines, UTF-8)
    audit.head     {"seq": N, "hash": "...", "key_id": "..."}: the newest entry, rewritten after each append
    audit.lock     lock file serialising writers (the server and the command line)
    security.log   unauthenticated bad requests (not chained; at most ``per_minute`` lines a minute)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import threading
import time
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
SECURITY_LOG_NAME = "security.log"
KEY_ENV = "BOLD_AUDIT_KEY"
MIN_KEY_LENGTH = 16

#: Actions written to the log.
ACTIONS = ("sign_in", "sign_out", "search", "view", "refusal", "account")
#: Fields of an entry, in order (``prev`` and ``hash`` are added by :meth:`AuditLog.append`).
FIELDS = ("seq", "time", "actor", "role", "action", "outcome", "person_id", "persons", "reason", "reason_text",
          "break_glass", "detail")


def audit_key(required: bool = True) -> bytes | None:
    """The audit MAC key from ``$BOLD_AUDIT_KEY``; a clear error when it is missing or too short."""
    value = os.environ.get(KEY_ENV, "")
    if not value:
        if not required:
            return None
        raise InputError(f"${KEY_ENV} is not set: the audit log's entries are sealed with this secret key",
                         hint=f"set {KEY_ENV} to a long random secret kept outside the project folder (for "
                              "example the output of `python -c 'import secrets; print(secrets.token_hex(32))'`), "
                              "and use the same key for `bold serve`, `bold users` and `bold audit`")
    if len(value) < MIN_KEY_LENGTH:
        raise InputError(f"${KEY_ENV} is shorter than {MIN_KEY_LENGTH} characters",
                         hint="use a long random secret (32 random bytes in hex, for example)")
    return value.encode("utf-8")


def key_id(key: bytes) -> str:
    """A fingerprint of ``key`` (recorded in the head so that a different key is refused with a clear message)."""
    return hmac.new(key, b"bold-audit-key-id", hashlib.sha256).hexdigest()[:16]


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(prev: str, entry: dict[str, Any], key: bytes) -> str:
    """The chain seal (HMAC-SHA256 under ``key``) of ``entry`` (without its ``hash`` field) following ``prev``."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hmac.new(key, prev.encode("ascii", "replace") + b"\n" + _canonical(body), hashlib.sha256).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_line(path: Path, line: bytes, *, sync: bool = True) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Row:
    """What the audit view filters on, for one entry (the entry itself is read from the file by offset)."""

    seq: int
    day: str
    actor: str
    action: str
    outcome: str
    person_id: str | None
    persons: tuple[str, ...]
    break_glass: bool
    offset: int
    length: int


class AuditLog:
    """The audit log of one project. Safe to share between threads; writers in other processes are serialised
    through a lock file. ``key`` defaults to ``$BOLD_AUDIT_KEY`` (read when first needed)."""

    def __init__(self, folder: str | os.PathLike, *, key: bytes | None = None,
                 head_file: str | os.PathLike | None = None, head_every: int = 100) -> None:
        self.folder = Path(folder)
        self.log_path = self.folder / LOG_NAME
        self.head_path = self.folder / HEAD_NAME
        self.lock_path = self.folder / LOCK_NAME
        self._key = key
        self.head_file = Path(head_file) if head_file else None
        self.head_every = max(1, int(head_every))
        self._lock = threading.Lock()
        self._view = _IncrementalView(self)

    @classmethod
    def of(cls, project: Project, **kw: Any) -> AuditLog:
        return cls(project.audit_dir, **kw)

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = audit_key()
        return self._key

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
            seq, h, kid = int(head["seq"]), str(head["hash"]), head.get("key_id")
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"the audit head anchor {self.head_path} is unreadable",
                             hint="run `bold audit verify` and investigate before writing to this log") from e
        if kid != key_id(self.key):
            raise InputError(f"the audit log {self.log_path} was sealed with another key than the one in "
                             f"${KEY_ENV}" if kid else f"the audit log {self.log_path} was written without a "
                             "key (an older version of the toolkit)",
                             hint=f"set ${KEY_ENV} to the key this log was started with; a log from an older "
                                  "version: move audit.log and audit.head to an archive folder and start a new log")
        return seq, h

    def append(self, *, actor: str, role: str | None, action: str, outcome: str = "ok",
               person_id: str | None = None, persons: list[str] | None = None, reason: str | None = None,
               reason_text: str | None = None, break_glass: bool = False,
               detail: str | None = None) -> dict[str, Any]:
        """Append one entry and return it (with ``seq``, ``time``, ``prev`` and ``hash``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        key = self.key
        with self._locked():
            seq, prev = self._read_head()
            entry: dict[str, Any] = {
                "seq": seq + 1, "time": _now(), "actor": actor, "role": role, "action": action,
                "outcome": outcome, "person_id": person_id, "persons": list(persons) if persons is not None else None,
                "reason": reason, "reason_text": reason_text, "break_glass": bool(break_glass), "detail": detail,
                "prev": prev,
            }
            entry["hash"] = entry_hash(prev, entry, key)
            _write_line(self.log_path, _canonical(entry) + b"\n")
            tmp = self.head_path.with_name(f".{HEAD_NAME}.tmp-{os.getpid()}-{threading.get_ident()}")
            tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"], "key_id": key_id(key)}),
                           encoding="utf-8")
            os.replace(tmp, self.head_path)
            if self.head_file is not None and entry["seq"] % self.head_every == 0:
                self._export(entry["seq"], entry["hash"], self.head_file)
            return entry

    def _export(self, seq: int, h: str, path: Path) -> dict[str, Any]:
        rec = {"seq": seq, "hash": h, "time": _now(), "key_id": key_id(self.key)}
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_line(path, json.dumps(rec, sort_keys=True).encode("utf-8") + b"\n")
        return rec

    def head(self) -> tuple[int, str]:
        """The newest entry's number and seal (0 and 64 zeros for an empty log)."""
        with self._locked():
            return self._read_head()

    def export_head(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Append the current head to ``path`` (default: ``head_file``) and return it."""
        target = Path(path) if path else self.head_file
        if target is None:
            raise InputError("no file to export the audit head to", hint="pass --head-file PATH")
        with self._locked():
            seq, h = self._read_head()
            return self._export(seq, h, target)

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

    # -- the administrators' view -------------------------------------------------------------------------------
    def check(self) -> AuditVerification:
        """The chain's state, verified incrementally: only entries appended since the last call are checked (the
        whole file again when it was replaced or shrank, when the last checked line changed, and at least every
        :data:`FULL_CHECK_SECONDS`)."""
        return self._view.refresh()

    def search(self, *, actor: str | None = None, action: str | None = None, person_id: str | None = None,
               outcome: str | None = None, since: dt.date | None = None, until: dt.date | None = None,
               break_glass: bool | None = None, page: int = 1,
               per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
        """Entries matching every given filter, newest first: page ``page`` of ``per_page``, and the number
        matching. ``person_id`` matches a person viewed or any person a search showed."""
        self._view.refresh()
        lo, hi = (since.isoformat() if since else None), (until.isoformat() if until else None)

        def keep(r: Row) -> bool:
            return ((not actor or r.actor == actor) and (not action or r.action == action)
                    and (not outcome or r.outcome == outcome)
                    and (not person_id or r.person_id == person_id or person_id in r.persons)
                    and (lo is None or r.day >= lo) and (hi is None or r.day <= hi)
                    and (break_glass is None or r.break_glass == break_glass))

        rows = [r for r in self._view.rows_snapshot() if keep(r)]
        rows.reverse()
        start = max(0, (page - 1) * per_page)
        chosen = rows[start:start + per_page]
        out: list[dict[str, Any]] = []
        if chosen:
            with open(self.log_path, "rb") as fh:
                for r in chosen:
                    fh.seek(r.offset)
                    try:
                        out.append(json.loads(fh.read(r.length)))
                    except ValueError:
                        continue
        return out, len(rows)


#: The administrators' view re-checks the whole file at least this often.
FULL_CHECK_SECONDS = 600.0


class _IncrementalView:
    """Entries verified so far (offset, seal, sequence number) and their filter rows, extended as the log grows."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.offset = 0
        self.seq = 0
        self.prev = GENESIS
        self.lineno = 0
        self.problems: list[str] = []
        self.rows: list[Row] = []
        self.inode: tuple[int, int] | None = None
        self.last_line: tuple[int, bytes] | None = None
        self.full_at = time.monotonic()

    def rows_snapshot(self) -> list[Row]:
        with self._lock:
            return list(self.rows)

    def _needs_full(self, stat: os.stat_result) -> bool:
        if self.inode != (stat.st_dev, stat.st_ino) or stat.st_size < self.offset:
            return True
        if time.monotonic() - self.full_at > FULL_CHECK_SECONDS:
            return True
        if self.last_line is not None:
            start, raw = self.last_line
            with open(self.log.log_path, "rb") as fh:
                fh.seek(start)
                if fh.read(len(raw)) != raw:
                    return True
        return False

    def refresh(self) -> AuditVerification:
        log = self.log
        with self._lock:
            if not log.log_path.exists():
                self._reset()
                problems = ([f"{log.log_path} is missing but its head anchor exists: the log was removed"]
                            if log.head_path.exists() else [])
                return AuditVerification(ok=not problems, entries=0, head_hash=GENESIS, problems=problems)
            stat = log.log_path.stat()
            if self._needs_full(stat):
                self._reset()
                self.inode = (stat.st_dev, stat.st_ino)
            key = log.key
            with open(log.log_path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
            pos = 0
            while True:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break  # a line being written: checked next time
                raw = data[pos:nl + 1]
                start = self.offset + pos
                pos = nl + 1
                self.lineno += 1
                entry = _check_line(raw, self.lineno, self.seq, self.prev, key, self.problems)
                if entry is None:
                    continue
                seq = entry.get("seq") if isinstance(entry.get("seq"), int) else self.seq + 1
                self.seq, self.prev = seq, str(entry.get("hash"))
                persons = entry.get("persons") if isinstance(entry.get("persons"), list) else []
                self.rows.append(Row(seq, str(entry.get("time", ""))[:10], str(entry.get("actor", "")),
                                     str(entry.get("action", "")), str(entry.get("outcome", "")),
                                     entry.get("person_id"), tuple(str(p) for p in persons),
                                     entry.get("break_glass") is True, start, len(raw)))
                self.last_line = (start, raw)
            self.offset += pos
            problems = list(self.problems)
            warnings: list[str] = []
            _check_head(log, self.seq, self.prev, problems, warnings)
            return AuditVerification(ok=not problems, entries=self.seq, head_hash=self.prev, problems=problems,
                                     warnings=warnings)


def _check_line(raw: bytes, lineno: int, seq: int, prev: str, key: bytes,
                problems: list[str]) -> dict[str, Any] | None:
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        problems.append(f"line {lineno}: empty line")
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        problems.append(f"line {lineno}: not a JSON entry")
        return None
    if not isinstance(entry, dict):
        problems.append(f"line {lineno}: not a JSON object")
        return None
    if entry.get("seq") != seq + 1:
        problems.append(f"line {lineno}: sequence number {entry.get('seq')} follows {seq} "
                        "(an entry was removed, added or reordered)")
    if entry.get("prev") != prev:
        problems.append(f"line {lineno}: link to the previous entry is broken")
    if not hmac.compare_digest(str(entry.get("hash")), entry_hash(str(entry.get("prev", "")), entry, key)):
        problems.append(f"line {lineno}: MAC mismatch: the entry was altered or written without the audit key")
    return entry


def _check_head(log: AuditLog, seq: int, prev: str, problems: list[str], warnings: list[str]) -> None:
    if not log.head_path.exists():
        problems.append(f"head anchor {log.head_path} is missing")
        return
    try:
        head = json.loads(log.head_path.read_text(encoding="utf-8"))
        hseq, hhash = int(head["seq"]), str(head["hash"])
    except (ValueError, KeyError, TypeError):
        problems.append(f"head anchor {log.head_path} is unreadable")
        return
    if hhash != prev or hseq != seq:
        if hseq == seq - 1 and not problems:
            warnings.append("the head anchor is one entry behind the log (a write was interrupted after the entry "
                            "was saved)")
        elif hseq > seq:
            problems.append(f"the head anchor records {hseq} entries but the log has {seq}: entries were removed "
                            "from the end")
        else:
            problems.append("the head anchor does not match the last entry")


@dataclass
class AuditVerification:
    """The result of checking an audit log's chain."""

    ok: bool
    entries: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Exported heads checked against the chain (``head_file``).
    heads_checked: int = 0


def read_exported_heads(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The heads exported to ``path`` (one JSON object a line); a clear error if the file is unreadable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"no exported audit heads at {p}",
                         hint="pass the file the server exports heads to (bold serve --audit-head-file), or the "
                              "one `bold audit head --head-file` appends to")
    heads = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            heads.append({"seq": int(rec["seq"]), "hash": str(rec["hash"]), "time": rec.get("time")})
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{p} line {lineno} is not an exported audit head",
                             hint="restore the file from its keeper's copy") from e
    return heads


def verify_audit(folder: str | os.PathLike | Project, *, expect_head: str | None = None,
                 head_file: str | os.PathLike | None = None, key: bytes | None = None) -> AuditVerification:
    """Check the chain of the audit log in ``folder`` (or a project's audit folder), a full pass.

    Reports every broken link: a line that is not JSON, a sequence number out of order, a ``prev`` that is not the
    previous entry's seal, a seal that does not match the entry under the key (a MAC mismatch: altered, or an
    entry removed and the chain recomputed without the key), or a head anchor that does not match the last entry.
    With ``expect_head`` (a seal recorded earlier) or ``head_file`` (heads exported by the server or
    ``bold audit head``), also reports a log that no longer reaches an exported head (truncated) or holds another
    seal at its number (rewritten)."""
    log = AuditLog.of(folder, key=key) if isinstance(folder, Project) else AuditLog(folder, key=key)
    k = log.key
    problems: list[str] = []
    warnings: list[str] = []
    heads = read_exported_heads(head_file) if head_file else []
    wanted = {h["seq"] for h in heads}
    seals: dict[int, str] = {}
    if not log.log_path.exists():
        if log.head_path.exists():
            problems.append(f"{log.log_path} is missing but its head anchor exists: the log was removed")
        seq, prev = 0, GENESIS
    else:
        prev, seq = GENESIS, 0
        seen_expected = expect_head is None
        with open(log.log_path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                entry = _check_line(raw, lineno, seq, prev, k, problems)
                if entry is None:
                    continue
                seq = entry.get("seq") if isinstance(entry.get("seq"), int) else seq + 1
                prev = str(entry.get("hash"))
                if seq in wanted:
                    seals[seq] = prev
                if expect_head is not None and prev == expect_head:
                    seen_expected = True
        _check_head(log, seq, prev, problems, warnings)
        if not seen_expected:
            problems.append("the recorded head hash is not in the chain: the log was rewritten")
    for h in heads:
        when = f" (exported {h['time']})" if h.get("time") else ""
        if h["seq"] > seq:
            problems.append(f"truncated: a head was exported at entry {h['seq']}{when} but the log has {seq} "
                            "entries")
        elif seals.get(h["seq"]) != h["hash"]:
            problems.append(f"rewritten: entry {h['seq']} is not the one whose head was exported{when}")
    return AuditVerification(ok=not problems, entries=seq, head_hash=prev, problems=problems, warnings=warnings,
                             heads_checked=len(heads))


class SecurityLog:
    """Unauthenticated bad requests (not the audit chain): one JSON line each, at most ``per_minute`` lines a
    minute; lines over the limit are counted and the count is written with the next line allowed. The file is
    rotated to ``security.log.1`` past ``max_bytes``."""

    def __init__(self, folder: str | os.PathLike, *, per_minute: int = 60, max_bytes: int = 20_000_000) -> None:
        self.path = Path(folder) / SECURITY_LOG_NAME
        self.per_minute = per_minute
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._window_start = time.monotonic()
        self._count = 0
        self.suppressed = 0
        #: Lines written (for tests and the admin page).
        self.written = 0

    def append(self, *, kind: str, client: str | None, detail: str) -> bool:
        """Write one line unless over the rate; True if written."""
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= 60:
                self._window_start, self._count = now, 0
            if self._count >= self.per_minute:
                self.suppressed += 1
                return False
            self._count += 1
            rec = {"time": _now(), "kind": kind, "client": client, "detail": detail}
            if self.suppressed:
                rec["suppressed_before"] = self.suppressed
                self.suppressed = 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                if self.path.exists() and self.path.stat().st_size > self.max_bytes:
                    os.replace(self.path, self.path.with_name(SECURITY_LOG_NAME + ".1"))
            _write_line(self.path, json.dumps(rec, sort_keys=True).encode("utf-8") + b"\n", sync=False)
            self.written += 1
            return True
