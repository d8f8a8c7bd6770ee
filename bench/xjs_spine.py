"""Bench: the spine on the published and on the improved XJS person id, and what each gives downstream.

Usage: .venv/bin/python bench/xjs_spine.py --persons 20000 --seed 42 [--keep DIR]
Builds a population (with NDTMS), loads it, audits XJS (``bold link xjs-audit``: the improved id; also scored
without the evidence its joins need - every high-confidence model pair joining - for comparison), then for each id
builds the spine at the medium band as at 2024-12-31, links the local-authority residents (Wave 3, as the pipeline
does, ``residents_link_options``; also without those options, for comparison) and NDTMS, scores both against the
truth and runs Study 1 (probation to treatment) with its truth check.
Writes bench/results/xjs-spine-<persons>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")

    import duckdb

    from bold_prevention.linkage.wave import link_source_to_spine, residents_link_options, score_against_truth
    from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
    from bold_prevention.linkage.xjs_audit import audit_xjs
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.studies.run import run_study
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        generate(root / "pop", persons=args.persons, seed=args.seed, sources=("ndtms",))
        project = Project(root / "proj").ensure()
        load_extracts(project, root / "pop")
        print(f"population and load: {time.perf_counter() - t:.1f} s", flush=True)
        truth = root / "pop" / "truth"
        out: dict = {"persons": args.persons, "seed": args.seed}
        con = duckdb.connect(str(project.warehouse_path))
        try:
            def court(at: dict) -> dict:
                bs = at["by_source"]
                return {src: {k: bs[src][k] for k in ("xjs_medium", "improved_medium")}
                        for src in ("familyman", "civil_caseman_pcol") if src in bs}

            t = time.perf_counter()
            plain = audit_xjs(con, truth_dir=truth, write_improved=False, evidence=False)
            pa_ = plain["against_truth"]
            out["audit_every_high_join"] = {"seconds": round(time.perf_counter() - t, 1),
                                            "improved_persons": plain["improved_persons_medium"],
                                            "improved_medium": pa_["improved_medium"], "court": court(pa_)}
            t = time.perf_counter()
            rep = audit_xjs(con, truth_dir=truth)
            at = rep["against_truth"]
            out["audit"] = {"seconds": round(time.perf_counter() - t, 1), "xjs_persons": rep["xjs_persons_medium"],
                            "improved_persons": rep["improved_persons_medium"],
                            "xjs_medium": at["xjs_medium"], "improved_medium": at["improved_medium"],
                            "by_source": at["by_source"], "joins": rep["joins"]}
            for name, a in (("every high-confidence join", pa_), ("joins on tuned evidence", at)):
                c = court(a)
                print(f"improved id, {name}: P {a['improved_medium']['precision']} R "
                      f"{a['improved_medium']['recall']}; "
                      + "; ".join(f"{src} P {v['improved_medium']['precision']} R {v['improved_medium']['recall']}"
                                  for src, v in c.items()), flush=True)
            print(f"audit: XJS medium P {at['xjs_medium']['precision']} R {at['xjs_medium']['recall']}; improved "
                  f"P {at['improved_medium']['precision']} R {at['improved_medium']['recall']}", flush=True)
            load_wave_source(con, "ndtms", root / "pop")
            for xjs in ("published", "improved"):
                t = time.perf_counter()
                s = build_spine(con, as_at=date(2024, 12, 31), band="medium", link_table=xjs)
                plain_la = link_source_to_spine(con, "la_residents")
                plain_q = score_against_truth(con, "la_residents", truth)
                la = link_source_to_spine(con, "la_residents", **residents_link_options(con))
                la_q = score_against_truth(con, "la_residents", truth)
                nd = link_wave_source(con, "ndtms", truth_dir=truth)
                run = run_study(con, project, "probation_treatment", bands=(), truth=root / "pop")
                heads = {h.name: {"value": h.value, "ci95": [h.lower, h.upper], "truth": h.truth,
                                  "numerator": h.numerator, "denominator": h.denominator}
                         for h in run.result.headlines}
                out[xjs] = {"seconds": round(time.perf_counter() - t, 1), "spine_persons": s.persons,
                            "la_residents": {"linked": la.linked, **la_q,
                                             "birth_ranges": la.quality.get("birth_ranges")},
                            "la_residents_plain": {"linked": plain_la.linked, **plain_q},
                            "ndtms": nd.quality.get("overall"),
                            "study1": heads}
                h6 = heads["started_6m"]
                print(f"{xjs:9s} spine {s.persons:,} persons; Wave 3 P {la_q['precision']} R {la_q['recall']} "
                      f"F1 {la_q['f1']} (without the options: P {plain_q['precision']} R {plain_q['recall']} "
                      f"F1 {plain_q['f1']}); study 1 started within 6 months {h6['value']}% (truth "
                      f"{h6['truth']})", flush=True)
        finally:
            con.close()
    res = Path(__file__).parent / "results"
    res.mkdir(exist_ok=True)
    (res / f"xjs-spine-{args.persons}.json").write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
