"""Benchmark: the practitioners' single view under load, on localhost, with several server workers.

    .venv/bin/python bench/web_load.py --persons 50000 --workers 2 --users 20 --requests 1500 --duration 120
    .venv/bin/python bench/web_load.py --persons 1000000 --workers 4

1. Builds (once, cached under ``bench/results/data/web-<persons>-seed<seed>/``, in a child process) a project from a
   synthetic population with the library layers: generate -> load -> spine (person records, needs) -> timeline ->
   early-warning scores (one use case) -> accounts (practitioners with every area in their caseload).
2. Starts ``--workers`` server processes (``bold serve``, one port each, 127.0.0.1), each opening the warehouse
   read-only and building the single view's in-memory index once at start-up. Sessions live in a worker's memory,
   so each simulated user is pinned to one worker, as a load balancer with session affinity would do. The users
   sign in through the server's trusted-proxy single sign-on header (``--sso-header``, the proxy being this
   process), so the run measures the pages, not the second-factor sign-in.
3. Runs ``--users`` concurrent practitioners, one thread and one ``httpx.Client`` each. Each loops: search for a
   person by name and date of birth drawn from the identity store (POST /search and its redirect to the results,
   timed together as ``search``), state a reason (GET and POST the reason page, not timed), open the person page
   (GET, timed as ``person``), open it again with the timeline oldest first and high-confidence links only (GET,
   timed as ``person``). Between page views a user pauses for a think time drawn from an exponential distribution
   with mean ``--think`` seconds (one run per value; the default runs 1 s, then 0 s: back-to-back requests, a
   saturation test). Each run stops after ``--requests`` timed requests or ``--duration`` seconds, whichever comes
   first; a warm-up of one round per user is not counted.

Prints and records (JSON under ``bench/results/``) p50/p95/p99/max latency per kind, throughput, errors, the
servers' peak resident memory and start-up time, and the machine. Targets: person page p95 under 300 ms and search
p95 under 200 ms with 20 concurrent users.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from measure import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PASSWORD = "benchmark password, not a secret 7Q"
SSO_HEADER = "X-Forwarded-User"
AS_AT = "2024-12-31"

BUILD = r"""
import datetime as dt, json, sys, time
from pathlib import Path
from bold_prevention.project import Project
root, persons, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
times = {}
t = time.perf_counter()
from bold_prevention.synth import generate
generate(root / "synth", persons=persons, seed=seed, overwrite=True)
times["synth"] = time.perf_counter() - t; t = time.perf_counter()
from bold_prevention.warehouse.load import load_extracts
project = Project(root / "project")
load_extracts(project, root / "synth", write_report=False)
times["load"] = time.perf_counter() - t; t = time.perf_counter()
from bold_prevention.warehouse.engine import duckdb_connect
con = duckdb_connect(project)
from bold_prevention.spine.build import build_spine
build_spine(con, as_at=dt.date.fromisoformat(sys.argv[4]), band="medium")
times["spine"] = time.perf_counter() - t; t = time.perf_counter()
from bold_prevention.trajectories.timeline import build_timeline
build_timeline(con)
times["timeline"] = time.perf_counter() - t; t = time.perf_counter()
from bold_prevention.early_warning.train import train
for uc in ("reoffending_12m_after_release", "possession_12m_after_claim"):
    try:
        train(con, uc, project=project, n_boot=10, bands=False)
        times["early_warning"] = time.perf_counter() - t
        break
    except Exception as e:  # record and carry on: the page shows scores only where they exist
        times["early_warning_error_" + uc] = f"{type(e).__name__}: {e}"
