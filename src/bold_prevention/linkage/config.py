"""The linkage job configuration: a small YAML file naming one or two files and how to read their identifiers.

.. code-block:: yaml

    left:
      path: residents.csv            # CSV or Parquet (relative paths are read from the config's folder)
      id: resident_id                # record-id column (unique, non-null)
      name: residents                # optional dataset name (default: the file name without extension)
      columns:                       # standard role -> this file's column; any role may be absent
        forename: first_name
        middle_names: other_names
        surname: family_name
        date_of_birth: dob
        sex: gender
        postcode: post_code
      date_format: "%d/%m/%Y"        # optional: text dates of birth (default: try common UK formats)
      postcode_format: uk            # optional: uk (validate, space as AA9A 9AA) or any
      one_record_per_person: true    # optional: this file holds at most one record per person (one-to-one links)
      keep: [ethnic_group, region]   # optional: analysis columns carried into the QA report
    right:                           # optional: without it the left file is deduplicated
      path: offenders.parquet
      id: row_id_hash
      columns: {forename: forename, surname: surname, date_of_birth: date_of_birth}
    thresholds: {high: 0.99, medium: 0.9, low: 0.5}   # optional match-probability thresholds of the bands
    guards: {twins: true, generation: true, generation_years: 10}   # optional hard non-match rules
    model: previous/model.json       # optional: reuse a trained model (no training)
    training: {seed: 42, u_max_pairs: 1000000, em_max_pairs: 2000000}   # optional
    mode: clear                      # clear (default) or hashed (files written by `bold link hash`)
    secret_env: BOLD_LINKAGE_SECRET  # hashing: the environment variable holding the shared secret
    bloom_filters: true              # hashing: also write keyed Bloom-filter encodings of names
    comparisons:                     # optional: any other column compared by type (see .comparisons)
      occupation: {type: text}
      email: {type: email}
    previous_run: last_month/        # optional: keep the person ids of an earlier run (stable ids)

Each side may also set ``dates: {earliest: 1800-01-01, latest: 2020-12-31, placeholders: [1900-01-01],
partial: true}`` (the valid range of dates of birth, the dates that mean "unknown", and whether a date missing its
day or month keeps its year and month) and ``extra: {occupation: Job, email: Email}`` (the column of each declared
comparison; a geography comparison takes a list of area-code columns, finest first).

Hashed files (``mode: hashed``) need only ``path`` (and optionally ``name``): their roles and record ids are
recorded in the file by ``bold link hash``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from ..config import ConfigModel, Document, read_document, validate_config
from ..config.schema import IsoDate
from ..errors import InputError
from .comparisons import ExtraComparison, parse_comparisons, side_columns
from .splink_model import Guards, Thresholds, TrainingOptions
from .standardise import DEFAULT_EARLIEST, PLACEHOLDER_DATES, ROLES, StandardiseOptions

DEFAULT_SECRET_ENV = "BOLD_LINKAGE_SECRET"
_HINT = "fix each problem listed above (docs/linkage.md has an example config)"


# ------------------------------------------------------------------------------------------------ the schema
def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class DatesSchema(ConfigModel):
    earliest: IsoDate | None = None
    latest: IsoDate | None = None
    placeholders: list[IsoDate] | None = None
    partial: bool | None = None


class ComparisonSchema(ConfigModel):
    type: str
    thresholds: list[float] | None = None
    levenshtein: list[int] | None = None
    tolerances: list[float] | None = None
    tf: bool | None = None
    block: bool | None = None
    date_format: str | None = None


class SideSchema(ConfigModel):
    path: str
    id: str | None = None
    name: str | None = None
    columns: dict[str, str] | None = None
    date_format: str | None = None
    postcode_format: str = "uk"
    one_record_per_person: bool = False
    keep: Annotated[list[str], BeforeValidator(_as_list)] | None = None
    dates: DatesSchema | None = None
    extra: dict[str, str | list[str]] | None = None


class ThresholdsSchema(ConfigModel):
    high: float | None = None
    medium: float | None = None
    low: float | None = None


class GuardsSchema(ConfigModel):
    twins: bool | None = None
    generation: bool | None = None
    generation_years: int | None = None


class TrainingSchema(ConfigModel):
    seed: int | None = None
    u_max_pairs: float | None = None
    em_max_pairs: float | None = None
    deterministic_recall: float | None = None
    term_frequency_adjustments: bool | None = None


class TruthSchema(ConfigModel):
    path: str
    id: str
    person: str
    dataset: str | None = None


class LinkConfigSchema(ConfigModel):
    """The keys and types of a linkage config file."""

    left: SideSchema
    right: SideSchema | None = None
    thresholds: ThresholdsSchema | None = None
    guards: GuardsSchema | None = None
    model: str | None = None
    training: TrainingSchema | None = None
    mode: str = "clear"
    secret_env: str | None = None
    truth: TruthSchema | None = None
    bloom_filters: bool = True
    comparisons: dict[str, ComparisonSchema] | None = None
    previous_run: str | None = None



@dataclass(frozen=True)
class SideConfig:
    """One file of a linkage job."""

    path: Path
    id_column: str | None
    name: str
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    postcode_format: Literal["uk", "any"] = "uk"
    one_record_per_person: bool = False
    keep: tuple[str, ...] = ()
    #: Dates of birth before ``earliest`` or after ``latest`` (default today) are null with a reason.
    earliest: date = DEFAULT_EARLIEST
    latest: date | None = None
    placeholders: tuple[str, ...] = PLACEHOLDER_DATES
    partial_dates: bool = False
    #: Declared extra comparisons: (name, column(s) joined by \x1f, type) - see :mod:`.comparisons`.
    extra: tuple[tuple[str, str, str], ...] = ()

    def options(self) -> StandardiseOptions:
        return StandardiseOptions(date_format=self.date_format, postcode_format=self.postcode_format,
                                  earliest=self.earliest, reference_date=self.latest,
                                  placeholders=self.placeholders, partial_dates=self.partial_dates,
                                  extra=self.extra)


@dataclass(frozen=True)
class TruthConfig:
    """Optional truth for QA: a file with a record id and a true person id per record (``dataset`` optional)."""

    path: Path
    id_column: str
    person_column: str
    dataset_column: str | None = None


@dataclass(frozen=True)
class LinkConfig:
    left: SideConfig
    right: SideConfig | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    guards: Guards = field(default_factory=Guards)
    model: Path | None = None
    training: TrainingOptions = field(default_factory=TrainingOptions)
    mode: Literal["clear", "hashed"] = "clear"
    secret_env: str = DEFAULT_SECRET_ENV
    truth: TruthConfig | None = None
    source: Path | None = None
    #: ``bold link hash``: add keyed Bloom-filter encodings of forename and surname (fuzzy name similarity).
    bloom_filters: bool = True
    #: Declared extra comparisons (any column, by type).
    comparisons: tuple[ExtraComparison, ...] = ()
    #: An earlier run's output folder: its person ids are kept for the people who persist (stable ids).
    previous_run: Path | None = None

    @property
    def partial_dates(self) -> bool:
        return any(s.partial_dates for s in self.sides)

    @property
    def sides(self) -> list[SideConfig]:
        return [self.left] + ([self.right] if self.right else [])

    @property
    def dedupe(self) -> bool:
        return self.right is None


def _err(where: str, msg: str, hint: str) -> InputError:
    return InputError(f"{where}: {msg}", hint=hint)


def _side(raw: SideSchema, key: str, base: Path, where: str, mode: str) -> SideConfig:
    path = Path(raw.path)
    if not path.is_absolute():
        path = (base / path)
    cols = raw.columns or {}
    if mode == "clear":
        if raw.id is None:
            raise _err(where, f"`{key}` has no `id` (the record-id column)", "add id: <column holding record ids>")
        if not cols:
            raise _err(where, f"`{key}.columns` must map identifier roles to column names",
                       f"for example columns: {{forename: first_name, surname: last_name}}; roles: "
                       f"{', '.join(ROLES)}")
        bad = sorted(set(cols) - set(ROLES))
        if bad:
            raise _err(where, f"unknown identifier role(s) in `{key}.columns`: {', '.join(bad)}",
                       f"use only these roles: {', '.join(ROLES)}")
        for role, col in cols.items():
            if not col:
                raise _err(where, f"`{key}.columns.{role}` must be a column name", "give the file's column name")
    pf = raw.postcode_format
    if pf not in ("uk", "any"):
        raise _err(where, f"`{key}.postcode_format` must be uk or any (got {pf!r})", "use uk or any")
    d = raw.dates
    dates: dict[str, Any] = {}
    if d is not None:
        if d.earliest is not None:
            dates["earliest"] = d.earliest
        if d.latest is not None:
            dates["latest"] = d.latest
        if d.placeholders is not None:
            dates["placeholders"] = tuple(x.isoformat() for x in d.placeholders)
        if d.partial is not None:
            dates["partial_dates"] = d.partial
        lo, hi = dates.get("earliest", DEFAULT_EARLIEST), dates.get("latest")
        if hi is not None and hi < lo:
            raise _err(where, f"`{key}.dates`: latest is before earliest", "give earliest <= latest")
    return SideConfig(path=path, id_column=raw.id, name=raw.name or path.stem, columns=dict(cols),
                      date_format=raw.date_format, postcode_format=pf,  # type: ignore[arg-type]
                      one_record_per_person=raw.one_record_per_person, keep=tuple(raw.keep or ()), **dates)


def _dataclass_from(cls, raw: ConfigModel | None):
    return cls() if raw is None else cls(**{k: v for k, v in raw.data().items() if v is not None})


def parse_config(raw: Mapping[str, Any], *, base: Path | None = None, source: str = "config",
                 document: Document | None = None) -> LinkConfig:
    """Validate a config mapping (as read from YAML) into a :class:`LinkConfig`.

    Every key and type problem is reported at once (with its line when ``document`` holds the file's lines).
    """
    base = base or Path.cwd()
    if not isinstance(raw, Mapping):
        raise _err(source, "the config must be a YAML mapping with `left` (and optionally `right`)",
                   "see docs/linkage.md for an example")
    cfg = validate_config(dict(raw), LinkConfigSchema, source=source, document=document, hint=_HINT)
    mode = cfg.mode
    if mode not in ("clear", "hashed"):
        raise _err(source, f"`mode` must be clear or hashed (got {mode!r})", "use mode: clear or mode: hashed")
    left = _side(cfg.left, "left", base, source, mode)
    right = _side(cfg.right, "right", base, source, mode) if cfg.right is not None else None
    raw_sides = [cfg.left] + ([cfg.right] if cfg.right is not None else [])
    extras = parse_comparisons({k: v.data() for k, v in (cfg.comparisons or {}).items()},
                               [r.extra for r in raw_sides], source)
    if extras and mode != "clear":
        raise _err(source, "extra comparisons are for clear-text files", "remove `comparisons` in hashed mode")
    if extras:
        left = SideConfig(**{**left.__dict__, "extra": side_columns(extras, cfg.left.extra or {})})
        if right is not None:
            right = SideConfig(**{**right.__dict__, "extra": side_columns(extras, cfg.right.extra or {})})
    if right is not None and right.name == left.name:
        right = SideConfig(**{**right.__dict__, "name": f"{right.name}_right"})
    thresholds = _dataclass_from(Thresholds, cfg.thresholds)
    guards = _dataclass_from(Guards, cfg.guards)
    training = _dataclass_from(TrainingOptions, cfg.training)
    model_path = None
    if cfg.model:
        model_path = Path(cfg.model)
        if not model_path.is_absolute():
            model_path = base / model_path
    truth = None
    if cfg.truth is not None:
        t = cfg.truth
        tp = Path(t.path)
        truth = TruthConfig(path=tp if tp.is_absolute() else base / tp, id_column=t.id, person_column=t.person,
                            dataset_column=t.dataset or None)
    return LinkConfig(left=left, right=right, thresholds=thresholds, guards=guards, model=model_path,
                      training=training, mode=mode, secret_env=cfg.secret_env or DEFAULT_SECRET_ENV,  # type: ignore[arg-type]
                      truth=truth, source=Path(source) if source != "config" else None,
                      bloom_filters=cfg.bloom_filters, comparisons=extras,
                      previous_run=_path(cfg.previous_run, base))


def _path(p: str | None, base: Path) -> Path | None:
    if not p:
        return None
    q = Path(p)
    return q if q.is_absolute() else base / q


def load_config(path: str | os.PathLike) -> LinkConfig:
    """Read and validate a linkage config file (every problem reported at once, each with its line)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file {p} not found", hint="give the path of a YAML linkage config (docs/linkage.md)")
    doc = read_document(p, what="linkage config")
    return parse_config(doc.data, base=p.absolute().parent, source=str(p),
                        document=doc)
