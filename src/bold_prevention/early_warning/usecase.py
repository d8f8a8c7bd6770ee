"""Early-warning use cases, declared as data (YAML).

A use case says when a prediction is made (the index event, whose date is T0), what is predicted (an outcome event
within a window after T0) and from what (features built as of T0 from data dated strictly before T0, plus the
attributes of the index record itself, which are known at T0). Two use cases ship with the package in
``early_warning/use_cases/``; users can write their own and pass the file path instead of a name.

Example (abridged)::

    name: reoffending_12m_after_release
    index: {event_type: custody_release, occurrence: all}
    outcome:
      window_months: 12
      sources:
        - {table: mags_defendant_case, date: main_offence_date}
    features:
      counts:
        prior_court_cases: {event_types: [mags_case, crown_case]}
      days_since_last:
        days_since_last_court_case: {event_types: [mags_case, crown_case]}
      copas_rate: {event_types: [mags_case, crown_case]}
      index_attributes:
        current_offence_group: {column: main_offence_group, kind: category}
      oasys:
        flags:
          accommodation_need: {column: question_3_tot, min: 2}
    baseline: [age_band, sex, prior_court_cases, copas_rate]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from ..config import ConfigModel, Document, parse_yaml, read_document, validate_config
from ..datafirst import MODEL
from ..errors import InputError

USE_CASE_PACKAGE = "bold_prevention.early_warning.use_cases"
#: The XJS linkage bands, strictest first.
BANDS = ("high", "medium", "low")
FeatureKind = Literal["count", "days", "rate", "flag", "value", "category", "age"]


@dataclass(frozen=True)
class Condition:
    """A test on one column: ``min``/``max`` (inclusive) for numbers, ``in`` for codes, ``equals`` for anything."""

    column: str
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] | None = None
    equals: Any = None


@dataclass(frozen=True)
class IndexSpec:
    """The prediction point: a timeline event type; each occurrence, or each person's first or last."""

    event_type: str
    occurrence: Literal["all", "first", "last"] = "all"


@dataclass(frozen=True)
class OutcomeSource:
    """Outcome events: a timeline event type, or rows of an extract table dated by one of its columns."""

    event_type: str | None = None
    table: str | None = None
    date: str | None = None
    where: tuple[Condition, ...] = ()
    #: The date the event reaches the data (for an offence, the first hearing): with it the data end allows for
    #: the lag between the event and its recording.
    recorded: str | None = None


@dataclass(frozen=True)
class OutcomeSpec:
    label: str
    window_months: int
    sources: tuple[OutcomeSource, ...]
    #: Share of events recorded within the lag allowed at the data end (see ``OutcomeSource.recorded``).
    lag_quantile: float = 0.95
    #: Find outcome events over the XJS cluster of the index person record at this linkage band (high, medium or
    #: low) instead of the spine's person (None: the spine's).
    band: str | None = None


@dataclass(frozen=True)
class CountFeature:
    """Events before T0 (optionally only the last ``lookback_months``): timeline ``event_types``, or rows of an
    extract ``table`` dated by ``date`` that meet ``where`` (for example one local-authority service)."""

    name: str
    event_types: tuple[str, ...] = ()
    lookback_months: int | None = None
    description: str = ""
    table: str | None = None
    date: str | None = None
    where: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class DaysFeature:
    name: str
    event_types: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class IndexAttribute:
    """A column of the index record (or of a table joined to it on the key ``via``, stored as ``on``), known at T0."""

    name: str
    column: str
    table: str | None = None
    on: str | None = None
    kind: Literal["category", "value"] = "value"
    log: bool = False
    description: str = ""


@dataclass(frozen=True)
class OasysSpec:
    """Need flags and section scores from the person's latest OASys assessment dated before T0."""

    table: str = "oasys_assessments_details_core_risk"
    flags: tuple[tuple[str, tuple[Condition, ...]], ...] = ()
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """Settings of the gradient-boosting model chosen by cross-validation on the training rows only.

    Every combination of ``max_depth`` and ``learning_rate`` is fitted on ``cv_folds`` person-grouped folds of the
    training rows (no person in two folds); the combination and the number of boosting iterations (up to
    ``max_iter``) with the lowest mean log loss on the held-out folds are kept, and the model is refitted on every
    training row with them (no rows held back for early stopping).
    """

    max_depth: tuple[int, ...] = (1, 2, 3)
    learning_rate: tuple[float, ...] = (0.1,)
    max_iter: int = 500
    cv_folds: int = 5


