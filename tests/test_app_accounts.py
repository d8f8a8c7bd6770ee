"""Local accounts: Argon2 hashes, lock-out, and `bold users add/remove/list/unlock`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bold_prevention.app import accounts as acc
from bold_prevention.app.accounts import AccountStore, SignInRefused
from bold_prevention.app.audit import verify_audit
from bold_prevention.cli import app as cli
from bold_prevention.errors import InputError
from bold_prevention.project import Project

PW = "a long enough password"


def test_password_is_hashed_with_argon2_and_never_stored(tmp_path):
    store = AccountStore(tmp_path)
    store.add("pat", "practitioner", PW)
    raw = store.path.read_text(encoding="utf-8")
    assert PW not in raw
    assert json.loads(raw)["users"]["pat"]["hash"].startswith("$argon2id$")
    assert store.authenticate("pat", PW).role == "practitioner"


@pytest.mark.parametrize(("name", "role", "password"), [
    ("Pat Smith", "practitioner", PW), ("pat", "superuser", PW), ("pat", "analyst", "short"),
])
def test_bad_account_details_are_refused(tmp_path, name, role, password):
    with pytest.raises(InputError):
        AccountStore(tmp_path).add(name, role, password)
    assert not (tmp_path / "users.json").exists()


def test_duplicate_needs_replace(tmp_path):
    store = AccountStore(tmp_path)
    store.add("ann", "analyst", PW)
    with pytest.raises(InputError, match="already exists"):
        store.add("ann", "admin", PW)
    assert store.add("ann", "admin", PW + "!", replace=True).role == "admin"
    assert store.authenticate("ann", PW + "!").role == "admin"


def test_lockout_is_per_account_and_source_address_even_with_the_right_password(tmp_path):
    store = AccountStore(tmp_path)
    store.add("pat", "practitioner", PW)
    reasons = []
    for _ in range(acc.LOCKOUT_THRESHOLD):
        with pytest.raises(SignInRefused) as e:
            store.authenticate("pat", "wrong password!", "10.0.0.9")
        reasons.append(e.value.reason)
    assert reasons[-1] == "wrong_password_now_locked"
    with pytest.raises(SignInRefused) as e:
        store.authenticate("pat", PW, "10.0.0.9")
    assert e.value.reason == "source_locked"
    assert store.get("pat").locked_sources == 1
    # another address is not locked out: one attacker cannot lock the account for everyone
    assert store.authenticate("pat", PW, "10.0.0.10").name == "pat"
    store.unlock("pat")
    assert store.authenticate("pat", PW, "10.0.0.9").name == "pat"


def test_unknown_account_and_wrong_password_read_the_same(tmp_path):
    store = AccountStore(tmp_path)
    store.add("pat", "practitioner", PW)
    with pytest.raises(SignInRefused) as a:
        store.authenticate("nobody", PW)
    with pytest.raises(SignInRefused) as b:
        store.authenticate("pat", "wrong password!")
    assert a.value.message == b.value.message
    assert a.value.reason == "unknown_account" and b.value.reason == "wrong_password"


def test_corrupt_accounts_file_gives_a_clear_error(tmp_path):
    (tmp_path / "users.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="unreadable"):
        AccountStore(tmp_path).list()


def test_cli_users_add_list_remove(tmp_path):
    project = Project(tmp_path / "p")
    runner = CliRunner()
    r = runner.invoke(cli, ["users", "add", "adam", "--role", "admin", "--password-stdin",
                            "--project", str(project.root)], input=PW + "\n")
    assert r.exit_code == 0, r.output
    assert AccountStore.of(project).authenticate("adam", PW).role == "admin"
    r = runner.invoke(cli, ["users", "list", "--project", str(project.root)])
    assert r.exit_code == 0 and "adam" in r.output and "admin" in r.output
    r = runner.invoke(cli, ["users", "remove", "adam", "--project", str(project.root)])
    assert r.exit_code == 0
    assert AccountStore.of(project).list() == []
    entries = [json.loads(x) for x in (project.audit_dir / "audit.log").read_text().splitlines()]
    assert [e["action"] for e in entries] == ["account", "account"]
    assert PW not in (project.audit_dir / "audit.log").read_text()
    assert verify_audit(project).ok


def test_cli_password_is_never_an_argument(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["users", "add", "adam", "--role", "admin", "--password", PW,
                            "--project", str(tmp_path)])
    assert r.exit_code != 0
    assert not (tmp_path / "audit" / "users.json").exists()


def test_cli_refuses_short_password_with_a_hint(tmp_path):
    r = CliRunner().invoke(cli, ["users", "add", "adam", "--role", "admin", "--password-stdin",
                                 "--project", str(tmp_path)], input="short\n")
    assert r.exit_code == 2
    assert "shorter than 12" in r.output
