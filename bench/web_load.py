"""Benchmark: the practitioners' single view under load, on localhost.

    .venv/bin/python bench/web_load.py --persons 1000000
    .venv/bin/python bench/web_load.py --persons 100000 --users 20 --requests 2000 --duration 300

1. Builds (once, cached under ``bench/results/data/web-<persons>-seed<seed>/``, in a child process) a project from a
   synthetic population with the library layers: generate -> load -> spine (person records, needs) -> timeline ->
   early-warning scores (one use case) -> accounts.
2. Starts ``bold serve`` on a free localhost port in its own process (Secure cookies on; the load generator sends the
   cookie itself) with the per-account search limit raised so the simulated users are not throttled.
3. Runs ``--users`` concurrent practitioners (asyncio + httpx), each signed in with its own account. Each one loops:
   search for a person by name and date of birth (drawn from the identity store; POST /search, timed as
   ``search``), state a reason (GET and POST the reason page, not timed), open the person page (GET, timed as
   ``person``), open it again showing high-confidence links only (GET, timed as ``person``). Between page views a
   user pauses for a think time drawn from an exponential distribution with mean ``--think`` seconds (one run per
   value given; the default runs 1 s, a practitioner reading each page briefly, then 0 s, back-to-back requests, a
   saturation test). Each run stops after ``--requests`` timed requests or ``--duration`` seconds, whichever comes
   first; a warm-up of one round per user is not counted.

Prints and records (JSON under ``bench/results/``) p50/p95/p99/max latency per kind, throughput, errors, the server's
peak resident memory and start-up time, and the machine. Target (issue 10): search and person page p95 under 300 ms
with 20 concurrent users on a warehouse of 1,000,000 synthetic persons.
"""

from __future__ import annotations