@dataclass(frozen=True)
class UseCase:
    name: str
    title: str
    purpose: str
    index: IndexSpec
    outcome: OutcomeSpec
    counts: tuple[CountFeature, ...] = ()
    days_since_last: tuple[DaysFeature, ...] = ()
    copas_event_types: tuple[str, ...] = ()
    index_attributes: tuple[IndexAttribute, ...] = ()
    oasys: OasysSpec | None = None
    baseline: tuple[str, ...] = ()
    test_fraction: float = 0.3
    #: Every history feature (counts, days since the last event, the Copas rate) looks back at most this many
    #: months, so that history does not grow with the calendar; index events closer than this to the start of the
    #: data are left out of training and testing (their window is cut short).
    lookback_months: int | None = None
    #: ``exclude``: index events closer than ``lookback_months`` to the start of the data are left out; ``keep``:
    #: they stay, their history is counted over what the data hold, and ``history_years`` (the years of data the
    #: look-back window sees) is a feature.
    early_index_events: Literal["exclude", "keep"] = "exclude"
    #: Count history (counts, days since the last event, the Copas rate) over the XJS cluster of the index person
    #: record at this linkage band instead of the spine's person: ``low`` finds records a stricter band missed.
    history_band: str | None = None
    #: The Copas rate (and ``age_at_first_case``) over the whole history rather than the look-back window.
    copas_whole_history: bool = False
    #: The linkage match score of the index person record (``extract.xjs_link.match_score``) as a feature.
    link_score: bool = False
    #: Gradient-boosting settings chosen by cross-validation on the training rows (None: fixed settings with early
    #: stopping on a held-back fifth of the training rows).
    model: ModelSpec | None = None
    limitations: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""

    # ------------------------------------------------------------------------------------------------ features
    def feature_kinds(self) -> dict[str, FeatureKind]:
        """Every model feature and its kind, in a fixed order."""
        out: dict[str, FeatureKind] = {"age": "age", "age_band": "category", "sex": "category"}
        out.update({c.name: "count" for c in self.counts})
        out.update({d.name: "days" for d in self.days_since_last})
        if self.copas_event_types:
            out["copas_rate"] = "rate"
            out["career_years"] = "days"
            if self.copas_whole_history:
                out["age_at_first_case"] = "value"
        if self.lookback_months and self.early_index_events == "keep":
            out["history_years"] = "value"
        if self.link_score:
            out["link_score"] = "value"
        for a in self.index_attributes:
            out[a.name] = "category" if a.kind == "category" else "value"
        if self.oasys is not None:
            out["has_oasys"] = "flag"
            out["days_since_oasys"] = "days"
            out.update({n: "flag" for n, _ in self.oasys.flags})
            out.update({n: "value" for n, _ in self.oasys.values})
        return out

    def fingerprint(self) -> str:
        """A short hash of the whole declaration (part of the model version)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------------------------ the schema
def _listed(v: Any) -> Any:
    return [v] if isinstance(v, str | dict) else v


#: Conditions: ``{column: value_or_list}`` (short form) or ``{column, min, max, in, equals}``, or a list of them.
Conditions = Annotated[list[dict[str, Any]], BeforeValidator(_listed)]
EventTypes = Annotated[list[str], BeforeValidator(_listed)]


class IndexSchema(ConfigModel):
    event_type: str
    occurrence: str = "all"


class OutcomeSourceSchema(ConfigModel):
    event_type: str | None = None
    table: str | None = None
    date: str | None = None
    where: Conditions | None = None
    recorded: str | None = None


class OutcomeSchema(ConfigModel):
    label: str | None = None
    window_months: int
    sources: list[OutcomeSourceSchema]
    lag_quantile: float | None = None
    band: str | None = None


class CountSchema(ConfigModel):
    event_types: EventTypes | None = None
    lookback_months: int | None = None
    description: str | None = None
    table: str | None = None
    date: str | None = None
    where: Conditions | None = None


class DaysSchema(ConfigModel):
    event_types: EventTypes
    description: str | None = None


class CopasSchema(ConfigModel):
    event_types: EventTypes
    whole_history: bool = False


class IndexAttributeSchema(ConfigModel):
    column: str
    table: str | None = None
    via: str | None = None
    kind: str = "value"
    log: bool = False
    description: str | None = None


class OasysSchema(ConfigModel):
    table: str | None = None
    flags: dict[str, Conditions] | None = None
    values: dict[str, str] | None = None


class FeaturesSchema(ConfigModel):
    lookback_months: int | None = None
    early_index_events: Literal["exclude", "keep"] | None = None
    history_band: Literal["high", "medium", "low"] | None = None
    link_score: bool | None = None
    counts: dict[str, CountSchema] | None = None
    days_since_last: dict[str, DaysSchema] | None = None
    copas_rate: CopasSchema | None = None
    index_attributes: dict[str, IndexAttributeSchema] | None = None
    oasys: OasysSchema | None = None


class SplitSchema(ConfigModel):
    test_fraction: float = 0.3


class ModelSchema(ConfigModel):
    max_depth: list[int] | None = None
    learning_rate: list[float] | None = None
    max_iter: int | None = None
    cv_folds: int | None = None


class UseCaseSchema(ConfigModel):
    """The keys and types of a use case file (the meaning is checked by :func:`parse_use_case`)."""

    name: str
    title: str | None = None
    purpose: str | None = None
    index: IndexSchema
    outcome: OutcomeSchema
    features: FeaturesSchema | None = None
    baseline: list[str] | None = None
    split: SplitSchema | None = None
    model: ModelSchema | None = None
    limitations: list[str] | None = None


_HINT = "fix each problem listed above; see docs/trajectories-and-early-warning.md"


# ------------------------------------------------------------------------------------------------ parsing
def _err(src: str, msg: str, hint: str = "fix the use case file; see docs/trajectories-and-early-warning.md"):
    return InputError(f"use case {src}: {msg}", hint=hint)


def _conditions(src: str, raw: Any, ctx: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for it in items:
        if isinstance(it, dict) and "column" not in it and len(it) >= 1:
            # short form {column: value_or_list, ...}
            for k, v in it.items():
                out.append(Condition(column=k, values=tuple(v)) if isinstance(v, list)
                           else Condition(column=k, equals=v))
            continue
        if not isinstance(it, dict) or "column" not in it:
            raise _err(src, f"{ctx}: each condition needs a column (got {it!r})")
        unknown = set(it) - {"column", "min", "max", "in", "equals"}
        if unknown:
            raise _err(src, f"{ctx}: unknown condition key(s) {sorted(unknown)}")
        vals = it.get("in")
        out.append(Condition(column=str(it["column"]), min=it.get("min"), max=it.get("max"),
                             values=None if vals is None else tuple(vals), equals=it.get("equals")))
    return tuple(out)


def _names(src: str, raw: Any, ctx: str) -> tuple[str, ...]:
    from ..trajectories.timeline import EVENT_TYPES

    if isinstance(raw, str):
        raw = [raw]
    if not raw or not isinstance(raw, list):
        raise _err(src, f"{ctx}: event_types must be a non-empty list")
    bad = [e for e in raw if e not in EVENT_TYPES]
    if bad:
        raise _err(src, f"{ctx}: unknown event type(s) {bad}", hint=f"use timeline event types: {', '.join(EVENT_TYPES)}")
    return tuple(raw)


def _check_columns(src: str, table: str, cols: list[str], ctx: str) -> None:
    try:
        t = MODEL.table(table)
    except KeyError as e:
        raise _err(src, f"{ctx}: unknown table {table!r}") from e
    for c in cols:
        if c not in t.column_names:
            raise _err(src, f"{ctx}: table {table} has no column {c!r}")
        if t.column(c).identifier:
            raise _err(src, f"{ctx}: column {table}.{c} is a personal identifier and cannot be a feature",
                       hint="use analysis columns only (age_at_offence instead of date_of_birth, for example)")


def _count(source: str, name: str, v: Any) -> CountFeature:
    ctx = f"features.counts.{name}"
    if not isinstance(v, dict):
        raise _err(source, f"{ctx}: give event_types, or table, date and where")
    lb = v.get("lookback_months")
    if lb is not None and (not isinstance(lb, int) or lb <= 0):
        raise _err(source, f"{ctx}: lookback_months must be a positive whole number")
    if "table" in v:
        if "date" not in v:
            raise _err(source, f"{ctx}: a table count needs the date column that dates its rows")
        conds = _conditions(source, v.get("where"), ctx)
        _check_columns(source, v["table"], [v["date"], *[c.column for c in conds]], ctx)
        return CountFeature(name, (), lb, v.get("description", ""), v["table"], v["date"], conds)
    return CountFeature(name, _names(source, v.get("event_types"), ctx), lb, v.get("description", ""))


def _model(source: str, raw: Any) -> ModelSpec | None:
    if raw is None:
        return None
    d = ModelSpec()
    depth = tuple(raw.get("max_depth") or d.max_depth)
    rate = tuple(float(x) for x in (raw.get("learning_rate") or d.learning_rate))
    max_iter = int(raw.get("max_iter") or d.max_iter)
    folds = int(raw.get("cv_folds") or d.cv_folds)
    if any(x < 1 or x > 8 for x in depth):
        raise _err(source, f"model.max_depth: each depth must be between 1 and 8, got {list(depth)}")
    if any(not 0 < x <= 1 for x in rate):
        raise _err(source, f"model.learning_rate: each rate must be above 0 and at most 1, got {list(rate)}")
    if not 10 <= max_iter <= 5000:
        raise _err(source, f"model.max_iter must be between 10 and 5000, got {max_iter}")
    if not 2 <= folds <= 10:
        raise _err(source, f"model.cv_folds must be between 2 and 10, got {folds}")
    return ModelSpec(tuple(sorted(set(depth))), tuple(sorted(set(rate))), max_iter, folds)


def parse_use_case(data: dict, *, source: str = "<dict>", document: Document | None = None) -> UseCase:
    """Validate a use-case mapping (as read from YAML) and build a :class:`UseCase`.

    Keys and types are checked first, every problem at once (with its line when ``document`` holds the file's
    lines); then the meaning (event types, tables, columns, features).
    """
    from ..trajectories.timeline import EVENT_SPECS, EVENT_TYPES

    if not isinstance(data, dict):
        raise _err(source, "the file must hold a mapping")
    validate_config(data, UseCaseSchema, source=source, document=document, hint=_HINT)
    for k in ("name", "index", "outcome"):
        if k not in data:
            raise _err(source, f"missing required key {k!r}")
    known = {"name", "title", "purpose", "index", "outcome", "features", "baseline", "split", "model", "limitations"}
    unknown = set(data) - known
    if unknown:
        raise _err(source, f"unknown key(s) {sorted(unknown)}")
    name = str(data["name"])
    idx = data["index"] or {}
    if idx.get("event_type") not in EVENT_TYPES:
        raise _err(source, f"index.event_type must be a timeline event type, got {idx.get('event_type')!r}",
                   hint=f"use one of: {', '.join(EVENT_TYPES)}")
    occ = idx.get("occurrence", "all")
    if occ not in ("all", "first", "last"):
        raise _err(source, f"index.occurrence must be all, first or last, got {occ!r}")
    index = IndexSpec(idx["event_type"], occ)
    index_table = next(s.table for s in EVENT_SPECS if s.event_type == index.event_type)

    out = data["outcome"] or {}
    window = out.get("window_months")
    if not isinstance(window, int) or window <= 0:
        raise _err(source, f"outcome.window_months must be a positive whole number of months, got {window!r}")
    sources = []
    for i, s in enumerate(out.get("sources") or []):
        ctx = f"outcome.sources[{i}]"
        if "event_type" in s:
            _names(source, [s["event_type"]], ctx)
            sources.append(OutcomeSource(event_type=s["event_type"]))
        elif "table" in s and "date" in s:
            conds = _conditions(source, s.get("where"), ctx)
            _check_columns(source, s["table"], [s["date"], *[c.column for c in conds]], ctx)
            for col in [s["date"]] + ([s["recorded"]] if s.get("recorded") else []):
                _check_columns(source, s["table"], [col], ctx)
                if MODEL.table(s["table"]).column(col).dtype != "date":
                    raise _err(source, f"{ctx}: {s['table']}.{col} is not a date column")
            sources.append(OutcomeSource(table=s["table"], date=s["date"], where=conds, recorded=s.get("recorded")))
        else:
            raise _err(source, f"{ctx}: give either event_type, or table and date")
    if not sources:
        raise _err(source, "outcome.sources must list at least one source")
    lq = out.get("lag_quantile")
    lq = 0.95 if lq is None else float(lq)
    if not 0.5 <= lq <= 1.0:
        raise _err(source, f"outcome.lag_quantile must be between 0.5 and 1, got {lq}")
    oband = out.get("band")
    if oband is not None and oband not in BANDS:
        raise _err(source, f"outcome.band must be high, medium or low, got {oband!r}")
    outcome = OutcomeSpec(label=str(out.get("label", "")), window_months=window, sources=tuple(sources),
                          lag_quantile=lq, band=oband)

    feats = data.get("features") or {}
    fknown = {"lookback_months", "early_index_events", "history_band", "link_score", "counts", "days_since_last",
              "copas_rate", "index_attributes", "oasys"}
    if set(feats) - fknown:
        raise _err(source, f"unknown feature group(s) {sorted(set(feats) - fknown)}", hint=f"use {sorted(fknown)}")
    counts = tuple(_count(source, n, v) for n, v in (feats.get("counts") or {}).items())
    days = tuple(DaysFeature(n, _names(source, v.get("event_types"), f"features.days_since_last.{n}"),
                             v.get("description", ""))
                 for n, v in (feats.get("days_since_last") or {}).items())
    copas = feats.get("copas_rate")
    copas_types = _names(source, copas.get("event_types"), "features.copas_rate") if copas else ()
    attrs = []
    for n, v in (feats.get("index_attributes") or {}).items():
        tbl = v.get("table") or index_table
        on = v.get("via")
        if tbl != index_table and not on:
            raise _err(source, f"features.index_attributes.{n}: a column of another table needs via: <key column>",
                       hint="name the key column shared by the index record's table and that table")
        _check_columns(source, tbl, [v["column"]] + ([on] if on else []), f"features.index_attributes.{n}")
        if on:
            _check_columns(source, index_table, [on], f"features.index_attributes.{n}")
        kind = v.get("kind", "value")
        if kind not in ("category", "value"):
            raise _err(source, f"features.index_attributes.{n}: kind must be category or value")
        attrs.append(IndexAttribute(n, v["column"], None if tbl == index_table else tbl, on, kind,
                                    bool(v.get("log", False)), v.get("description", "")))
    oasys = None
    if feats.get("oasys") is not None:
        o = feats["oasys"] or {}
        otable = o.get("table", "oasys_assessments_details_core_risk")
        flags = tuple((n, _conditions(source, c, f"features.oasys.flags.{n}")) for n, c in (o.get("flags") or {}).items())
        values = tuple((n, c) for n, c in (o.get("values") or {}).items())
        _check_columns(source, otable, [c.column for _, cs in flags for c in cs] + [c for _, c in values],
                       "features.oasys")
        oasys = OasysSpec(otable, flags, values)

    lookback = feats.get("lookback_months")
    if lookback is not None and (not isinstance(lookback, int) or lookback <= 0):
        raise _err(source, f"features.lookback_months must be a positive whole number, got {lookback!r}")
    early = feats.get("early_index_events") or "exclude"
    if early not in ("exclude", "keep"):
        raise _err(source, f"features.early_index_events must be exclude or keep, got {early!r}")
    hband = feats.get("history_band")
    if hband is not None and hband not in BANDS:
        raise _err(source, f"features.history_band must be high, medium or low, got {hband!r}")
    split = data.get("split") or {}
    tf = float(split.get("test_fraction", 0.3))
    if not 0.05 <= tf <= 0.8:
        raise _err(source, f"split.test_fraction must be between 0.05 and 0.8, got {tf}")
    model = _model(source, data.get("model"))
    uc = UseCase(name=name, title=str(data.get("title", name)), purpose=str(data.get("purpose", "")).strip(),
                 index=index, outcome=outcome, counts=counts, days_since_last=days, copas_event_types=copas_types,
                 index_attributes=tuple(attrs), oasys=oasys, baseline=tuple(data.get("baseline") or ()),
                 test_fraction=tf, lookback_months=lookback, early_index_events=early, history_band=hband,
                 copas_whole_history=bool(copas.get("whole_history", False)) if copas else False,
                 link_score=bool(feats.get("link_score", False)), model=model, limitations=tuple(str(x).strip() for x in data.get("limitations") or ()),
                 source=source)
    names = list(uc.feature_kinds())
    if len(set(names)) != len(names):
        raise _err(source, "two features share a name")
    bad = [b for b in uc.baseline if b not in names]
    if bad:
        raise _err(source, f"baseline names unknown feature(s) {bad}", hint=f"features are: {', '.join(names)}")
    if not uc.baseline:
        raise _err(source, "baseline must list the few predictors of the transparent logistic model")
    return uc


def shipped_use_cases() -> list[str]:
    """Names of the use cases shipped with the package."""
    d = resources.files(USE_CASE_PACKAGE)
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".yaml"))


def load_use_case(name_or_path: str | Path) -> UseCase:
    """A shipped use case by name, or a use case YAML file by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise InputError(f"use case file {p} does not exist", hint="check the path")
        doc = read_document(p, what="use case file")
    else:
        res = resources.files(USE_CASE_PACKAGE) / f"{name_or_path}.yaml"
        if not res.is_file():
            raise InputError(f"unknown use case {name_or_path!r}",
                             hint=f"use one of: {', '.join(shipped_use_cases())}, or the path of a YAML file")
        doc = parse_yaml(res.read_bytes(), source=f"{name_or_path}.yaml")
    return parse_use_case(doc.data, source=doc.source, document=doc)
