"""Every configuration key is honoured or refused: each field of a configuration schema (``ConfigModel``, which
refuses unknown keys) is read somewhere in the library, so a key a user writes is never silently ignored."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "bold_prevention"


def _schemas(root: Path) -> dict[str, tuple[str, list[tuple[str, str | None]]]]:
    """Every subclass of ConfigModel (transitively) -> (module, [(field, alias)])."""
    classes: dict[str, tuple[str, list[str], list[tuple[str, str | None]]]] = {}
    for f in sorted(root.rglob("*.py")):
        for c in ast.parse(f.read_text(encoding="utf-8")).body:
            if not isinstance(c, ast.ClassDef):
                continue
            bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in c.bases]
            fields = []
            for n in c.body:
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id != "model_config" \
                        and not n.target.id.startswith("_"):
                    alias = None
                    if isinstance(n.value, ast.Call):
                        alias = next((k.value.value for k in n.value.keywords
                                      if k.arg == "alias" and isinstance(k.value, ast.Constant)), None)
                    fields.append((n.target.id, alias))
            classes[c.name] = (str(f.relative_to(root)), bases, fields)
    out, names = {}, {"ConfigModel"}
    changed = True
    while changed:
        changed = False
        for name, (rel, bases, fields) in classes.items():
            if name not in names and names & set(bases):
                names.add(name)
                out[name] = (rel, fields)
                changed = True
    return out


def unread_keys(root: Path = ROOT) -> list[str]:
    text = "\n".join(f.read_text(encoding="utf-8") for f in sorted(root.rglob("*.py")))
    unread = []
    for name, (rel, fields) in _schemas(root).items():
        for field, alias in fields:
            # read as an attribute, by name (a validator, model_dump's keys, getattr) or as a keyword
            used = any(re.search(rf"\.{k}\b|[\"']{k}[\"']|\b{k}\s*=", text) for k in {field, alias} - {None})
            if not used:
                unread.append(f"{rel}:{name}.{field}")
    return unread


def test_every_configuration_key_is_read():
    assert unread_keys() == []


def test_the_check_finds_a_key_nothing_reads(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "spec.py").write_text(
        "class ConfigModel: ...\n\n\nclass Base(ConfigModel):\n    name: str\n\n\n"
        "class Spec(Base):\n    title: str\n    forgotten_key: int = 0\n    aliased: str = Field('', alias='kept')\n\n\n"
        "def show(s):\n    return s.name + s.title + s['kept']\n", encoding="utf-8")
    assert unread_keys(pkg) == ["spec.py:Spec.forgotten_key"]
