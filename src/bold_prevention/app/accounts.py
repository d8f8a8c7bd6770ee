"""Local accounts for the web application, stored in ``<project>/audit/users.json``.

Passwords are hashed with Argon2id (``argon2-cffi``); the file never holds a password. Every account has:

- a role (practitioner, analyst, admin) and, for practitioners, a caseload (the areas of the spine whose people
  they may open with an ordinary reason; see :mod:`.caseload`);
- a TOTP second factor (RFC 6238, ``pyotp``), enrolled by the user at first sign-in; a code is accepted once
  (replay refused) within one 30-second step either side;
- ``must_change``: set when an administrator (on the web or with ``bold users``) creates the account or resets its
  password, so the user sets their own password (and second factor) before they can open anything, and no
  administrator ever knows a working password;
- an ``epoch``, raised by every change to the account's access (role, caseload, password, second factor, lock):
  a session remembers the epoch it signed in under and ends when it differs (:meth:`AccountStore.current`).

Failed sign-ins are counted per account *and* source address: after :data:`LOCKOUT_THRESHOLD` failures in a row
from one address, that address is locked out of that account for :data:`LOCKOUT_MINUTES` minutes; others are not.
An administrator can also lock an account outright (every session of it ends). Unknown accounts, locked accounts
and wrong passwords get the same message after the same work (one Argon2 verification and one write of the file).
Writers are serialised through a lock file and the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import BoldError, InputError
from ..files import atomic_file
from ..project import Project
from .passwords import HINT, MIN_PASSWORD_LENGTH, password_problem

Role = Literal["practitioner", "analyst", "admin"]
ROLES: tuple[str, ...] = ("practitioner", "analyst", "admin")
USERS_FILE = "users.json"
LOCK_FILE = "users.lock"
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15
TOTP_STEP = 30
ISSUER = "BOLD Prevention"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
ALL_AREAS = "*"
_AREA = re.compile(r"^[\w .,'&()-]{1,80}$", re.UNICODE)
__all__ = ["MIN_PASSWORD_LENGTH", "Account", "AccountStore", "SignInRefused", "ROLES", "ALL_AREAS"]

_hasher = PasswordHasher()
# A hash of a random password, verified when the account does not exist so that timing does not reveal it.
_DUMMY_HASH = _hasher.hash(os.urandom(16).hex())
GENERIC_REFUSAL = "The account name or password is not right, or the account is locked. Try again later."


class SignInRefused(BoldError):
    """A sign-in that did not succeed (the message is safe to show: it never says which part was wrong)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created: str
    epoch: int = 0
    must_change: bool = False
    totp_enrolled: bool = False
    caseload: tuple[str, ...] = ()
    suspended: bool = False
    #: Source addresses locked out of this account now.
    locked_sources: int = 0

    def locked(self, now: dt.datetime | None = None) -> bool:
        """Locked by an administrator (every source)."""
        return self.suspended

    @property
    def ready(self) -> bool:
        """Signed in fully possible: own password set and second factor enrolled."""
        return not self.must_change and self.totp_enrolled


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise InputError(f"account name {name!r} is not allowed",
                         hint="use 2-40 characters: lower-case letters, digits, dot, dash or underscore, "
                              "starting with a letter")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", hint=f"use one of: {', '.join(ROLES)}")
    return role


def check_password(password: str, name: str | None = None) -> str:
    problem = password_problem(password, name=name)
    if problem:
        raise InputError(problem, hint=HINT)
    return password


