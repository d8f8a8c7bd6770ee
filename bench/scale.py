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
* ``incremental`` (one size): the population minus a random 1% of its identity records is linked and clustered;
  the 1% then arrive as a new snapshot and are linked with ``predict_between`` / ``predict_within`` and a
  cluster update, against a full relink of everything.

Spark runs ``local[2]`` (this machine's cores) with its session start-up timed apart. Results: JSON under
``bench/results/scale-<N>.json``, and a table printed for ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = RESULTS / "data"
AS_AT = date(2024, 12, 31)
SNAPSHOT = "2025-01-31"
SEED = 1
os.environ.setdefault("BOLD_PSEUDONYM_KEY", "benchmark-only-pseudonym-key")


# ------------------------------------------------------------------------------------------------ measuring
class TreePeak:
    """Peak resident memory of a process and all its descendants (the Spark JVM and Python workers included)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.peak = 0
        self.interval = interval
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            time.sleep(self.interval)

    def __enter__(self) -> TreePeak:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def machine() -> dict:
    import duckdb

    vm = psutil.virtual_memory()
    try:
        import pyspark

        spark_version = pyspark.__version__
    except ImportError:
        spark_version = None
    java = shutil.which("java")
    java_version = None
    if java:
        out = subprocess.run([java, "-version"], capture_output=True, text=True)
        java_version = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else None
    return {"cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
            "ram_gb": round(vm.total / 2**30, 1), "python": platform.python_version(), "duckdb": duckdb.__version__,
            "pyspark": spark_version, "java": java_version, "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--prepare-only", action="store_true", help="only generate, load and export the data")
    args = ap.parse_args(argv)
    for n in args.persons:
        print(json.dumps(prepare(n), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
