"""Helpers for the browser tests: Debian's chromium, axe-core, and uvicorn serving the app on a free port."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

CHROMIUM = os.environ.get("BOLD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"


def second_factor_code(server: Server, name: str) -> str:
    """The next second-factor code of test account ``name`` for the app ``server`` serves (see
    ``test_app_support.code_for``: a code is accepted once, so each sign-in moves the server's code clock on)."""
    from test_app_support import code_for

    return code_for(server.server.config.app, name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn in a thread."""

    def __init__(self, app, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.port = free_port()
        self.host = host
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
