"""Time reading and validating every shipped YAML file through the configuration layer.

    .venv/bin/python bench/config.py [--repeats 50]

For each file: the safe parse (libyaml composer, alias and depth checks, line numbers, duplicate keys) plus the
strict schema check (pydantic), the median of ``--repeats`` runs in one warm process; beside it the plain
``yaml.safe_load`` the readers used before (pure-Python PyYAML), and the one-off cost of importing the layer with
pydantic and yaml. The register's own meaning checks (tables, columns, SQL) are not part of this figure. Prints a table
and writes ``bench/results/config.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import machine  # noqa: E402

TARGET_MS = 50.0


def _files():
    from bold_prevention.catalogue.evaluate import LabelledQueriesSchema
    from bold_prevention.catalogue.search import VocabularySchema
    from bold_prevention.cohorts.spec import CohortSpecSchema
    from bold_prevention.early_warning.usecase import UseCaseSchema
    from bold_prevention.register.loader import RegisterSchema

    root = resources.files("bold_prevention")
    yield "register/data/register.yaml", root / "register/data/register.yaml", RegisterSchema
    yield "catalogue/data/vocabulary.yaml", root / "catalogue/data/vocabulary.yaml", VocabularySchema
    yield "catalogue/data/labelled_queries.yaml", root / "catalogue/data/labelled_queries.yaml", LabelledQueriesSchema
    for p in sorted((root / "cohorts/specs").iterdir(), key=lambda p: p.name):
        if p.name.endswith(".yaml"):
            yield f"cohorts/specs/{p.name}", p, CohortSpecSchema
    for p in sorted((root / "early_warning/use_cases").iterdir(), key=lambda p: p.name):
        if p.name.endswith(".yaml"):
            yield f"early_warning/use_cases/{p.name}", p, UseCaseSchema


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    code = "import time; t = time.perf_counter(); import bold_prevention.config; print(time.perf_counter() - t)"
    import_s = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.strip())
    import yaml

    from bold_prevention.config import load_config

    rows = []
    for name, path, schema in _files():
        path = Path(str(path))
        text = path.read_text(encoding="utf-8")
        rows.append({"file": name, "kb": round(len(text.encode()) / 1024, 1),
                     "config_layer_ms": _median_ms(lambda p=path, s=schema: load_config(p, s), args.repeats),
                     "old_safe_load_ms": _median_ms(lambda t=text: yaml.safe_load(t), args.repeats)})
    worst = max(r["config_layer_ms"] for r in rows)
    print(f"{'file':<58} {'KB':>6} {'config layer ms':>16} {'old safe_load ms':>17}")
    for r in rows:
        print(f"{r['file']:<58} {r['kb']:>6} {r['config_layer_ms']:>16} {r['old_safe_load_ms']:>17}")
    print(f"slowest file {worst} ms (target {TARGET_MS:g} ms); importing the layer (pydantic, yaml) "
          f"{import_s * 1000:.0f} ms once per process")
    out = Path(__file__).parent / "results" / "config.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"files": rows, "slowest_ms": worst, "target_ms": TARGET_MS,
                               "import_ms": round(import_s * 1000, 1), "repeats": args.repeats,
                               "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
