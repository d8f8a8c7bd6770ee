"""Bench: ``bold synth`` with every Wave 1-2 source (``--waves 1,2``), each size in a fresh child process.

Usage: .venv/bin/python bench/synth_waves.py --persons 100000 1000000
Writes bench/results/synth-waves-<persons>.json (wall seconds, rows, peak resident memory of the child).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, time, json
from bold_prevention.synth import generate
t = time.perf_counter()
m = generate(sys.argv[1], persons=int(sys.argv[2]), seed=1, sources=("npd", "dwp", "hmrc", "hes", "ndtms", "deaths"))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": sum(e.rows for e in m.tables.values()),
                  "wave_rows": {k: e.rows for k, e in m.tables.items() if e.file.startswith("waves/")}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    args = ap.parse_args()
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    for n in args.persons:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / "pop"), str(n)], capture_output=True,
                               text=True, check=True)
            wall = time.perf_counter() - t
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r.update(persons=n, wall_seconds=round(wall, 1), peak_gb=round(peak, 2))
            (out_dir / f"synth-waves-{n}.json").write_text(json.dumps(r, indent=2))
            print(f"{n:,} persons: {wall:.1f} s, {r['rows']:,} rows, peak {peak:.2f} GB")


if __name__ == "__main__":
    main()
