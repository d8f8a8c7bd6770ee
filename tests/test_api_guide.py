"""docs/python-api.md: its ```python examples, run in order in one session on a small synthetic project."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_guide_has_examples_for_each_step():
    code = "\n".join(_blocks())
    for step in ("p.synth(", "p.load(", "p.spine(", "p.cohort(", "p.cohort_outputs(", "p.places(", "p.pathways(",
                 "p.release(", "p.connect(", "p.studies("):
        assert step in code, step


def test_the_guide_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOLD_PROJECT", raising=False)
    namespace: dict = {"__name__": "guide"}
    for i, block in enumerate(_blocks(), 1):
        try:
            exec(compile(block, f"{GUIDE.name} example {i}", "exec"), namespace)  # noqa: S102 - the guide's own code
        except Exception as e:
            raise AssertionError(f"example {i} of {GUIDE.name} failed: {type(e).__name__}: {e}\n{block}") from e
    # what the examples claim holds
    assert (tmp_path / "bold-project" / "warehouse.duckdb").is_file()
    assert namespace["folder"].is_dir() and len(namespace["p"].releases()) == 1
    assert namespace["n"] == len(namespace["persons"]) > 0
    assert all(type(o).__name__ == "CheckedOutput" for o in namespace["checked"])
