"""``bold serve``: the web application on this machine."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from ..project import Project
from .app import ProjectOption, app, console, user_errors


@app.command("serve")
@user_errors
def serve(project: Path | None = ProjectOption,
          host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (keep 127.0.0.1 unless a "
                                                               "TLS proxy sits in front)."),
          port: int = typer.Option(8000, "--port", help="Port to listen on."),
          secure_cookies: bool = typer.Option(True, "--secure-cookies/--no-secure-cookies",
                                              help="Mark the session cookie Secure (browsers accept it on "
                                                   "localhost too; turn off only for plain-http testing on "
                                                   "another host name)."),
          search_limit: int = typer.Option(30, "--search-limit", min=1,
                                           help="Searches allowed per account per minute."),
          sign_in_limit: int = typer.Option(10, "--sign-in-limit", min=1,
                                            help="Sign-in attempts allowed per client address per minute."),
          session_minutes: int = typer.Option(30, "--session-minutes", min=1,
                                              help="Minutes without a request after which a session ends."),
          trusted_proxy: list[str] = typer.Option(None, "--trusted-proxy",
                                                  help="Address of a reverse proxy whose X-Forwarded-For (and "
                                                       "--sso-header) is believed; repeat for several. Default: "
                                                       "none, forwarded headers are ignored."),
          sso_header: str = typer.Option(None, "--sso-header",
                                         help="Single sign-on at the proxy: the header naming the signed-in user "
                                              "(e.g. X-Forwarded-User), believed only from --trusted-proxy. Off by "
                                              "default."),
          audit_head_file: Path = typer.Option(None, "--audit-head-file",
                                               help="Export the audit head to this file (kept by another party) "
                                                    "every --audit-head-every entries."),
          audit_head_every: int = typer.Option(100, "--audit-head-every", min=1,
                                               help="Entries between exported audit heads.")) -> None:
    """Start the web application over a project's warehouse.

    The project is --project, else $BOLD_PROJECT, else ./bold-project (where `make demo` writes).

    Practitioners find a person and open their single view (with a stated reason); analysts browse the catalogue,
    register, quality and linkage reports and cohort profiles; administrators manage accounts and read the audit log.
    """

    import uvicorn

    from ..app import AppConfig, create_app
    from ..app.accounts import AccountStore

    p = Project.at(project)
    application = create_app(AppConfig(project=p, secure_cookies=secure_cookies, search_per_minute=search_limit,
                                       signin_per_minute=sign_in_limit, session_idle_minutes=session_minutes,
                                       trusted_proxies=tuple(trusted_proxy or ()), sso_header=sso_header,
                                       audit_head_file=audit_head_file, audit_head_every=audit_head_every))
    caps = application.state.bold.warehouse.capabilities
    if not caps.single_view:
        console.print("[yellow]Note:[/] the practitioners' single view is unavailable: missing "
                      + ", ".join(caps.missing_for_single_view()))
    if not AccountStore.of(p).list():
        console.print("[yellow]No accounts yet.[/] Add one first: bold users add NAME --role admin "
                      f"--project {p.root}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console.print(f"Serving {p.root} on http://{host}:{port}  (Ctrl+C to stop)")
    uvicorn.run(application, host=host, port=port, access_log=False, log_level="warning",
                server_header=False, proxy_headers=False)  # forwarded headers: only ours, from trusted proxies
