"""Bench: the whole pipeline with every Wave 1-2 source, one size per fresh child process.

Usage: .venv/bin/python bench/waves_pipeline.py --persons 100000 [200000] [--sources npd dwp hmrc hes ndtms deaths]
        [--snapshots 2] [--memory-limit 6GB]
Stages, each timed: ``synth`` (the population with every wave source, as ``bold synth --waves 1,2``), ``load``
(``bold load``: Wave 0 under its contracts), ``spine`` (``bold spine build`` at the medium band as at 2022-12-31),
``link <source>`` for each source (``bold link wave SOURCE``: load under the wave contracts, then link to the spine
and attach the events, training the source's model and saving it as ``bold link wave`` does, under
``<project>/models/wave-<source>.json``), ``gold`` (the spine rebuilt, which measures the gold-standard needs from
the linked sources), ``outcomes`` (``bold spine outcomes``, 12 months) and ``children`` (``bold spine children``).
With ``--snapshots 2`` every source is then loaded and linked again as the next snapshot does (``relink
<source>``: the saved model reused, no training). Each stage records its wall time and its CPU time (user and
system, all threads of the child): on a shared machine the CPU time is the steadier measure of the work. Peak
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
import json, os, resource, sys, time
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
snapshots, memory_limit = int(sys.argv[4]), sys.argv[5]
as_at = date(2022, 12, 31)
stages, cpu, info = {}, {}, {}


def cpu_now():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stage(name, fn):
    t, c = time.perf_counter(), cpu_now()
    out = fn()
    stages[name] = round(time.perf_counter() - t, 1)
    cpu[name] = round(cpu_now() - c, 1)
    print(f"  {name}: {stages[name]} s (cpu {cpu[name]} s)", file=sys.stderr, flush=True)
    return out


def connect():
    con = duckdb.connect(str(project.warehouse_path))
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    return con


m = stage("synth", lambda: generate(root / "pop", persons=persons, seed=1, sources=sources))
info["rows"] = sum(e.rows for e in m.tables.values())
project = Project(root / "proj").ensure()
stage("load", lambda: load_extracts(project, root / "pop"))
stage("spine", lambda: build_spine(project, as_at=as_at, band="medium"))
con = connect()
info["threads"] = con.execute("select current_setting('threads')").fetchall()[0][0]
try:
    for snap in range(1, snapshots + 1):
        for s in sources:
            def one(s=s, snap=snap):
                load_wave_source(con, s, root / "pop")
                r = link_wave_source(con, s, model_path=project.models_dir / f"wave-{s}.json")
                info[s if snap == 1 else f"{s} (snapshot {snap})"] = {
                    "records": r.records, "linked": r.linked, "borrowed": r.borrowed}
            stage(f"link {s}" if snap == 1 else f"relink {s}" + (f" ({snap})" if snap > 2 else ""), one)
        if snap == 1:
            con.close()
            stage("gold", lambda: build_spine(project, as_at=as_at, band="medium"))
            con = connect()
finally:
    con.close()
con = connect()
try:
    stage("outcomes", lambda: build_outcomes(con, as_at=as_at, window_months=12))
    stage("children", lambda: build_children(con))
finally:
    con.close()
print(json.dumps({"stages": stages, "cpu_seconds": cpu, "info": info}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--sources", nargs="+", default=list(ALL))
    ap.add_argument("--snapshots", type=int, default=1,
                    help="2: link every source again afterwards with its saved model, as the next snapshot does")
    ap.add_argument("--memory-limit", default="",
                    help="DuckDB memory limit of the warehouse connection (e.g. 6GB; default DuckDB's own)")
    args = ap.parse_args()
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    for n in args.persons:
        with tempfile.TemporaryDirectory() as tmp:
            load0 = os.getloadavg()
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", CHILD, tmp, str(n), ",".join(args.sources),
                                str(args.snapshots), args.memory_limit],
                               stdout=subprocess.PIPE, text=True, check=True)
            wall = time.perf_counter() - t
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r.update(persons=n, sources=args.sources, snapshots=args.snapshots, wall_seconds=round(wall, 1),
                     peak_gb=round(peak, 2),
                     load_average_start=[round(x, 1) for x in load0],
                     load_average_end=[round(x, 1) for x in os.getloadavg()], cores=os.cpu_count())
            (out_dir / f"waves-pipeline-{n}.json").write_text(json.dumps(r, indent=2))
            print(f"{n:,} persons: {wall:.1f} s, peak {peak:.2f} GB; " + ", ".join(
                f"{k} {v} s" for k, v in r["stages"].items()))


if __name__ == "__main__":
    main()
