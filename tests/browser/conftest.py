"""Browser tests: the web application served by uvicorn on a free localhost port, driven by Playwright through
Debian's chromium (/usr/bin/chromium; installed by scripts/install-test-system-deps.sh, never by Playwright)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from browser_support import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402

from test_app_support import add_accounts, build_small_warehouse, real_project  # noqa: E402


@pytest.fixture(scope="session")
def web_project(tmp_path_factory):
    project = build_small_warehouse(tmp_path_factory.mktemp("browser") / "project")
    add_accounts(project)
    return project


@pytest.fixture(scope="session")
def live_server(web_project):
    from bold_prevention.app import AppConfig, create_app

    app = create_app(AppConfig(project=web_project, signin_per_minute=1000, search_per_minute=1000))
    with Server(app) as server:
        yield server


@pytest.fixture(scope="session")
def built_project(synth_dir):
    """A project built by the library layers from the 2,000-person synthetic population."""
    return real_project(synth_dir)


@pytest.fixture(scope="session")
def analysis_server(built_project):
    from bold_prevention.app import AppConfig, create_app

    app = create_app(AppConfig(project=built_project, signin_per_minute=1000, search_per_minute=1000))
    with Server(app) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: run scripts/install-test-system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context()
    p = context.new_page()
    p.set_default_timeout(10_000)
    yield p
    context.close()