con.close()
(root / "build.json").write_text(json.dumps(times, indent=1))
"""


def build(persons: int, seed: int) -> Path:
    root = RESULTS / "data" / f"web-{persons}-seed{seed}"
    if (root / "build.json").exists() and (root / "project" / "warehouse.duckdb").exists():
        print(f"using the cached project under {root}")
        return root
    root.mkdir(parents=True, exist_ok=True)
    print(f"building a project of {persons:,} synthetic persons under {root} (synth, load, spine, timeline, "
          "early warning) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", BUILD, str(root), str(persons), str(seed), AS_AT], check=True)
    print(f"  built in {time.perf_counter() - t0:.0f} s: {(root / 'build.json').read_text()}", flush=True)
    return root


def accounts(project: Path, users: int) -> list[str]:
    """Practitioner accounts bench00.. with every area in their caseload (created once, kept)."""
    import inspect

    from bold_prevention.app.accounts import AccountStore

    store = AccountStore(project / "audit")
    names = [f"bench{i:02d}" for i in range(users)]
    existing = {a.name for a in store.list()}
    params = inspect.signature(store.add).parameters
    extra = {k: v for k, v in (("must_change", False), ("caseload", ["*"])) if k in params}
    for n in names:
        if n not in existing:
            store.add(n, "practitioner", PASSWORD, **extra)
        elif hasattr(store, "unlock"):
            store.unlock(n)
    return names


def sample_people(project: Path, n: int, seed: int) -> list[dict]:
    """People to search for: name and date of birth of linked person-level records that have a timeline."""
    import duckdb

    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select i.forename, i.surname, i.date_of_birth from linkage.identity_moj_probation_flatfile i "
            "join spine.person_record pr on pr.source_table = 'moj_probation_flatfile' "
            "and pr.record_id = i.row_id_hash "
            "where i.forename is not null and i.surname is not null and i.date_of_birth is not null "
            f"using sample reservoir({n} rows) repeatable ({seed})").fetchall()
    finally:
        con.close()
    return [{"forename": f, "surname": s, "dob": d} for f, s, d in rows]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One ``bold serve`` process on its own port (a worker)."""

    def __init__(self, project: Path, port: int, search_limit: int, index: int = 0) -> None:
        self.project, self.port, self.search_limit, self.index = project, port, search_limit, index
        self.proc: subprocess.Popen | None = None
        self.peak_rss = 0
        self.startup_s = 0.0
        self._stop = threading.Event()
        self.log_path = RESULTS / f"web_load-server-{index}.log"

    def start(self) -> None:
        env = {**os.environ, "BOLD_PSEUDONYM_KEY": os.environ.get("BOLD_PSEUDONYM_KEY", "bench-key"),
               "BOLD_AUDIT_KEY": os.environ.get("BOLD_AUDIT_KEY", "bench-audit-key-" + "0" * 48)}
        self.log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "bold"), "serve", "--project", str(self.project), "--port",
             str(self.port), "--search-limit", str(self.search_limit), "--sign-in-limit", "100000",
             "--trusted-proxy", "127.0.0.1", "--sso-header", SSO_HEADER],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 900
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("a server stopped: " + self.log_path.read_text()[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/sign-in", timeout=2).status_code in (200, 403):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("a server did not start within 15 minutes")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - self.t0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        p = psutil.Process(self.proc.pid)
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, p.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PERSON = re.compile(r"/people/([0-9a-f]{20})/reason(\?s=[A-Za-z0-9_-]+)?")


class Run:
    """Shared counters of one run (timed requests, errors, the stop time)."""

    def __init__(self, max_requests: int, duration: float) -> None:
        self.timings: dict[str, list[float]] = {"search": [], "person": []}
        self.errors: dict[str, int] = {}
        self.counted = 0
        self.max_requests, self.duration = max_requests, duration
        self.stop_at: float | None = None
        self.lock = threading.Lock()

    def done(self) -> bool:
        with self.lock:
            return self.counted >= self.max_requests or (self.stop_at is not None
                                                         and time.perf_counter() >= self.stop_at)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def time(self, kind: str, ms: float) -> None:
        with self.lock:
            self.timings[kind].append(ms)
            self.counted += 1


def user_loop(base: str, name: str, people: list[dict], run: Run, seed: int, think: float,
              started: threading.Barrier) -> None:
    """One practitioner: one thread, one connection pool, one session (signed in by the proxy header)."""
    import httpx

    rng = random.Random(seed)
    headers = {SSO_HEADER: name}

    def pause() -> None:
        if think > 0:  # a practitioner reads the page before the next action (exponential, mean `think`)
            time.sleep(rng.expovariate(1.0 / think))

    def remember(response) -> None:
        # the session cookie is Secure, so a client's cookie jar would not send it over plain http to 127.0.0.1:
        # carry it by hand, as the browser does on localhost
        for v in response.headers.get_list("set-cookie"):
            if v.startswith("bold_session="):
                client.headers["cookie"] = v.split(";", 1)[0]

    def follow(r):
        # redirects followed by hand: httpx rebuilds a redirected request's cookies from its jar (no Secure
        # cookie over http), which would drop the session
        while r.status_code in (302, 303) and r.headers.get("location"):
            r = client.get(r.headers["location"].split("#", 1)[0])
        return r

    with httpx.Client(base_url=base, timeout=120, headers=headers, follow_redirects=False,
                      event_hooks={"response": [remember]}) as client:
        warm = True
        started.wait()
        rounds = 0
        while warm or not run.done():
            p = people[rng.randrange(len(people))]
            rounds += 1
            if rounds > 5 and warm:  # a warm-up that keeps failing: stop warming up (the errors are counted)
                warm = False
                with run.lock:
                    if run.stop_at is None:
                        run.stop_at = time.perf_counter() + run.duration
            try:
                page = follow(client.get("/search"))
                token = CSRF.search(page.text).group(1)
                d = p["dob"]
                pause()
                t0 = time.perf_counter()
                r = follow(client.post("/search", data={
                    "csrf_token": token, "forename": p["forename"], "surname": p["surname"],
                    "dob-day": str(d.day), "dob-month": str(d.month), "dob-year": str(d.year)}))
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    run.error(f"search {r.status_code}")
                    continue
                if not warm:
                    run.time("search", ms)
                found = PERSON.search(r.text)
                if not found:
                    run.error("search found nobody")
                    continue
                pid, sid = found.group(1), found.group(2) or ""
                pause()
                reason = follow(client.get(f"/people/{pid}/reason{sid}"))
                pause()
                r = follow(client.post(f"/people/{pid}/reason{sid}", data={
                    "csrf_token": CSRF.search(reason.text).group(1), "reason": "supervision"}))
                for url in (f"/people/{pid}{sid}", f"/people/{pid}?band=high&order=oldest"):
                    t0 = time.perf_counter()
                    r = client.get(url)
                    ms = (time.perf_counter() - t0) * 1000
                    if r.status_code != 200 or "Current position" not in r.text:
                        run.error(f"person {r.status_code}")
                    elif not warm:
                        run.time("person", ms)
                    pause()
            except (httpx.HTTPError, AttributeError) as e:
                run.error(type(e).__name__)
            if warm:
                warm = False
                with run.lock:
                    if run.stop_at is None:
                        run.stop_at = time.perf_counter() + run.duration


def run_load(bases: list[str], names: list[str], people: list[dict], *, max_requests: int, duration: float,
             seed: int, think: float = 0.0) -> dict:
    run = Run(max_requests, duration)
    barrier = threading.Barrier(len(names))
    threads = [threading.Thread(target=user_loop, args=(bases[i % len(bases)], n, people, run, seed + i, think,
                                                        barrier), daemon=True) for i, n in enumerate(names)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"timings": run.timings, "errors": run.errors, "wall_s": time.perf_counter() - t0}


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))
    return round(v[k], 1)


