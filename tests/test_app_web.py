"""The web application through Starlette's test client: sign-in, sessions, CSRF, roles, headers, the single view,
the audit trail it leaves, and bad input."""

from __future__ import annotations

import json
import logging
import re

import pytest

from bold_prevention.app import AppConfig, create_app
from bold_prevention.app.audit import verify_audit
from bold_prevention.errors import InputError
from bold_prevention.project import Project
from test_app_support import (  # noqa: F401  (small_project is a fixture)
    PASSWORD,
    PEOPLE,
    csrf_of,
    make_client,
    person_id,
    record_id,
    sign_in,
    small_project,
)

IDENTIFIERS = [v for p in PEOPLE for v in (p[0], p[2], p[3].isoformat(), p[5])]


def audit_entries(project: Project) -> list[dict]:
    path = project.audit_dir / "audit.log"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.fixture()
def client(small_project):  # noqa: F811
    with make_client(small_project) as c:
        yield c


def search(client, **fields):
    page = client.get("/search")
    data = {"csrf_token": csrf_of(page.text), **fields}
    return client.post("/search", data=data)


def open_person(client, pid, reason="supervision", detail=""):
    page = client.get(f"/people/{pid}/reason")
    return client.post(f"/people/{pid}/reason", follow_redirects=True,
                       data={"csrf_token": csrf_of(page.text), "reason": reason, "reason-detail": detail})


# -- sign-in, sessions, cookies ---------------------------------------------------------------------------------

def test_cookie_flags_and_security_headers(client):
    r = sign_in(client, "pat")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    page = client.get("/search")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_insecure_cookies_only_when_configured(small_project):  # noqa: F811
    with make_client(small_project, secure_cookies=False) as c:
        c.base_url = "http://testserver"
        r = sign_in(c, "pat")
        assert "Secure" not in r.headers["set-cookie"]


def test_pages_have_no_inline_script_style_or_external_assets(client):
    sign_in(client, "pat")
    pages = [client.get("/sign-in"), client.get("/search"), search(client, surname="Khan", forename="Aisha")]
    pid = person_id(0)
    pages.append(open_person(client, pid))
    for page in pages:
        html = page.text
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
        assert " style=" not in html and not re.search(r"\son[a-z]+=", html)
        assert not re.search(r"(src|href)=\"(https?:)?//", html)
        assert 'class="govuk-skip-link"' in html and 'id="main-content"' in html


