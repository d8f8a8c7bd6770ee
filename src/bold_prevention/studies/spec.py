"""The study definition: a versioned YAML file (``definitions/<name>.yaml``) checked by one typed schema.

::

    name: probation_treatment               # lower_case identifier; the release folder and the registry key
    version: 1                              # bump when the definition changes what it publishes
    title: Probation to treatment
    question: What share of people given a drug or alcohol requirement start structured treatment ...?
    code: probation_treatment               # optional: the registered study code it runs (default: name)
    population:
      description: People sentenced to a community or suspended sentence order with a DRR or ATR ...
      parameters: {window_short_days: 21}   # read by the study code (numbers, text, true/false, lists)
    sources:
      - name: probation
        title: nDelius probation events and requirements
        tables: [extract.moj_probation_flatfile, extract.moj_probation_rqmnts]
        linked: []                          # source tables whose records must be linked to the spine
        required: true                      # false: the parts needing it are marked "not available"
        load: "bold synth POP --waves 2, then bold load POP and bold spine build"
    band: medium                            # linkage band of the headline figures
    sensitivity_bands: [high, low]          # also run at these bands (a table of the headlines by band)
    events:                                 # events the time-to-event analyses start and end at
      - {name: drr_start, label: ..., table: moj_probation_rqmnts, date: rqmnt_start_date, where: "..."}
    measures:
      - {name: started_3w, label: ..., definition: ..., sources: [probation, ndtms]}
    analyses:
      - {name: share_started, title: ..., kind: shares, measures: [started_3w], by: [requirement_type]}
      - name: time_to_treatment
        title: ...
        kind: time_to_event                 # the generic kind: a declarative time-to-event analysis
        time_to_event: {start: drr_start, end: treatment_start, censor: {max_days: 365}}
    outputs:
      - {name: shares_by_type, title: ..., analysis: share_started}
    methods:
      definitions: ...
      caveats: ...
      synthetic: what synthetic results can and cannot say
    truth: how the synthetic truth is computed from the truth tables

Names are resolved when the file is read: a measure, analysis, output or time-to-event analysis that names an
unknown source, measure, event or analysis is refused naming it, and so is an analysis kind, measure or source
that the study's registered code does not know (:mod:`.registry`). All problems are reported at once, with lines.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ..config import ConfigModel, Document, Problem, read_document, validate_config
from ..config.schema import ConfigError
from ..errors import InputError
from ..trajectories.time_to_event import EventDefinition, TimeToEventDefinition

__all__ = ["StudySpec", "SourceSpec", "MeasureSpec", "AnalysisSpec", "OutputSpec", "MethodsSpec", "PopulationSpec",
           "load_study_spec", "parse_study_spec", "definitions_dir", "shipped_definitions", "BANDS"]

BANDS = ("high", "medium", "low")
Band = Literal["high", "medium", "low"]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Text = Annotated[str, StringConstraints(min_length=1)]
TableName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")]
ParamValue = int | float | str | bool | list[int] | list[float] | list[str]
_HINT = "fix each problem listed above; see docs/studies.md for the fields of a study definition"


class PopulationSpec(ConfigModel):
    """Who the study is about, in words, and the parameters its code reads."""

    description: Text
    parameters: dict[str, ParamValue] = Field(default_factory=dict)


class SourceSpec(ConfigModel):
    """A data source: the warehouse tables that show it is loaded, whether it is required and how to load it."""

    name: Name
    title: str = ""
    tables: list[TableName] = Field(min_length=1)
    linked: list[Name] = Field(default_factory=list)
    required: bool = True
    load: Text
    used_for: str = ""


class MeasureSpec(ConfigModel):
    name: Name
    label: Text
    definition: Text
    sources: list[Name] = Field(default_factory=list)


class AnalysisSpec(ConfigModel):
    name: Name
    title: Text
    kind: Name
    measures: list[Name] = Field(default_factory=list)
    by: list[Name] = Field(default_factory=list)
    sources: list[Name] = Field(default_factory=list)
    time_to_event: TimeToEventDefinition | None = None
    notes: str = ""


class OutputSpec(ConfigModel):
    name: Name
    title: Text
    analysis: Name


class MethodsSpec(ConfigModel):
    definitions: Text
    caveats: Text
    synthetic: Text


class StudySpec(ConfigModel):
    """A study definition (see the module docstring)."""

    name: Name
    version: int = Field(ge=1)
    title: Text
    question: Text
    code: Name | None = None
    population: PopulationSpec
    sources: list[SourceSpec] = Field(min_length=1)
    band: Band = "medium"
    sensitivity_bands: list[Band] = Field(default_factory=list)
    events: list[EventDefinition] = Field(default_factory=list)
    measures: list[MeasureSpec] = Field(default_factory=list)
    analyses: list[AnalysisSpec] = Field(min_length=1)
    outputs: list[OutputSpec] = Field(default_factory=list)
    methods: MethodsSpec
    truth: Text

    @property
    def code_name(self) -> str:
        return self.code or self.name

    def source(self, name: str) -> SourceSpec:
        return next(s for s in self.sources if s.name == name)

    def analysis(self, name: str) -> AnalysisSpec:
        return next(a for a in self.analyses if a.name == name)

    def events_by_name(self) -> dict[str, EventDefinition]:
        return {e.name: e for e in self.events}

    def bands(self) -> list[str]:
        """The headline band first, then the sensitivity bands (each once)."""
        return list(dict.fromkeys([self.band, *self.sensitivity_bands]))

    def methods_text(self) -> str:
        m = self.methods
        return (f"Definitions. {m.definitions.strip()}\n\nCaveats. {m.caveats.strip()}\n\n"
                f"What synthetic results can and cannot say. {m.synthetic.strip()}")


# ------------------------------------------------------------------------------------------------- meaning
def _line(doc: Document | None, path: tuple) -> int | None:
    return doc.line(path) if doc is not None else None


def _duplicates(items: list, what: str, key: str, doc: Document | None) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for i, it in enumerate(items):
        name = it.name
        if name in seen:
            out.append(Problem(_line(doc, (key, i, "name")), f"{key}[{i}].name",
                               f"the {what} name {name!r} is used twice; give each {what} its own name"))
        seen.add(name)
    return out


def check_names(spec: StudySpec, doc: Document | None = None, *, known_events: set[str] | None = None
                ) -> list[Problem]:
    """Every reference in ``spec`` to a source, measure, event or analysis that it does not define (and every
    analysis kind, measure or source the study's registered code does not know), as problems with lines."""
    from .registry import known_kinds, study_code

    probs: list[Problem] = []
    for key, what in (("sources", "source"), ("measures", "measure"), ("analyses", "analysis"),
                      ("outputs", "output"), ("events", "event")):
        probs += _duplicates(getattr(spec, key), what, key, doc)
    sources = {s.name for s in spec.sources}
    measures = {m.name for m in spec.measures}
    analyses = {a.name for a in spec.analyses}
    events = {e.name for e in spec.events} | set(known_events or ())

    def unknown(kind: str, name: str, path: tuple, known: set[str]) -> None:
        allowed = ", ".join(sorted(known)) or "none defined"
        where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
        probs.append(Problem(_line(doc, path), where, f"unknown {kind} {name!r}; known: {allowed}"))

    for i, m in enumerate(spec.measures):
        for j, s in enumerate(m.sources):
            if s not in sources:
                unknown("source", s, ("measures", i, "sources", j), sources)
    code = study_code(spec.code_name, missing_ok=True)
    kinds = known_kinds(spec.code_name)
    for i, a in enumerate(spec.analyses):
        if a.kind not in kinds:
            unknown("analysis kind", a.kind, ("analyses", i, "kind"), kinds)
        for j, m in enumerate(a.measures):
            if m not in measures:
                unknown("measure", m, ("analyses", i, "measures", j), measures)
        for j, s in enumerate(a.sources):
            if s not in sources:
                unknown("source", s, ("analyses", i, "sources", j), sources)
        if a.kind == "time_to_event" and a.time_to_event is None:
            probs.append(Problem(_line(doc, ("analyses", i)), f"analyses[{i}]",
                                 "a time_to_event analysis needs a time_to_event: definition (start, end, censor)"))
        if a.time_to_event is not None:
            t = a.time_to_event
            for side in ("start", "end"):
                ref = getattr(t, side)
                if isinstance(ref, str) and ref not in events:
                    unknown("event", ref, ("analyses", i, "time_to_event", side), events)
            for j, ref in enumerate(t.censor.at_events):
                if isinstance(ref, str) and ref not in events:
                    unknown("event", ref, ("analyses", i, "time_to_event", "censor", "at_events", j), events)
    for i, o in enumerate(spec.outputs):
        if o.analysis not in analyses:
            unknown("analysis", o.analysis, ("outputs", i, "analysis"), analyses)
    if code is not None:
        for i, m in enumerate(spec.measures):
            if code.measures and m.name not in code.measures:
                unknown("measure", m.name, ("measures", i, "name"), set(code.measures))
        for i, s in enumerate(spec.sources):
            if code.sources and s.name not in code.sources:
                unknown("source", s.name, ("sources", i, "name"), set(code.sources))
    else:
        probs.append(Problem(_line(doc, ("code",) if spec.code else ("name",)), "code",
                             f"no study code is registered under {spec.code_name!r}; known: "
                             f"{', '.join(sorted(known_study_codes())) or 'none'}"))
    for i, b in enumerate(spec.sensitivity_bands):
        if b == spec.band:
            probs.append(Problem(_line(doc, ("sensitivity_bands", i)), f"sensitivity_bands[{i}]",
                                 f"{b} is the headline band already; list only the other bands"))
    return probs


def known_study_codes() -> list[str]:
    from .registry import registered

    return sorted(registered())


def parse_study_spec(data: dict, *, source: str = "study definition", document: Document | None = None
                     ) -> StudySpec:
    """Check parsed study data: the schema, then every name it refers to (all problems at once)."""
    from ..trajectories.time_to_event import known_event_names

    spec = validate_config(data, StudySpec, source=source, document=document, hint=_HINT)
    probs = check_names(spec, document, known_events=set(known_event_names()))
    if probs:
        raise ConfigError(source, probs, hint=_HINT)
    return spec


def definitions_dir() -> Path:
    return Path(str(resources.files("bold_prevention.studies") / "definitions"))


def shipped_definitions() -> dict[str, Path]:
    """The study definitions that ship with the toolkit: name -> path."""
    return {p.stem: p for p in sorted(definitions_dir().glob("*.yaml"))}


def definition_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    shipped = shipped_definitions()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    if not re.match(r"^[a-z][a-z0-9_]*$", str(name_or_path)):
        raise InputError(f"study definition {name_or_path} not found", hint="give a YAML file or a study name "
                         "(`bold study list`)")
    raise InputError(f"no study named {name_or_path!r}",
                     hint=f"use one of: {', '.join(shipped) or 'none shipped'}, or the path of a study YAML file")


def load_study_spec(name_or_path: str | Path) -> StudySpec:
    """Read and check a study definition: a shipped study's name or a YAML file."""
    path = definition_path(name_or_path)
    doc = read_document(path, what="study definition")
    return parse_study_spec(doc.data, source=str(path), document=doc)
