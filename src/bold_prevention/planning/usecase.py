"""Step A use cases: from a question to drivers, measures and candidate variables, then a feasibility plan.

The annex's Step A starts with a use-case question, translates it into drivers and outcomes, drivers into measures
recorded in the register, and confirms linkage feasibility before anything is built. :func:`propose` does the
first three from the words of the question (the catalogue search's driver and outcome vocabularies, the shipped
cohort specs, the register's entries and the stored catalogue); the result is a plain YAML file the analyst edits
(:class:`UseCaseSchema`). :func:`plan` measures, on the loaded project, what each measure would rest on: the share
of the spine population with a record in its source, the missingness of its variables in the loaded extract, the
link rate and band mix of its dataset, what the use case adds to the register, and the Wave 1-3 sources it would
want. :func:`run_use_case` builds the cohort and writes the disclosure-checked profile release.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field

from ..catalogue.search import Vocabulary, default_vocabulary, tokens
from ..config import ConfigModel, IsoDate, load_config
from ..errors import InputError
from ..files import atomic_file
from ..register import Register, load_register

#: The three linkage bands, strictest first.
BANDS = ("high", "medium", "low")


# ------------------------------------------------------------------------------------------------ the file
class MeasureSchema(ConfigModel):
    """One measure of the use case: a register entry (driver or outcome), with extra candidate variables."""

    entry: str = Field(description="A register entry id (driver or outcome).")
    candidates: list[str] = Field(default_factory=list,
                                  description="Extra catalogue variables as table.variable, beyond the register's.")
    feature_sets: list[str] = Field(default_factory=list,
                                    description="Feature sets whose members the measure also reads "
                                                "(bold usecase feature-sets lists them).")


class UseCaseSchema(ConfigModel):
    """The keys and types of a use-case file (``bold usecase new`` writes one; the analyst edits it)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    question: str = Field(min_length=1)
    cohort: str = Field(description="A shipped cohort spec's name, or the path of a cohort spec YAML file.")
    drivers: list[str] = Field(default_factory=list)
    outcomes: list[str] = Field(default_factory=list)
    measures: list[MeasureSchema] = Field(default_factory=list)
    band: Literal["high", "medium", "low"] = "medium"
    as_at: IsoDate | None = None
    notes: str = ""


@dataclass(frozen=True)
class Match:
    """A driver, outcome or cohort the question's words point to, and the words that did."""

    key: str
    label: str
    score: float
    words: tuple[str, ...]


def _phrase_hits(question: set[str], phrases: tuple[str, ...]) -> tuple[float, list[str]]:
    score, words = 0.0, []
    for phrase in phrases:
        toks = tokens(phrase)
        if toks and set(toks) <= question:
            score += len(toks)  # a phrase of two words that matches says more than one word
            words.append(phrase)
    return score, words


def _synonym_closure(question: list[str], vocab: Vocabulary) -> set[str]:
    words = set(question)
    text = " ".join(question)
    for group in vocab.synonyms:
        stems = [" ".join(tokens(g)) for g in group]
        if any(s and re.search(rf"(^| ){re.escape(s)}( |$)", text) for s in stems):
            for s in stems:
                words.update(s.split())
    return words


def match_vocabulary(question: str, vocab: Vocabulary | None = None) -> tuple[list[Match], list[Match]]:
    """The drivers and the outcomes whose vocabulary terms occur in ``question`` (best first)."""
    vocab = vocab or default_vocabulary()
    q = _synonym_closure(tokens(question), vocab)
    out: tuple[list[Match], list[Match]] = ([], [])
    for entries, found in ((vocab.drivers, out[0]), (vocab.outcomes, out[1])):
        for key, e in entries.items():
            phrases = tuple(dict.fromkeys(p.lower() for p in (key.replace("_", " "), e.label, *e.terms)))
            score, words = _phrase_hits(q, phrases)
            if score:
                found.append(Match(key, e.label, score, tuple(words)))
        found.sort(key=lambda m: (-m.score, m.key))
        # a match resting only on words a better match of the same kind already explains ("health" inside
        # "mental health") is dropped
        kept: list[Match] = []
        for m in found:
            covered = {t for k in kept for w in k.words for t in tokens(w)}
            if not all(set(tokens(w)) <= covered for w in m.words):
                kept.append(m)
        found[:] = kept
    return out


def match_cohort(question: str) -> Match | None:
    """The shipped cohort whose name and title share the most words with ``question`` (at least two)."""
    from ..cohorts import load_spec, shipped_specs

    q = set(tokens(question))
    best: Match | None = None
    for name in shipped_specs():
        spec = load_spec(name)
        words = set(tokens(f"{name} {spec.title}")) & q
        score = float(len(words))
        if score >= 2 and (best is None or score > best.score):
            best = Match(name, spec.title, score, tuple(sorted(words)))
    return best


_FILLER = frozenset({"identify", "find", "estimate", "understand", "measure", "who", "what", "which", "how", "with",
                     "for", "the", "and", "people", "persons", "risk", "early"})


def _slug(question: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if len(w) > 2 and w not in _FILLER][:5]
    s = "_".join(words) or "use_case"
    return ("uc_" + s if not s[0].isalpha() else s)[:60]