TARGETS = {"search": 200.0, "person": 300.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="server processes (one port each; users pinned)")
    ap.add_argument("--requests", type=int, default=1500, help="timed requests to make (search + person)")
    ap.add_argument("--duration", type=float, default=120.0, help="stop after this many seconds")
    ap.add_argument("--think", type=float, nargs="+", default=[1.0, 0.0],
                    help="mean think time in seconds between a user's page views (exponential); one run per "
                         "value (0: back-to-back requests, a saturation test)")
    ap.add_argument("--project", type=Path, help="serve this project folder instead of building one")
    args = ap.parse_args(argv)
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-key")
    os.environ.setdefault("BOLD_AUDIT_KEY", "bench-audit-key-" + "0" * 48)

    if args.project:
        project, build_times = args.project, {}
    else:
        root = build(args.persons, args.seed)
        project = root / "project"
        build_times = json.loads((root / "build.json").read_text())
    names = accounts(project, args.users)
    people = sample_people(project, 2000, args.seed)
    if not people:
        print("no linked person to search for in this warehouse", file=sys.stderr)
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    servers = [ServerProcess(project, free_port(), 100_000, i) for i in range(args.workers)]
    print(f"serving {project} with {args.workers} workers; {args.users} users; up to {args.requests} timed "
          f"requests or {args.duration:.0f} s per run", flush=True)
    runs = []
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
        print("  workers ready in " + ", ".join(f"{s.startup_s:.1f} s" for s in servers), flush=True)
        bases = [f"http://127.0.0.1:{s.port}" for s in servers]
        for think in args.think:
            print(f"  run: think time {think} s ...", flush=True)
            result = run_load(bases, names, people, max_requests=args.requests, duration=args.duration,
                              seed=args.seed, think=think)
            run = {"think_s": think, "wall_s": round(result["wall_s"], 1), "errors": result["errors"],
                   "load_average_1m_after": round(os.getloadavg()[0], 2)}
            total = 0
            for kind, values in result["timings"].items():
                total += len(values)
                run[kind] = {"n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
                             "p99_ms": pct(values, 99), "max_ms": round(max(values), 1) if values else None,
                             "mean_ms": round(statistics.fmean(values), 1) if values else None,
                             "target_p95_ms": TARGETS[kind]}
            run["timed_requests_per_s"] = round(total / result["wall_s"], 1) if result["wall_s"] else None
            run["target_met"] = all(run[k]["p95_ms"] is not None and run[k]["p95_ms"] < TARGETS[k]
                                    for k in TARGETS)
            print("   ", json.dumps({k: run[k] for k in ("search", "person", "errors", "target_met")}), flush=True)
            runs.append(run)
    finally:
        for s in servers:
            s.stop()
    out = {"persons": args.persons, "users": args.users, "workers": args.workers, "max_requests": args.requests,
           "max_duration_s": args.duration, "machine": machine(),
           "date": datetime.now(UTC).isoformat(timespec="seconds"), "build_s": build_times,
           "server_startup_s": [round(s.startup_s, 1) for s in servers],
           "server_peak_rss_gb": [round(s.peak_rss / 2**30, 2) for s in servers], "runs": runs}
    path = RESULTS / f"web_load-{args.persons}.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(out, indent=1, default=str))
    print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
