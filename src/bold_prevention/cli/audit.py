"""``bold audit verify`` and ``bold audit head``: check the web application's audit log, and export its head to a
file that another party keeps."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..app.audit import AuditLog, verify_audit
from ..project import Project
from .app import ProjectOption, Typer, app, console, out, user_errors

audit_app = Typer(help="The web application's audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@user_errors
def verify(project: Path | None = ProjectOption,
           head: str = typer.Option(None, "--head", help="A head hash recorded earlier: fail if it is no longer "
                                                         "in the chain."),
           head_file: Path = typer.Option(None, "--head-file", help="The heads exported by the server "
                                                                    "(--audit-head-file) or `bold audit head`: fail "
                                                                    "if the log no longer reaches one (truncated) "
                                                                    "or holds another entry there (rewritten).")) -> None:
    """Check the audit log's sealed chain (needs $BOLD_AUDIT_KEY); exit 1 if any entry was altered, removed, added
    or reordered, or the log was cut short or rewritten."""
    p = Project.at(project)
    result = verify_audit(p, expect_head=head, head_file=head_file)
    for w in result.warnings:
        console.print(f"[yellow]Warning:[/] {w}")
    if not result.ok:
        console.print(f"[bold red]Audit log FAILED verification[/] ({p.audit_dir}):")
        for problem in result.problems[:50]:
            console.print(f"  - {problem}")
        if len(result.problems) > 50:
            console.print(f"  ... and {len(result.problems) - 50} more")
        sys.exit(1)
    out.print(f"Audit log OK: {result.entries} entries, chain intact"
              + (f", {result.heads_checked} exported heads found" if head_file else "")
              + f". Head hash: {result.head_hash}")
    if not head_file:
        out.print("Export the head to a file another party keeps (`bold audit head --head-file`) and pass it with "
                  "--head-file to detect a log cut short or rewritten.")


@audit_app.command("head")
@user_errors
def head(project: Path | None = ProjectOption,
         head_file: Path = typer.Option(None, "--head-file", help="Append the head to this file (kept by another "
                                                                  "party), as the server does every N entries.")) -> None:
    """Print the audit log's head (newest entry number and seal), and append it to --head-file."""
    log = AuditLog.of(Project.at(project))
    if head_file:
        rec = log.export_head(head_file)
        out.print(f"Head {rec['seq']} {rec['hash']} appended to {head_file}")
    else:
        seq, h = log.head()
        out.print(f"Head {seq} {h}")
