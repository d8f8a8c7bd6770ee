"""The practitioner's person page in headless Chromium: the whole summary (name, date of birth and age,
current position and its as-at date, needs and their date, recent events, uncertain links) in the first screen at
1280 x 800 and 390 x 844 px, no sideways scrolling at 320 px, no serious or critical axe-core violation, the
timeline order toggled without JavaScript, and the screenshot used in docs/web-app.md."""

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
        # the whole summary in the first screen, on a phone as on a desktop: name, date of birth and age, current
        # position with its as-at date, current needs with the date of their evidence, recent events, and how many
        # records are uncertain links
        rows = ("Date of birth", "Current position", "Supervising area", "Current needs", "Recent events",
                "Linked records")
        for row in rows:
            key = page.locator("#summary .govuk-summary-list__key", has_text=row)
            box = key.locator("xpath=..").bounding_box()
            assert box["y"] + box["height"] <= height, (row, box)
        last = page.locator("#summary .govuk-summary-list__row").last.bounding_box()
        assert last["y"] + last["height"] <= height, last
        summary = page.locator("#summary").inner_text()
        assert re.search(r"\(age \d+\)", summary)
        assert re.search(r"As at \d+ \w+ \d{4}", summary)
        assert re.search(r"OASys assessment[^\n]*\d{4}", summary)
        assert re.search(r"\d+ (is an uncertain link|are uncertain links)|all confident matches", summary)
        # recent events: the 3 latest, each on at most two lines (the description wraps rather than being cut, so
        # that a possible-match tag is never hidden)
        events = page.locator("#summary .app-recent li")
        assert 0 < events.count() <= 3
        for i in range(events.count()):
            item = events.nth(i)
            line = float(item.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
            assert item.bounding_box()["height"] <= line * 2.5, (i, item.inner_text())
        assert page.locator("#summary .app-recent .govuk-tag").first.is_visible()
        # readable: no text in the summary under 14 px
        smallest = page.evaluate("Math.min(...[...document.querySelectorAll('#summary *')].filter(e => "
                                 "e.childNodes.length && [...e.childNodes].some(n => n.nodeType === 3 && "
                                 "n.textContent.trim())).map(e => parseFloat(getComputedStyle(e).fontSize)))")
        assert smallest >= 14, smallest
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
