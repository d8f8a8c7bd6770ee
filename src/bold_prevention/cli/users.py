"""``bold users``: manage the web application's local accounts (stored in ``<project>/audit/users.json``).

Passwords are read from a hidden prompt, or from standard input with ``--password-stdin``; never from an argument,
which would leave them in the shell history and the process list."""

from __future__ import annotations

import getpass
import os
import sys

import typer

from ..app.accounts import ROLES, AccountStore
from ..app.audit import AuditLog
from ..errors import InputError
from ..project import Project
from .app import ProjectOption, app, out, user_errors

users_app = typer.Typer(help="Manage the web application's accounts (practitioner, analyst, admin).",
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
    first = getpass.getpass("Password (at least 12 characters): ")
    second = getpass.getpass("Password again: ")
    if first != second:
        raise InputError("the two passwords do not match", hint="run the command again")
    return first


@users_app.command("add")
@user_errors
def add(name: str = typer.Argument(..., help="Account name (lower-case letters, digits, . _ -)."),
        role: str = typer.Option(..., "--role", "-r", help=f"One of: {', '.join(ROLES)}."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard "
                                                                            "input instead of a prompt."),
        replace: bool = typer.Option(False, "--replace", help="Reset an existing account's role and password."),
        project: str = ProjectOption) -> None:
    """Add an account (or reset one with --replace)."""
    p = Project.at(project)
    store = AccountStore.of(p)
    acc = store.add(name, role, _read_password(password_stdin), replace=replace)
    AuditLog.of(p).append(actor=_operator(), role="admin", action="account", outcome="ok",
                          detail=f"{'reset' if replace else 'added'} account {acc.name} with role {acc.role}")
    out.print(f"Account [bold]{acc.name}[/] ({acc.role}) {'reset' if replace else 'added'} in {store.path}")


@users_app.command("remove")
@user_errors
def remove(name: str = typer.Argument(..., help="Account name."), project: str = ProjectOption) -> None:
    """Remove an account."""
    p = Project.at(project)
    AccountStore.of(p).remove(name)
    AuditLog.of(p).append(actor=_operator(), role="admin", action="account", outcome="ok",
                          detail=f"removed account {name}")
    out.print(f"Account [bold]{name}[/] removed")


@users_app.command("unlock")
@user_errors
def unlock(name: str = typer.Argument(..., help="Account name."), project: str = ProjectOption) -> None:
    """Unlock an account locked after repeated failed sign-ins."""
    p = Project.at(project)
    AccountStore.of(p).unlock(name)
    AuditLog.of(p).append(actor=_operator(), role="admin", action="account", outcome="ok",
                          detail=f"unlocked account {name}")
    out.print(f"Account [bold]{name}[/] unlocked")


@users_app.command("list")
@user_errors
def list_(project: str = ProjectOption) -> None:
    """List the accounts with their roles and whether they are locked."""
    accounts = AccountStore.of(Project.at(project)).list()
    if not accounts:
        out.print("No accounts yet: add one with `bold users add NAME --role admin`")
        return
    from rich.table import Table

    t = Table("account", "role", "created", "status")
    for a in accounts:
        t.add_row(a.name, a.role, a.created[:10], "locked" if a.locked() else "active")
    out.print(t)
