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

Hashed files (``mode: hashed``) need only ``path`` (and optionally ``name``): their roles and record ids are
recorded in the file by ``bold link hash``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import InputError
from .splink_model import Guards, Thresholds, TrainingOptions
from .standardise import ROLES, StandardiseOptions

DEFAULT_SECRET_ENV = "BOLD_LINKAGE_SECRET"
_SIDE_KEYS = {"path", "id", "name", "columns", "date_format", "postcode_format", "one_record_per_person", "keep"}
_TOP_KEYS = {"left", "right", "thresholds", "guards", "model", "training", "mode", "secret_env", "truth",
             "bloom_filters"}


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

    def options(self) -> StandardiseOptions:
        return StandardiseOptions(date_format=self.date_format, postcode_format=self.postcode_format)


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

    @property
    def sides(self) -> list[SideConfig]:
        return [self.left] + ([self.right] if self.right else [])

    @property
    def dedupe(self) -> bool:
        return self.right is None


def _err(where: str, msg: str, hint: str) -> InputError:
    return InputError(f"{where}: {msg}", hint=hint)


def _side(raw: Any, key: str, base: Path, where: str, mode: str) -> SideConfig:
    if not isinstance(raw, Mapping):
        raise _err(where, f"`{key}` must be a mapping with path, id and columns",
                   "see docs/linkage.md for an example config")
    unknown = sorted(set(raw) - _SIDE_KEYS)
    if unknown:
        raise _err(where, f"unknown key(s) in `{key}`: {', '.join(unknown)}",
                   f"allowed keys: {', '.join(sorted(_SIDE_KEYS))}")
    if "path" not in raw:
        raise _err(where, f"`{key}` has no `path`", "give the file to link as path: FILE")
    path = Path(str(raw["path"]))
    if not path.is_absolute():
        path = (base / path)
    cols = raw.get("columns") or {}
    if mode == "clear":
        if "id" not in raw:
            raise _err(where, f"`{key}` has no `id` (the record-id column)", "add id: <column holding record ids>")
        if not isinstance(cols, Mapping) or not cols:
            raise _err(where, f"`{key}.columns` must map identifier roles to column names",
                       f"for example columns: {{forename: first_name, surname: last_name}}; roles: "
                       f"{', '.join(ROLES)}")
        bad = sorted(set(cols) - set(ROLES))
        if bad:
            raise _err(where, f"unknown identifier role(s) in `{key}.columns`: {', '.join(bad)}",
                       f"use only these roles: {', '.join(ROLES)}")
        for role, col in cols.items():
            if not isinstance(col, str) or not col:
                raise _err(where, f"`{key}.columns.{role}` must be a column name", "give the file's column name")
    pf = raw.get("postcode_format", "uk")
    if pf not in ("uk", "any"):
        raise _err(where, f"`{key}.postcode_format` must be uk or any (got {pf!r})", "use uk or any")
    keep = raw.get("keep") or []
    if isinstance(keep, str):
        keep = [keep]
    name = str(raw.get("name") or path.stem)
    return SideConfig(path=path, id_column=str(raw["id"]) if "id" in raw else None, name=name,
                      columns={str(k): str(v) for k, v in cols.items()},
                      date_format=raw.get("date_format"), postcode_format=pf,
                      one_record_per_person=bool(raw.get("one_record_per_person", False)),
                      keep=tuple(str(k) for k in keep))


def _dataclass_from(cls, raw: Any, where: str, key: str):
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise _err(where, f"`{key}` must be a mapping", f"see docs/linkage.md for the keys of `{key}`")
    names = set(cls.__dataclass_fields__)
    unknown = sorted(set(raw) - names)
    if unknown:
        raise _err(where, f"unknown key(s) in `{key}`: {', '.join(unknown)}", f"allowed: {', '.join(sorted(names))}")
    kw = {}
    for k, v in raw.items():
        default = getattr(cls(), k)
        try:
            kw[k] = type(default)(v) if not isinstance(default, bool) else bool(v)
        except (TypeError, ValueError) as e:
            raise _err(where, f"`{key}.{k}` has an invalid value {v!r}", f"give a {type(default).__name__}") from e
    return cls(**kw)


def parse_config(raw: Mapping[str, Any], *, base: Path | None = None, source: str = "config") -> LinkConfig:
    """Validate a config mapping (as read from YAML) into a :class:`LinkConfig`."""
    base = base or Path.cwd()
    if not isinstance(raw, Mapping):
        raise _err(source, "the config must be a YAML mapping with `left` (and optionally `right`)",
                   "see docs/linkage.md for an example")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _err(source, f"unknown key(s): {', '.join(unknown)}", f"allowed keys: {', '.join(sorted(_TOP_KEYS))}")
    mode = raw.get("mode", "clear")
    if mode not in ("clear", "hashed"):
        raise _err(source, f"`mode` must be clear or hashed (got {mode!r})", "use mode: clear or mode: hashed")
    if "left" not in raw:
        raise _err(source, "no `left` file", "add left: {path: ..., id: ..., columns: {...}}")
    left = _side(raw["left"], "left", base, source, mode)
    right = _side(raw["right"], "right", base, source, mode) if raw.get("right") is not None else None
    if right is not None and right.name == left.name:
        right = SideConfig(**{**right.__dict__, "name": f"{right.name}_right"})
    thresholds = _dataclass_from(Thresholds, raw.get("thresholds"), source, "thresholds")
    guards = _dataclass_from(Guards, raw.get("guards"), source, "guards")
    training = _dataclass_from(TrainingOptions, raw.get("training"), source, "training")
    model = raw.get("model")
    model_path = None
    if model:
        model_path = Path(str(model))
        if not model_path.is_absolute():
            model_path = base / model_path
    truth = None
    if raw.get("truth"):
        t = raw["truth"]
        if not isinstance(t, Mapping) or not {"path", "id", "person"} <= set(t):
            raise _err(source, "`truth` needs path, id and person", "truth: {path: truth.csv, id: record_id, "
                       "person: person_id, dataset: table}")
        tp = Path(str(t["path"]))
        truth = TruthConfig(path=tp if tp.is_absolute() else base / tp, id_column=str(t["id"]),
                            person_column=str(t["person"]),
                            dataset_column=str(t["dataset"]) if t.get("dataset") else None)
    return LinkConfig(left=left, right=right, thresholds=thresholds, guards=guards, model=model_path,
                      training=training, mode=mode, secret_env=str(raw.get("secret_env") or DEFAULT_SECRET_ENV),
                      truth=truth, source=Path(source) if source != "config" else None,
                      bloom_filters=bool(raw.get("bloom_filters", True)))


def load_config(path: str | os.PathLike) -> LinkConfig:
    """Read and validate a linkage config file (clear errors naming the file and key)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file {p} not found", hint="give the path of a YAML linkage config (docs/linkage.md)")
    try:
        raw = yaml.safe_load(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputError(f"cannot read config {p}: {e}", hint="check it is valid YAML") from e
    return parse_config(raw, base=p.absolute().parent, source=str(p))
