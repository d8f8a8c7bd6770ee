"""Benchmark of `bold demo`: the whole Step A pipeline at the default size (target: under 10 minutes on a 2-core,
24 GB machine).

Runs the demo in a child process (as a user would), records wall time, the peak resident memory of the process
tree, each stage's time (from the project's ``reports/pipeline.json``) and the machine.

    .venv/bin/python bench/demo.py [--persons 50000] [--out /tmp/bold-demo-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from measure import PeakRSS, machine

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bold-demo-bench"))
    a = ap.parse_args()
    env = {**os.environ, "BOLD_PSEUDONYM_KEY": os.environ.get("BOLD_PSEUDONYM_KEY", "bench-only-key")}
    cmd = [str(ROOT / ".venv" / "bin" / "bold"), "demo", "--out", str(a.out), "--persons", str(a.persons),
           "--overwrite"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with PeakRSS(proc.pid, children=True, interval=0.1) as mem:
        proc.wait()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"bold demo failed with exit code {proc.returncode}")
    summary = json.loads((a.out / "reports" / "pipeline.json").read_text())
    result = {
        "persons": a.persons, "wall_s": round(wall, 1), "peak_rss_gb": round(mem.peak / 1e9, 2),
        "stages_s": summary["timings"], "machine": machine(),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"demo-{a.persons}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
