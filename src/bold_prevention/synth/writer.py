"""Writing the synthetic extracts: model-conformant Arrow tables, Parquet (fixed settings) or CSV, checksums and
the manifest. Files are written into a temporary folder that :func:`bold_prevention.files.atomic_dir` renames."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..datafirst import Table, arrow_schema
from ..errors import BoldError, InputError
from .common import NA, Frame, date_array

FORMATS = ("parquet", "csv")
#: Parquet settings: fixed so that the same data gives byte-identical files.
PARQUET_OPTIONS: dict[str, Any] = dict(compression="zstd", compression_level=3, use_dictionary=True,
                                       write_statistics=True, row_group_size=1 << 20, data_page_size=1 << 20,
                                       version="2.6")


def column_array(values: Any, dtype: pa.DataType, n: int) -> pa.Array:
    """Convert a generator column (numpy with NA / NaN sentinels, Arrow array or None) to ``dtype``."""
    if values is None:
        return pa.nulls(n, dtype)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == dtype else values.cast(dtype)
    v = np.asarray(values)
    if pa.types.is_date32(dtype):
        return date_array(v)
    if pa.types.is_integer(dtype):
        mask = v == NA
        return pa.array(np.where(mask, 0, v).astype(np.int64), type=dtype, mask=mask if mask.any() else None)
    if pa.types.is_floating(dtype):
        v = v.astype(np.float64)
        mask = np.isnan(v)
        return pa.array(np.where(mask, 0.0, v), type=dtype, mask=mask if mask.any() else None)
    if pa.types.is_boolean(dtype):
        return pa.array(v.astype(bool), type=dtype)
    return pa.array(v, type=dtype)


def to_arrow(frame: Frame, table: Table, extra: dict[str, pa.Array] | None = None) -> pa.Table:
    """A frame as an Arrow table with exactly the model's columns and types (non-null keys checked)."""
    schema = arrow_schema(table)
    n = len(frame)
    cols = []
    extra = extra or {}
    for fld in schema:
        if fld.name in frame.columns:
            arr = column_array(frame.columns[fld.name], fld.type, n)
        elif fld.name in extra:
            arr = column_array(extra[fld.name], fld.type, n)
        else:
            raise BoldError(f"internal error: the generator made no column {table.name}.{fld.name}")
        if len(arr) != n:
            raise BoldError(f"internal error: column {table.name}.{fld.name} has {len(arr)} rows, expected {n}")
        if not fld.nullable and arr.null_count:
            raise BoldError(f"internal error: non-nullable column {table.name}.{fld.name} has nulls")
        cols.append(arr)
    return pa.Table.from_arrays(cols, schema=schema)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class TableEntry:
    file: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What :func:`bold_prevention.synth.generate` wrote (``manifest.json`` in the output folder)."""

    path: Path
    seed: int
    persons: int
    format: str
    parameters: dict[str, Any]
    tables: dict[str, TableEntry]
    truth: dict[str, TableEntry]
    generator: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    def rows(self, table: str) -> int:
        return self.tables[table].rows

    def file(self, table: str) -> Path:
        entry = self.tables.get(table) or self.truth[table]
        return self.path / entry.file

    def to_json(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "seed": self.seed,
            "persons": self.persons,
            "format": self.format,
            "parameters": self.parameters,
            "tables": {k: vars(v) for k, v in self.tables.items()},
            "truth": {k: vars(v) for k, v in self.truth.items()},
            "summary": self.summary,
        }

    @classmethod
    def load(cls, folder: str | Path) -> Manifest:
        folder = Path(folder)
        f = folder / "manifest.json"
        if not f.is_file():
            raise InputError(f"{folder} has no manifest.json: it is not a synthetic population folder",
                             hint="generate one with `bold synth --out DIR`")
        d = json.loads(f.read_text(encoding="utf-8"))
        return cls(path=folder, seed=d["seed"], persons=d["persons"], format=d["format"],
                   parameters=d["parameters"], tables={k: TableEntry(**v) for k, v in d["tables"].items()},
                   truth={k: TableEntry(**v) for k, v in d["truth"].items()}, generator=d.get("generator", ""),
                   summary=d.get("summary", {}))


class Writer:
    """Writes tables under a (temporary) output root and records their entries."""

    def __init__(self, root: Path, fmt: str) -> None:
        if fmt not in FORMATS:
            raise InputError(f"unknown output format {fmt!r}", hint="use parquet or csv")
        self.root = root
        self.fmt = fmt
        self.tables: dict[str, TableEntry] = {}
        self.truth: dict[str, TableEntry] = {}
        (root / "extracts").mkdir(parents=True, exist_ok=True)
        (root / "truth").mkdir(parents=True, exist_ok=True)

    def _write(self, t: pa.Table, rel: str) -> TableEntry:
        path = self.root / rel
        if self.fmt == "parquet":
            pq.write_table(t, path, **PARQUET_OPTIONS)
        else:
            pacsv.write_csv(t, path, write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed"))
        return TableEntry(file=rel, rows=t.num_rows, sha256=sha256_file(path))

    def write_extract(self, name: str, t: pa.Table) -> TableEntry:
        e = self._write(t, f"extracts/{name}.{self.fmt}")
        self.tables[name] = e
        return e

    def write_wave(self, name: str, t: pa.Table) -> TableEntry:
        """A Wave 1-2 source table, under ``waves/`` (apart from the Data First extracts ``bold load`` reads)."""
        (self.root / "waves").mkdir(parents=True, exist_ok=True)
        e = self._write(t, f"waves/{name}.{self.fmt}")
        self.tables[name] = e
        return e

    def write_truth(self, name: str, t: pa.Table) -> TableEntry:
        e = self._write(t, f"truth/{name}.{self.fmt}")
        self.truth[name] = e
        return e

    def write_manifest(self, manifest: Manifest) -> None:
        text = json.dumps(manifest.to_json(), indent=2, sort_keys=False, ensure_ascii=True) + "\n"
        (self.root / "manifest.json").write_text(text, encoding="utf-8")