def check_caseload(areas: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for a in areas:
        a = " ".join(str(a).split())
        if not a:
            continue
        if a != ALL_AREAS and not _AREA.match(a):
            raise InputError("a caseload area may hold only letters, digits, spaces and . , ' & ( ) -",
                             hint="give region names (e.g. North West), local authority codes (E08000003) or "
                                  f"names (Manchester), or {ALL_AREAS} for every area")
        if a.lower() not in {x.lower() for x in out}:
            out.append(a)
    if len(out) > 200:
        raise InputError("a caseload may hold at most 200 areas", hint="use region names for wide caseloads")
    return tuple(out)


class AccountStore:
    """The accounts of one project."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / USERS_FILE
        self.lock_path = self.folder / LOCK_FILE
        self._lock = threading.Lock()
        #: The clock for second-factor codes (seconds since the epoch); replaceable so tests need not wait.
        self.clock = time.time
        self._cache: tuple[tuple, dict[str, Account]] | None = None

    @classmethod
    def of(cls, project: Project) -> AccountStore:
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

    def _load(self) -> dict:
        if not self.path.exists():
            return {"version": 2, "users": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data.get("users"), dict):
                raise ValueError("no users")
            return data
        except (ValueError, AttributeError) as e:
            raise InputError(f"the accounts file {self.path} is unreadable",
                             hint="restore it from a backup, or remove it and add the accounts again") from e

    def _save(self, data: dict) -> None:
        data["version"] = 2
        with atomic_file(self.path) as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.chmod(self.path, 0o600)

    @staticmethod
    def _account(name: str, rec: dict, now: dt.datetime | None = None) -> Account:
        now = now or _now()
        locked = sum(1 for f in (rec.get("failures") or {}).values()
                     if f.get("until") and dt.datetime.fromisoformat(f["until"]) > now)
        return Account(name=name, role=rec["role"], created=rec.get("created", ""), epoch=int(rec.get("epoch", 0)),
                       must_change=bool(rec.get("must_change", False)), totp_enrolled=bool(rec.get("totp")),
                       caseload=tuple(rec.get("caseload") or ()), suspended=bool(rec.get("suspended", False)),
                       locked_sources=locked)

    def _update(self, name: str, **changes) -> Account:
        """Apply ``changes`` to an existing account and raise its epoch (its sessions end)."""
        with self._locked():
            data = self._load()
            rec = data["users"].get(name)
            if rec is None:
                raise InputError(f"no account named {name!r}", hint="see `bold users list`")
            rec.update(changes)
            rec["epoch"] = int(rec.get("epoch", 0)) + 1
            self._save(data)
            return self._account(name, rec)

    # -- management -------------------------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str, *, replace: bool = False, must_change: bool = True,
            caseload: list[str] | tuple[str, ...] = ()) -> Account:
        """Create an account (or, with ``replace``, reset an existing one's role, password and second factor).

        ``must_change`` (the default, and always so for accounts made by an administrator) makes the user set their
        own password and enrol a second factor at first sign-in."""
        check_name(name)
        check_role(role)
        check_password(password, name)
        areas = check_caseload(caseload)
        digest = _hasher.hash(password)
        with self._locked():
            data = self._load()
            old = data["users"].get(name)
            if old is not None and not replace:
                raise InputError(f"account {name!r} already exists",
                                 hint="choose another name, or pass --replace to reset its role and password")
            data["users"][name] = {
                "role": role, "hash": digest, "created": _now().isoformat(timespec="seconds"),
                "epoch": int((old or {}).get("epoch", 0)) + 1, "must_change": bool(must_change), "totp": None,
                "totp_step": None, "caseload": list(areas or (old or {}).get("caseload") or []),
                "suspended": False, "failures": {}}
            self._save(data)
            return self._account(name, data["users"][name])

    def remove(self, name: str) -> None:
        with self._locked():
            data = self._load()
            if name not in data["users"]:
                raise InputError(f"no account named {name!r}", hint="see `bold users list`")
            del data["users"][name]
            self._save(data)

    def unlock(self, name: str) -> Account:
        """End an administrator's lock and every source address's lock-out."""
        with self._locked():
            data = self._load()
            rec = data["users"].get(name)
            if rec is None:
                raise InputError(f"no account named {name!r}", hint="see `bold users list`")
            rec.update(failures={}, suspended=False)
            rec.pop("failed", None)
            rec.pop("locked_until", None)
            self._save(data)
            return self._account(name, rec)

    def lock(self, name: str) -> Account:
        """Lock the account for everyone until it is unlocked (its sessions end)."""
        return self._update(name, suspended=True)

    def set_role(self, name: str, role: str) -> Account:
        return self._update(name, role=check_role(role))

    def set_caseload(self, name: str, areas: list[str] | tuple[str, ...]) -> Account:
        return self._update(name, caseload=list(check_caseload(areas)))

    def reset(self, name: str, password: str) -> Account:
        """An administrator's reset: a temporary password, the second factor removed; the user sets both again at
        the next sign-in (the recovery route for a lost authenticator)."""
        check_password(password, name)
        return self._update(name, hash=_hasher.hash(password), must_change=True, totp=None, totp_step=None,
                            failures={})

    def list(self) -> list[Account]:
        with self._locked():
            data = self._load()
        now = _now()
        return [self._account(n, r, now) for n, r in sorted(data["users"].items())]

    def get(self, name: str) -> Account | None:
        with self._locked():
            rec = self._load()["users"].get(name)
        return None if rec is None else self._account(name, rec)

    def current(self, name: str) -> Account | None:
        """The account as it is now, for the check made on every request: read again only when the file changed
        (its size, time or inode), so another process's change (``bold users``) is seen at the next request."""
        try:
            st = self.path.stat()
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return None
        cached = self._cache
        if cached is None or cached[0] != stamp:
            with self._locked():
                data = self._load()
            accounts = {n: self._account(n, r) for n, r in data["users"].items()}
            self._cache = cached = (stamp, accounts)
        return cached[1].get(name)

    # -- sign-in ----------------------------------------------------------------------------------------------
    @staticmethod
    def _source_locked(rec: dict, source: str, now: dt.datetime) -> bool:
        f = (rec.get("failures") or {}).get(source)
        return bool(f and f.get("until") and dt.datetime.fromisoformat(f["until"]) > now)

    @staticmethod
    def _fail(rec: dict, source: str, now: dt.datetime) -> bool:
        """Count a failure from ``source``; True if it now locks that source out."""
        failures = rec.setdefault("failures", {})
        f = failures.get(source) or {"n": 0, "until": None}
        if f.get("until") and dt.datetime.fromisoformat(f["until"]) <= now:
            f = {"n": 0, "until": None}
        f["n"] = int(f.get("n", 0)) + 1
        f["last"] = now.isoformat(timespec="seconds")
        locked = False
        if f["n"] >= LOCKOUT_THRESHOLD:
            f.update(n=0, until=(now + dt.timedelta(minutes=LOCKOUT_MINUTES)).isoformat())
            locked = True
        failures[source] = f
        if len(failures) > 100:  # keep the newest
            for k in sorted(failures, key=lambda k: failures[k].get("last", ""))[:len(failures) - 100]:
                del failures[k]
        return locked

    def authenticate(self, name: str, password: str, source: str = "-") -> Account:
        """The account if ``password`` is right and neither the account nor ``source`` is locked out; otherwise
        :class:`SignInRefused` (``reason`` says why, for the audit log: ``unknown_account``, ``wrong_password``,
        ``wrong_password_now_locked``, ``locked`` or ``source_locked``). The same work is done in every case."""
        with self._locked():
            data = self._load()
            rec = data["users"].get(name)
            now = _now()
            if rec is None:
                with contextlib.suppress(VerificationError, InvalidHashError):
                    _hasher.verify(_DUMMY_HASH, password or "-")
                self._save(data)  # the same write as a counted failure, so timing does not tell
                raise SignInRefused(GENERIC_REFUSAL, reason="unknown_account")
            try:
                ok = _hasher.verify(rec["hash"], password or "")
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            if rec.get("suspended"):
                self._save(data)
                raise SignInRefused(GENERIC_REFUSAL, reason="locked")
            if self._source_locked(rec, source, now):
                self._save(data)
                raise SignInRefused(GENERIC_REFUSAL, reason="source_locked")
            if not ok:
                locked = self._fail(rec, source, now)
                self._save(data)
                raise SignInRefused(GENERIC_REFUSAL,
                                    reason="wrong_password_now_locked" if locked else "wrong_password")
            (rec.get("failures") or {}).pop(source, None)
            if _hasher.check_needs_rehash(rec["hash"]):
                rec["hash"] = _hasher.hash(password)
            self._save(data)
            return self._account(name, rec)

    def set_own_password(self, name: str, current: str, new: str) -> Account:
        """The user's own change: ``current`` must be right; ``new`` must meet the policy and differ from it.
        Clears ``must_change`` and raises the epoch (every other session of the account ends)."""
        check_password(new, name)
        if new == current:
            raise InputError("the new password is the same as the current one", hint="choose a new password")
        with self._locked():
            rec = self._load()["users"].get(name)
        if rec is None:
            raise InputError(f"no account named {name!r}", hint="sign in again")
        try:
            _hasher.verify(rec["hash"], current or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise InputError("the current password is not right", hint="type the password you signed in with") \
                from None
        return self._update(name, hash=_hasher.hash(new), must_change=False)

    def set_first_password(self, name: str, new: str) -> Account:
        """At first sign-in (the temporary password has just been checked): the user's own password, which must
        meet the policy and differ from the temporary one. Only for an account that ``must_change``."""
        check_password(new, name)
        with self._locked():
            rec = self._load()["users"].get(name)
        if rec is None or not rec.get("must_change"):
            raise InputError("this account has no temporary password to replace", hint="sign in again")
        try:
            same = _hasher.verify(rec["hash"], new)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            same = False
        if same:
            raise InputError("the new password is the temporary password you were given",
                             hint="choose a password that only you know")
        return self._update(name, hash=_hasher.hash(new), must_change=False)

    # -- second factor ----------------------------------------------------------------------------------------
    @staticmethod
    def new_totp_secret() -> str:
        import pyotp

        return pyotp.random_base32()

    @staticmethod
    def totp_uri(name: str, secret: str) -> str:
        import pyotp

        return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)

    def _match_step(self, secret: str, code: str, last: int | None) -> int | None:
        import pyotp

        code = re.sub(r"\s", "", code or "")
        if not re.fullmatch(r"\d{6}", code):
            return None
        totp = pyotp.TOTP(secret)
        now_step = int(self.clock() // TOTP_STEP)
        for step in (now_step - 1, now_step, now_step + 1):
            if last is not None and step <= last:
                continue  # a code already used (or older) is refused: no replay
            if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
                return step
        return None

    def enrol_totp(self, name: str, secret: str, code: str) -> Account:
        """Save ``secret`` as the account's second factor once ``code`` proves the authenticator holds it."""
        step = self._match_step(secret, code, None)
        if step is None:
            raise InputError("the code is not right", hint="type the 6-digit code your authenticator app shows now")
        return self._update(name, totp=secret, totp_step=step)

    def verify_totp(self, name: str, code: str, source: str = "-") -> Account:
        """The account if ``code`` is its current second-factor code (not used before); otherwise
        :class:`SignInRefused`, counting a failure from ``source``."""
        with self._locked():
            data = self._load()
            rec = data["users"].get(name)
            now = _now()
            if rec is None or not rec.get("totp"):
                raise SignInRefused("The code is not right. Try again.", reason="no_second_factor")
            if rec.get("suspended") or self._source_locked(rec, source, now):
                raise SignInRefused("The code is not right. Try again.", reason="locked")
            step = self._match_step(rec["totp"], code, rec.get("totp_step"))
            if step is None:
                locked = self._fail(rec, source, now)
                self._save(data)
                raise SignInRefused("The code is not right. Try again.",
                                    reason="wrong_code_now_locked" if locked else "wrong_code")
            rec["totp_step"] = step
            (rec.get("failures") or {}).pop(source, None)
            self._save(data)
            return self._account(name, rec)


def temporary_password() -> str:
    """A random temporary password that meets the policy (for resets that do not type one)."""
    while True:
        pw = "-".join(secrets.token_urlsafe(6) for _ in range(3))
        if password_problem(pw) is None:
            return pw
