"""Fault injection: a load that fails at any step (a full disk, an interrupt) leaves the old or the new warehouse,
never a mixture, and the next command finds no temporary files and presents the right quality report."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys

import pytest

from bold_prevention.errors import InputError, LoadBlocked
from bold_prevention.files import TEMP_NAME, atomic_dir, atomic_file, clean_stale_temporaries
from bold_prevention.project import Project
from bold_prevention.warehouse import load as load_mod
from bold_prevention.warehouse.load import load_extracts
from bold_prevention.warehouse.report import latest_report_checked, read_report
from helpers_load import build_tables, warehouse_fingerprint, write_tables

SNAP_A, SNAP_B = "2025-01-31", "2025-02-28"


class _Fault(Exception):
    pass


class _Conn:
    """A DuckDB connection that raises ``exc()`` at its ``k``-th ``execute`` (counting from 1)."""

    def __init__(self, con, k: int | None, exc, log: list):
        self._con, self._k, self._exc, self._log = con, k, exc, log

    def execute(self, sql, *args, **kw):
        self._log.append(sql)
        if self._k is not None and len(self._log) == self._k:
            raise self._exc()
        caller = sys._getframe(1).f_locals
        if "batch" in caller and " batch" in sql:  # the loader's Arrow inserts use a replacement scan
            self._con.register("batch", caller["batch"])
            try:
                return self._con.execute(sql, *args, **kw)
            finally:
                self._con.unregister("batch")
        return self._con.execute(sql, *args, **kw)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _data_state(project) -> dict:
    """The warehouse's data (extract and linkage tables) and how many loads it records."""
    fp = warehouse_fingerprint(project)
    return {k: v for k, v in fp.items() if k.startswith(("extract.", "linkage."))} | \
        {"loads": fp.get("meta.loads", (None, 0, None))[1]}


def _temporaries(project) -> list[str]:
    found = []
    for folder, _dirs, files in os.walk(project):
        for name in list(_dirs) + files:
            if name.startswith(".staging-") or TEMP_NAME.match(name):
                found.append(os.path.join(folder, name))
    return found


DS = ["prison"]  # one dataset keeps each load small, so the load can be failed at every one of its steps


def _load(project, source, snap):
    return load_extracts(project, source, snapshot_date=snap, datasets=DS)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    tables = build_tables(5)
    keep = ("prison_custodial_journey", "prison_safety_in_custody")
    a = write_tables({k: v for k, v in tables.items() if k in keep}, tmp / "a")
    t = tables["prison_safety_in_custody"]
    b = write_tables({k: (t.slice(0, t.num_rows - 1) if k == "prison_safety_in_custody" else v)
                      for k, v in tables.items() if k in keep}, tmp / "b")
    # the states before and after a clean load of b on top of a
    clean = tmp / "clean"
    _load(clean, a, SNAP_A)
    old = _data_state(clean)
    calls: list = []
    real = load_mod.duckdb_connect
    mp = pytest.MonkeyPatch()
    mp.setattr(load_mod, "duckdb_connect", lambda proj: _Conn(real(proj), None, _Fault, calls))
    try:
        _load(clean, b, SNAP_B)
    finally:
        mp.undo()
    new = _data_state(clean)
    assert old != new
    return {"a": a, "b": b, "old": old, "new": new, "calls": len(calls), "tmp": tmp}


@pytest.mark.parametrize("fault", ["disk_full", "interrupt"])
def test_a_load_failing_at_any_step_leaves_the_old_or_the_new_warehouse(tmp_path, sources, fault, monkeypatch):
    """Every engine call of a load, in turn, raises (a full disk, or Ctrl-C)."""
    import shutil

    real = load_mod.duckdb_connect
    outcomes = {"old": 0, "new": 0}
    base = tmp_path / "base"
    _load(base, sources["a"], SNAP_A)
    n = sources["calls"]
    for k in range(1, n + 1):
        proj = tmp_path / f"p{k}"
        shutil.copytree(base, proj)
        exc = (lambda: OSError(errno.ENOSPC, "No space left on device")) if fault == "disk_full" else KeyboardInterrupt
        monkeypatch.setattr(load_mod, "duckdb_connect", lambda p, exc=exc, k=k: _Conn(real(p), k, exc, []))
        raised = None
        try:
            _load(proj, sources["b"], SNAP_B)
        except (InputError, KeyboardInterrupt, LoadBlocked) as e:
            raised = (type(e), str(e))  # not the exception: its traceback would keep the engine's objects alive
        gc.collect()
        monkeypatch.setattr(load_mod, "duckdb_connect", real)
        state = _data_state(proj)
        if raised is None:  # the failing step was a best-effort one (rebuilding an old report, a checkpoint)
            assert state == sources["new"], f"failing at call {k} went unreported but left the old warehouse"
        elif fault == "disk_full":
            assert "disk is full" in raised[1] and str(proj) in raised[1], raised[1]
            assert raised[0] is not LoadBlocked, "a full disk was reported as bad data"
        assert state in (sources["old"], sources["new"]), f"failing at call {k} left a mixed warehouse"
        outcomes["old" if state == sources["old"] else "new"] += 1
        # the next command: the report shown belongs to the latest committed load, and no temporary is left
        path, warning = latest_report_checked(Project(proj))
        assert warning is None
        latest = max(p.stem.removeprefix("quality-") for p in (proj / "reports" / "quality").glob("*.json"))
        assert read_report(path)["load_id"] == latest
        if k % 4 == 0 or k > n - 6:
            _load(proj, sources["b"], SNAP_B)
            assert _data_state(proj)["loads"] in (2, 3)
        assert not _temporaries(proj), _temporaries(proj)
        shutil.rmtree(proj)
    assert outcomes["old"] > n // 2 and outcomes["new"] >= 1


