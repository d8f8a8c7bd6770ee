"""Benchmark: the Wave 0 spine, a cohort build and profile, and their validity against the synthetic truth.

    .venv/bin/python bench/spine.py --persons 1000000
    .venv/bin/python bench/spine.py --persons 100000 --warehouse /tmp/proj/warehouse.duckdb --truth /tmp/synth

A synthetic population is generated (in a child process) and loaded once, cached under ``bench/results/data/``
(or an existing warehouse and synthetic folder are reused). Timed in this process:

* ``build_spine`` at the medium band (XJS person records, then spine.person and spine.person_need);
* ``build_spine`` at the high band (the band the validity targets are scored at);
* ``build_cohort`` + ``profile`` of the multiple-disadvantage cohort.

Then, at the high band, the validity checks (not timed): driver prevalence in the spine against the true latent
prevalence for people with an OASys record, and the F1 of cohort membership against the truth-based cohort; with the
shipped register, and with the register's OASys evidence replaced by the generator's documented proxy rules
(``synth.params.OASYS_PROXY_RULES``), which separates register calibration from the spine itself.

Prints and records (JSON under ``bench/results/``) wall times, rows per second, peak memory and the machine.
Targets (issue 8): spine for 1,000,000 persons under 3 minutes; a cohort build and profile under 20 s; at the high
band, every driver within 2 percentage points of the truth and cohort F1 >= 0.9.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from measure import PeakRSS, machine  # noqa: E402

AS_AT = date(2024, 12, 31)
COHORTS = ("multiple_disadvantage", "multiple_disadvantage_4plus", "hard_edges_smd2")


def prepare(persons: int, seed: int) -> tuple[Path, Path]:
    """A synthetic population and a loaded warehouse (cached)."""
    data = RESULTS / "data" / f"spine-{persons}-seed{seed}"
    synth, project = data / "synth", data / "project"
    if (synth / "manifest.json").exists() and (project / "warehouse.duckdb").exists():
        print(f"using the cached population and warehouse under {data}")
        return synth, project / "warehouse.duckdb"
    data.mkdir(parents=True, exist_ok=True)
    print(f"generating and loading {persons:,} persons into {data} ...", flush=True)
    t0 = time.perf_counter()
    code = ("import sys; from bold_prevention.synth import generate; "
            "from bold_prevention.warehouse.load import load_extracts; from bold_prevention.project import Project; "
            f"generate(sys.argv[1], persons={persons}, seed={seed}, overwrite=True); "
            "load_extracts(Project.at(sys.argv[2]), sys.argv[1] + '/extracts')")
    subprocess.run([sys.executable, "-c", code, str(synth), str(project)], check=True)
    print(f"prepared in {time.perf_counter() - t0:.1f} s")
    return synth, project / "warehouse.duckdb"


def aligned_register() -> dict:
    """The shipped register with its OASys evidence replaced by the generator's proxy rules, OASys evidence only."""
    from bold_prevention.spine.rules import register_path
    from bold_prevention.synth.params import OASYS_PROXY_RULES

    reg = copy.deepcopy(yaml.safe_load(register_path().read_text(encoding="utf-8")))
    for e in reg["entries"]:
        if e.get("kind") != "driver" or e["id"] not in OASYS_PROXY_RULES:
            continue
        expr = OASYS_PROXY_RULES[e["id"]]
        e["derivation"] = {"kind": "flag", "combine": "any", "evidence": [{
            "table": "oasys_assessments_details_core_risk", "expression": expr,
            "variables": sorted(set(re.findall(r"question_[0-9a-z_]+", expr))), "when": "latest"}]}
    return reg


