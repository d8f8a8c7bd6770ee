"""The building blocks of the Data First model: code lists, columns, tables and datasets.

The model is declarative, in the spirit of pandera's ``DataFrameSchema`` and Splink's settings objects: plain frozen
dataclasses that every other layer reads (the synthetic generator writes tables that conform to them, the catalogue
writer renders them as ODS data dictionaries, the loader derives its contracts from them, the linkage layer finds
the identifier columns through them).

Confidence tags follow ``shared/reference/datafirst.md``: ``confirmed`` when a public source names the table or
column as it is in Data First, ``internal`` when the name is the MoJ Analytical Platform's, ``inferred`` when it is
our reasoned guess (check against the real catalogue before relying on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

DType = Literal["string", "int", "float", "date", "bool"]
Confidence = Literal["confirmed", "internal", "inferred"]
IdentifierRole = Literal["forename", "middle_names", "surname", "date_of_birth", "sex", "postcode"]

#: DuckDB / SQL type for each model dtype.
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class CodeList:
    """A closed set of codes with labels (``code -> label``)."""

    name: str
    codes: tuple[tuple[str, str], ...]
    description: str = ""
    confidence: Confidence = "inferred"

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.codes)

    def label(self, code: str) -> str:
        return dict(self.codes)[code]

    def render(self) -> str:
        """Render as the catalogue's ``code = label`` lines."""
        return "\n".join(f"{c} = {lab}" for c, lab in self.codes)


def codelist(name: str, *pairs: str | tuple[str, str], description: str = "",
             confidence: Confidence = "inferred") -> CodeList:
    """Build a code list; a bare string is used as both code and label."""
    items = tuple((p, p) if isinstance(p, str) else (str(p[0]), str(p[1])) for p in pairs)
    return CodeList(name=name, codes=items, description=description, confidence=confidence)


@dataclass(frozen=True)
class Column:
    """One column of a Data First table."""

    name: str
    dtype: DType
    description: str
    codes: CodeList | None = None
    nullable: bool = True
    #: Personal identifier: kept in the linkage layer only, never in analysis tables or exports.
    identifier: bool = False
    #: The standard identifier role used by linkage (forename, surname, date_of_birth, sex, postcode, ...).
    role: IdentifierRole | None = None
    confidence: Confidence = "inferred"
    #: A value range for numbers (inclusive), used by contracts.
    value_range: tuple[float, float] | None = None
    #: Minimum share of non-null values expected in a real extract (used by completeness checks).
    min_completeness: float | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.dtype]


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of this table reference ``ref_columns`` of ``ref_table``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class DateOrder:
    """Dates that must not go backwards within a row: ``earlier <= later`` where both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Table:
    """One table of a Data First dataset (or of a Wave 1-3 source)."""

    name: str
    dataset: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    date_orders: tuple[DateOrder, ...] = ()
    confidence: Confidence = "inferred"
    #: The key this table's person records carry in the XJS ``source_dataset`` column, if any.
    xjs_source: str | None = None
    #: The column holding the person-level record reference (``row_id_hash`` in Data First).
    record_id: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"table {self.name}: duplicate columns {dup}")
        for k in self.primary_key:
            if k not in names:
                raise ValueError(f"table {self.name}: primary key column {k} is not a column")
        for fk in self.foreign_keys:
            for k in fk.columns:
                if k not in names:
                    raise ValueError(f"table {self.name}: foreign key column {k} is not a column")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def date_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.dtype == "date" and not c.identifier)

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.identifier)

    @property
    def analysis_columns(self) -> tuple[str, ...]:
        """Columns that may leave the linkage layer (everything but personal identifiers)."""
        return tuple(c.name for c in self.columns if not c.identifier)

    @property
    def identifier_roles(self) -> dict[str, str]:
        """Standard identifier role -> column name, for linkage."""
        return {c.role: c.name for c in self.columns if c.role is not None}

    @property
    def holds_persons(self) -> bool:
        return bool(self.identifier_columns)


@dataclass(frozen=True)
class Dataset:
    """A Data First dataset (or a later-wave source) and its tables."""

    key: str
    title: str
    source_system: str
    catalogue_file: str | None
    tables: tuple[Table, ...]
    coverage: tuple[date, date]
    wave: int = 0
    #: Critical sources block a load when broken or missing; others degrade it (outputs marked partial).
    critical: bool = True
    #: Identifiers are weaker and sparser (family, civil), as the Data First user guide warns.
    weak_identifiers: bool = False
    description: str = ""
    confidence: Confidence = "inferred"


@dataclass(frozen=True)
class DataFirstModel:
    """Every dataset and table the toolkit knows."""

    datasets: tuple[Dataset, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for t in self.tables:
            if t.name in seen:
                raise ValueError(f"table name {t.name} appears twice in the model")
            seen.add(t.name)
        for t in self.tables:
            for fk in t.foreign_keys:
                ref = self.table(fk.ref_table)
                for k in fk.ref_columns:
                    if k not in ref.column_names:
                        raise ValueError(f"{t.name}: foreign key refers to missing {fk.ref_table}.{k}")

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for d in self.datasets for t in d.tables)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(self.table_names)}")

    def dataset(self, key: str) -> Dataset:
        for d in self.datasets:
            if d.key == key:
                return d
        raise KeyError(f"unknown dataset {key!r}; known datasets: {', '.join(d.key for d in self.datasets)}")

    def dataset_of(self, table: str) -> Dataset:
        return self.dataset(self.table(table).dataset)

    def person_tables(self) -> tuple[Table, ...]:
        """Tables whose rows are person records (they carry identifiers and a record id)."""
        return tuple(t for t in self.tables if t.holds_persons)

    def xjs_tables(self) -> tuple[Table, ...]:
        """Person tables that appear in the XJS linking table."""
        return tuple(t for t in self.tables if t.xjs_source)
