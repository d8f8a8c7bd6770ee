"""Step A planning at scale: `bold usecase plan` and band sensitivity of the shipped cohorts.

    .venv/bin/python bench/planning.py --persons 100000 [--seed 2024]

A synthetic population is generated and loaded once in a child process (cached under bench/results/data/, shared
with bench/trajectories.py), the spine is built at the medium band (setup), then timed in this process:

- `plan` of the use case proposed from "identify early housing insecurity risk for adults with multiple
  disadvantages" (coverage, missingness, link rates and band mix, wave needs). Target: under 5 s at 1,000,000.
- `band_sensitivity` of three shipped cohorts and place prevalence at the three bands, and the release-wide
  audited release of all of it. Target: under 30 s at 1,000,000. The medium spine built as setup is current, so the
  run computes the medium band on it as it stands and builds the spine at the high and low bands only, carrying
  over from the medium spine every person whose records are the same at that band (`build_spine(carry_from=...)`).

Runs at 500,000 persons or more share the machine's memory: run them under the shared lock,
`flock /tmp/bench1m.lock .venv/bin/python bench/planning.py --persons 1000000`.

Results: bench/results/planning-<persons>.json, with peak memory and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import PeakRSS, machine  # noqa: E402
from trajectories import RESULTS, prepare  # noqa: E402

QUESTION = "identify early housing insecurity risk for adults with multiple disadvantages"
COHORTS = ["multiple_disadvantage", "young_adults_cusp", "prison_leavers_nfa"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit")
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")
    _, project_dir = prepare(args.persons, args.seed)

    import shutil
    import tempfile

    from bold_prevention.cohorts.release import write_checked_release
    from bold_prevention.planning import band_sensitivity, plan, propose
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.warehouse.engine import duckdb_connect

    work = Path(tempfile.mkdtemp(prefix="bench-planning-"))
    shutil.copy(Path(project_dir) / "warehouse.duckdb", work / "warehouse.duckdb")
    proj = Project(work).ensure()
    con = duckdb_connect(proj)
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    result: dict = {"persons": args.persons, "seed": args.seed, "machine": machine(),
                    "memory_limit": args.memory_limit, "load_average_start": os.getloadavg()}
    try:
        t0 = time.perf_counter()
        build_spine(con, as_at=date(2024, 12, 31), band="medium")
        result["setup_spine_s"] = round(time.perf_counter() - t0, 2)
        result["spine_persons"] = con.execute("SELECT COUNT(*) FROM spine.person").fetchone()[0]
        uc = propose(QUESTION).use_case
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            p = plan(con, uc)
            result["plan_s"] = round(time.perf_counter() - t0, 2)
        result["plan_peak_rss_gb"] = round(mem.peak / 2**30, 2)
        result["plan_measures"] = len(p.measures)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            res = band_sensitivity(con, COHORTS, places=True)
            result["sensitivity_compute_s"] = round(time.perf_counter() - t0, 2)
            result["sensitivity_per_band_s"] = res.timings
            t1 = time.perf_counter()
            write_checked_release(res.outputs, work / "release", title="Sensitivity", texts=res.texts)
            result["sensitivity_release_s"] = round(time.perf_counter() - t1, 2)
            result["sensitivity_total_s"] = round(time.perf_counter() - t0, 2)
        result["sensitivity_peak_rss_gb"] = round(mem.peak / 2**30, 2)
        result["sensitivity_outputs"] = len(res.outputs)
        result["published_persons"] = res.published
        result["load_average_end"] = os.getloadavg()
        audit = work / "release" / "output-checking" / "release_audit.json"
        if audit.exists():
            result["release_audit"] = json.loads(audit.read_text())
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    out = RESULTS / f"planning-{args.persons}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
