"""Bench: the XJS audit (``bold link xjs-audit``) on a loaded world, with its time per phase.

Usage: .venv/bin/python bench/xjs_audit.py --world DIR [--modes default,contradictions] [--memory-limit 8GB]
``DIR`` holds ``proj/warehouse.duckdb`` (a loaded project) and ``pop/truth`` (the synthetic truth), as the worlds
``bench/xjs_spine.py --keep DIR`` leaves. The warehouse is copied to a temporary folder first (the audit writes the
improved id into it). At 500,000 persons or more run it under the shared lock:
``flock /tmp/bench1m.lock .venv/bin/python bench/xjs_audit.py --world /tmp/w1m``.
Writes bench/results/xjs-audit-<world folder name>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

MODES = {"default": {}, "contradictions": {"split": "contradictions"}, "split": {"split": True},
         "every_high_join": {"evidence": False}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=Path, required=True)
    ap.add_argument("--modes", default="default")
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory limit of the warehouse connection")
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")

    import duckdb

    from bold_prevention.linkage.xjs_audit import audit_xjs

    truth = args.world / "pop" / "truth"
    out: dict = {"world": str(args.world), "load_average_before": os.getloadavg(), "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        shutil.copy(args.world / "proj" / "warehouse.duckdb", db)
        con = duckdb.connect(str(db))
        if args.memory_limit:
            con.execute(f"SET memory_limit = '{args.memory_limit}'")
        out["records"] = con.execute("select count(*) from extract.xjs_link").fetchall()[0][0]
        try:
            for mode in args.modes.split(","):
                t = time.perf_counter()
                rep = audit_xjs(con, truth_dir=truth, write_improved=mode == "default",
                                progress=lambda m, t=t: print(f"{time.perf_counter() - t:7.1f} s  {m}", flush=True),
                                **MODES[mode])
                at = rep["against_truth"]
                out["modes"][mode] = {
                    "seconds": round(time.perf_counter() - t, 1), "timings_s": rep["timings_s"],
                    "identities": rep["identities"], "pairs_by_band": rep["model"]["pairs_by_band"],
                    "xjs_persons_medium": rep["xjs_persons_medium"],
                    "improved_persons_medium": rep["improved_persons_medium"], "splits": rep["splits"],
                    "merges": rep["merges"],
                    "truth": {k: at[k] for k in ("xjs_medium", "model_medium", "improved_medium")}}
                print(f"{mode}: {out['modes'][mode]['seconds']} s; {rep['timings_s']}", flush=True)
        finally:
            con.close()
    out["load_average_after"] = os.getloadavg()
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2)
    path = Path(__file__).parent / "results" / f"xjs-audit-{args.world.name}.json"
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "modes"}), "->", path)


if __name__ == "__main__":
    main()
