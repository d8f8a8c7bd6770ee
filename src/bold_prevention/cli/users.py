"""``bold users``: manage the web application's local accounts (stored in ``<project>/audit/users.json``).

Passwords are read from a hidden prompt, or from standard input with ``--password-stdin``; never from an argument,
which would leave them in the shell history and the process list. A password set here is temporary: the user must
replace it, and enrol a second factor, at first sign-in (so whoever runs this command never knows a working
password). Every change is written to the audit log (which needs ``$BOLD_AUDIT_KEY``) and ends the account's
sessions at its next request.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import typer

from ..app.accounts import ROLES, AccountStore, temporary_password
from ..app.audit import AuditLog, audit_key
from ..errors import InputError
from ..project import Project
from .app import Fmt, FormatOption, ProjectOption, Typer, app, console, out, user_errors
from .printing import Grid

users_app = Typer(help="Manage the web application's accounts (practitioner, analyst, admin).",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("no password on standard input", hint="pipe the password in, one line")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask for the password on",
                         hint="run this in a terminal, or pass --password-stdin and pipe the password in")
    first = getpass.getpass("Temporary password (at least 12 characters): ")
    second = getpass.getpass("Password again: ")
    if first != second:
        raise InputError("the two passwords do not match", hint="run the command again")
    return first


def _audit(p: Project, detail: str) -> None:
    AuditLog.of(p).append(actor=_operator(), role="admin", action="account", outcome="ok", detail=detail)


def _areas(values: list[str] | None) -> list[str]:
    return [a.strip() for v in (values or []) for a in v.split(",") if a.strip()]


@users_app.command("add")
@user_errors
def add(name: str = typer.Argument(..., help="Account name (lower-case letters, digits, . _ -)."),
        role: str = typer.Option(..., "--role", "-r", help=f"One of: {', '.join(ROLES)}."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the temporary password from "
                                                                            "standard input instead of a prompt."),
        generate: bool = typer.Option(False, "--generate", help="Make a temporary password and print it once."),
        caseload: list[str] = typer.Option(None, "--caseload", help="A practitioner's areas (repeat, or separate "
                                                                    "with commas); * for every area."),
        replace: bool = typer.Option(False, "--replace", help="Reset an existing account's role, password and "
                                                              "second factor."),
        project: Path | None = ProjectOption) -> None:
    """Add an account (or reset one with --replace). The user sets their own password and second factor at first
    sign-in."""
    p = Project.at(project)
    audit_key()  # refuse before changing anything when the audit log cannot be written
    store = AccountStore.of(p)
    password = temporary_password() if generate else _read_password(password_stdin)
    acc = store.add(name, role, password, replace=replace, caseload=_areas(caseload))
    _audit(p, f"{'reset' if replace else 'added'} account {acc.name} with role {acc.role}"
              + (f" and caseload {', '.join(acc.caseload)}" if acc.caseload else ""))
    out.print(f"Account [bold]{acc.name}[/] ({acc.role}) {'reset' if replace else 'added'} in {store.path}")
    if generate:
        out.print(f"Temporary password (shown once): {password}")
    out.print("At first sign-in the user sets their own password and second factor.")


def _change(project: Path | None, name: str, action: str, done: str) -> None:
    """One account change from the command line: checked audit key, the change, its audit entry, a line out."""
    p = Project.at(project)
    audit_key()
    getattr(AccountStore.of(p), action)(name)
    _audit(p, f"{done} account {name}")
    out.print(f"Account [bold]{name}[/] {done}")


@users_app.command("remove")
@user_errors
def remove(name: str = typer.Argument(..., help="Account name."), project: Path | None = ProjectOption) -> None:
    """Remove an account (its sessions end)."""
    _change(project, name, "remove", "removed")


@users_app.command("unlock")
@user_errors
def unlock(name: str = typer.Argument(..., help="Account name."), project: Path | None = ProjectOption) -> None:
    """Unlock an account (an administrator's lock, and every address locked out after failed sign-ins)."""
    _change(project, name, "unlock", "unlocked")


@users_app.command("lock")
@user_errors
def lock(name: str = typer.Argument(..., help="Account name."), project: Path | None = ProjectOption) -> None:
    """Lock an account for everyone until it is unlocked (its sessions end)."""
    _change(project, name, "lock", "locked")


@users_app.command("reset")
@user_errors
def reset(name: str = typer.Argument(..., help="Account name."),
          password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the temporary password from "
                                                                              "standard input."),
          project: Path | None = ProjectOption) -> None:
    """Reset a password and second factor (a lost authenticator): prints a temporary password unless
    --password-stdin gives one; the user sets both again at the next sign-in."""
    p = Project.at(project)
    audit_key()
    password = _read_password(True) if password_stdin else temporary_password()
    AccountStore.of(p).reset(name, password)
    _audit(p, f"reset the password and second factor of account {name}")
    out.print(f"Account [bold]{name}[/] reset")
    if not password_stdin:
        out.print(f"Temporary password (shown once): {password}")


@users_app.command("role")
@user_errors
def role_(name: str = typer.Argument(..., help="Account name."),
          role: str = typer.Argument(..., help=f"One of: {', '.join(ROLES)}."),
          project: Path | None = ProjectOption) -> None:
    """Change an account's role (its sessions end)."""
    p = Project.at(project)
    audit_key()
    acc = AccountStore.of(p).set_role(name, role)
    _audit(p, f"changed the role of account {name} to {acc.role}")
    out.print(f"Account [bold]{name}[/] is now {acc.role}")


@users_app.command("caseload")
@user_errors
def caseload_(name: str = typer.Argument(..., help="Account name."),
              areas: list[str] = typer.Argument(None, help="Areas (region names, local authority codes or names, "
                                                           "probation areas; * for every area). None: no caseload."),
              project: Path | None = ProjectOption) -> None:
    """Set a practitioner's caseload (its sessions end)."""
    p = Project.at(project)
    audit_key()
    acc = AccountStore.of(p).set_caseload(name, _areas(areas))
    _audit(p, f"set the caseload of account {name} to {', '.join(acc.caseload) or '(none)'}")
    out.print(f"Caseload of [bold]{name}[/]: {', '.join(acc.caseload) or '(none)'}")


@users_app.command("list")
@user_errors
def list_(project: Path | None = ProjectOption, fmt: Fmt = FormatOption) -> None:
    """List the accounts with their roles, caseloads and status."""
    accounts = AccountStore.of(Project.at(project)).list()
    if not accounts:
        console.print("No accounts yet: add one with `bold users add NAME --role admin`")
        if fmt == "table":
            return
    t = Grid("accounts", "Accounts")
    t.column("account").column("role").column("caseload").column("created").column("status")
    for a in accounts:
        status = ("locked" if a.suspended else "waiting for first sign-in" if not a.ready else "active")
        if a.locked_sources:
            status += f" ({a.locked_sources} address(es) locked out)"
        t.row(a.name, a.role, ", ".join(a.caseload), a.created[:10], status)
    t.show()
