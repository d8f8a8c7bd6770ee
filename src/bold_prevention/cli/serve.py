"""``bold serve``: the web application on this machine."""

from __future__ import annotations

import logging

import typer

from ..project import Project
from .app import ProjectOption, app, console, user_errors

DEMO_PROJECT = "bold-demo"


@app.command("serve")
@user_errors
def serve(project: str = ProjectOption,
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
                                              help="Minutes without a request after which a session ends.")) -> None:
    """Start the web application over a project's warehouse.

    The project is --project, else $BOLD_PROJECT, else the demo's folder ./bold-demo when it holds a warehouse,
    else ./bold-project.

    Practitioners find a person and open their single view (with a stated reason); analysts browse the catalogue,
    register, quality and linkage reports and cohort profiles; administrators manage accounts and read the audit log.
    """
    import os

    import uvicorn

    from ..app import AppConfig, create_app
    from ..app.accounts import AccountStore

    if project is None and not os.environ.get("BOLD_PROJECT") and Project.at(DEMO_PROJECT).warehouse_path.exists():
        project = DEMO_PROJECT
    p = Project.at(project)
    application = create_app(AppConfig(project=p, secure_cookies=secure_cookies, search_per_minute=search_limit,
                                       signin_per_minute=sign_in_limit, session_idle_minutes=session_minutes))
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
                server_header=False, proxy_headers=False)
