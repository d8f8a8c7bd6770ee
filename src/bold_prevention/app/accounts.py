"""Local accounts for the web application, stored in ``<project>/audit/users.json``.

Passwords are hashed with Argon2id (``argon2-cffi``); the file never holds a password. After
:data:`LOCKOUT_THRESHOLD` failed sign-ins in a row an account is locked for :data:`LOCKOUT_MINUTES` minutes (an
administrator can unlock it earlier). Writers are serialised through a lock file and the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import BoldError, InputError
from ..files import atomic_file
from ..project import Project

Role = Literal["practitioner", "analyst", "admin"]
ROLES: tuple[str, ...] = ("practitioner", "analyst", "admin")
USERS_FILE = "users.json"
LOCK_FILE = "users.lock"
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")

_hasher = PasswordHasher()
# A hash of a random password, verified when the account does not exist so that timing does not reveal it.
_DUMMY_HASH = _hasher.hash(os.urandom(16).hex())


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
    failed: int
    locked_until: str | None

    def locked(self, now: dt.datetime | None = None) -> bool:
        if not self.locked_until:
            return False
        now = now or dt.datetime.now(dt.UTC)
        return dt.datetime.fromisoformat(self.locked_until) > now


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


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters",
                         hint=f"choose a password of at least {MIN_PASSWORD_LENGTH} characters "
                              "(a few unrelated words work well)")
    return password


class AccountStore:
    """The accounts of one project."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / USERS_FILE
        self.lock_path = self.folder / LOCK_FILE
        self._lock = threading.Lock()

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
            return {"version": 1, "users": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data.get("users"), dict):
                raise ValueError("no users")
            return data
        except (ValueError, AttributeError) as e:
            raise InputError(f"the accounts file {self.path} is unreadable",
                             hint="restore it from a backup, or remove it and add the accounts again") from e

    def _save(self, data: dict) -> None:
        with atomic_file(self.path) as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.chmod(self.path, 0o600)

    @staticmethod
    def _account(name: str, rec: dict) -> Account:
        return Account(name=name, role=rec["role"], created=rec.get("created", ""),
                       failed=int(rec.get("failed", 0)), locked_until=rec.get("locked_until"))

    # -- management -------------------------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str, *, replace: bool = False) -> Account:
        """Create an account (or, with ``replace``, reset an existing one's role and password)."""
        check_name(name)
        check_role(role)
        check_password(password)
        digest = _hasher.hash(password)
        with self._locked():
            data = self._load()
            if name in data["users"] and not replace:
                raise InputError(f"account {name!r} already exists",
                                 hint="choose another name, or pass --replace to reset its role and password")
            data["users"][name] = {"role": role, "hash": digest, "created": _now().isoformat(timespec="seconds"),
                                   "failed": 0, "locked_until": None}
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
        with self._locked():
            data = self._load()
            if name not in data["users"]:
                raise InputError(f"no account named {name!r}", hint="see `bold users list`")
            data["users"][name].update(failed=0, locked_until=None)
            self._save(data)
            return self._account(name, data["users"][name])

    def list(self) -> list[Account]:
        with self._locked():
            data = self._load()
        return [self._account(n, r) for n, r in sorted(data["users"].items())]

    def get(self, name: str) -> Account | None:
        with self._locked():
            rec = self._load()["users"].get(name)
        return None if rec is None else self._account(name, rec)

    # -- sign-in ----------------------------------------------------------------------------------------------
    def authenticate(self, name: str, password: str) -> Account:
        """The account if ``password`` is right; otherwise :class:`SignInRefused` (``reason`` says why, for the
        audit log: ``unknown_account``, ``wrong_password`` or ``locked``). Counts failures and locks the account
        after :data:`LOCKOUT_THRESHOLD` in a row."""
        generic = "The account name or password is not right, or the account is locked. Try again later."
        with self._locked():
            data = self._load()
            rec = data["users"].get(name)
            if rec is None:
                with contextlib.suppress(VerificationError, InvalidHashError):
                    _hasher.verify(_DUMMY_HASH, password or "-")
                raise SignInRefused(generic, reason="unknown_account")
            now = _now()
            if rec.get("locked_until") and dt.datetime.fromisoformat(rec["locked_until"]) > now:
                raise SignInRefused(generic, reason="locked")
            try:
                _hasher.verify(rec["hash"], password or "")
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                rec["failed"] = int(rec.get("failed", 0)) + 1
                reason = "wrong_password"
                if rec["failed"] >= LOCKOUT_THRESHOLD:
                    rec["locked_until"] = (now + dt.timedelta(minutes=LOCKOUT_MINUTES)).isoformat()
                    rec["failed"] = 0
                    reason = "wrong_password_now_locked"
                self._save(data)
                raise SignInRefused(generic, reason=reason) from None
            changed = bool(rec.get("failed")) or bool(rec.get("locked_until"))
            rec.update(failed=0, locked_until=None)
            if _hasher.check_needs_rehash(rec["hash"]):
                rec["hash"] = _hasher.hash(password)
                changed = True
            if changed:
                self._save(data)
            return self._account(name, rec)
