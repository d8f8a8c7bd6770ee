"""A small synthetic world with Wave 2 sources linked to the spine, built once per test session (shared by the
outcome, gold-standard and children tests). Treat the warehouse as read-only: copy it to change it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

_CACHE: dict[str, tuple[Path, Path]] = {}

#: The spine's as-at date: early enough that a 12-month window and its waiting period end before the data end.
AS_AT = date(2022, 12, 31)
LINKED = ("dwp", "hmrc", "hes", "ndtms")


def wave_world(tmp_path_factory) -> tuple[Path, Path]:
    """(population folder, warehouse file) of 2,000 persons (seed 7) with dwp, hmrc, hes and ndtms linked."""
    key = str(tmp_path_factory.getbasetemp())
    if key in _CACHE:
        return _CACHE[key]
    import duckdb

    from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    root = tmp_path_factory.mktemp("waveworld")
    generate(root / "pop", persons=2000, seed=7, sources=LINKED)
    project = Project(root / "proj").ensure()
    load_extracts(project, root / "pop")
    build_spine(project, as_at=AS_AT, band="medium")
    con = duckdb.connect(str(project.warehouse_path))
    try:
        for s in LINKED:
            load_wave_source(con, s, root / "pop")
            link_wave_source(con, s)
    finally:
        con.close()
    # rebuilding the spine keeps the wave links (wave tables are not inputs of its fingerprint) and measures the
    # gold-standard needs from them
    build_spine(project, as_at=AS_AT, band="medium")
    _CACHE[key] = (root / "pop", project.warehouse_path)
    return _CACHE[key]


def copy_warehouse(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "w.duckdb"
    shutil.copy(src, dst)
    return dst
