"""Benchmark: loading the Data First catalogues, searching a 20,000-variable catalogue, search quality.

    .venv/bin/python bench/catalogue.py
    .venv/bin/python bench/catalogue.py --variables 20000 --repeats 20

1. Writes the eight catalogues for the synthetic data (published file names and layouts) and times reading and
   storing all eight in a fresh project warehouse (target: under 10 s).
2. Writes the same eight files scaled up to about ``--variables`` variables in total (each dataset's tables
   repeated under new names, descriptions varied with words drawn from the catalogue) and times loading those.
3. Builds the search index over that catalogue and times every labelled query and every driver and outcome
   vocabulary query, ``--repeats`` times each (target: p95 under 50 ms).
4. Measures precision@10 and recall@20 on the labelled query set (target: precision@10 >= 0.8).

Prints and records (JSON under ``bench/results/``) wall times, rows per second, peak memory (resident set size)
and the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent / "src"))

from bold_prevention.catalogue.evaluate import build_corpora, evaluate, load_labelled_queries  # noqa: E402
from bold_prevention.catalogue.reader import read_catalogues  # noqa: E402
from bold_prevention.catalogue.search import CatalogueIndex, default_vocabulary  # noqa: E402
from bold_prevention.catalogue.store import load_catalogues  # noqa: E402
from bold_prevention.catalogue.writer import catalogue_sheets, write_catalogue, write_synthetic_catalogues  # noqa: E402
from bold_prevention.datafirst import MODEL, Dataset  # noqa: E402
from measure import PeakRSS, machine  # noqa: E402


def scaled_datasets(target: int, seed: int = 11) -> list[Dataset]:
    """The eight catalogued datasets with their tables repeated until about ``target`` variables in all."""
    rng = np.random.default_rng(seed)
    datasets = [d for d in MODEL.datasets if d.catalogue_file]
    per_copy = sum(1 for d in datasets for t in d.tables for c in t.columns if not c.identifier)
    copies = max(1, round(target / per_copy))
    pool = sorted({w for d in datasets for t in d.tables for c in t.columns
                   for w in c.description.lower().replace(",", " ").split() if len(w) > 3})
    out = []
    for d in datasets:
        tables = []
        for i in range(copies):
            for t in d.tables:
                cols = []
                for c in t.columns:
                    if c.identifier:
                        continue
                    extra = " ".join(rng.choice(pool, size=2, replace=False)) if i else ""
                    cols.append(dataclasses.replace(c, description=f"{c.description} {extra}".strip()))
                tables.append(dataclasses.replace(t, name=t.name if i == 0 else f"{t.name}_v{i}",
                                                  columns=tuple(cols), foreign_keys=(), date_orders=()))
        out.append(dataclasses.replace(d, tables=tuple(tables)))
    return out


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variables", type=int, default=20_000, help="size of the scaled catalogue (default 20,000)")
    ap.add_argument("--repeats", type=int, default=20, help="times each query is run (default 20)")
    ap.add_argument("--persons", type=int, default=None, help="accepted for a uniform interface; not used")
    ap.add_argument("--out", type=Path, default=RESULTS / "catalogue.json", help="JSON results file")
    args = ap.parse_args(argv)
    result: dict = {"benchmark": "catalogue", "when": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp, PeakRSS() as rss:
        tmp = Path(tmp)
        # 1. the eight synthetic catalogues as written for the demo
        _, t_write = timed(write_synthetic_catalogues, tmp / "model")
        (cat, counts), t_load = timed(load_catalogues, [tmp / "model"], tmp / "project")
        n = len(cat.variables)
        result["load_eight_model_catalogues"] = {
            "files": 8, "variables": n, "code_rows": len(cat.code_lists), "write_s": round(t_write, 3),
            "load_s": round(t_load, 3), "variables_per_s": round(n / t_load)}
        print(f"eight catalogues (model size): {n:,} variables written in {t_write:.2f} s, "
              f"read and stored in {t_load:.2f} s")

        # 2. the same eight files at about --variables variables
        big_dir = tmp / "scaled"
        big_dir.mkdir()
        t0 = time.perf_counter()
        for d in scaled_datasets(args.variables):
            write_catalogue(big_dir / d.catalogue_file, catalogue_sheets(d))
        t_write_big = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in big_dir.iterdir())
        (big, _), t_load_big = timed(load_catalogues, [big_dir], tmp / "project-big")
        nb = len(big.variables)
        _, t_read_big = timed(read_catalogues, [big_dir])
        result["load_eight_scaled_catalogues"] = {
            "files": 8, "variables": nb, "bytes": size, "write_s": round(t_write_big, 2),
            "read_s": round(t_read_big, 3), "read_and_store_s": round(t_load_big, 3),
            "variables_per_s": round(nb / t_load_big)}
        print(f"eight catalogues (scaled): {nb:,} variables, {size / 2**20:.1f} MiB, read in {t_read_big:.2f} s, "
              f"read and stored in {t_load_big:.2f} s")

        # 3. search latency over the scaled catalogue
        index, t_index = timed(CatalogueIndex, big.variables)
        vocab = default_vocabulary()
        queries = [(q.query, q.driver, q.outcome) for q in load_labelled_queries()]
        queries += [("", d, None) for d in vocab.drivers] + [("", None, o) for o in vocab.outcomes]
        queries += [("no fixed abode", "accommodation", None), ("benefits", "low_income", None),
                    ("drug", "substance_misuse", None)]
        for q, d, o in queries[:5]:  # warm up
            index.search(q, driver=d, outcome=o, limit=20)
        lat = []
        for _ in range(args.repeats):
            for q, d, o in queries:
                t0 = time.perf_counter()
                index.search(q, driver=d, outcome=o, limit=20)
                lat.append((time.perf_counter() - t0) * 1000)
        lat_a = np.array(lat)
        terms = np.mean([len(index.query_terms(q, driver=d, outcome=o)) for q, d, o in queries])
        result["search"] = {
            "variables": index.n, "distinct_terms": len(index._postings), "index_build_s": round(t_index, 3),
            "queries": len(queries), "runs": len(lat), "mean_terms_per_query": round(float(terms), 1),
            "p50_ms": round(float(np.percentile(lat_a, 50)), 2), "p95_ms": round(float(np.percentile(lat_a, 95)), 2),
            "max_ms": round(float(lat_a.max()), 2), "queries_per_s": round(1000 / float(lat_a.mean()))}
        s = result["search"]
        print(f"search over {index.n:,} variables ({s['distinct_terms']:,} terms, index built in {t_index:.2f} s): "
              f"{len(lat):,} queries, p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, max {s['max_ms']} ms")

        # 4. quality on the labelled query set
        ev = evaluate(build_corpora(tmp))
        result["quality"] = ev.summary()
        worst = ev.per_query.sort_values("precision_at_10").head(5)
        result["quality"]["weakest_queries"] = worst[["id", "query", "precision_at_10", "recall_at_20"]] \
            .to_dict("records")
        print(f"labelled queries: {ev.summary()['queries']}, precision@10 {ev.precision_at_10:.3f} "
              f"(strict {ev.strict_precision_at_10:.3f}), recall@20 {ev.recall_at_20:.3f}")
    result["peak_rss_mib"] = round(rss.peak / 2**20, 1)
    result["ru_maxrss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["targets"] = {
        "load_eight_under_10s": result["load_eight_scaled_catalogues"]["read_and_store_s"] < 10,
        "search_p95_under_50ms": result["search"]["p95_ms"] < 50,
        "precision_at_10_at_least_0.8": result["quality"]["precision_at_10"] >= 0.8}
    print(f"peak memory {result['peak_rss_mib']} MiB; targets: {result['targets']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"recorded in {args.out}")
    return result


if __name__ == "__main__":
    main()
