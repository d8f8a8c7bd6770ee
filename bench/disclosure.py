"""Benchmark: disclosure control on person-level microdata, and rendering the release.

    .venv/bin/python bench/disclosure.py
    .venv/bin/python bench/disclosure.py --persons 1000000

Builds a synthetic person table (numpy, seed 1): a local authority (300, sizes skewed like English local
authorities), a risk band, nine need flags, a cost with a few very large values, and a time to event. Then times:

1. ``frequency_table``: local authority x risk band from the microdata (counting, primary, secondary, rounding);
2. place prevalence: persons with each need by local authority (``check_counts`` on the long table, 300 x 9), the
   assessed population, and ``rate_table`` per 100;
3. ``magnitude_table``: mean cost by local authority x risk band (contributors, N-k and p-ratio from the microdata);
4. ``survival_table``: Kaplan-Meier by risk band, reported monthly, with the at-risk and grouping rules;
5. a sparse table (local authority x 40 categories of rare events), and a table needing a complementary
   suppression in every row (1,000 x 20 counts, one small cell per row);
6. ``write_release``: HTML report with charts, GSS workbook and ACRO-compatible results.json for all of them.

Prints and records (JSON under ``bench/results/``) wall time per step, rows per second, cells, suppressions,
peak memory (resident set size) and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent / "src"))

from bold_prevention.outputs import (  # noqa: E402
    check_counts,
    check_frequency_table,
    frequency_table,
    magnitude_table,
    rate_table,
    survival_table,
    write_release,
)
from measure import PeakRSS  # noqa: E402

NEEDS = ["mental_health", "physical_health", "low_income", "substance_misuse", "employment", "education",
         "accommodation", "family", "domestic_abuse"]


def population(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = 1.0 / np.arange(1, 301) ** 0.9
    la = rng.choice([f"E0{6000001 + k}" for k in range(300)], n, p=sizes / sizes.sum())
    band = rng.choice(["low", "medium", "high", "very high"], n, p=[0.55, 0.3, 0.12, 0.03])
    cost = rng.gamma(2.0, 1500.0, n)
    cost[rng.choice(n, 5, replace=False)] = 5_000_000.0
    df = pd.DataFrame({"la": la, "band": band, "cost": cost,
                       "days": np.ceil(rng.exponential(400, n)), "event": rng.random(n) < 0.5,
                       "rare": rng.choice([f"event {k:02d}" for k in range(40)], n,
                                          p=np.r_[np.full(39, 0.0004), 1 - 39 * 0.0004])})
    for k, need in enumerate(NEEDS):
        df[f"need_{need}"] = rng.random(n) < 0.03 + 0.02 * k
    df["assessed"] = rng.random(n) < 0.6
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.persons
    t0 = time.perf_counter()
    people = population(n)
    build_s = time.perf_counter() - t0
    steps: list[dict] = []
    outputs = []

    def step(name: str, rows: int, fn):
        t = time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t
        outs = res if isinstance(res, list) else [res]
        cells = sum(o.n_cells for o in outs)
        supp = sum(o.n_suppressed for o in outs)
        steps.append({"step": name, "seconds": round(dt, 3), "rows": rows, "rows_per_s": round(rows / dt),
                      "cells": cells, "suppressed": supp})
        print(f"{name:<48} {dt:8.2f} s  {rows / dt:>12,.0f} rows/s  {cells:>6} cells  {supp:>6} suppressed")
        outputs.extend(outs)
        return res

    with PeakRSS() as mem:
        step("frequency_table la x band", n,
             lambda: frequency_table(people, "la", "band", title="People by local authority and risk band"))

        def prevalence():
            assessed = people[people.assessed]
            long = assessed.melt(id_vars=["la"], value_vars=[f"need_{d}" for d in NEEDS], var_name="need",
                                 value_name="flag")
            agg = long.groupby(["la", "need"]).agg(k=("flag", "sum"), pop=("flag", "size")).reset_index()
            num = check_counts(agg, "k", "la", "need", title="Persons with each need by local authority")
            den = check_counts(agg, "pop", "la", "need", title="Persons assessed by local authority")
            return [num, den, rate_table(num, den, title="Needs per 100 assessed, by local authority")]

        step("place prevalence 300 la x 9 needs (+ rates)", n, prevalence)
        step("magnitude_table mean cost la x band", n,
             lambda: magnitude_table(people, "cost", "la", "band", title="Mean cost", stat="mean"))
        step("survival_table by band (monthly points)", n,
             lambda: survival_table(people, "days", "event", group="band", title="Time to event",
                                    times=range(30, 3650, 30)))
        rare = people[people.rare != "event 39"]
        step("sparse: la x 40 rare events", len(rare),
             lambda: frequency_table(rare, "la", "rare", title="Rare events by local authority"))

        def secondary_heavy():
            rng = np.random.default_rng(2)
            cells = np.full((1000, 20), 50)
            cells[np.arange(1000), rng.integers(0, 20, 1000)] = 3  # one small cell in every row
            return check_frequency_table(pd.DataFrame(cells, index=[f"area {k:04d}" for k in range(1000)],
                                                      columns=[f"group {k:02d}" for k in range(20)]),
                                         title="One small cell per row")

        step("secondary-heavy: 1000 x 20 counts", 1000 * 20, secondary_heavy)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            write_release(outputs, Path(tmp) / "release", title="Benchmark release")
            dt = time.perf_counter() - t
            size = sum(p.stat().st_size for p in (Path(tmp) / "release").rglob("*") if p.is_file())
        steps.append({"step": "write_release (html, xlsx, results.json)", "seconds": round(dt, 3),
                      "outputs": len(outputs), "bytes": size})
        print(f"{'write_release (html, xlsx, results.json)':<48} {dt:8.2f} s  {len(outputs)} outputs, "
              f"{size / 1e6:.1f} MB")
    machine = {"cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
               "platform": platform.platform(), "python": platform.python_version()}
    total = sum(s["seconds"] for s in steps)
    print(f"persons {n:,}; build {build_s:.1f} s; checks and release {total:.1f} s; peak memory "
          f"{mem.peak / 2**30:.2f} GB; machine {machine}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"disclosure-{n}.json"
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(timespec="seconds"), "persons": n,
                               "build_seconds": round(build_s, 2), "steps": steps, "total_seconds": round(total, 2),
                               "peak_rss_gb": round(mem.peak / 2**30, 3), "machine": machine}, indent=2))
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