@dataclass
class Proposal:
    """What :func:`propose` found, and the use case it wrote."""

    use_case: UseCaseSchema
    drivers: list[Match]
    outcomes: list[Match]
    cohort: Match | None
    candidates: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def propose(question: str, *, name: str | None = None, register: Register | None = None,
            vocabulary: Vocabulary | None = None, catalogue=None, max_terms: int = 4,
            candidates_per_measure: int = 3) -> Proposal:
    """Drivers and outcomes from the words of ``question``, measures from the register, candidate variables from
    the catalogue (``catalogue``: a :class:`~bold_prevention.catalogue.search.CatalogueIndex` or ``None`` to skip).

    Nothing is guessed beyond the vocabularies: a question that names no driver or outcome gets none, and
    :func:`propose` says so in ``notes``.
    """
    if not question or not question.strip():
        raise InputError("the use-case question is empty", hint="describe the question in words, e.g. \"identify "
                         "early housing insecurity risk for adults with multiple disadvantages\"")
    register = register or load_register()
    drivers, outcomes = match_vocabulary(question, vocabulary)
    drivers, outcomes = drivers[:max_terms], outcomes[:max_terms]
    cohort = match_cohort(question)
    notes: list[str] = []
    if not drivers and not outcomes:
        notes.append("No driver or outcome word found in the question: add them to the file by hand "
                     "(`bold catalogue search` lists the vocabulary).")
    ids = set(register.ids)
    measures, cands = [], {}
    for m in (*drivers, *outcomes):
        if m.key not in ids:
            notes.append(f"{m.key} has no register entry yet: record one before the plan can measure it.")
            continue
        extra: list[str] = []
        if catalogue is not None:
            known = {f"{c.table}.{c.variable}" for c in register.entry(m.key).candidates}
            kind = "driver" if any(d.key == m.key for d in drivers) else "outcome"
            hits = catalogue.search(question, **{kind: m.key}, limit=20)
            extra = [h.key for h in hits if h.key not in known][:candidates_per_measure]
        cands[m.key] = extra
        measures.append(MeasureSchema(entry=m.key, candidates=extra))
    uc = UseCaseSchema(name=name or _slug(question), question=question.strip(),
                       cohort=cohort.key if cohort else "multiple_disadvantage",
                       drivers=[d.key for d in drivers], outcomes=[o.key for o in outcomes], measures=measures)
    if cohort is None:
        notes.append("No shipped cohort matched the question's words: the file starts from multiple_disadvantage; "
                     "change `cohort:` to another spec (`bold cohort list`) or a spec file of your own.")
    return Proposal(uc, drivers, outcomes, cohort, cands, notes)


def dump_use_case(uc: UseCaseSchema, proposal: Proposal | None = None) -> str:
    """The use case as the YAML file the analyst edits, with what matched as comments."""
    head = ["# A Step A use case. Edit freely, then `bold usecase plan FILE` and `bold usecase run FILE`.",
            "# drivers / outcomes: register entry ids; measures: the register entries to measure, with extra",
            "# catalogue variables (table.variable) to consider; cohort: a shipped cohort spec or a spec file."]
    if proposal is not None:
        for m in (*proposal.drivers, *proposal.outcomes):
            head.append(f"# {m.key}: matched on {', '.join(m.words)}")
        if proposal.cohort is not None:
            head.append(f"# cohort {proposal.cohort.key}: matched on {', '.join(proposal.cohort.words)}")
        head += [f"# note: {n}" for n in proposal.notes]
    body = yaml.safe_dump(uc.model_dump(mode="json", exclude_none=True), sort_keys=False, width=110)
    return "\n".join(head) + "\n" + body


def write_use_case(uc: UseCaseSchema, path: str | os.PathLike, *, proposal: Proposal | None = None,
                   overwrite: bool = False) -> Path:
    p = Path(path)
    with atomic_file(p, overwrite=overwrite) as fh:
        fh.write(dump_use_case(uc, proposal))
    return p


def load_use_case(path: str | os.PathLike, register: Register | None = None) -> UseCaseSchema:
    """Read and check a use-case file: keys and types, and that every driver, outcome and measure is a register
    entry of the right kind (each unknown one named)."""
    uc = load_config(path, UseCaseSchema, source=str(path))
    register = register or load_register()
    problems = []
    kinds = {e.id: e.kind for e in register.entries}
    for key, want in [*((d, "driver") for d in uc.drivers), *((o, "outcome") for o in uc.outcomes)]:
        if key not in kinds:
            problems.append(f"{want} {key!r} is not a register entry")
        elif kinds[key] != want:
            problems.append(f"{key!r} is a register {kinds[key]}, listed under {want}s")
    for m in uc.measures:
        if m.entry not in kinds:
            problems.append(f"measure {m.entry!r} is not a register entry")
        for c in m.candidates:
            if not re.fullmatch(r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+", c):
                problems.append(f"measure {m.entry}: candidate {c!r} is not table.variable")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems),
                         hint=f"use register entry ids ({', '.join(sorted(kinds))}); `bold register show` lists them")
    return uc
