"""The web application in headless Chromium: the practitioner's journey, refusals, the audit trail, accessibility
(axe-core), CSRF and session fixation."""

from __future__ import annotations

import http.server
import json
import re
import threading

import pytest
from browser_support import AXE, free_port, second_factor_code
from typer.testing import CliRunner

import test_app_support
from bold_prevention.cli import app as cli
from test_app_support import PASSWORD, PEOPLE, person_id

pytestmark = pytest.mark.browser

IDENTIFIERS = [v for p in PEOPLE for v in (p[0], p[2], p[3].isoformat(), p[5].replace(" ", ""))]


def audit(project) -> list[dict]:
    return [json.loads(x) for x in (project.audit_dir / "audit.log").read_text(encoding="utf-8").splitlines()]


def sign_in(page, server, name: str) -> None:
    page.goto(server.url + "/sign-in")
    page.get_by_label("Account name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if page.url.endswith("/sign-in/code"):  # the second factor
        page.get_by_label("Security code").fill(second_factor_code(server, name))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()


def test_practitioner_journey(page, live_server, web_project):
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url))
    sign_in(page, live_server, "pat")
    assert page.url.endswith("/search")
    # search
    page.get_by_label("First name").fill("Aisha")
    page.get_by_label("Last name").fill("Khan")
    page.get_by_label("Year").fill("1990")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="1 person found").is_visible()
    assert page.locator("table .govuk-tag").first.inner_text().strip() == "Confident match"
    # state a reason
    page.get_by_role("link", name=re.compile("Open record")).click()
    assert page.get_by_role("heading", name="Why do you need to see this record?").is_visible()
    page.get_by_role("button", name="Open record").click()  # no reason chosen: an error summary
    assert page.locator(".govuk-error-summary").is_visible()
    assert page.title().startswith("Error:")
    page.get_by_label("Planning for release from custody").check()
    page.get_by_role("button", name="Open record").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Aisha Khan").is_visible()  # the person record opens on the name
    # read the timeline
    items = page.locator(".moj-timeline__item")
    assert items.count() == 3
    titles = [t.strip() for t in page.locator(".moj-timeline__title").all_inner_texts()]
    assert titles[-1] == "Community order supervision started"  # newest first
    dates = page.locator(".moj-timeline__date time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates == sorted(dates, reverse=True)
    # sort a table (MoJ sortable table turns headers into buttons)
    table = page.locator("#records-table")
    header = table.locator("th", has_text="Link confidence")
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    first = table.locator("tbody tr").first.locator(".govuk-tag").inner_text().strip()
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert table.locator("tbody tr").first.locator(".govuk-tag").inner_text().strip() != first
    # filter: leave out low-confidence links
    page.get_by_label("Possible match (low band)", exact=True).uncheck()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert page.locator(".moj-timeline__item").count() == 2
    assert "Ayesha" not in page.content()
    assert "left out" in page.locator(".govuk-inset-text").inner_text()
    # sign out: the record can no longer be opened
    person_url = page.url
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.goto(person_url)
    assert page.url.split("#", 1)[0].endswith("/sign-in")
    for url in urls:
        for value in IDENTIFIERS:
            assert value.lower() not in url.lower(), url
    kinds = [(e["action"], e["outcome"]) for e in audit(web_project) if e["actor"] == "pat"]
    assert ("search", "ok") in kinds and ("view", "ok") in kinds and ("sign_out", "ok") in kinds


def test_analyst_cannot_open_a_person_page(page, live_server, web_project):
    sign_in(page, live_server, "ann")
    pid = person_id(2)
    response = page.goto(f"{live_server.url}/people/{pid}")
    assert response.status == 403
    assert page.get_by_role("heading", name="You cannot see this page").is_visible()
    last = audit(web_project)[-1]
    assert (last["actor"], last["role"], last["action"], last["outcome"], last["person_id"]) == (
        "ann", "analyst", "refusal", "denied", pid)


ANALYSIS = ["/analysis", "/analysis/catalogue?driver=accommodation", "/analysis/register", "/analysis/quality",
            "/analysis/linkage", "/analysis/cohorts", "/analysis/cohorts/hard_edges_smd2",
            "/analysis/places?driver=substance_misuse"]


def test_practitioner_cannot_reach_aggregates(page, analysis_server, built_project):
    # an analyst sees the checked tables, with [c] for suppressed cells ...
    sign_in(page, analysis_server, "ann")
    page.goto(analysis_server.url + "/analysis/cohorts/hard_edges_smd2")
    assert page.locator("main table").count() > 0 and "[c]" in page.locator("main").inner_text()
    charted = False
    for path in ("/analysis/cohorts/hard_edges_smd2", "/analysis/cohorts/possession_claim",
                 *(f"/analysis/places?driver={d}" for d in ("accommodation", "substance_misuse", "employment"))):
        page.goto(analysis_server.url + path)
        if page.locator("main img.app-chart").count():
            page.wait_for_load_state("load")
            assert page.locator("main img.app-chart").first.evaluate("img => img.complete && img.naturalWidth > 0")
            charted = True
            break
    assert charted, "no chart drawn on any cohort or places page"
    page.get_by_role("button", name="Sign out").click()
    # ... a practitioner reaches none of them, not even a chart
    sign_in(page, analysis_server, "pat")
    for path in ANALYSIS + ["/analysis/charts/x.svg"]:
        response = page.goto(analysis_server.url + path)
        assert response.status == 403, path
        assert page.locator("main table").count() == 0 and "[c]" not in page.locator("main").inner_text()
        assert audit(built_project)[-1]["action"] == "refusal"


def test_tampered_audit_log_fails_verify(page, live_server, web_project, tmp_path):
    sign_in(page, live_server, "pat")
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--project", str(web_project.root)])
    assert ok.exit_code == 0, ok.output
    # verify a copy, so the live log stays intact for the other tests
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(web_project.audit_dir, copy / "audit")
    log = copy / "audit" / "audit.log"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = lines[0].replace('"outcome":"ok"', '"outcome":"failed"', 1)
    log.write_text("".join(lines), encoding="utf-8")
    bad = runner.invoke(cli, ["audit", "verify", "--project", str(copy)])
    assert bad.exit_code == 1 and "FAILED" in bad.output


def test_session_fixation_fails(browser, live_server):
    context = browser.new_context()
    context.add_cookies([{"name": "bold_session", "value": "planted-by-an-attacker", "url": live_server.url}])
    page = context.new_page()
    page.goto(live_server.url + "/sign-in")
    before = {c["name"]: c["value"] for c in context.cookies()}["bold_session"]
    assert before != "planted-by-an-attacker"
    sign_in(page, live_server, "pat")
    after = {c["name"]: c["value"] for c in context.cookies()}["bold_session"]
    assert after != before
    cookie = [c for c in context.cookies() if c["name"] == "bold_session"][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
    # the pre-sign-in id is worthless
    attacker = browser.new_context()
    attacker.add_cookies([{"name": "bold_session", "value": before, "url": live_server.url}])
    ap = attacker.new_page()
    ap.goto(live_server.url + "/search")
    assert ap.url.endswith("/sign-in")
    attacker.close()
    context.close()


def test_cross_site_form_post_is_refused(browser, live_server, web_project):
    """A page on another site auto-submits a search to the service while the practitioner is signed in."""
    target = live_server.url + "/search"
    evil = (f'<!DOCTYPE html><html lang="en"><title>win a prize</title><body><form id="f" method="post" '
            f'action="{target}"><input name="surname" value="Khan"><input name="forename" value="Aisha">'
            f'<input name="csrf_token" value="guessed"></form>'
            f'<script>document.getElementById("f").submit()</script></body></html>').encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(evil)

        def log_message(self, *a):
            pass

    port = free_port()
    httpd = http.server.HTTPServer(("127.0.0.1", port), Evil)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, live_server, "pat")
        searches_before = sum(1 for e in audit(web_project) if e["action"] == "search")
        with page.expect_navigation(url=re.compile(r"/search$")) as nav:
            page.goto(f"http://localhost:{port}/")  # another site (localhost vs 127.0.0.1)
        assert nav.value.status == 403
        assert "Khan" not in page.content()
        assert sum(1 for e in audit(web_project) if e["action"] == "search") == searches_before
        # SameSite=Strict: the cross-site post arrives without the session, so the refusal goes to the rate-limited
        # security log (nobody to hold to account), not the audit chain
        assert audit(web_project)[-1]["action"] != "search"
        security = [json.loads(x) for x in (web_project.audit_dir / "security.log").read_text().splitlines()]
        assert security[-1]["kind"] == "csrf"
    finally:
        httpd.shutdown()
        context.close()


def analysis_server_project(server):
    return server.server.config.app.state.bold.config.project.root


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_no_serious_accessibility_violations_on_any_page(browser, live_server, analysis_server):
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run scripts/install-axe-core.sh")
    context = browser.new_context(bypass_csp=True)  # so that axe itself can be injected
    page = context.new_page()
    checked: dict[str, list] = {}

    def check(name):
        checked[name] = [(v["id"], v["help"], len(v["nodes"])) for v in _axe(page)]

    page.goto(live_server.url + "/sign-in")
    check("sign in")
    page.get_by_role("button", name="Sign in").click()
    check("sign in with errors")
    sign_in(page, live_server, "pat")
    check("search")
    page.get_by_label("Last name").fill("Khan")
    page.get_by_role("button", name="Search").click()
    check("search with errors")
    page.get_by_label("First name").fill("Aisha")
    page.get_by_label("Day").fill("27")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("1990")
    page.get_by_role("button", name="Search").click()
    check("search results")
    page.get_by_role("link", name=re.compile("Open record")).first.click()
    check("reason")
    page.get_by_label("Another reason (explain below)").check()
    page.get_by_role("button", name="Open record").click()
    check("reason with errors")
    page.get_by_label("Managing the person's supervision or sentence").check()
    page.get_by_role("button", name="Open record").click()
    check("person")
    page.goto(live_server.url + "/no-such-page")
    check("not found")
    page.goto(live_server.url + "/analysis")
    check("forbidden")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "adam")
    for path in ("/admin/audit", "/admin/accounts", "/admin/audit?action=view"):
        page.goto(live_server.url + path)
        check(f"admin {path}")
    # analysts' pages and the model card on a project built by the library layers
    sign_in(page, analysis_server, "ann")
    for path in ANALYSIS + ["/analysis/catalogue", "/analysis/places"]:
        response = page.goto(analysis_server.url + path)
        assert response.status == 200, path
        check(f"analyst {path}")
    folder = analysis_server_project(analysis_server) / "models" / "early_warning"
    cards = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    assert cards, "no model card to check: " + "; ".join(test_app_support._TRAIN_ERRORS)
    for use_case in cards:
        page.goto(f"{analysis_server.url}/model-cards/{use_case}")
        check(f"model card {use_case}")
    context.close()
    bad = {k: v for k, v in checked.items() if v}
    assert not bad, bad
    assert len(checked) >= 20
