"""The architecture as docs/architecture.md states it: layers (import-linter contracts in pyproject.toml, run by
`make test`) and no package reaching into another package's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "bold_prevention"


def _package(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0].removesuffix(".py")


def _private_imports() -> list[str]:
    found = []
    for f in ROOT.rglob("*.py"):
        here = _package(f)
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0:
                if not (node.module or "").startswith("bold_prevention."):
                    continue
                target = node.module.split(".")[1]
            else:
                base = list(f.relative_to(ROOT).parts[:-1])
                up = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                parts = up + [p for p in (node.module or "").split(".") if p]
                target = parts[0].removesuffix(".py") if parts else here
            if target == here:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{f.relative_to(ROOT)} imports {alias.name} from {target}")
    return found


def test_no_package_imports_another_packages_private_names():
    assert _private_imports() == []


def test_the_layer_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT.parents[1])
    assert r.returncode == 0, r.stdout[-3000:]
