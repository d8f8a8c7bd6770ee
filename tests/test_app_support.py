"""Shared set-up for the web application's tests: a small warehouse shaped by the shared contracts, accounts, and a
signed-in test client. Imported by tests/test_app*.py and tests/browser/."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import threading
import time
from pathlib import Path

import duckdb
import pyotp

from bold_prevention.app.accounts import AccountStore
from bold_prevention.linkage.pseudonym import pseudonymise
from bold_prevention.project import Project

os.environ.setdefault("BOLD_AUDIT_KEY", "test-only-audit-key-not-secret")

PASSWORD = "correct horse battery staple"
ACCOUNTS = {"pat": "practitioner", "ann": "analyst", "adam": "admin"}
#: The second-factor secrets of the test accounts (enrolled by :func:`add_accounts`).
TOTP_SECRETS = {"pat": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ann": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
                "adam": "MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK"}


class VirtualClock:
    """The clock the servers under test use for second-factor codes: real time plus an offset that moves on 30 s at
    each sign-in, so that a test can sign in many times a minute without reusing a code (a reused code is refused)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self.offset

    def next_code(self, secret: str) -> str:
        with self._lock:
            self.offset += 30
            return pyotp.TOTP(secret).at(self.now())


CLOCK = VirtualClock()


def code_for(app, name: str) -> str:
    """The next second-factor code of test account ``name`` for the server ``app`` (its clock set to :data:`CLOCK`)."""
    app.state.bold.accounts.clock = CLOCK.now
    return CLOCK.next_code(TOTP_SECRETS[name])

#: (forename, middle, surname, date of birth, sex, postcode) of the people in the small warehouse.
PEOPLE = [
    ("Aisha", None, "Khan", dt.date(1990, 3, 27), "F", "E1 6AN"),
    ("Robert", "James", "O'Brien", dt.date(1985, 11, 2), "M", "LS1 4DY"),
    ("Robert", None, "Obrien", dt.date(1985, 2, 11), "M", "LS1 4DY"),   # day/month swapped, near-duplicate
    ("Joanna", None, "Smith", dt.date(1979, 7, 14), "F", "M1 1AE"),
    ("John", None, "Smith", dt.date(1979, 7, 14), "M", "M1 1AE"),      # twin
    ("Chloé", None, "Dupont", dt.date(2001, 1, 5), "F", "CF10 1EP"),
    ("Elizabeth", None, "Ward-Jones", dt.date(1995, 6, 30), "F", "B1 1AA"),
]
TABLES = ("moj_probation_flatfile", "prison_custodial_journey", "mags_defendant_case")
DATASET = {"moj_probation_flatfile": "probation_delius", "prison_custodial_journey": "prison_nomis",
           "mags_defendant_case": "mags_hocas"}


def person_id(i: int) -> str:
    return pseudonymise(f"cluster-{i}")


def record_id(table: str, i: int, k: int = 0) -> str:
    return f"{table[:4]}{i:04d}{k}"


