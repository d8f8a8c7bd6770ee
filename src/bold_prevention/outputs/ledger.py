"""The project's ledger of published cells: what every earlier release of a project published and suppressed.

A release is safe only together with what the project released before: the same table at another linkage band or
snapshot, the same cells published again by another command. The ledger keeps, for each release, every count cell it
published or suppressed (the table, the cell, its key, the published rounded value or "suppressed", whether it was a
primary risk, and the rule set), with the additivity constraints and rate relations between them, so that the next
release is audited with them (:func:`bold_prevention.outputs.audit.protect_release`). It never holds the true value
of a suppressed cell.

Layout: ``<project>/ledger/<NNNN>-<name>.json``, one file a release, written (temporary name, then rename) before the
release folder itself appears, so a release that exists is always in the ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import atomic_file
from .audit import CellSystem

LEDGER_VERSION = 1


@dataclass(frozen=True)
class LedgerEntry:
    number: int
    name: str
    folder: str
    command: str
    created: str
    digest: str
    path: Path

    def system(self) -> CellSystem:
        return CellSystem.from_dict(_read(self.path)["system"])


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"the release ledger file {path} cannot be read ({type(e).__name__})",
                         hint="restore it from a backup; without it earlier releases cannot be taken into account, "
                              "so no new release is written") from e
    if not isinstance(data, dict) or data.get("version") != LEDGER_VERSION or "system" not in data:
        raise InputError(f"the release ledger file {path} is not a ledger file of this toolkit version",
                         hint="restore it from a backup, or move it away only if that release was never published")
    return data


class ReleaseLedger:
    """The published cells of a project's releases, in ``folder`` (``<project>/ledger``)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @classmethod
    def for_project(cls, project: Any) -> ReleaseLedger:
        return cls(Path(project.root) / "ledger")

    def entries(self) -> list[LedgerEntry]:
        if not self.folder.is_dir():
            return []
        out = []
        for p in sorted(self.folder.glob("[0-9][0-9][0-9][0-9]-*.json")):
            d = _read(p)
            out.append(LedgerEntry(int(p.name[:4]), d.get("name", ""), d.get("folder", ""), d.get("command", ""),
                                   d.get("created", ""), d.get("digest", ""), p))
        return out

    def systems(self) -> list[CellSystem]:
        return [e.system() for e in self.entries()]

    def record(self, system: CellSystem, *, name: str, folder: str | os.PathLike, command: str = "") -> Path:
        """Add a release (unless the same cells were recorded already) and return its ledger file."""
        body = system.as_dict()
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        entries = self.entries()
        for e in entries:
            if e.digest == digest:
                return e.path
        number = (entries[-1].number + 1) if entries else 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "release"
        path = self.folder / f"{number:04d}-{slug}.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"version": LEDGER_VERSION, "name": name, "folder": str(Path(folder).absolute()), "command": command,
               "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "digest": digest, "system": body}
        with atomic_file(path, overwrite=False) as fh:
            fh.write(json.dumps(doc, default=str))
        return path
