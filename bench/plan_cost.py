"""How good is `bold plan cost`? Leave-one-out over the measured points it rests on.

    .venv/bin/python bench/plan_cost.py [--curves FILE]

For every stage and engine with three or more measured sizes, each size is predicted from the others alone
(interpolated between its neighbours, or extrapolated beyond them) and compared with the measured time and memory.
Results: bench/results/plan_cost.json and a table on standard output (copied into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bold_prevention.planning.cost import interpolate, load_curves

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curves", default=None)
    args = ap.parse_args()
    curves = load_curves(args.curves)
    rows = []
    for stage, c in curves.stages.items():
        for engine, pts in (("duckdb", c.duckdb), ("spark", c.spark)):
            if len(pts) < 3:
                continue
            for i, (x, t, m) in enumerate(pts):
                rest = [p for k, p in enumerate(pts) if k != i]
                pt, ext = interpolate([(p[0], p[1]) for p in rest], x)
                pm, _ = interpolate([(p[0], p[2]) for p in rest], x)
                rows.append({"stage": stage, "engine": engine, "persons": int(x), "measured_s": t,
                             "predicted_s": round(pt, 1), "time_error": round(pt / t - 1, 3), "measured_gb": m,
                             "predicted_gb": round(pm, 2), "memory_error": round(pm / m - 1, 3),
                             "basis": "extrapolated" if ext else "interpolated"})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "plan_cost.json").write_text(json.dumps(rows, indent=2))
    print("| stage | engine | persons | measured (s) | predicted (s) | error | measured GB | predicted GB | error | basis |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['stage']} | {r['engine']} | {r['persons']:,} | {r['measured_s']} | {r['predicted_s']} | "
              f"{r['time_error']:+.0%} | {r['measured_gb']} | {r['predicted_gb']} | {r['memory_error']:+.0%} | "
              f"{r['basis']} |")


if __name__ == "__main__":
    main()