def validity(con, truth: Path, label: str) -> dict:
    from bold_prevention.cohorts import build_cohort
    from bold_prevention.cohorts.validity import cohort_validity
    from bold_prevention.spine.validity import driver_validity

    out = {"register": label, "drivers": {}, "cohorts": {}}
    for pop in ("oasys", "oasys_full"):
        rows = driver_validity(con, truth, population=pop).to_pylist()
        out["drivers"][pop] = rows
        for c in COHORTS:
            build_cohort(con, c)
            out["cohorts"].setdefault(c, {})[pop] = cohort_validity(con, c, truth, population=pop)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--warehouse", type=Path, help="reuse this warehouse (loaded from --truth's extracts)")
    ap.add_argument("--truth", type=Path, help="the synthetic output folder the warehouse was loaded from")
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")
    if args.warehouse:
        synth, wh = args.truth, args.warehouse
    else:
        synth, wh = prepare(args.persons, args.seed)

    import duckdb

    from bold_prevention.cohorts import build_cohort, profile
    from bold_prevention.spine import build_spine

    con = duckdb.connect(str(wh))
    extract_rows = sum(con.execute(f"SELECT COUNT(*) FROM extract.{t}").fetchall()[0][0] for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'extract'").fetchall())
    con.execute("DROP TABLE IF EXISTS spine.person_record_info")  # time the person-record join too
    res: dict = {"persons": args.persons, "extract_rows": extract_rows, "as_at": AS_AT.isoformat(),
                 "machine": machine(), "when": datetime.now(UTC).isoformat(timespec="seconds")}
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        med = build_spine(con, as_at=AS_AT, band="medium")
        res["spine_medium_s"] = time.perf_counter() - t0
        res["spine_persons_medium"] = med.persons
        res["person_records"] = con.execute("SELECT COUNT(*) FROM spine.person_record").fetchall()[0][0]
        print(f"spine (medium): {med.persons:,} persons from {extract_rows:,} extract rows in "
              f"{res['spine_medium_s']:.1f} s", flush=True)
        t0 = time.perf_counter()
        high = build_spine(con, as_at=AS_AT, band="high")
        res["spine_high_s"] = time.perf_counter() - t0
        res["spine_persons_high"] = high.persons
        print(f"spine (high): {high.persons:,} persons in {res['spine_high_s']:.1f} s", flush=True)
        t0 = time.perf_counter()
        c = build_cohort(con, "multiple_disadvantage")
        t1 = time.perf_counter()
        profile(con, "multiple_disadvantage")
        res["cohort_build_s"], res["cohort_profile_s"] = t1 - t0, time.perf_counter() - t1
        res["cohort_persons"] = c.persons
        print(f"cohort multiple_disadvantage: {c.persons:,} persons; build {res['cohort_build_s']:.2f} s, "
              f"profile {res['cohort_profile_s']:.2f} s", flush=True)
    res["peak_rss_gb"] = peak.peak / 2**30
    res["rows_per_s_medium"] = extract_rows / res["spine_medium_s"]
    if synth is not None and (Path(synth) / "truth").exists():
        res["validity_shipped"] = validity(con, Path(synth), "shipped register")
        build_spine(con, as_at=AS_AT, band="high", register=aligned_register())
        res["validity_aligned"] = validity(con, Path(synth), "OASys proxy rules of the generator")
        build_spine(con, as_at=AS_AT, band="high")
        for key in ("validity_shipped", "validity_aligned"):
            v = res[key]
            print(f"\nvalidity at the high band, {v['register']}:")
            for pop in ("oasys", "oasys_full"):
                worst = max(abs(r["difference_pp"]) for r in v["drivers"][pop])
                within = sum(abs(r["difference_pp"]) <= 2 for r in v["drivers"][pop])
                print(f"  population {pop}: {within}/{len(v['drivers'][pop])} drivers within 2 pp (worst "
                      f"{worst:.1f} pp); " + ", ".join(f"{r['driver']} {r['difference_pp']:+.1f}"
                                                       for r in v["drivers"][pop]))
                print("    F1: " + ", ".join(f"{c} {v['cohorts'][c][pop]['f1']:.3f}" for c in COHORTS))
    con.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"spine-{args.persons}.json"
    path.write_text(json.dumps(res, indent=2, default=str))
    print(f"\nspine (medium) {res['spine_medium_s']:.1f} s (target 180 s); cohort build + profile "
          f"{res['cohort_build_s'] + res['cohort_profile_s']:.2f} s (target 20 s); peak memory "
          f"{res['peak_rss_gb']:.2f} GB; {res['rows_per_s_medium']:,.0f} extract rows/s")
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
