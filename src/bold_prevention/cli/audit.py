"""``bold audit verify``: check the web application's audit log for tampering."""

from __future__ import annotations

import sys

import typer

from ..app.audit import verify_audit
from ..project import Project
from .app import ProjectOption, app, console, out, user_errors

audit_app = typer.Typer(help="The web application's audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@user_errors
def verify(project: str = ProjectOption,
           head: str = typer.Option(None, "--head", help="A head hash recorded earlier (for example from the last "
                                                         "check): fail if it is no longer in the chain.")) -> None:
    """Check the audit log's hash chain; exit 1 if any entry was altered, removed, added or reordered."""
    p = Project.at(project)
    result = verify_audit(p, expect_head=head)
    for w in result.warnings:
        console.print(f"[yellow]Warning:[/] {w}")
    if not result.ok:
        console.print(f"[bold red]Audit log FAILED verification[/] ({p.audit_dir}):")
        for problem in result.problems[:50]:
            console.print(f"  - {problem}")
        if len(result.problems) > 50:
            console.print(f"  ... and {len(result.problems) - 50} more")
        sys.exit(1)
    out.print(f"Audit log OK: {result.entries} entries, chain intact. Head hash: {result.head_hash}")
    out.print("Record the head hash somewhere else and pass it with --head next time to detect a rewritten log.")