import argparse
import asyncio
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
PASSWORD = "benchmark password not secret"
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
from bold_prevention.models.early_warning import train
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
    from bold_prevention.app.accounts import AccountStore

    store = AccountStore(project / "audit")
    names = [f"bench{i:02d}" for i in range(users)]
    existing = {a.name for a in store.list()}
    for n in names:
        if n not in existing:
            store.add(n, "practitioner", PASSWORD)
        else:
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
    def __init__(self, project: Path, port: int, search_limit: int) -> None:
        self.project, self.port, self.search_limit = project, port, search_limit
        self.proc: subprocess.Popen | None = None
        self.peak_rss = 0
        self.startup_s = 0.0
        self._stop = threading.Event()

    def __enter__(self):
        t0 = time.perf_counter()
        env = {**os.environ, "BOLD_PSEUDONYM_KEY": os.environ.get("BOLD_PSEUDONYM_KEY", "bench-key")}
        self.log = open(RESULTS / "web_load-server.log", "w")  # noqa: SIM115  (closed in __exit__)
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "bold"), "serve", "--project", str(self.project), "--port",
             str(self.port), "--search-limit", str(self.search_limit), "--sign-in-limit", "1000"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        import httpx

        deadline = time.monotonic() + 600
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("the server stopped: "
                                   + (RESULTS / "web_load-server.log").read_text()[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/sign-in", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 10 minutes")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - t0
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        p = psutil.Process(self.proc.pid)
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, p.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    def __exit__(self, *exc):
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PERSON = re.compile(r"/people/([0-9a-f]{20})/reason")


class User:
    """One simulated practitioner with its own session (the cookie is carried by hand: it is Secure)."""

    def __init__(self, client, name: str) -> None:
        self.client, self.name, self.cookie = client, name, ""

    def _remember(self, r) -> None:
        for v in r.headers.get_list("set-cookie"):
            if v.startswith("bold_session="):
                self.cookie = v.split(";", 1)[0]

    async def get(self, url: str):
        r = await self.client.get(url, headers={"cookie": self.cookie})
        self._remember(r)
        return r

    async def post(self, url: str, data: dict):
        r = await self.client.post(url, data=data, headers={"cookie": self.cookie})
        self._remember(r)
        return r

    async def sign_in(self) -> None:
        page = await self.get("/sign-in")
        r = await self.post("/sign-in", {"username": self.name, "password": PASSWORD,
                                         "csrf_token": CSRF.search(page.text).group(1)})
        if r.status_code != 303:
            raise RuntimeError(f"sign-in failed for {self.name}: {r.status_code}")


async def run_load(base: str, names: list[str], people: list[dict], *, max_requests: int, duration: float,
                   seed: int, think: float = 0.0) -> dict:
    import httpx

    timings: dict[str, list[float]] = {"search": [], "person": []}
    errors: dict[str, int] = {}
    counted = 0
    stop_at = [None]
    limits = httpx.Limits(max_connections=len(names) + 5, max_keepalive_connections=len(names) + 5)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        users = [User(client, n) for n in names]
        await asyncio.gather(*(u.sign_in() for u in users))

        async def timed(kind: str, coro, count: bool):
            nonlocal counted
            t0 = time.perf_counter()
            r = await coro
            dt_ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                errors[f"{kind} {r.status_code}"] = errors.get(f"{kind} {r.status_code}", 0) + 1
            elif count:
                timings[kind].append(dt_ms)
                counted += 1
            return r

        async def pause(rng: random.Random):
            if think > 0:  # a practitioner reads the page before the next action (exponential, mean `think`)
                await asyncio.sleep(rng.expovariate(1.0 / think))

        async def loop(u: User, rng: random.Random):
            warm = True
            while True:
                if not warm and (counted >= max_requests or time.perf_counter() >= stop_at[0]):
                    return
                p = people[rng.randrange(len(people))]
                page = await u.get("/search")
                token = CSRF.search(page.text).group(1)
                d = p["dob"]
                await pause(rng)
                r = await timed("search", u.post("/search", {
                    "csrf_token": token, "forename": p["forename"], "surname": p["surname"],
                    "dob-day": str(d.day), "dob-month": str(d.month), "dob-year": str(d.year)}), not warm)
                pids = PERSON.findall(r.text)
                if pids:
                    pid = pids[0]
                    await pause(rng)
                    reason = await u.get(f"/people/{pid}/reason")
                    await pause(rng)
                    await u.post(f"/people/{pid}/reason", {"csrf_token": CSRF.search(reason.text).group(1),
                                                           "reason": "supervision"})
                    await timed("person", u.get(f"/people/{pid}"), not warm)
                    await pause(rng)
                    await timed("person", u.get(f"/people/{pid}?band=high"), not warm)
                else:
                    errors["search found nobody"] = errors.get("search found nobody", 0) + 1
                await pause(rng)
                if warm:
                    warm = False
                    if stop_at[0] is None:
                        stop_at[0] = time.perf_counter() + duration

        t0 = time.perf_counter()
        await asyncio.gather(*(loop(u, random.Random(seed + i)) for i, u in enumerate(users)))
        wall = time.perf_counter() - t0
    return {"timings": timings, "errors": errors, "wall_s": wall}


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))
    return round(v[k], 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--requests", type=int, default=3000, help="timed requests to make (search + person)")
    ap.add_argument("--duration", type=float, default=300.0, help="stop after this many seconds")
    ap.add_argument("--think", type=float, nargs="+", default=[1.0, 0.0],
                    help="mean think time in seconds between a user's page views (exponential); one run per "
                         "value (0: back-to-back requests, a saturation test)")
    ap.add_argument("--project", type=Path, help="serve this project folder instead of building one")
    args = ap.parse_args(argv)
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-key")

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
    port = free_port()
    print(f"serving {project} on port {port}; {args.users} users; up to {args.requests} timed requests or "
          f"{args.duration:.0f} s", flush=True)
    runs = []
    with ServerProcess(project, port, search_limit=100_000) as server:
        print(f"  server ready in {server.startup_s:.1f} s", flush=True)
        for think in args.think:
            print(f"  run: think time {think} s ...", flush=True)
            result = asyncio.run(run_load(f"http://127.0.0.1:{port}", names, people, max_requests=args.requests,
                                          duration=args.duration, seed=args.seed, think=think))
            run = {"think_s": think, "wall_s": round(result["wall_s"], 1), "errors": result["errors"],
                   "load_average_1m_after": round(os.getloadavg()[0], 2)}
            total = 0
            for kind, values in result["timings"].items():
                total += len(values)
                run[kind] = {"n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
                             "p99_ms": pct(values, 99), "max_ms": round(max(values), 1) if values else None,
                             "mean_ms": round(statistics.fmean(values), 1) if values else None}
            run["timed_requests_per_s"] = round(total / result["wall_s"], 1) if result["wall_s"] else None
            run["target_met"] = all(run[k]["p95_ms"] is not None and run[k]["p95_ms"] < 300
                                    for k in ("search", "person"))
            runs.append(run)
        peak_rss = server.peak_rss
        startup = server.startup_s
    out = {"persons": args.persons, "users": args.users, "max_requests": args.requests,
           "max_duration_s": args.duration, "machine": machine(),
           "date": datetime.now(UTC).isoformat(timespec="seconds"), "build_s": build_times,
           "server_startup_s": round(startup, 1), "server_peak_rss_gb": round(peak_rss / 2**30, 2), "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"web_load-{args.persons}.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(out, indent=1, default=str))
    print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