def build_small_warehouse(root: Path) -> Project:
    """A warehouse with the identity store, spine.person_record and spine.timeline for :data:`PEOPLE`.

    Person 0 has a low-confidence magistrates' record whose name differs (so excluding low links changes the page);
    person 1 a medium-confidence prison record."""
    project = Project(root)
    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(project.warehouse_path))
    for s in ("extract", "linkage", "spine", "results", "meta", "catalogue"):
        con.execute(f"create schema if not exists {s}")
    for t in TABLES:
        con.execute(f"create table linkage.identity_{t} (row_id_hash varchar, forename varchar, middle_names varchar, "
                    f"surname varchar, date_of_birth date, postcode varchar, gender varchar)")
    con.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar, "
                "record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    con.execute("create table spine.timeline (person_id varchar, event_date date, dataset varchar, "
                "source_table varchar, record_id varchar, event_type varchar, description varchar, "
                "band_joined varchar)")
    for i, (fn, mn, sn, dob, sex, pc) in enumerate(PEOPLE):
        pid = person_id(i)
        for j, t in enumerate(TABLES):
            band = "high"
            first = fn
            if i == 0 and t == "mags_defendant_case":
                band, first = "low", "Ayesha"
            if i == 1 and t == "prison_custodial_journey":
                band = "medium"
            rid = record_id(t, i)
            con.execute(f"insert into linkage.identity_{t} values (?, ?, ?, ?, ?, ?, ?)",
                        [rid, first.upper() if j == 1 else first, mn, sn, dob, pc, sex])
            con.execute("insert into spine.person_record values (?, ?, ?, ?, ?, ?, 'medium', ?)",
                        [pid, DATASET[t], t, rid, {"high": 0.99, "medium": 0.9, "low": 0.6}[band], band, rid])
            day = dt.date(2019 + j, 1 + i, 10)
            etype, desc = {
                "moj_probation_flatfile": ("probation_start", "Community order supervision started"),
                "prison_custodial_journey": ("custody_start", "Received into custody on remand"),
                "mags_defendant_case": ("mags_case", "Magistrates' court case: theft, fine"),
            }[t]
            con.execute("insert into spine.timeline values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [pid, day, t.split("_")[0], t, rid, etype, desc, band])
    # an identity record that links to nobody
    con.execute("insert into linkage.identity_moj_probation_flatfile values "
                "('unlinked01', 'Aisha', null, 'Khan', '1990-03-27', 'E1 6AN', 'F')")
    con.close()
    return project


def add_accounts(project: Project) -> None:
    """The test accounts, ready to sign in: their own password set and a second factor enrolled (``pat``'s caseload
    is every area, so the shared tests need no break-glass reason)."""
    store = AccountStore.of(project)
    for name, role in ACCOUNTS.items():
        store.add(name, role, PASSWORD, replace=True, must_change=False,
                  caseload=["*"] if role == "practitioner" else [])
        store.clock = time.time
        store.enrol_totp(name, TOTP_SECRETS[name], pyotp.TOTP(TOTP_SECRETS[name]).now())


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    """Sign in with the password and, when asked, the second-factor code; the last response (a 303 to the role's
    home page when it worked)."""
    page = client.get("/sign-in")
    r = client.post("/sign-in", data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    if r.status_code == 303 and r.headers["location"] == "/sign-in/code":
        page = client.get("/sign-in/code")
        r = client.post("/sign-in/code", data={"code": code_for(client.app, name), "csrf_token": csrf_of(page.text)},
                        follow_redirects=False)
    return r


# -- pytest fixtures (import them into a test module to use them) --------------------------------------------------

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def small_project(tmp_path_factory) -> Project:
    """The small warehouse with the three accounts (one per module: tests may add audit entries)."""
    project = build_small_warehouse(tmp_path_factory.mktemp("webapp") / "project")
    add_accounts(project)
    return project


def make_client(project: Project, **config):
    from starlette.testclient import TestClient

    from bold_prevention.app import AppConfig, create_app

    return TestClient(create_app(AppConfig(project=project, **config)), base_url="https://testserver")


# -- a real project built by the library layers (synthetic data -> load -> spine -> timeline -> cohorts -> models) ---

_REAL: dict[str, Project] = {}
_TRAIN_ERRORS: list[str] = []


def real_project(synth_dir: Path) -> Project:
    """A project built from the 2,000-person synthetic population by the library layers (once per process)."""
    key = str(synth_dir)
    if key in _REAL:
        return _REAL[key]
    import tempfile

    from bold_prevention.catalogue import load_catalogues, write_synthetic_catalogues
    from bold_prevention.cohorts import build_cohort
    from bold_prevention.early_warning.train import train
    from bold_prevention.early_warning.usecase import load_use_case
    from bold_prevention.spine.build import build_spine
    from bold_prevention.trajectories.timeline import build_timeline
    from bold_prevention.warehouse.engine import duckdb_connect
    from bold_prevention.warehouse.load import load_extracts

    root = Path(tempfile.mkdtemp(prefix="bold-web-real-"))
    project = Project(root / "project")
    load_extracts(project, synth_dir, write_report=False)
    load_catalogues(write_synthetic_catalogues(root / "catalogues"), project)
    con = duckdb_connect(project)
    try:
        build_spine(con, as_at=dt.date(2024, 12, 31), band="medium")
        build_timeline(con)
        for spec in ("hard_edges_smd2", "possession_claim"):
            build_cohort(con, spec)
        for use_case in ("reoffending_12m_after_release", "possession_12m_after_claim"):
            try:  # a 2,000-person population holds few events: test on the latest 20% of them
                uc = dataclasses.replace(load_use_case(use_case), test_fraction=0.2)
                train(con, uc, project=project, n_boot=10, bands=False)
            except Exception as e:  # noqa: BLE001  (reported by the tests that need scores)
                _TRAIN_ERRORS.append(f"{use_case}: {type(e).__name__}: {e}")
    finally:
        con.close()
    add_accounts(project)
    _REAL[key] = project
    return project


def person_with_score(project: Project) -> tuple[str, str, str, dt.date, str]:
    """(person id, forename, surname, date of birth, use case) of a person with an early-warning score and needs."""
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        identity = " union all ".join(
            f"select row_id_hash, forename, surname, date_of_birth from linkage.identity_{t}"
            for t in ("prison_custodial_journey", "moj_probation_flatfile", "civil_parties", "mags_defendant_case"))
        row = con.execute(
            "select pr.person_id, i.forename, i.surname, i.date_of_birth, e.use_case "
            "from results.early_warning_scores e join spine.person_record pr on pr.person_id = e.person_id "
            f"join ({identity}) i on i.row_id_hash = pr.record_id "
            "join spine.person_need n on n.person_id = e.person_id "
            "where i.forename is not null and i.surname is not null and i.date_of_birth is not null "
            "order by pr.person_id limit 1").fetchone() if con.execute(
                "select count(*) from information_schema.tables where table_name = 'early_warning_scores'"
            ).fetchone()[0] else None
    finally:
        con.close()
    assert row is not None, "no early-warning scores in the test project: " + "; ".join(_TRAIN_ERRORS)
    return row
