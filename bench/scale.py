"""Benchmark: DuckDB and Spark (local mode) side by side - dedupe linkage, the spine build, incremental linkage.

    .venv/bin/python bench/scale.py --persons 100000                 # both engines, spine and dedupe
    .venv/bin/python bench/scale.py --persons 1000000 --jobs spine dedupe incremental
    .venv/bin/python bench/scale.py --persons 5000000 --engines duckdb

For each size a synthetic population is generated (seed 1), loaded and checked into a DuckDB warehouse and
exported as the Parquet warehouse Spark reads; all three are cached under ``bench/results/data/scale-<N>/``.
"Records" are the Data First person-level records: the XJS person records the spine joins (``extract.xjs_link``)
and the justice identity records the dedupe links (``linkage.identity_<table>`` of the seven person tables); a
synthetic population of N persons gives about N of each.

Each job runs in a fresh child process per engine, so that the process tree's peak resident memory (sampled with
psutil every 0.2 s: Python, DuckDB, the Spark JVM and Spark's Python workers) is that job's alone:

* ``spine``: ``build_spine`` from the loaded extracts (XJS person records, then every spine step), shipped register;
* ``dedupe``: standardise the identity records, score candidate pairs with the saved Splink model, hard non-match
  guards, clusters at three bands, written to the warehouse (the model is trained once, on DuckDB, and saved; its
  training time is recorded separately);
* ``accuracy`` (DuckDB, after ``dedupe``): pairwise precision, recall and F1 at each band of the clusters written,
  against the synthetic truth;
* ``incremental`` (one size): the population minus a random 1% of its identity records is linked and clustered;
  the 1% then arrive as a new snapshot and are linked with ``predict_between`` / ``predict_within`` and a
  cluster update, against a full relink of everything.

``--blocking large`` applies the blocking rules of large jobs (above ``LARGE_BLOCKING_MIN_RECORDS``) at any size,
to compare their pairs and accuracy with the usual rules on the same population.

Spark runs ``local[2]`` (this machine's cores) with its session start-up timed apart. Results: JSON under
``bench/results/scale-<N>.json``, and a table printed for ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psutil

from measure import PeakRSS, java_version, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = RESULTS / "data"
AS_AT = date(2024, 12, 31)
SNAPSHOT = "2025-01-31"
SEED = 1
os.environ.setdefault("BOLD_PSEUDONYM_KEY", "benchmark-only-pseudonym-key")


# ------------------------------------------------------------------------------------------------ measuring
def _pyspark_version() -> str | None:
    try:
        import pyspark
    except ImportError:
        return None
    return pyspark.__version__


# ------------------------------------------------------------------------------------------------ data
def folder(persons: int) -> Path:
    return DATA / f"scale-{persons}"


#: Populations above this size are composed of several generated populations of this size.
COMPOSE_ABOVE = 1_000_000


def _generate(out: Path, persons: int, seed: int) -> None:
    if (out / "manifest.json").exists():
        return
    print(f"generating {persons:,} persons (seed {seed}) ...", flush=True)
    code = ("import sys; from bold_prevention.synth import generate; "
            f"generate(sys.argv[1], persons={persons}, seed={seed}, fmt='parquet', overwrite=True)")
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)


def prepare(persons: int) -> dict:
    """Generate, load and export the population of ``persons`` (cached); returns the preparation timings."""
    base = folder(persons)
    base.mkdir(parents=True, exist_ok=True)
    info_path = base / "prepare.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    synth = base / "synth"
    project = base / "project"
    if persons > COMPOSE_ABOVE and not (synth / "extracts").is_dir():
        # Larger populations are composed of independent populations of COMPOSE_ABOVE persons (seeds 1, 2, ...):
        # every id is salted with the seed, so their records never collide; the loader reads each table's parts.
        k = -(-persons // COMPOSE_ABOVE)
        t0 = time.perf_counter()
        parts = []
        for i in range(k):
            part = DATA / f"scale-{COMPOSE_ABOVE}" / "synth" if i == 0 else base / f"part-{i + 1}"
            _generate(part, COMPOSE_ABOVE, SEED + i)
            parts.append(part)
        tmp = base / "synth.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "extracts").mkdir(parents=True)
        for i, part in enumerate(parts, start=1):
            for f in sorted((part / "extracts").glob("*.parquet")):
                os.link(f, tmp / "extracts" / f"{f.stem}_{i:02d}.parquet")
        tmp.rename(synth)
        info["synth_s"] = round(time.perf_counter() - t0, 1)
        info["composed_of"] = [f"{COMPOSE_ABOVE:,} persons, seed {SEED + i}" for i in range(k)]
    elif not (synth / "manifest.json").exists() and not (synth / "extracts").is_dir():
        t0 = time.perf_counter()
        _generate(synth, persons, SEED)
        info["synth_s"] = round(time.perf_counter() - t0, 1)
    if not (project / "warehouse.duckdb").exists():
        print("loading and checking ...", flush=True)
        t0 = time.perf_counter()
        code = ("import sys; from bold_prevention.warehouse.load import load_extracts; "
                f"load_extracts(sys.argv[1], sys.argv[2], snapshot_date={SNAPSHOT!r}, write_report=False)")
        subprocess.run([sys.executable, "-c", code, str(project), str(synth)], check=True)
        info["load_s"] = round(time.perf_counter() - t0, 1)
    from bold_prevention.warehouse.spark import check_parquet_warehouse

    try:
        check_parquet_warehouse(project / "parquet", create=False)
        fresh = (project / "parquet" / "extract.db").is_dir()
    except Exception:  # noqa: BLE001 - another schema version: export again
        fresh = False
    if not fresh:
        print("exporting the warehouse as Parquet ...", flush=True)
        from bold_prevention.scale.export import export_warehouse_to_parquet

        t0 = time.perf_counter()
        res = export_warehouse_to_parquet(project, overwrite=True)
        info["export_s"] = round(time.perf_counter() - t0, 1)
        info["export_rows"] = res.rows
    import duckdb

    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        info["xjs_records"] = con.execute("SELECT COUNT(*) FROM extract.xjs_link").fetchone()[0]
        from bold_prevention.datafirst import MODEL

        info["identity_records"] = sum(
            con.execute(f"SELECT COUNT(*) FROM linkage.identity_{t.name}").fetchone()[0] for t in MODEL.xjs_tables())
        info["extract_rows"] = sum(
            con.execute(f'SELECT COUNT(*) FROM extract."{t}"').fetchone()[0] for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'extract'").fetchall())
    finally:
        con.close()
    info_path.write_text(json.dumps(info, indent=2))
    return info


# ------------------------------------------------------------------------------------------------ jobs (child)
def _open(persons: int, engine: str):
    from bold_prevention.warehouse import open_warehouse

    t0 = time.perf_counter()
    wh = open_warehouse(folder(persons) / "project", engine, spark_master=SPARK_MASTER,
                        partitions=_partitions(persons))
    return wh, time.perf_counter() - t0


def _chunks() -> tuple[int, int] | None:
    """Prediction chunks for the dedupe jobs (``--chunks N``: N x N; passed to the worker in the environment)."""
    n = int(os.environ.get("BOLD_BENCH_CHUNKS", "0") or 0)
    return (n, n) if n > 1 else None


_T0 = time.perf_counter()


def _progress(message: str) -> None:
    """A job's stage, with the seconds since the worker started, on stderr: a job stopped by ``--timeout`` is
    recorded with the stages it reached."""
    print(f"STAGE {time.perf_counter() - _T0:.0f}s {message}", file=sys.stderr, flush=True)


def _partitions(persons: int) -> int:
    return 8 if persons <= 1_000_000 else 32


def job_spine(persons: int, engine: str) -> dict:
    from bold_prevention.spine import build_spine

    wh, open_s = _open(persons, engine)
    try:
        t0 = time.perf_counter()
        res = build_spine(wh.con, as_at=AS_AT, rebuild_records=True)
        return {"open_s": open_s, "seconds": time.perf_counter() - t0, "spine_persons": res.persons,
                "need_rows": res.needs_rows}
    finally:
        wh.close()


def job_train(persons: int, engine: str) -> dict:
    from bold_prevention.scale.linkage import dedupe_justice_records

    wh, open_s = _open(persons, engine)
    try:
        t0 = time.perf_counter()
        res = dedupe_justice_records(wh, model_path=model_path(persons), train=True)
        return {"open_s": open_s, "seconds": time.perf_counter() - t0, "stages_s": res.seconds,
                "records": res.records, "pairs": res.pairs, "clusters": res.clusters}
    finally:
        wh.close()


def job_dedupe(persons: int, engine: str) -> dict:
    from bold_prevention.scale.linkage import dedupe_justice_records

    wh, open_s = _open(persons, engine)
    chunks = _chunks()
    try:
        t0 = time.perf_counter()
        res = dedupe_justice_records(wh, model_path=model_path(persons), train=False, chunks=chunks,
                                     progress=_progress)
        return {"open_s": open_s, "seconds": time.perf_counter() - t0, "stages_s": res.seconds,
                "records": res.records, "pairs": res.pairs, "excluded": res.excluded, "clusters": res.clusters,
                "chunks": list(chunks) if chunks else None}
    finally:
        wh.close()


def job_incremental(persons: int, engine: str) -> dict:
    """Existing population (all but 1% of the standardised identity records, linked and clustered first, not
    timed); then, timed, the 1% linked incrementally, and everything relinked."""
    from bold_prevention.linkage.splink_model import BANDS, LinkageModel, Thresholds, read_model
    from bold_prevention.scale.incremental import link_new_records
    from bold_prevention.scale.linkage import JUSTICE_ROLES, _api_dialect, linkage_backend, model_for_backend

    wh, open_s = _open(persons, engine)
    try:
        with linkage_backend(wh) as api:
            settings = model_for_backend(read_model(model_path(persons)), _api_dialect(api))
            split = "abs(hash(unique_id)) % 100 = 0"
            if wh.is_spark:
                from pyspark.sql import functions as F

                std = wh.con.spark.table("linkage.justice_standardised").withColumn(
                    "_new", F.abs(F.xxhash64("unique_id")) % 100 == 0)
                new = std.filter("_new").drop("_new").localCheckpoint(eager=True)
                existing = std.filter("NOT _new").drop("_new").localCheckpoint(eager=True)
                count = lambda df: df.count()  # noqa: E731
            else:
                std = wh.con.sql("SELECT * FROM linkage.justice_standardised").to_arrow_table()
                api.duckdb_con.register("_std", std)
                new = api.duckdb_con.sql(f"SELECT * FROM _std WHERE {split}").to_arrow_table()
                existing = api.duckdb_con.sql(f"SELECT * FROM _std WHERE NOT ({split})").to_arrow_table()
                count = lambda t: t.num_rows  # noqa: E731
            thresholds = Thresholds()
            # the existing linked population (setup, not timed)
            t0 = time.perf_counter()
            old = LinkageModel([existing], names=["justice"], roles=JUSTICE_ROLES, link_type="dedupe_only", db_api=api,
                               settings=settings)
            kept, _ = old.apply_guards(old.predict(threshold=0.01))
            cl = old.cluster(kept, thresholds, compact=True)
            joins = " ".join(f"JOIN {cl[b].physical_name} c_{b} ON c_{b}.unique_id = c_high.unique_id"
                             for b in BANDS[1:])
            clusters_sql = ("SELECT c_high.unique_id AS record_id, "
                            + ", ".join(f"c_{b}.cluster_id AS cluster_{b}" for b in BANDS)
                            + f" FROM {cl['high'].physical_name} c_high {joins}")
            from bold_prevention.scale.linkage import _query

            existing_clusters = _query(api, clusters_sql).physical_name
            setup_s = time.perf_counter() - t0
            # incremental: the new 1% against the existing population
            t0 = time.perf_counter()
            run, _out = link_new_records(api, settings, existing, new, existing_clusters, thresholds=thresholds)
            incremental_s = time.perf_counter() - t0
            # full relink of everything
            t0 = time.perf_counter()
            everything = std.drop("_new") if wh.is_spark else std
            full = LinkageModel([everything], names=["justice"], roles=JUSTICE_ROLES, link_type="dedupe_only",
                                db_api=api, settings=settings)
            kept, _ = full.apply_guards(full.predict(threshold=0.01))
            full.cluster(kept, thresholds, compact=True)
            full_s = time.perf_counter() - t0
            return {"open_s": open_s, "existing": count(existing), "new": count(new), "setup_s": setup_s,
                    "incremental_s": incremental_s, "incremental_stages_s": run.seconds,
                    "incremental_pairs": run.pairs, "joined_existing": run.joined_existing,
                    "merged_clusters": run.merged_clusters, "full_relink_s": full_s,
                    "ratio": incremental_s / full_s}
    finally:
        wh.close()


def job_dedupe_jar(persons: int, engine: str) -> dict:
    """``dedupe`` with the Scala similarity functions of Splink's jar (no Python workers; Jaro-Winkler differs
    slightly from DuckDB's, so pairs and clusters may differ a little)."""
    from bold_prevention.scale.linkage import dedupe_justice_records

    if engine != "spark":
        raise SystemExit("dedupe_jar is a Spark job")
    wh, open_s = _open(persons, engine)
    try:
        t0 = time.perf_counter()
        res = dedupe_justice_records(wh, model_path=model_path(persons), train=False, similarity="jar",
                                     chunks=_chunks(), progress=_progress)
        return {"open_s": open_s, "seconds": time.perf_counter() - t0, "stages_s": res.seconds,
                "records": res.records, "pairs": res.pairs, "excluded": res.excluded, "clusters": res.clusters}
    finally:
        wh.close()