def test_assets_are_served_locally(client):
    for path in ("/assets/govuk/govuk-frontend.min.css", "/assets/govuk/govuk-frontend.min.js",
                 "/assets/moj/moj-frontend.min.css", "/assets/moj/moj-frontend.min.js", "/assets/app.js",
                 "/assets/app.css", "/assets/images/favicon.ico"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "http://" not in r.text[:0]  # served as bytes from the package
    css = client.get("/assets/govuk/govuk-frontend.min.css").text
    for url in re.findall(r"url\(([^)]+)\)", css):
        assert url.startswith("/assets/") and client.get(url).status_code == 200


def test_sign_in_failure_is_generic_and_audited(small_project, client):  # noqa: F811
    before = len(audit_entries(small_project))
    r = sign_in(client, "pat", "not the password")
    assert r.status_code == 400
    assert "There is a problem" in r.text and "not right" in r.text
    r = sign_in(client, "someone.else", "whatever it is")
    assert r.status_code == 400
    new = audit_entries(small_project)[before:]
    assert [(e["action"], e["outcome"], e["actor"]) for e in new] == [
        ("sign_in", "failed", "pat"), ("sign_in", "failed", "(unknown account)")]


def test_session_id_is_rotated_at_sign_in_and_a_planted_id_is_not_adopted(client):
    client.cookies.set("bold_session", "attacker-chosen-session-id", domain="testserver.local")
    r = client.get("/sign-in")
    issued = r.cookies.get("bold_session") or client.cookies.get("bold_session")
    assert issued and issued != "attacker-chosen-session-id"
    # the attacker learns the anonymous session id and the victim signs in with it
    pre_login = client.cookies.get("bold_session")
    r = sign_in(client, "pat")
    post_login = r.cookies.get("bold_session")
    assert post_login and post_login != pre_login
    with make_client_like(client) as attacker:
        attacker.cookies.set("bold_session", pre_login)
        r = attacker.get("/search", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in"


def make_client_like(client):
    from starlette.testclient import TestClient

    return TestClient(client.app, base_url="https://testserver")


def test_sign_out_ends_the_session(small_project, client):  # noqa: F811
    sign_in(client, "pat")
    old = client.cookies.get("bold_session")
    page = client.get("/search")
    r = client.post("/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    with make_client_like(client) as other:
        other.cookies.set("bold_session", old)
        assert other.get("/search", follow_redirects=False).status_code == 303
    assert audit_entries(small_project)[-1]["action"] == "sign_out"


def test_expired_session_says_so(small_project):  # noqa: F811
    with make_client(small_project, session_idle_minutes=30) as c:
        sign_in(c, "pat")
        assert c.get("/search").status_code == 200
        sessions = c.app.state.bold.sessions
        real = sessions.clock
        sessions.clock = lambda: real() + 31 * 60
        r = c.get("/search")
        assert r.url.path == "/sign-in"
        assert "session ended" in r.text
        page = sign_in(c, "pat")
        assert page.status_code == 303
        token = csrf_of(c.get("/search").text)
        sessions.clock = lambda: real() + 62 * 60  # a form left open past the end of the session
        r = c.post("/search", data={"csrf_token": token, "surname": "Khan", "forename": "Aisha"})
        assert r.url.path == "/sign-in" and "session ended" in r.text


# -- CSRF -------------------------------------------------------------------------------------------------------

def test_post_without_or_with_a_wrong_csrf_token_is_refused(small_project, client):  # noqa: F811
    r = client.post("/sign-in", data={"username": "pat", "password": PASSWORD})
    assert r.status_code == 403
    sign_in(client, "pat")
    before = len(audit_entries(small_project))
    r = client.post("/search", data={"surname": "Khan", "forename": "Aisha", "csrf_token": "forged"})
    assert r.status_code == 403 and "out of date" in r.text
    new = audit_entries(small_project)[before:]
    assert [(e["action"], e["outcome"]) for e in new] == [("refusal", "csrf")]


def test_cross_origin_post_is_refused_even_with_a_token(client):
    sign_in(client, "pat")
    token = csrf_of(client.get("/search").text)
    r = client.post("/search", data={"surname": "Khan", "forename": "Aisha", "csrf_token": token},
                    headers={"origin": "https://evil.example"})
    assert r.status_code == 403


def test_token_from_another_session_is_refused(small_project, client):  # noqa: F811
    with make_client(small_project) as other:
        sign_in(other, "pat")
        foreign = csrf_of(other.get("/search").text)
    sign_in(client, "pat")
    r = client.post("/search", data={"surname": "Khan", "forename": "Aisha", "csrf_token": foreign})
    assert r.status_code == 403


# -- roles --------------------------------------------------------------------------------------------------------

def test_analyst_cannot_open_a_person_page_and_is_audited(small_project, client):  # noqa: F811
    sign_in(client, "ann")
    pid = person_id(1)
    for path in (f"/people/{pid}", f"/people/{pid}/reason", "/search"):
        before = len(audit_entries(small_project))
        r = client.get(path)
        assert r.status_code == 403
        e = audit_entries(small_project)[before:]
        assert len(e) == 1 and e[0]["action"] == "refusal" and e[0]["actor"] == "ann" and e[0]["role"] == "analyst"
        if path.startswith("/people"):
            assert e[0]["person_id"] == pid


def test_admin_cannot_open_person_pages_and_practitioner_cannot_reach_admin_or_analysis(client):
    sign_in(client, "adam")
    assert client.get(f"/people/{person_id(0)}").status_code == 403
    sign_in(client, "pat")
    for path in ("/admin/audit", "/admin/accounts", "/analysis"):
        assert client.get(path).status_code == 403


def test_signed_out_user_is_sent_to_sign_in(client):
    for path in ("/search", f"/people/{person_id(0)}", "/analysis", "/admin/audit"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in"


# -- the single view ----------------------------------------------------------------------------------------------

def test_search_lists_candidates_with_linkage_confidence(client):
    sign_in(client, "pat")
    r = search(client, forename="Aisha", surname="KHAN", **{"dob-day": "27", "dob-month": "3", "dob-year": "1990"})
    assert r.status_code == 200
    assert "1 person found" in r.text
    assert person_id(0) in r.text
    assert "govuk-tag--green" in r.text and "govuk-tag--red" not in r.text  # matched on high links only
    assert "not linked to any person" in r.text  # the unlinked record is reported, not offered
    r = search(client, forename="Ayesha", surname="Khan", **{"dob-day": "27", "dob-month": "3", "dob-year": "1990"})
    assert "govuk-tag--red" in r.text  # matched through the low-confidence record (Ayesha)
    assert "Ayesha" in r.text


def test_search_finds_apostrophes_and_swapped_day_and_month(client):
    sign_in(client, "pat")
    r = search(client, forename="Robert", surname="obrien", **{"dob-day": "2", "dob-month": "11", "dob-year": "1985"})
    assert person_id(1) in r.text and person_id(2) in r.text
    assert "2 people found" in r.text


def test_search_by_reference_and_first_name_prefix(client):
    sign_in(client, "pat")
    r = search(client, reference=record_id("prison_custodial_journey", 3))
    assert person_id(3) in r.text and person_id(4) not in r.text
    r = search(client, forename="Jo", surname="Smith", **{"dob-day": "14", "dob-month": "7", "dob-year": "1979"})
    assert person_id(3) in r.text and person_id(4) in r.text


def test_search_uses_the_linkage_layers_standard_names(client):
    sign_in(client, "pat")
    r = search(client, forename="Bob", surname="O Brien", **{"dob-year": "1985"})  # nickname, spacing/punctuation
    assert person_id(1) in r.text and person_id(2) in r.text
    r = search(client, forename="Liz", surname="Jones", **{"dob-day": "30", "dob-month": "6", "dob-year": "1995"})
    assert person_id(6) in r.text  # one part of a double-barrelled surname
    r = search(client, forename="chloe", surname="DUPONT", **{"dob-day": "5", "dob-month": "1", "dob-year": "2001"})
    assert person_id(5) in r.text  # accents
    r = search(client, forename="Aisha", surname="Khan", reference=record_id("moj_probation_flatfile", 1))
    assert "0 people found" in r.text  # every field given must match


@pytest.mark.parametrize(("fields", "message"), [
    ({"surname": "Sm1th", "forename": "John"}, "only include letters"),
    ({"surname": "Smith"}, "a first name and a date of birth"),
    ({"surname": "Smith", "dob-day": "31", "dob-month": "2", "dob-year": "1980"}, "real date"),
    ({"surname": "Smith", "dob-day": "3", "dob-year": "1980"}, "must include a month"),
    ({"reference": "x' or 1=1 --"}, "Source record reference must be"),
    ({"surname": "<script>", "forename": "x"}, "only include letters"),
])
def test_malformed_search_input_gets_an_error_summary(client, fields, message):
    sign_in(client, "pat")
    r = search(client, **fields)
    assert r.status_code == 400
    assert "There is a problem" in r.text and message in r.text
    assert "<script>" not in r.text.split("</h1>", 1)[1].split("Search</button>")[0] or "&lt;script&gt;" in r.text
    assert r.text.startswith("<!DOCTYPE html>") and "<title>Error:" in r.text


def test_a_reason_is_needed_before_the_record_opens(small_project, client):  # noqa: F811
    sign_in(client, "pat")
    pid = person_id(0)
    r = client.get(f"/people/{pid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/people/{pid}/reason"
    page = client.get(f"/people/{pid}/reason")
    r = client.post(f"/people/{pid}/reason", data={"csrf_token": csrf_of(page.text), "reason": ""})
    assert r.status_code == 400 and "Select why" in r.text
    r = client.post(f"/people/{pid}/reason", data={"csrf_token": csrf_of(page.text), "reason": "other"})
    assert r.status_code == 400 and "Explain why" in r.text
    r = open_person(client, pid, reason="other", detail="court report due")
    assert r.status_code == 200 and "Person record" in r.text
    view = audit_entries(small_project)[-1]
    assert view["action"] == "view" and view["person_id"] == pid and view["reason"] == "other"
    assert view["reason_text"] == "court report due" and view["actor"] == "pat"


@pytest.mark.parametrize(("detail", "identifier"), [
    ("about Aisha", "Aisha"), ("born 27/03/1990", "27/03/1990"), ("lives at E1 6AN", "E1 6AN"),
    ("AYESHA said so", "AYESHA"),
])
def test_reason_text_may_not_carry_identifiers(small_project, client, detail, identifier):  # noqa: F811
    sign_in(client, "pat")
    r = open_person(client, person_id(0), reason="other", detail=detail)
    assert r.status_code == 400 and "Do not include" in r.text
    assert identifier.lower() not in (small_project.audit_dir / "audit.log").read_text().lower()


def test_person_page_shows_identity_timeline_and_bands(client):
    sign_in(client, "pat")
    r = open_person(client, person_id(0))
    html = r.text
    for text in ("Aisha", "Ayesha", "27 March 1990", "E1 6AN", "moj-timeline__item", "Received into custody",
                 "Magistrates&#39; court case", "decision support only", "do not decide anything"):
        assert text in html, text
    assert html.count('class="moj-timeline__item"') == 3
    assert "govuk-tag--red" in html  # the low-confidence magistrates' record


def test_excluding_low_links_hides_their_identity_and_events(client):
    sign_in(client, "pat")
    pid = person_id(0)
    open_person(client, pid)
    r = client.get(f"/people/{pid}?band=high&band=medium")
    assert "Ayesha" not in r.text and "Magistrates&#39; court case" not in r.text
    assert r.text.count('class="moj-timeline__item"') == 2
    assert "1 linked record is left out" in r.text
    r = client.get(f"/people/{pid}?dataset=prison")
    assert r.text.count('class="moj-timeline__item"') == 1


def test_unknown_and_malformed_person_ids(small_project, client):  # noqa: F811
    sign_in(client, "pat")
    before = len(audit_entries(small_project))
    unknown = "0123456789abcdef0123"
    r = client.get(f"/people/{unknown}/reason")
    assert r.status_code == 404 and "no person with that reference" in r.text
    r = client.get("/people/Aisha%20Khan%201990-03-27")
    assert r.status_code == 404
    new = audit_entries(small_project)[before:]
    assert [(e["action"], e["outcome"], e["person_id"]) for e in new] == [
        ("view", "not_found", unknown), ("view", "not_found", None)]
    assert "Aisha" not in json.dumps(new)


def test_no_identifier_reaches_a_url_log_line_or_the_audit_log(small_project, client, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="bold_prevention.app")
    sign_in(client, "pat")
    urls = []
    r = search(client, forename="Robert", surname="O'Brien", **{"dob-day": "2", "dob-month": "11",
                                                               "dob-year": "1985"})
    urls.append(str(r.url))
    for pid in (person_id(1), person_id(2)):
        r = open_person(client, pid, reason="risk_assessment", detail="annual review")
        urls += [str(h.url) for h in r.history] + [str(r.url)]
        urls.append(str(client.get(f"/people/{pid}?band=high").url))
    client.get("/people/Robert%20OBrien")
    audit_text = (small_project.audit_dir / "audit.log").read_text(encoding="utf-8")
    logs = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "/people/{person_id}" in logs
    for value in IDENTIFIERS + ["O'Brien", "OBrien", "1985-11-02", "02/11/1985"]:
        for where, text in (("url", "\n".join(urls)), ("log", logs), ("audit", audit_text)):
            assert value.lower() not in text.lower(), f"{value} found in {where}"
    assert verify_audit(small_project).ok


def test_rate_limits_on_sign_in_and_search(small_project):  # noqa: F811
    with make_client(small_project, signin_per_minute=2, search_per_minute=2) as c:
        assert sign_in(c, "pat", "wrong password one").status_code == 400
        assert sign_in(c, "pat", "wrong password two").status_code == 400
        r = sign_in(c, "pat")
        assert r.status_code == 429 and "too many attempts" in r.text
    from bold_prevention.app.accounts import AccountStore

    AccountStore.of(small_project).unlock("pat")
    with make_client(small_project, search_per_minute=2) as c:
        sign_in(c, "pat")
        assert search(c, forename="Aisha", surname="Khan", **{"dob-year": "1990"}).status_code == 200
        assert search(c, forename="Aisha", surname="Khan", **{"dob-year": "1990"}).status_code == 200
        r = search(c, forename="Aisha", surname="Khan", **{"dob-year": "1990"})
        assert r.status_code == 429
        last = audit_entries(small_project)[-1]
        assert (last["action"], last["outcome"]) == ("refusal", "rate_limited")


def test_error_page_reveals_nothing_internal(small_project, monkeypatch):  # noqa: F811
    from bold_prevention.app import routes_people

    def boom(*a, **k):
        raise RuntimeError("secret detail /srv/warehouse.duckdb Aisha")

    monkeypatch.setattr(routes_people, "search_people", boom)
    with make_client(small_project) as c:
        sign_in(c, "pat")
        r = search(c, forename="Aisha", surname="Khan", **{"dob-year": "1990"})
    assert r.status_code == 500
    assert "problem with the service" in r.text and "reference" in r.text
    for leak in ("secret", "Traceback", ".py", "duckdb", "RuntimeError", "Aisha"):
        assert leak not in r.text
    assert r.headers["content-security-policy"]


def test_missing_or_corrupt_warehouse_stops_start_up_and_writes_nothing(tmp_path):
    missing = Project(tmp_path / "nothing-here")
    with pytest.raises(InputError, match="no warehouse"):
        create_app(AppConfig(project=missing))
    assert not missing.root.exists()
    corrupt = Project(tmp_path / "corrupt")
    corrupt.root.mkdir()
    corrupt.warehouse_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match="cannot be read"):
        create_app(AppConfig(project=corrupt))
    assert sorted(p.name for p in corrupt.root.iterdir()) == ["warehouse.duckdb"]


def test_cli_serve_reports_a_missing_warehouse(tmp_path):
    from typer.testing import CliRunner

    from bold_prevention.cli import app as cli

    r = CliRunner().invoke(cli, ["serve", "--project", str(tmp_path / "none")])
    assert r.exit_code == 2
    assert "no warehouse" in r.output and "What to do" in r.output
    assert not (tmp_path / "none").exists()


# -- administration -------------------------------------------------------------------------------------------

def test_admin_audit_page_lists_filters_and_checks_the_chain(small_project, client):  # noqa: F811
    sign_in(client, "pat")
    open_person(client, person_id(3))
    sign_in(client, "adam")
    r = client.get("/admin/audit")
    assert r.status_code == 200 and "hash chain is intact" in r.text
    r = client.get(f"/admin/audit?action=view&person_id={person_id(3)}")
    rows = re.findall(r'<tr class="govuk-table__row">\s*<td class="govuk-table__cell govuk-table__cell--numeric">',
                      r.text)
    assert len(rows) >= 1 and "supervision" in r.text
    assert "Managing" not in r.text
    r = client.get("/admin/audit?person_id=Aisha")
    assert "Person id must be" in r.text


def test_admin_adds_and_removes_an_account_through_the_web(small_project, client):  # noqa: F811
    sign_in(client, "adam")
    page = client.get("/admin/accounts")
    r = client.post("/admin/accounts", data={"csrf_token": csrf_of(page.text), "op": "add", "name": "newbie",
                                             "role": "analyst", "password": "tiger lily moon river",
                                             "password-confirm": "tiger lily moon river"})
    assert r.status_code == 200 and "Account newbie (analyst) added" in r.text
    r = client.post("/admin/accounts", data={"csrf_token": csrf_of(r.text), "op": "add", "name": "bad",
                                             "role": "analyst", "password": "short", "password-confirm": "short"})
    assert r.status_code == 400 and "There is a problem" in r.text
    r = client.post("/admin/accounts", data={"csrf_token": csrf_of(r.text), "op": "remove", "name": "newbie"})
    assert "Account newbie removed" in r.text
    details = [e["detail"] for e in audit_entries(small_project) if e["action"] == "account"]
    assert details[-2:] == ["added account newbie with role analyst", "removed account newbie"]


def test_bold_serve_starts_and_serves_over_http(small_project, tmp_path):  # noqa: F811
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    bold = os.path.join(os.path.dirname(sys.executable), "bold")
    with open(log, "w") as fh:
        proc = subprocess.Popen([bold, "serve", "--project", str(small_project.root), "--port", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "bold serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and "Sign in" in r.text
        assert "Secure" in r.headers["set-cookie"] and "server" not in r.headers
        assert httpx.get(f"http://127.0.0.1:{port}/assets/app.css").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "GET /sign-in 200" in text and "Serving" in text