def test_report_of_a_load_killed_after_its_commit_is_rebuilt(tmp_path, sources, monkeypatch):
    from bold_prevention.warehouse import report as report_mod

    _load(tmp_path / "p", sources["a"], SNAP_A)

    def killed(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_mod, "write_reports", killed)
    with pytest.raises(KeyboardInterrupt):
        _load(tmp_path / "p", sources["b"], SNAP_B)
    monkeypatch.undo()
    assert _data_state(tmp_path / "p") == sources["new"]
    path, warning = latest_report_checked(Project(tmp_path / "p"))
    data = read_report(path)
    assert warning is None and data.get("rebuilt") is True
    assert data["snapshot_date"] == SNAP_B and data["status"] in ("complete", "partial")
    assert any(c["status"] == "pass" for c in data["checks"])
    assert path.with_suffix(".html").exists()


def test_quality_show_marks_a_report_of_an_earlier_load(tmp_path, sources, monkeypatch):
    """When the latest load's report cannot be rebuilt, the older one is shown marked as such."""
    from bold_prevention.warehouse import report as report_mod

    proj = tmp_path / "p"
    _load(proj, sources["a"], SNAP_A)
    monkeypatch.setattr(report_mod, "write_reports", lambda *a, **k: None)
    _load(proj, sources["b"], SNAP_B)
    monkeypatch.setattr(report_mod, "rebuild_report", lambda *a, **k: None)
    path, warning = latest_report_checked(Project(proj))
    assert warning and "earlier load" in warning
    from typer.testing import CliRunner

    from bold_prevention.cli import app

    r = CliRunner().invoke(app, ["quality", "show", "--project", str(proj)])
    assert r.exit_code == 0 and "NOT THE LATEST LOAD" in r.output


def test_final_paths_are_recorded_not_temporary_ones(tmp_path, sources):
    """A project built under a temporary name and renamed (as bold demo does) records its final paths."""
    import duckdb

    final = tmp_path / "demo"
    with atomic_dir(final) as tmp:
        import shutil

        shutil.copytree(sources["a"], tmp / "synthetic")
        _load(tmp, tmp / "synthetic", SNAP_A)
    con = duckdb.connect(str(final / "warehouse.duckdb"), read_only=True)
    try:
        source, rj, rh = con.execute("select source, report_json, report_html from meta.loads").fetchone()
        latest = load_mod.latest_load(con)
    finally:
        con.close()
    assert ".tmp-" not in source + rj + rh
    assert source == "synthetic" and rj.startswith("reports/quality/")
    assert latest["report_html"] == str(final / rh) and (final / rh).exists()
    data = read_report(final / rj)
    assert ".tmp-" not in data["source"]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temporaries_of_killed_runs_are_removed_only_when_their_process_is_gone(tmp_path, sources):
    proj = tmp_path / "p"
    _load(proj, sources["a"], SNAP_A)
    dead, alive = _dead_pid(), os.getppid()
    stale_dir = proj / f".outputs.tmp-{dead}-0123abcd"
    stale_dir.mkdir()
    (stale_dir / "pairs.csv").write_text("left_id,right_id\n")
    stale_file = proj / "reports" / "quality" / f".quality-x.json.tmp-{dead}-89abcdef"
    stale_file.write_text("{}")
    live = proj / f".other.tmp-{alive}-0123abcd"
    live.mkdir()
    foreign = proj / ".user-notes.tmp-keep"
    foreign.mkdir()
    _load(proj, sources["a"], SNAP_A)
    assert not stale_dir.exists() and not stale_file.exists()
    assert live.exists() and foreign.exists()


def test_a_parked_folder_of_an_interrupted_swap_is_put_back(tmp_path):
    final = tmp_path / "out"
    parked = tmp_path / f".out.old-{_dead_pid()}-0123abcd"
    parked.mkdir()
    (parked / "a.txt").write_text("kept")
    half = tmp_path / f".out.tmp-{_dead_pid()}-89abcdef"
    half.mkdir()
    done = clean_stale_temporaries(tmp_path)
    assert (final / "a.txt").read_text() == "kept" and not half.exists() and len(done) == 2


def test_atomic_writes_under_a_full_disk_leave_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    p.write_text("old")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(InputError, match="disk is full"), atomic_file(p) as fh:
        fh.write("new")
    monkeypatch.undo()
    assert p.read_text() == "old" and not _temporaries(tmp_path)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENOSPC])
def test_a_new_project_on_a_read_only_or_full_disk(tmp_path, sources, monkeypatch, code):
    """`bold load` into a project folder that cannot be created says why, naming the folder; no traceback."""
    from pathlib import Path

    from typer.testing import CliRunner

    from bold_prevention.cli import app

    real_mkdir = Path.mkdir
    target = tmp_path / "ro" / "proj"

    def mkdir(self, *a, **k):
        if str(self).startswith(str(tmp_path / "ro")):
            raise OSError(code, os.strerror(code), str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    r = CliRunner().invoke(app, ["load", str(sources["a"]), "--project", str(target), "--snapshot-date", SNAP_A,
                                 "--datasets", "prison"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
            errno.ENOSPC: "disk is full"}[code] in text.lower()
    assert str(tmp_path / "ro") in text.replace(" ", "") or str(tmp_path / "ro") in text
