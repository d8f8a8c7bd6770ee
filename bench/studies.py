"""Bench: every shipped study end to end at a given size (``run_study`` at its band and its sensitivity bands, then
``write_study_release`` through the audited release writer, all five releases into one ledger).

Usage: BOLD_PSEUDONYM_KEY=... .venv/bin/python bench/studies.py --persons 100000 [--studies probation_treatment ...]
       [--world DIR] [--xjs-audit]
Builds the world once (synthetic population, seed 1, with the sources the five studies need: NDTMS, deaths, NPD,
HMRC Child Benefit and the victims' support service; load, spine at the medium band, link each wave source and the
local-authority residents, relate children; timed separately, not part of a study's time), then times each study.
``--world DIR`` keeps the world in DIR and reuses it when DIR already holds one (the set-up times are then those
recorded when it was built). A reused world linked before the wave linkage kept its link candidates
(``spine.link_candidates``) has its NDTMS, deaths and support links redone first (timed as ``relink_<source>``).
``--xjs-audit`` times the XJS audit (``bold link xjs-audit``: the improved person id
that Study 1 uses when the project has it) as part of the world, once. Writes bench/results/studies-<persons>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

STUDIES = ("probation_treatment", "treatment_deaths", "prison_leavers_housing", "children_parent_prison",
           "victims_support")
SOURCES = ("ndtms", "deaths", "npd", "hmrc", "support")
AS_AT = date(2022, 12, 31)
#: Wave sources whose missed links the headline intervals carry (Study 1: NDTMS, Study 4: deaths, Study 5: support).
RECALL_SOURCES = ("ndtms", "deaths", "support")


@contextmanager
def timed(times: dict[str, float], key: str):
    """Record the seconds the block takes as ``times[key]``."""
    t = time.perf_counter()
    yield
    times[key] = time.perf_counter() - t


def build_world(root: Path, persons: int, xjs_audit: bool = False) -> tuple[Path, Path, dict[str, float]]:
    """(population, project, set-up seconds by step) of a world in ``root``, built unless ``root`` holds one."""
    import duckdb

    from bold_prevention.linkage.wave import link_source_to_spine
    from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.spine.children import build_children
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    done = root / "world.json"
    times: dict[str, float] = json.loads(done.read_text()) if done.exists() else {}
    if not done.exists():
        with timed(times, "synth"):
            generate(root / "pop", persons=persons, seed=1, sources=SOURCES, overwrite=True)
        project = Project(root / "proj").ensure()
        with timed(times, "load_and_spine"):
            load_extracts(project, root / "pop")
            build_spine(project, as_at=AS_AT, band="medium")
        con = duckdb.connect(str(project.warehouse_path))
        try:
            for s in SOURCES:
                with timed(times, f"wave_link_{s}"):
                    load_wave_source(con, s, root / "pop")
                    link_wave_source(con, s)
                print(f"  linked {s}: {times[f'wave_link_{s}']:.1f} s", flush=True)
            with timed(times, "link_la_residents"):
                link_source_to_spine(con, "la_residents")
            with timed(times, "children"):
                build_children(con)
        finally:
            con.close()
        done.write_text(json.dumps(times))
    # a world linked before the wave linkage kept each record's best candidate (spine.link_candidates, which the
    # studies' missed-link term reads): relink the sources whose links the headlines need
    con = duckdb.connect(str(Project(root / "proj").warehouse_path))
    try:
        from bold_prevention.linkage.wave import LINK_CANDIDATES
        from bold_prevention.linkage.wave_link import link_wave_source, source_of
        from bold_prevention.warehouse.engine import table_exists

        have = (set() if not table_exists(con, *LINK_CANDIDATES.split(".")) else
                {r[0] for r in con.execute(f"select distinct source_table from {LINK_CANDIDATES}").fetchall()})
        for s in RECALL_SOURCES:
            if source_of(s).person_table not in have:
                with timed(times, f"relink_{s}"):
                    link_wave_source(con, s)
                print(f"  relinked {s} (link candidates): {times[f'relink_{s}']:.1f} s", flush=True)
    finally:
        con.close()
    done.write_text(json.dumps(times))
    if xjs_audit and "xjs_audit" not in times:
        from bold_prevention.linkage.xjs_audit import audit_xjs

        con = duckdb.connect(str(Project(root / "proj").warehouse_path))
        try:
            with timed(times, "xjs_audit"):
                audit_xjs(con)
        finally:
            con.close()
        done.write_text(json.dumps(times))
    return root / "pop", root / "proj", times


def run_all(root: Path, args) -> dict:
    import duckdb

    from bold_prevention.outputs.ledger import ReleaseLedger
    from bold_prevention.project import Project
    from bold_prevention.studies.run import run_study, write_study_release

    t = time.perf_counter()
    pop, proj, setup = build_world(root, args.persons, args.xjs_audit)
    print(f"world ({time.perf_counter() - t:.1f} s now): {', '.join(f'{k} {v:.1f} s' for k, v in setup.items())}",
          flush=True)
    project = Project(proj)
    res: dict = {"persons": args.persons, "setup_seconds": {k: round(v, 1) for k, v in setup.items()},
                 "studies": {}}
    out = Path(tempfile.mkdtemp(prefix="releases-", dir=root))
    ledger = ReleaseLedger(out / "ledger")
    for name in args.studies:
        con = duckdb.connect(str(project.warehouse_path), read_only=True)
        t = time.perf_counter()
        try:
            run = run_study(con, project, name, truth=pop)
        finally:
            con.close()
        t_run = time.perf_counter() - t
        t = time.perf_counter()
        write_study_release(run, out / f"rel-{name}", ledger=ledger)
        t_rel = time.perf_counter() - t
        hs = {h.name: {"value": h.value, "lower": h.lower, "upper": h.upper, "truth": h.truth,
                       "recovers_truth": h.recovers_truth} for h in run.result.headlines}
        for h in run.result.headlines:
            print(f"  {h.name}: {h.value} ({h.lower} to {h.upper}), truth {h.truth}: "
                  f"{'covered' if h.recovers_truth else 'NOT covered' if h.recovers_truth is False else '-'}")
        res["studies"][name] = {"run_seconds": round(t_run, 1), "release_seconds": round(t_rel, 1),
                                "total_seconds": round(t_run + t_rel, 1), "bands": list(run.by_band),
                                "outputs": len(run.result.outputs), "headlines": hs}
        missed = [k for k, h in hs.items() if h["recovers_truth"] is False]
        print(f"{name}: run {t_run:.1f} s (bands {', '.join(run.by_band)}), release {t_rel:.1f} s; truth outside "
              f"the interval: {', '.join(missed) or 'none'}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--studies", nargs="+", default=list(STUDIES))
    ap.add_argument("--world", type=Path, default=None, help="keep (or reuse) the world in this folder")
    ap.add_argument("--xjs-audit", action="store_true", help="run and time the XJS audit as part of the world")
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key-not-secret")
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    if args.world is not None:
        args.world.mkdir(parents=True, exist_ok=True)
        res = run_all(args.world, args)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            res = run_all(Path(tmp), args)
    res["peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)
    res["load_average"] = os.getloadavg()
    (out_dir / f"studies-{args.persons}.json").write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
