"""Bench: the whole pipeline with every Wave 1-2 source, one size per fresh child process.

Usage: .venv/bin/python bench/waves_pipeline.py --persons 100000 [200000] [--sources npd dwp hmrc hes ndtms deaths]
Stages, each timed: ``synth`` (the population with every wave source, as ``bold synth --waves 1,2``), ``load``
(``bold load``: Wave 0 under its contracts), ``spine`` (``bold spine build`` at the medium band as at 2022-12-31),
``link <source>`` for each source (``bold link wave SOURCE``: load under the wave contracts, then link to the spine
and attach the events), ``gold`` (the spine rebuilt, which measures the gold-standard needs from the linked
sources), ``outcomes`` (``bold spine outcomes``, 12 months) and ``children`` (``bold spine children``). Peak
memory is the child's maximum resident set size (DuckDB and Splink included). Writes
bench/results/waves-pipeline-<persons>.json and prints the load average of the machine at the start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALL = ("npd", "dwp", "hmrc", "hes", "ndtms", "deaths")

CHILD = r"""
import json, os, sys, time
from datetime import date
from pathlib import Path
os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")
import duckdb
from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
from bold_prevention.project import Project
from bold_prevention.spine import build_spine
from bold_prevention.spine.children import build_children
from bold_prevention.spine.outcomes import build_outcomes
from bold_prevention.synth import generate
from bold_prevention.warehouse.load import load_extracts

root, persons, sources = Path(sys.argv[1]), int(sys.argv[2]), tuple(sys.argv[3].split(","))
as_at = date(2022, 12, 31)
stages, info = {}, {}


def stage(name, fn):
    t = time.perf_counter()
    out = fn()
    stages[name] = round(time.perf_counter() - t, 1)
    print(f"  {name}: {stages[name]} s", file=sys.stderr, flush=True)
    return out


m = stage("synth", lambda: generate(root / "pop", persons=persons, seed=1, sources=sources))
info["rows"] = sum(e.rows for e in m.tables.values())
project = Project(root / "proj").ensure()
stage("load", lambda: load_extracts(project, root / "pop"))
stage("spine", lambda: build_spine(project, as_at=as_at, band="medium"))
con = duckdb.connect(str(project.warehouse_path))
try:
    for s in sources:
        def one(s=s):
            load_wave_source(con, s, root / "pop")
            r = link_wave_source(con, s)
            info[s] = {"records": r.records, "linked": r.linked}
        stage(f"link {s}", one)
finally:
    con.close()
stage("gold", lambda: build_spine(project, as_at=as_at, band="medium"))
con = duckdb.connect(str(project.warehouse_path))
try:
    stage("outcomes", lambda: build_outcomes(con, as_at=as_at, window_months=12))
    stage("children", lambda: build_children(con))
finally:
    con.close()
print(json.dumps({"stages": stages, "info": info}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--sources", nargs="+", default=list(ALL))
    args = ap.parse_args()
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    for n in args.persons:
        with tempfile.TemporaryDirectory() as tmp:
            load0 = os.getloadavg()
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", CHILD, tmp, str(n), ",".join(args.sources)],
                               stdout=subprocess.PIPE, text=True, check=True)
            wall = time.perf_counter() - t
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r.update(persons=n, sources=args.sources, wall_seconds=round(wall, 1), peak_gb=round(peak, 2),
                     load_average_start=[round(x, 1) for x in load0],
                     load_average_end=[round(x, 1) for x in os.getloadavg()], cores=os.cpu_count())
            (out_dir / f"waves-pipeline-{n}.json").write_text(json.dumps(r, indent=2))
            print(f"{n:,} persons: {wall:.1f} s, peak {peak:.2f} GB; " + ", ".join(
                f"{k} {v} s" for k, v in r["stages"].items()))


if __name__ == "__main__":
    main()
