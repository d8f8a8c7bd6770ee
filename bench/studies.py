"""Bench: each shipped study of this bench's list end to end at a given size (``run_study`` at its band and its
sensitivity bands, then ``write_study_release`` through the audited release writer).

Usage: BOLD_PSEUDONYM_KEY=... .venv/bin/python bench/studies.py --persons 100000 [--studies probation_treatment ...]
Builds the world once (synthetic population with NDTMS and deaths, load, spine at the medium band, link both wave
sources; timed separately, not part of a study's time), then times each study. Writes
bench/results/studies-<persons>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

STUDIES = ("probation_treatment", "treatment_deaths")


def build_world(root: Path, persons: int) -> tuple[Path, Path, dict[str, float]]:
    import duckdb

    from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    times: dict[str, float] = {}
    t = time.perf_counter()
    generate(root / "pop", persons=persons, seed=1, sources=("ndtms", "deaths"))
    times["synth"] = time.perf_counter() - t
    project = Project(root / "proj").ensure()
    t = time.perf_counter()
    load_extracts(project, root / "pop")
    build_spine(project, as_at=date(2022, 12, 31), band="medium")
    times["load_and_spine"] = time.perf_counter() - t
    t = time.perf_counter()
    con = duckdb.connect(str(project.warehouse_path))
    try:
        for s in ("ndtms", "deaths"):
            load_wave_source(con, s, root / "pop")
            link_wave_source(con, s)
    finally:
        con.close()
    times["wave_link"] = time.perf_counter() - t
    return root / "pop", root / "proj", times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--studies", nargs="+", default=list(STUDIES))
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key-not-secret")
    import duckdb

    from bold_prevention.outputs.ledger import ReleaseLedger
    from bold_prevention.project import Project
    from bold_prevention.studies.run import run_study, write_study_release

    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pop, proj, setup = build_world(root, args.persons)
        print(f"world: {', '.join(f'{k} {v:.1f} s' for k, v in setup.items())}", flush=True)
        project = Project(proj)
        res: dict = {"persons": args.persons, "setup_seconds": {k: round(v, 1) for k, v in setup.items()},
                     "studies": {}}
        for name in args.studies:
            con = duckdb.connect(str(project.warehouse_path))
            t = time.perf_counter()
            try:
                run = run_study(con, project, name, truth=pop)
            finally:
                con.close()
            t_run = time.perf_counter() - t
            t = time.perf_counter()
            write_study_release(run, root / f"rel-{name}", ledger=ReleaseLedger(root / "ledger"))
            t_rel = time.perf_counter() - t
            hs = {h.name: {"value": h.value, "lower": h.lower, "upper": h.upper, "truth": h.truth}
                  for h in run.result.headlines}
            res["studies"][name] = {"run_seconds": round(t_run, 1), "release_seconds": round(t_rel, 1),
                                    "total_seconds": round(t_run + t_rel, 1), "bands": list(run.by_band),
                                    "headlines": hs}
            print(f"{name}: run {t_run:.1f} s (bands {', '.join(run.by_band)}), release {t_rel:.1f} s", flush=True)
        res["peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)
        (out_dir / f"studies-{args.persons}.json").write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