#: DuckDB memory limit for Splink's scratch database in the benchmark (it spills to disk beyond it).
DUCKDB_MEMORY_LIMIT = "8GB"

def job_accuracy(persons: int, engine: str) -> dict:
    """Pairwise precision, recall and F1 at each band of the clusters the last dedupe wrote
    (``linkage.justice_clusters``), against the synthetic truth (record -> person), over the records the truth
    covers. Run it after ``dedupe`` (DuckDB)."""
    import duckdb

    from bold_prevention.linkage.splink_model import BANDS

    if engine != "duckdb":
        raise SystemExit("accuracy reads the DuckDB warehouse")
    parts = [folder(persons)] + ([folder(COMPOSE_ABOVE) / "synth"] if persons > COMPOSE_ABOVE else [])
    truths = sorted(str(t) for part in parts for t in part.glob("**/truth/truth_record.parquet"))
    con = duckdb.connect(str(folder(persons) / "project" / "warehouse.duckdb"), read_only=True)
    try:
        # person ids restart in each part of a composed population (record ids are salted with the seed)
        con.execute(f"""CREATE TEMP TABLE t AS SELECT c.*, tr.filename || ':' || tr.person_id AS person_id
                        FROM linkage.justice_clusters c JOIN read_parquet({truths!r}, filename = true) tr
                        ON c.record_id = tr."table" || ':' || tr.record_id""")

        def pairs(*keys: str) -> int:
            cols = ", ".join(keys)
            return int(con.sql(f"SELECT COALESCE(SUM(n * (n - 1) / 2), 0) FROM "
                               f"(SELECT COUNT(*) AS n FROM t GROUP BY {cols})").fetchall()[0][0])

        true_pairs = pairs("person_id")
        out = {"records": int(con.sql("SELECT COUNT(*) FROM t").fetchall()[0][0]), "true_pairs": true_pairs}
        for b in BANDS:
            tp, predicted = pairs(f"cluster_{b}", "person_id"), pairs(f"cluster_{b}")
            p, r = tp / predicted if predicted else 0.0, tp / true_pairs if true_pairs else 0.0
            out[b] = {"precision": round(p, 4), "recall": round(r, 4),
                      "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0, "predicted_pairs": predicted}
        return out
    finally:
        con.close()


JOBS = {"spine": job_spine, "train": job_train, "dedupe": job_dedupe, "dedupe_jar": job_dedupe_jar,
        "incremental": job_incremental, "accuracy": job_accuracy}
SPARK_MASTER = os.environ.get("BOLD_BENCH_SPARK_MASTER", "local[2]")


def model_path(persons: int) -> Path:
    return folder(persons) / "project" / "models" / "justice_dedupe.json"


def worker(job: str, persons: int, engine: str) -> None:
    import logging

    logging.getLogger("splink").setLevel(logging.ERROR)
    if os.environ.get("BOLD_BENCH_BLOCKING") == "large":  # the large-job blocking rules at any size
        from bold_prevention.linkage import blocking

        blocking.LARGE_BLOCKING_MIN_RECORDS = 0
    res = JOBS[job](persons, engine)
    print("RESULT " + json.dumps(res, default=str), flush=True)


# ------------------------------------------------------------------------------------------------ driver
def run_job(job: str, persons: int, engine: str, timeout: float) -> dict:
    """Run one job in a child process, sampling the process tree's memory."""
    env = dict(os.environ)
    if persons >= 1_000_000:
        env.setdefault("BOLD_SPARK_DRIVER_MEMORY", "10g")
    env.setdefault("BOLD_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--worker", job, str(persons), engine],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with PeakRSS(proc.pid, children=True, interval=0.2) as mem:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in psutil.Process(proc.pid).children(recursive=True):
                p.kill()
            proc.kill()
            stdout, stderr = proc.communicate()
            return {"job": job, "persons": persons, "engine": engine, "status": "timeout",
                    "timeout_s": timeout, "peak_rss_gb": round(mem.peak / 2**30, 2),
                    "reached": [ln[len("STAGE "):] for ln in stderr.splitlines() if ln.startswith("STAGE ")]}
    wall = time.perf_counter() - t0
    line = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        return {"job": job, "persons": persons, "engine": engine, "status": "failed", "error": tail,
                "process_s": round(wall, 1), "peak_rss_gb": round(mem.peak / 2**30, 2)}
    res = json.loads(line[-1][len("RESULT "):])
    res.update({"job": job, "persons": persons, "engine": engine, "status": "ok", "process_s": round(wall, 1),
                "peak_rss_gb": round(mem.peak / 2**30, 2)})
    return res


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")


def table(results: list[dict]) -> str:
    lines = ["| records | job | engine | open (s) | wall (s) | peak memory (GB) | Spark / DuckDB | result |",
             "|---|---|---|---|---|---|---|---|"]
    by = {(r["persons"], r["job"], r.get("blocking", "auto"), r["engine"]): r for r in results}
    for r in results:
        if r["job"] in ("incremental", "accuracy"):
            continue
        other = by.get((r["persons"], r["job"], r.get("blocking", "auto"), "duckdb"))
        ratio = (r["seconds"] / other["seconds"] if r["engine"] == "spark" and other and r.get("status") == "ok"
                 and other.get("status") == "ok" else None)
        if r.get("status") != "ok":
            result = r.get("status")
        elif r["job"] == "incremental":
            continue
        elif r["job"] == "spine":
            result = f"{r['spine_persons']:,} persons"
        else:
            result = f"{r.get('pairs', 0):,} pairs, {r.get('clusters', {}).get('medium', 0):,} persons (medium)"
        job = r["job"] + (" (large-job blocking)" if r.get("blocking", "auto") == "large" else "")
        lines.append(f"| {r.get('records', r['persons']):,} | {job} | {r['engine']} | {_fmt(r.get('open_s'))} | "
                     f"{_fmt(r.get('seconds'))} | {_fmt(r.get('peak_rss_gb'))} | "
                     f"{'-' if ratio is None else f'{ratio:.1f}x'} | {result} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--jobs", nargs="+", default=["spine", "dedupe"], choices=list(JOBS))
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per job and engine")
    ap.add_argument("--prepare-only", action="store_true", help="only generate, load and export the data")
    ap.add_argument("--blocking", choices=["auto", "large"], default="auto",
                    help="auto: the blocking rules for each job's size; large: the large-job rules at any size")
    ap.add_argument("--chunks", type=int, default=0,
                    help="score the dedupe's pairs in N x N chunks (Splink's num_chunks_left/right), to bound the "
                         "memory and disk one scoring step needs")
    ap.add_argument("--worker", nargs=3, metavar=("JOB", "PERSONS", "ENGINE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.chunks > 1:
        os.environ["BOLD_BENCH_CHUNKS"] = str(args.chunks)
    if args.blocking == "large":
        os.environ["BOLD_BENCH_BLOCKING"] = "large"
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.worker[2])
        return 0
    for n in args.persons:
        info = prepare(n)
        print(json.dumps(info, indent=2), flush=True)
        if args.prepare_only:
            continue
        out_path = RESULTS / f"scale-{n}.json"
        record = json.loads(out_path.read_text()) if out_path.exists() else {"results": []}
        record.update({"benchmark": "scale", "persons": n, "prepare": info,
                       "machine": machine(pyspark=_pyspark_version(), java=java_version()),
                       "spark_master": SPARK_MASTER, "spark_partitions": _partitions(n),
                       "duckdb_memory_limit_linkage": DUCKDB_MEMORY_LIMIT})
        for job in args.jobs:
            if job in ("dedupe", "dedupe_jar", "incremental") and not model_path(n).exists():
                print(f"[{n:,}] training the linkage model on duckdb (once)", flush=True)
                record["results"] = [r for r in record["results"] if not (r["job"] == "train")]
                record["results"].append(run_job("train", n, "duckdb", args.timeout))
            for engine in args.engines:
                if (job == "dedupe_jar" and engine != "spark") or (job == "accuracy" and engine != "duckdb"):
                    continue
                print(f"[{n:,}] {job} on {engine} ...", flush=True)
                res = run_job(job, n, engine, args.timeout)
                res["records"] = info["xjs_records"] if job == "spine" else info["identity_records"]
                res["when"] = datetime.now(UTC).isoformat(timespec="seconds")
                res["blocking"] = args.blocking
                print(json.dumps(res, default=str), flush=True)
                record["results"] = [r for r in record["results"]
                                     if not (r["job"] == job and r["engine"] == engine
                                             and r.get("blocking", "auto") == args.blocking)] + [res]
                out_path.write_text(json.dumps(record, indent=2, default=str))
        print(table(record["results"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
