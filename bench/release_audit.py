"""Benchmarks of the release-wide disclosure audit.

    .venv/bin/python bench/release_audit.py random [--tables 100] [--seed 1]
        information loss of secondary suppression on random two-way tables: the graph heuristic against the
        exact minimum (integer programming), cells and persons suppressed
    .venv/bin/python bench/release_audit.py demo --persons 1000000 [--out DIR]
        the whole-release audit of the demo (every table it publishes, with the ledger) and of a second release of
        the same project at another band (places and every cohort profile), timed from the release_audit.json files

Results are printed as JSON and appended to bench/results/release_audit.jsonl with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bold_prevention.outputs import _protect  # noqa: E402
from measure import machine  # noqa: E402

BOLD = str(Path(sys.executable).with_name("bold"))


def random_tables(n_tables: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_tables):
        R, C = int(rng.integers(3, 10)), int(rng.integers(3, 8))
        inner = rng.poisson(rng.choice([3, 6, 12, 25]), (R, C)).astype(float)
        full = np.zeros((R + 1, C + 1))
        full[:R, :C] = inner
        full[:R, C] = inner.sum(1)
        full[R, :C] = inner.sum(0)
        full[R, C] = inner.sum()
        primary = full < 10
        if not primary.any():
            continue
        grid = _protect.two_way(full)
        t0 = time.perf_counter()
        heur = _protect.protect(grid, primary)
        t1 = time.perf_counter()
        best = _protect.optimal_protect(grid, primary, time_limit=30)
        t2 = time.perf_counter()
        if best is None:
            continue
        inner_mask = np.zeros(full.shape, bool)
        inner_mask[:R, :C] = True
        rows.append({"cells": full.size, "primary": int(primary.sum()),
                     "heuristic": int(heur.secondary.sum()), "exact": int(best.secondary.sum()),
                     "heuristic_persons": int(full[heur.suppressed & inner_mask].sum()),
                     "exact_persons": int(full[best.suppressed & inner_mask].sum()),
                     "heuristic_s": t1 - t0, "exact_s": t2 - t1})
    h = sum(r["heuristic"] for r in rows)
    e = sum(r["exact"] for r in rows)
    return {"job": "random", "tables": len(rows), "secondary_heuristic": h, "secondary_exact_minimum": e,
            "heuristic_over_minimum": round(h / e - 1, 3) if e else 0.0,
            "tables_where_heuristic_is_worse": sum(r["heuristic"] > r["exact"] for r in rows),
            "persons_in_suppressed_cells_heuristic": sum(r["heuristic_persons"] for r in rows),
            "persons_in_suppressed_cells_exact": sum(r["exact_persons"] for r in rows),
            "exact_seconds_p95": round(float(np.percentile([r["exact_s"] for r in rows], 95)), 3),
            "released_uses": "the smaller of the two (the exact minimum whenever the optimiser proves one)"}


def _audit(folder: Path) -> dict:
    return json.loads((folder / "output-checking" / "release_audit.json").read_text())


def demo(persons: int, out: Path) -> dict:
    env = dict(os.environ, BOLD_PSEUDONYM_KEY=os.environ.get("BOLD_PSEUDONYM_KEY", "benchmark-only-key"))
    t0 = time.perf_counter()
    subprocess.run([BOLD, "demo", "--persons", str(persons), "--out", str(out), "--overwrite"], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    demo_s = time.perf_counter() - t0
    # the demo's releases (one per question), each audited with the ones before it: summed
    firsts = [_audit(f) for f in sorted((out / "outputs" / "releases").iterdir()) if f.is_dir()]
    first = {k: sum(a[k] for a in firsts) for k in ("count_cells", "distinct_numbers", "primary_cells_bounded",
                                                    "lp_solves", "integer_solves", "seconds",
                                                    "added_suppressions", "findings")}
    p = ["--project", str(out)]
    subprocess.run([BOLD, "spine", "build", "--band", "high", "--as-at", "2024-12-31", *p], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    second = []
    subprocess.run([BOLD, "places", "prevalence", "--out", str(out / "outputs" / "places-high"), "--overwrite", *p],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    second.append(_audit(out / "outputs" / "places-high"))
    import duckdb

    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    specs = [r[0] for r in con.execute("SELECT cohort FROM results.cohorts").fetchall()]
    con.close()
    for spec in specs:
        subprocess.run([BOLD, "cohort", "build", spec, "--as-at", "2024-12-31", "--allow-unmeasured", *p],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        folder = out / "outputs" / f"profile-{spec}-high"
        subprocess.run([BOLD, "cohort", "profile", spec, "--out", str(folder), "--overwrite", *p], check=True,
                       env=env, stdout=subprocess.DEVNULL)
        second.append(_audit(folder))
    return {"job": "demo", "persons": persons, "demo_seconds": round(demo_s, 1),
            "release_1": {k: first[k] for k in ("count_cells", "distinct_numbers", "primary_cells_bounded",
                                                "lp_solves", "integer_solves", "seconds", "added_suppressions",
                                                "findings")},
            "release_2_tables": sum(a["count_cells"] for a in second),
            "release_2_seconds": round(sum(a["seconds"] for a in second), 2),
            "release_2_consistent_suppressions": sum(a["consistent_suppressions"] for a in second),
            "release_2_withheld_tables": sum(len(a["withheld_tables"]) for a in second),
            "audit_seconds_both_releases": round(first["seconds"] + sum(a["seconds"] for a in second), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="job", required=True)
    r = sub.add_parser("random")
    r.add_argument("--tables", type=int, default=100)
    r.add_argument("--seed", type=int, default=1)
    d = sub.add_parser("demo")
    d.add_argument("--persons", type=int, default=50_000)
    d.add_argument("--out", type=Path, default=Path("/tmp/bold-bench-release-audit"))
    a = ap.parse_args()
    res = random_tables(a.tables, a.seed) if a.job == "random" else demo(a.persons, a.out)
    res["machine"] = machine()
    print(json.dumps(res, indent=2))
    folder = Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    with open(folder / "release_audit.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
