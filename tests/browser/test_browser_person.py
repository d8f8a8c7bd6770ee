"""The practitioner's person page in headless Chromium: the summary in the first screen at 1280 and 390 px, no
sideways scrolling at 320 px, no serious or critical axe-core violation, the timeline order toggled without
JavaScript, and the screenshot used in docs/web-app.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import AXE, Server

from test_app_person_page import PID, _add_position_and_needs
from test_app_support import add_accounts, build_small_warehouse

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "person-page.png"


@pytest.fixture(scope="module")
def person_server(tmp_path_factory):
    from bold_prevention.app import AppConfig, create_app

    project = build_small_warehouse(tmp_path_factory.mktemp("browser-person") / "project")
    _add_position_and_needs(project)
    add_accounts(project)
    app = create_app(AppConfig(project=project, signin_per_minute=1000, search_per_minute=1000))
    with Server(app) as server:
        yield server


def open_person(browser, server, *, width: int, height: int = 900, javascript: bool = True, query: str = ""):
    """A page showing person 0 to the practitioner pat (the session is made on the server: the sign-in has its
    own tests)."""
    state = server.server.config.app.state.bold
    s = state.sessions.new()
    s.user, s.role, s.fresh, s.signed_in_at = "pat", "practitioner", False, state.sessions.clock()
    current = getattr(state.accounts, "current", None)
    if current is not None:
        acc = current("pat")
        s.epoch, s.via = getattr(acc, "epoch", 0), "sso"
    s.grant(PID, "supervision", "", 30)
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=javascript,
                                  bypass_csp=True)
    context.add_cookies([{"name": "bold_session", "value": s.id, "url": server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    response = page.goto(f"{server.url}/people/{PID}{query}")
    assert response.status == 200
    return context, page


def axe_violations(page) -> list[tuple[str, str, int]]:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run scripts/install-axe-core.sh")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"], len(v["nodes"])) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_summary_in_the_first_screen_and_axe_clean(browser, person_server, width, height):
    context, page = open_person(browser, person_server, width=width, height=height)
    try:
        name = page.locator("#person-name")
        assert name.inner_text().strip() == "Aisha Khan"
        top = page.locator("#summary").bounding_box()
        assert top is not None and top["y"] < height
        # at 390 px: the name, date of birth, current position, supervising area and current needs in the first
        # screen; at 1280 px: the whole summary
        for row in ("Date of birth", "Current position", "Supervising area", "Current needs"):
            box = page.locator("#summary .govuk-summary-list__key", has_text=row).bounding_box()
            assert box["y"] + box["height"] <= height, (row, box)
        if width >= 1000:  # the whole summary fits the first screen on a desktop
            last = page.locator("#summary .govuk-summary-list__row").last.bounding_box()
            assert last["y"] + last["height"] <= height, last
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_violations(page) == []
        if width == 1280:
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=False)
    finally:
        context.close()


def test_no_sideways_scrolling_at_320_px(browser, person_server):
    context, page = open_person(browser, person_server, width=320, height=700)
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        # the tables became stacked lists: each cell says which column it is
        cell = page.locator("#records-table td[data-label='Link confidence']").first
        assert cell.bounding_box()["width"] <= 320
        for path in ("/search", f"/people/{PID}/reason"):
            page.goto(person_server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
        assert axe_violations(page) == []
    finally:
        context.close()


def test_timeline_order_toggles_without_javascript(browser, person_server):
    context, page = open_person(browser, person_server, width=1280, javascript=False)
    try:
        def dates():
            return page.locator("#timeline-events time").evaluate_all(
                "els => els.map(e => e.getAttribute('datetime'))")

        newest = dates()
        assert newest == sorted(newest, reverse=True) and len(newest) == 3
        page.locator("#order-oldest").click()
        page.wait_for_load_state()
        assert re.search(r"order=oldest", page.url)
        assert dates() == sorted(newest)
        page.locator("#order-newest").click()
        page.wait_for_load_state()
        assert dates() == newest
    finally:
        context.close()
