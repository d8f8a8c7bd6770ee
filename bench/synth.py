"""Benchmark: generating the synthetic Data First population (every dataset, Parquet).

    .venv/bin/python bench/synth.py                       # 10,000 and 100,000 persons
    .venv/bin/python bench/synth.py --persons 1000000     # one size
    .venv/bin/python bench/synth.py --persons 10000 100000 1000000

Each size runs in a fresh child process (so imports, caches and peak memory are its own) and writes into a
temporary folder. Prints and records (JSON under ``bench/results/``) the wall time, the time per stage, the rows
written, rows per second, the peak resident set size of the child and the machine. Targets (issue 3): 1,000,000
persons in under 2 minutes with peak memory under 8 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from measure import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {src!r})
from bold_prevention.synth import generate
stages = {{}}
t0 = time.perf_counter()
last = [t0]
def progress(stage, i, n):
    now = time.perf_counter()
    stages[stage] = round(now - last[0], 3)
    last[0] = now
m = generate({out!r}, persons={persons}, seed={seed}, progress=progress)
wall = time.perf_counter() - t0
rows = sum(e.rows for e in m.tables.values())
truth_rows = sum(e.rows for e in m.truth.values())
size = sum(p.stat().st_size for p in m.path.rglob("*") if p.is_file())
print(json.dumps({{"wall_s": wall, "stages_s": stages, "extract_rows": rows, "truth_rows": truth_rows,
                  "bytes": size, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "tables": {{k: v.rows for k, v in m.tables.items()}}}}))
"""


def run(persons: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        out = Path(tmp) / "population"
        code = CHILD.format(src=str(HERE.parent / "src"), out=str(out), persons=persons, seed=seed)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"generation of {persons:,} persons failed:\n{proc.stderr}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["persons"] = persons
    r["seed"] = seed
    r["rows_per_s"] = round((r["extract_rows"] + r["truth_rows"]) / r["wall_s"])
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    m = machine()
    print(f"Machine: {m['cpu_count']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, {m['system']}, Python {m['python']}")
    print(f"{'persons':>10} {'wall s':>8} {'rows':>12} {'rows/s':>10} {'peak GB':>8}  stages (s)")
    for n in args.persons:
        r = run(n, args.seed)
        r["machine"] = m
        r["when"] = datetime.now(UTC).isoformat(timespec="seconds")
        (RESULTS / f"synth-{n}.json").write_text(json.dumps(r, indent=2) + "\n")
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
        print(f"{n:>10,} {r['wall_s']:>8.1f} {r['extract_rows'] + r['truth_rows']:>12,} {r['rows_per_s']:>10,} "
              f"{r['peak_rss_bytes'] / 2**30:>8.2f}  {stages}")


if __name__ == "__main__":
    main()
