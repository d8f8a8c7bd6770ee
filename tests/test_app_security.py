"""Need-to-know access that holds: sessions that follow the account, first sign-in (own password and second factor),
caseloads and break glass, searches that name one person and are audited with what they showed, an audit chain
that cannot be quietly rewritten, sign-in that cannot find or lock accounts, and free text screened before it
reaches the audit log."""

from __future__ import annotations

import json
import re
import statistics
import time

import duckdb
import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.app.access import screen_reason_text
from bold_prevention.app.accounts import AccountStore, SignInRefused
from bold_prevention.app.audit import AuditLog, SecurityLog, entry_hash, verify_audit
from bold_prevention.app.passwords import password_problem
from bold_prevention.cli import app as cli
from bold_prevention.errors import InputError
from test_app_support import (
    CLOCK,
    PASSWORD,
    PEOPLE,
    add_accounts,
    build_small_warehouse,
    code_for,
    csrf_of,
    make_client,
    person_id,
    sign_in,
)

#: The region of each person of the small warehouse (person 5 lives in Wales, outside ``pia``'s caseload).
REGIONS = ["London", "Yorkshire and The Humber", "Yorkshire and The Humber", "North West", "North West", "Wales",
           "West Midlands"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = build_small_warehouse(tmp_path_factory.mktemp("security") / "project")
    con = duckdb.connect(str(project.warehouse_path))
    con.execute("create table spine.person (person_id varchar, region varchar, lad_code varchar, lad_name varchar)")
    for i, region in enumerate(REGIONS):
        con.execute("insert into spine.person values (?, ?, ?, ?)", [person_id(i), region, f"E0{i}", f"Town {i}"])
    con.close()
    add_accounts(project)
    store = AccountStore.of(project)
    store.add("pia", "practitioner", PASSWORD, must_change=False,
              caseload=["London", "Yorkshire and The Humber", "north west", "West Midlands"])
    store.enrol_totp("pia", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", pyotp.TOTP("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").now())
    return project


PIA_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def entries(project) -> list[dict]:
    path = project.audit_dir / "audit.log"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def form(client, path: str, **data):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=True)


def search(client, **fields):
    return form(client, "/search", **fields)


def open_person(client, pid, reason="supervision", detail="", **extra):
    return form(client, f"/people/{pid}/reason", reason=reason, **{"reason-detail": detail}, **extra)


def sign_in_pia(client):
    page = client.get("/sign-in")
    client.post("/sign-in", data={"username": "pia", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    client.app.state.bold.accounts.clock = CLOCK.now
    page = client.get("/sign-in/code")
    return client.post("/sign-in/code", data={"code": CLOCK.next_code(PIA_SECRET), "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


def fresh_practitioner(project, name: str) -> None:
    store = AccountStore.of(project)
    secret = pyotp.random_base32()
    store.add(name, "practitioner", PASSWORD, replace=True, must_change=False, caseload=["*"])
    store.enrol_totp(name, secret, pyotp.TOTP(secret).now())
    TOTP[name] = secret


TOTP: dict[str, str] = {}


def same_server(client):
    """A second browser on the same server."""
    from starlette.testclient import TestClient

    return TestClient(client.app, base_url="https://testserver")


def sign_in_as(client, name):
    page = client.get("/sign-in")
    client.post("/sign-in", data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    client.app.state.bold.accounts.clock = CLOCK.now
    page = client.get("/sign-in/code")
    return client.post("/sign-in/code", data={"code": CLOCK.next_code(TOTP[name]), "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


# -- 1. sessions follow the account ---------------------------------------------------------------------------

@pytest.mark.parametrize("change", ["remove", "role", "reset", "lock", "caseload"])
def test_access_changes_end_sessions_at_once(project, change):
    name = f"temp-{change}"
    fresh_practitioner(project, name)
    with make_client(project) as c:
        assert sign_in_as(c, name).status_code == 303
        assert c.get("/search").status_code == 200
        assert open_person(c, person_id(0)).status_code == 200
        store = AccountStore.of(project)  # another process (bold users) changes the account
        {"remove": lambda: store.remove(name), "role": lambda: store.set_role(name, "analyst"),
         "reset": lambda: store.reset(name, "a brand new temporary pass"), "lock": lambda: store.lock(name),
         "caseload": lambda: store.set_caseload(name, ["Wales"])}[change]()
        r = c.get(f"/people/{person_id(0)}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in"
        assert c.get("/search", follow_redirects=False).status_code == 303
        assert c.get("/analysis", follow_redirects=False).status_code == 303  # a demoted account gains nothing
    last = [e for e in entries(project) if e["actor"] == name][-1]
    assert (last["action"], last["outcome"]) == ("sign_out", "revoked")


def test_admin_changes_on_the_web_end_the_sessions_in_this_server(project):
    fresh_practitioner(project, "temp-web")
    with make_client(project) as admin:
        user = same_server(admin)
        assert sign_in_as(user, "temp-web").status_code == 303
        sign_in(admin, "adam")
        r = form(admin, "/admin/accounts", op="role", name="temp-web", role="analyst")
        assert "now analyst" in r.text
        assert user.get("/search", follow_redirects=False).status_code == 303
    assert AccountStore.of(project).get("temp-web").role == "analyst"


def test_changing_own_password_ends_other_sessions(project):
    fresh_practitioner(project, "temp-own")
    new = "a different long passphrase"
    with make_client(project) as a:
        b = same_server(a)
        sign_in_as(a, "temp-own")
        sign_in_as(b, "temp-own")
        r = form(a, "/account", **{"current-password": "wrong one entirely", "new-password": new,
                                   "new-password-confirm": new})
        assert "current password is not right" in r.text
        r = form(a, "/account", **{"current-password": PASSWORD, "new-password": "password1234",
                                   "new-password-confirm": "password1234"})
        assert "too common" in r.text
        r = form(a, "/account", **{"current-password": PASSWORD, "new-password": new, "new-password-confirm": new})
        assert "Your password has been changed" in r.text
        assert a.get("/search").status_code == 200
        assert b.get("/search", follow_redirects=False).status_code == 303
    store = AccountStore.of(project)
    assert store.authenticate("temp-own", new).name == "temp-own"


# -- first sign-in: own password and second factor ----------------------------------------------------------------

def test_admin_created_account_must_set_password_and_second_factor_first(project):
    with make_client(project) as c:
        sign_in(c, "adam")
        r = form(c, "/admin/accounts", op="add", name="newpat", role="practitioner", caseload="London")
        temp = re.search(r'<span class="app-reference">([^<]+)</span><br>', r.text).group(1)
        assert "Temporary password for newpat" in r.text
        assert temp not in (project.audit_dir / "audit.log").read_text()
    with make_client(project) as c:
        page = c.get("/sign-in")
        r = c.post("/sign-in", data={"username": "newpat", "password": temp, "csrf_token": csrf_of(page.text)},
                   follow_redirects=False)
        assert r.headers["location"] == "/sign-in/new-password"
        for path in ("/search", f"/people/{person_id(0)}", "/sign-in/code", "/account"):  # nothing opens yet
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] in ("/sign-in", "/sign-in/new-password"), path
        r = form(c, "/sign-in/new-password", **{"new-password": temp, "new-password-confirm": temp})
        assert "temporary password" in r.text
        mine = "my very own passphrase"
        r = form(c, "/sign-in/new-password", **{"new-password": mine, "new-password-confirm": mine})
        assert r.url.path == "/sign-in/second-factor" and "otpauth://totp/" in r.text
        secret = re.search(r'id="totp-secret">([^<]+)<', r.text).group(1).replace(" ", "")
        assert c.get("/search", follow_redirects=False).headers["location"] == "/sign-in"
        r = form(c, "/sign-in/second-factor", code="000000")
        assert "code is not right" in r.text
        c.app.state.bold.accounts.clock = CLOCK.now
        r = form(c, "/sign-in/second-factor", code=CLOCK.next_code(secret))
        assert r.url.path == "/search" and r.status_code == 200
    with make_client(project) as c:  # the temporary password no longer works
        page = c.get("/sign-in")
        r = c.post("/sign-in", data={"username": "newpat", "password": temp, "csrf_token": csrf_of(page.text)})
        assert r.status_code == 400
    details = [e["detail"] for e in entries(project) if e["action"] == "account"]
    assert any("newpat set its own password" in d for d in details)
    assert any("newpat enrolled a second factor" in d for d in details)


def test_a_second_factor_code_is_needed_and_cannot_be_replayed(project):
    with make_client(project) as c:
        page = c.get("/sign-in")
        r = c.post("/sign-in", data={"username": "pat", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
                   follow_redirects=False)
        assert r.headers["location"] == "/sign-in/code"
        assert c.get("/search", follow_redirects=False).headers["location"] == "/sign-in"
        code = code_for(c.app, "pat")
        r = form(c, "/sign-in/code", code=code)
        assert r.url.path == "/search"
    with make_client(project) as c:  # the same code again (an observer replaying it)
        page = c.get("/sign-in")
        c.post("/sign-in", data={"username": "pat", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        c.app.state.bold.accounts.clock = CLOCK.now
        r = form(c, "/sign-in/code", code=code)
        assert r.status_code == 400 and "code is not right" in r.text


# -- 2. need to know --------------------------------------------------------------------------------------------

def test_admin_cannot_open_a_person_page_or_search(project):
    with make_client(project) as c:
        sign_in(c, "adam")
        for path in (f"/people/{person_id(0)}", f"/people/{person_id(0)}/reason", "/search"):
            assert c.get(path).status_code == 403


def test_search_needs_one_person_and_is_audited_with_who_it_showed(project):
    with make_client(project, max_results=1) as c:
        sign_in(c, "pat")
        for fields in ({"forename": "J", "surname": "Smith", "dob-year": "1979"},   # one-letter prefix
                       {"forename": "Jo", "surname": "Smith"},                       # no date or year of birth
                       {"surname": "Smith", "dob-year": "1979"},                     # no first name
                       {"forename": "Jo", "surname": "Smith", "dob-year": "79"}):    # not a year
            r = search(c, **fields)
            assert r.status_code == 400 and person_id(3) not in r.text, fields
        r = search(c, forename="Jo", surname="Smith", **{"dob-year": "1979"})
        assert r.status_code == 200
        shown = [pid for pid in (person_id(3), person_id(4)) if pid in r.text]
        assert len(shown) == 1  # capped at max_results
        for dataset in ("probation_delius", "prison_nomis", "Sex: "):
            assert dataset not in r.text  # only what is needed to choose
        last = [e for e in entries(project) if e["action"] == "search"][-1]
        assert last["persons"] == shown and last["outcome"] == "ok" and "candidates: 1+" in last["detail"]
        r = search(c, forename="Jo", surname="Smith", **{"dob-year": "1990"})
        assert "0 people found" in r.text
        assert [e for e in entries(project) if e["action"] == "search"][-1]["persons"] == []
    for e in entries(project):
        for p in PEOPLE:
            assert p[2].lower() not in json.dumps(e).lower()


def test_outside_the_caseload_needs_break_glass_which_admins_review(project):
    with make_client(project) as c:
        sign_in_pia(c)
        assert "outside your caseload" not in c.get(f"/people/{person_id(3)}/reason").text  # "north west"
        assert open_person(c, person_id(3)).status_code == 200
        page = c.get(f"/people/{person_id(5)}/reason")
        assert "outside your caseload" in page.text
        r = open_person(c, person_id(5), reason="supervision")
        assert r.status_code == 400  # an ordinary reason does not open it
        r = open_person(c, person_id(5), reason="bg_transfer", detail="transfer paperwork not yet through")
        assert r.status_code == 400 and "Confirm that you understand" in r.text
        r = open_person(c, person_id(5), reason="bg_transfer", detail="transfer paperwork not yet through",
                        **{"break-glass-confirm": "yes"})
        assert r.status_code == 200
    view = [e for e in entries(project) if e["action"] == "view" and e["outcome"] == "ok"][-1]
    assert view["person_id"] == person_id(5) and view["break_glass"] is True and view["reason"] == "bg_transfer"
    ordinary = [e for e in entries(project) if e["action"] == "view" and e["person_id"] == person_id(3)][-1]
    assert ordinary["break_glass"] is False
    with make_client(project) as c:
        sign_in(c, "adam")
        r = c.get("/admin/review")
        table = r.text.split('id="break-glass-table"')[1].split("</table>")[0]
        assert person_id(5) in table and "pia" in table and person_id(3) not in table
        assert "Break glass" in c.get(f"/admin/audit?person_id={person_id(5)}").text


# -- 3. the audit trail -------------------------------------------------------------------------------------------

def _fill(folder, n=6, key=b"k" * 32, **kw) -> AuditLog:
    log = AuditLog(folder, key=key, **kw)
    for i in range(n):
        log.append(actor=f"user{i % 2}", role="practitioner", action="view", person_id=f"{i:020x}",
                   reason="supervision")
    return log


def test_a_recomputed_chain_without_the_key_is_detected(tmp_path):
    log = _fill(tmp_path)
    lines = log.log_path.read_text().splitlines()
    # delete entry 3 and recompute every later seal with another key (the attacker does not hold the real one)
    kept = [json.loads(x) for i, x in enumerate(lines) if i != 2]
    prev = "0" * 64
    for seq, e in enumerate(kept, start=1):
        e["seq"], e["prev"] = seq, prev
        e["hash"] = entry_hash(prev, e, b"guessed key guessed key")
        prev = e["hash"]
    log.log_path.write_text("".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in kept))
    log.head_path.write_text(json.dumps({"seq": len(kept), "hash": prev,
                                         "key_id": json.loads(log.head_path.read_text())["key_id"]}))
    result = verify_audit(tmp_path, key=b"k" * 32)
    assert not result.ok and any("MAC mismatch" in p for p in result.problems)


def test_a_cut_tail_with_a_fixed_head_is_caught_by_the_exported_heads(tmp_path):
    heads = tmp_path / "elsewhere" / "heads.jsonl"
    log = _fill(tmp_path / "audit", n=10, head_file=heads, head_every=4)
    assert [json.loads(x)["seq"] for x in heads.read_text().splitlines()] == [4, 8]
    assert verify_audit(tmp_path / "audit", key=b"k" * 32, head_file=heads).ok
    lines = log.log_path.read_text().splitlines(keepends=True)
    log.log_path.write_text("".join(lines[:6]))  # cut the tail ...
    last = json.loads(lines[5])
    log.head_path.write_text(json.dumps({"seq": 6, "hash": last["hash"],
                                         "key_id": json.loads(log.head_path.read_text())["key_id"]}))  # ... fix head
    assert verify_audit(tmp_path / "audit", key=b"k" * 32).ok  # self-consistent on its own
    result = verify_audit(tmp_path / "audit", key=b"k" * 32, head_file=heads)
    assert not result.ok and any(p.startswith("truncated") for p in result.problems)


def test_an_altered_entry_fails_verify_and_the_cli_reports_it(tmp_path, monkeypatch):
    from bold_prevention.project import Project

    monkeypatch.setenv("BOLD_AUDIT_KEY", "k" * 32)
    project = Project(tmp_path / "p")
    log = _fill(project.audit_dir)
    runner = CliRunner()
    heads = tmp_path / "heads.jsonl"
    assert runner.invoke(cli, ["audit", "head", "--project", str(project.root), "--head-file", str(heads)]
                         ).exit_code == 0
    ok = runner.invoke(cli, ["audit", "verify", "--project", str(project.root), "--head-file", str(heads)])
    assert ok.exit_code == 0 and "1 exported heads found" in ok.output
    lines = log.log_path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"user1"', '"user9"')
    log.log_path.write_text("".join(lines))
    bad = runner.invoke(cli, ["audit", "verify", "--project", str(project.root), "--head-file", str(heads)])
    assert bad.exit_code == 1 and "line 2: MAC mismatch" in bad.output


def test_missing_or_different_audit_key_is_a_clear_error(tmp_path, monkeypatch):
    _fill(tmp_path)
    with pytest.raises(InputError, match="another key"):
        AuditLog(tmp_path, key=b"another key entirely!!").append(actor="x", role=None, action="sign_in")
    monkeypatch.delenv("BOLD_AUDIT_KEY", raising=False)
    with pytest.raises(InputError, match="BOLD_AUDIT_KEY is not set") as e:
        verify_audit(tmp_path)
    assert "secret" in e.value.hint
    r = CliRunner().invoke(cli, ["audit", "verify", "--project", str(tmp_path)])
    assert r.exit_code == 2 and "BOLD_AUDIT_KEY" in r.output


def test_audit_view_is_paged_filtered_and_checked_incrementally(tmp_path):
    log = _fill(tmp_path, n=120)
    first = log.check()
    assert first.ok and first.entries == 120
    page1, total = log.search(page=1)
    page3, _ = log.search(page=3)
    assert total == 120 and len(page1) == 50 and page1[0]["seq"] == 120 and [e["seq"] for e in page3] == list(
        range(20, 0, -1))
    assert log.search(actor="user1")[1] == 60 and log.search(person_id=f"{7:020x}")[1] == 1
    log.append(actor="user5", role="analyst", action="refusal", outcome="denied")
    view = log._view
    before = view.offset
    assert log.check().entries == 121 and view.offset > before
    lines = log.log_path.read_text().splitlines(keepends=True)  # tamper with the last checked line
    lines[-1] = lines[-1].replace('"user5"', '"user6"')
    log.log_path.write_text("".join(lines))
    assert not log.check().ok


def test_signed_out_bad_requests_go_to_the_rate_limited_security_log(project):
    before = len(entries(project))
    with make_client(project, security_log_per_minute=5) as c:
        for _ in range(30):
            assert c.post("/sign-in", data={"username": "pat", "password": "x"}).status_code == 403
        security = c.app.state.bold.security
        assert security.written == 5 and security.suppressed == 25
    assert len(entries(project)) == before


def test_security_log_notes_what_it_left_out(tmp_path):
    log = SecurityLog(tmp_path, per_minute=2)
    for _ in range(5):
        log.append(kind="csrf", client="1.2.3.4", detail="x")
    log._window_start -= 61
    log.append(kind="csrf", client="1.2.3.4", detail="x")
    lines = [json.loads(x) for x in log.path.read_text().splitlines()]
    assert len(lines) == 3 and lines[-1]["suppressed_before"] == 3


# -- 4. sign-in that cannot find or lock accounts --------------------------------------------------------------

def _attempt(c, name, password):
    page = c.get("/sign-in")
    t0 = time.perf_counter()
    r = c.post("/sign-in", data={"username": name, "password": password, "csrf_token": csrf_of(page.text)})
    return r, time.perf_counter() - t0


def test_unknown_locked_and_wrong_password_look_the_same(project):
    fresh_practitioner(project, "temp-locked")
    AccountStore.of(project).lock("temp-locked")
    with make_client(project, signin_per_minute=1000) as c:
        answers = {}
        times: dict[str, list[float]] = {"unknown": [], "wrong": [], "locked": []}
        for _ in range(5):
            for kind, name, pw in (("unknown", "nobody-here", "some password"), ("wrong", "pat", "not it at all"),
                                   ("locked", "temp-locked", PASSWORD)):
                r, seconds = _attempt(c, name, pw)
                times[kind].append(seconds)
                body = re.sub(r'value="[^"]*"', "", r.text).replace(name, "NAME")
                answers.setdefault(kind, set()).add((r.status_code, body))
        assert len(answers["unknown"] | answers["wrong"] | answers["locked"]) == 1  # one page for all three
        wrong = statistics.median(times["wrong"])
        assert statistics.median(times["unknown"]) >= 0.5 * wrong
        assert statistics.median(times["locked"]) >= 0.5 * wrong
    AccountStore.of(project).unlock("pat")


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(project):
    fresh_practitioner(project, "temp-proxy")
    with make_client(project, signin_per_minute=1000) as c:  # no trusted proxy: X-Forwarded-For is ignored
        for i in range(5):
            page = c.get("/sign-in")
            c.post("/sign-in", data={"username": "temp-proxy", "password": "nope nope nope", "csrf_token":
                                     csrf_of(page.text)}, headers={"x-forwarded-for": f"10.9.9.{i}"})
        assert AccountStore.of(project).get("temp-proxy").locked_sources == 1
    AccountStore.of(project).unlock("temp-proxy")
    with make_client(project, signin_per_minute=1000, trusted_proxies=("testclient",)) as c:
        for _ in range(5):
            page = c.get("/sign-in")
            c.post("/sign-in", data={"username": "temp-proxy", "password": "nope nope nope", "csrf_token":
                                     csrf_of(page.text)}, headers={"x-forwarded-for": "10.9.9.9"})
        page = c.get("/sign-in")  # another user behind the same proxy is not locked out
        r = c.post("/sign-in", data={"username": "temp-proxy", "password": PASSWORD, "csrf_token":
                                     csrf_of(page.text)}, headers={"x-forwarded-for": "10.9.9.10"},
                   follow_redirects=False)
        assert r.headers["location"] == "/sign-in/code"
    failures = json.loads((project.audit_dir / "users.json").read_text())["users"]["temp-proxy"]["failures"]
    assert "10.9.9.9" in failures


def test_single_sign_on_header_is_off_by_default_and_only_believed_from_trusted_proxies(project):
    with make_client(project) as c:
        r = c.get("/search", headers={"x-forwarded-user": "pat"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in"
    with make_client(project, sso_header="X-Forwarded-User", trusted_proxies=("10.0.0.1",)) as c:
        r = c.get("/search", headers={"x-forwarded-user": "pat"}, follow_redirects=False)  # not from the proxy
        assert r.status_code == 303
    with make_client(project, sso_header="X-Forwarded-User", trusted_proxies=("testclient",)) as c:
        assert c.get("/search", headers={"x-forwarded-user": "pat"}).status_code == 200
        assert c.get("/search", headers={"x-forwarded-user": "nobody"}, follow_redirects=False).status_code == 303
        assert c.get("/search", follow_redirects=False).status_code == 303  # header gone: signed out
    with pytest.raises(InputError, match="trusted"):
        make_client(project, sso_header="X-Forwarded-User")


def test_missing_static_files_are_404_and_not_cached(project):
    with make_client(project) as c:
        r = c.get("/assets/no-such-file.css")
        assert r.status_code == 404 and "no-store" in r.headers["cache-control"]
        assert "public" not in r.headers["cache-control"]
        ok = c.get("/assets/app.css")
        assert ok.status_code == 200 and "public" in ok.headers["cache-control"]


# -- passwords --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", "Password1234!", "p@ssw0rd2024",
                                      "abcdefghijkl", "123456789012", "qwertyuiopas", "dragondragon",
                                      "zyxwvutsrqpo", "short pass"])
def test_weak_passwords_are_refused(password):
    assert password_problem(password, name="pat") is not None


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"[a-z][a-z0-9]{3,10}", fullmatch=True),
       before=st.text("xyz 8!", max_size=6), after=st.text("qrs 7?", max_size=6))
def test_a_password_holding_the_account_name_is_refused(name, before, after):
    assert password_problem(before + name.upper() + after + "Kx7!Kx7!Kx7!", name=name) is not None


def test_strong_passwords_are_accepted():
    for pw in ("correct horse battery staple", "tiger lily moon river", "Tr0ub4dor&3xyz"):
        assert password_problem(pw, name="pat") is None


def test_cli_add_is_scriptable_and_the_password_is_temporary(tmp_path):
    from bold_prevention.project import Project

    project = Project(tmp_path / "p")
    r = CliRunner().invoke(cli, ["users", "add", "pam", "--role", "practitioner", "--caseload", "London,Wales",
                                 "--password-stdin", "--project", str(project.root)], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    acc = AccountStore.of(project).get("pam")
    assert acc.must_change and not acc.totp_enrolled and acc.caseload == ("London", "Wales")
    r = CliRunner().invoke(cli, ["users", "add", "pim", "--role", "analyst", "--password-stdin",
                                 "--project", str(project.root)], input="aaaaaaaaaaaa\n")
    assert r.exit_code == 2 and "too few different characters" in r.output
    with pytest.raises(SignInRefused):
        AccountStore.of(project).verify_totp("pam", "123456")


# -- reason screening -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "born 27/03/1990", "seen on 3 March", "dob 1990-03-27", "NI number QQ 12 34 56 C", "ring 07700 900 123",
    "call +44 20 7946 0958", "NHS 943 476 5919", "lives in E1 6AN", "met Aisha at the office", "spoke to Mohammed",
    "with SMITH from the council", "email someone@example.org", "case ref 123456789",
])
def test_identifiers_are_refused_in_reason_text(text):
    assert screen_reason_text(text, ["Aisha", "Khan"]) is not None


@pytest.mark.parametrize("text", ["court report due", "annual review of the sentence plan",
                                  "Transfer from West Yorkshire", "MAPPA level 2 meeting", "Young people's team"])
def test_ordinary_reason_text_is_accepted(text):
    assert screen_reason_text(text, ["Aisha", "Khan"]) is None


_SAFE = st.sampled_from(["review", "of", "the", "plan", "for", "court", "meeting", "risk", "team", "report"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(_SAFE, min_size=1, max_size=6), day=st.integers(1, 28), month=st.integers(1, 12),
       year=st.integers(1930, 2020), sep=st.sampled_from(["/", "-", ".", " / "]),
       where=st.integers(0, 6), kind=st.sampled_from(["date", "iso", "phone", "ni", "name"]))
def test_any_identifier_inserted_anywhere_is_refused(words, day, month, year, sep, where, kind):
    value = {"date": f"{day}{sep}{month}{sep}{year}", "iso": f"{year}-{month:02d}-{day:02d}",
             "phone": f"07{day:02d}{month:02d} {year}{day % 10}{month % 10}",
             "ni": f"QQ{day:02d}{month:02d}{year % 100:02d}C", "name": "Khan"}[kind]
    words = list(words)
    words.insert(min(where, len(words)), value)
    assert screen_reason_text(" ".join(words), ["Aisha", "Khan"]) is not None
