"""Benchmark: load and check the extracts of a synthetic population.

    .venv/bin/python bench/load.py --persons 1000000
    .venv/bin/python bench/load.py --persons 100000 --format csv

The population is generated once (in a child process, so its memory does not count) and cached under
``bench/results/data/``; the load runs in this process into a fresh project. Prints and records (JSON under
``bench/results/``) the wall time of the load, rows and rows per second, peak memory (resident set size of this
process, which includes DuckDB's) and the machine. Target (issue 5): 1,000,000 persons in under 5 minutes and
under 8 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from measure import PeakRSS, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def generate(persons: int, seed: int, fmt: str) -> Path:
    out = RESULTS / "data" / f"synth-{persons}-seed{seed}-{fmt}"
    if (out / "manifest.json").exists():
        print(f"using the cached population {out}")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {persons:,} persons into {out} ...", flush=True)
    t0 = time.perf_counter()
    code = ("import sys; from bold_prevention.synth import generate; "
            f"generate(sys.argv[1], persons={persons}, seed={seed}, fmt={fmt!r}, overwrite=True)")
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    print(f"generated in {time.perf_counter() - t0:.1f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    ap.add_argument("--source", type=Path, help="load this folder instead of a generated population")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit for the load")
    ap.add_argument("--keep", action="store_true", help="keep the project folder after the run")
    args = ap.parse_args(argv)

    from bold_prevention.warehouse.load import load_extracts

    src = args.source or generate(args.persons, args.seed, args.format)
    project = RESULTS / f"load-project-{args.persons}"
    shutil.rmtree(project, ignore_errors=True)
    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def progress(description: str, done: int, total: int) -> None:
        stages.append((description, time.perf_counter() - t0))

    with PeakRSS() as mem:
        t0 = time.perf_counter()
        result = load_extracts(project, src, snapshot_date="2025-01-31", progress=progress,
                               memory_limit=args.memory_limit)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = load_extracts(project, src, snapshot_date="2025-01-31", memory_limit=args.memory_limit)
        wall_again = time.perf_counter() - t1
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = result.rows_loaded
    input_bytes = sum(p.stat().st_size for p in Path(result.source).rglob("*") if p.is_file())
    wh = project / "warehouse.duckdb"
    record = {
        "benchmark": "load",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "persons": args.persons if not args.source else None,
        "format": args.format,
        "source": str(src),
        "status": result.status,
        "tables": len(result.tables),
        "rows": rows,
        "input_mb": round(input_bytes / 2**20, 1),
        "warehouse_mb": round(wh.stat().st_size / 2**20, 1) if wh.exists() else None,
        "checks": result.counts(),
        "wall_s": round(wall, 2),
        "rows_per_s": round(rows / wall) if wall else None,
        "reload_unchanged_s": round(wall_again, 2),
        "reload_status": again.status,
        "peak_rss_gb": round(max(mem.peak, maxrss) / 2**30, 2),
        "memory_limit": args.memory_limit,
        "target": {"wall_s": 300, "peak_rss_gb": 8} if args.persons >= 1_000_000 else None,
        "stages": [(d, round(s, 2)) for d, s in stages],
        "machine": machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"load-{args.persons}-{args.format}.json" if not args.source else "load-source.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")
    print(f"status {result.status}: {rows:,} rows in {len(result.tables)} tables, "
          f"{record['input_mb']} MB in, warehouse {record['warehouse_mb']} MB")
    print(f"load and check: {wall:.1f} s ({record['rows_per_s']:,} rows/s); unchanged reload {wall_again:.1f} s")
    print(f"peak memory: {record['peak_rss_gb']} GB; machine: {record['machine']['cpu_count']} cores, "
          f"{record['machine']['ram_gb']} GB RAM")
    print(f"recorded in {RESULTS / name}")
    if not args.keep:
        shutil.rmtree(project, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
