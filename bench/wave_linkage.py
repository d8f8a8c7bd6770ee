"""Bench: ``bold link wave`` quality against the synthetic truth, every Wave 1-2 source in turn.

Usage: .venv/bin/python bench/wave_linkage.py --persons 3000 --seed 7 [--sources npd dwp hmrc hes deaths ndtms]
        [--keep DIR]
Builds a population with the sources, loads it, builds the spine at the medium band (as at 2024-12-31), then
loads and links each source with its truth; prints precision, recall and F1 at each band, and F1 at the medium
band by sex, age band and ethnic group (groups with at least 20 findable records), and writes
bench/results/wave-linkage-<persons>.json (``by_medium``: every group). ``--keep DIR`` keeps the population and
warehouse there.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

ALL = ("npd", "dwp", "hmrc", "hes", "deaths", "ndtms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sources", nargs="+", default=list(ALL))
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")

    import duckdb

    from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        generate(root / "pop", persons=args.persons, seed=args.seed, sources=tuple(args.sources))
        project = Project(root / "proj").ensure()
        load_extracts(project, root / "pop")
        build_spine(project, as_at=date(2024, 12, 31), band="medium")
        print(f"population, load and spine: {time.perf_counter() - t:.1f} s")
        results = {}
        con = duckdb.connect(str(project.warehouse_path))
        try:
            for s in args.sources:
                t = time.perf_counter()
                load_wave_source(con, s, root / "pop")
                r = link_wave_source(con, s, truth_dir=root / "pop" / "truth")
                bands = r.quality["bands"]
                results[s] = {"seconds": round(time.perf_counter() - t, 1), "records": r.records,
                              "bands": bands, "overall": r.quality["overall"],
                              "by_medium": r.quality["by"]["medium"], "refused": r.refused,
                              "evidence": r.evidence, "borrowed": r.borrowed}
                print(f"{s:7s} {r.records:6,} records {results[s]['seconds']:6.1f} s  " + "  ".join(
                    f"{b}: P {v['precision']} R {v['recall']} F1 {v['f1']}" for b, v in bands.items()))
                print("        by group at medium (F1, findable): " + "; ".join(
                    f"{g}: " + ", ".join(f"{k} {v['f1']} ({v['findable']})" for k, v in groups.items()
                                         if v["findable"] >= 20)
                    for g, groups in r.quality["by"]["medium"].items()))
        finally:
            con.close()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"wave-linkage-{args.persons}.json").write_text(json.dumps(
        {"persons": args.persons, "seed": args.seed, "sources": results}, indent=2))


if __name__ == "__main__":
    main()
