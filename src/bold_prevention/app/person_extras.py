"""The parts of the person page that come from the spine and the early-warning results: current status, needs with
their evidence, and early-warning scores. Each says plainly when its tables have not been built."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..datafirst import MODEL
from ..project import Project
from .single_view import LinkedRecord, PersonPage
from .warehouse import Capabilities

_PERSON_TABLES = {t.name for t in MODEL.person_tables()}


@dataclass
class Evidence:
    dataset: str
    variable: str
    date: dt.date | None


@dataclass
class NeedFlag:
    driver: str
    label: str
    flag: bool
    score: float | None
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Score:
    use_case: str
    label: str
    t0: dt.date | None
    score: float
    level: str | None
    model_card: bool


@dataclass
class PersonExtras:
    person_level_records: list[LinkedRecord]
    status: list[tuple[str, str]] = field(default_factory=list)
    status_note: str = "Current status is not available: the spine has not been built in this warehouse."
    needs: list[NeedFlag] = field(default_factory=list)
    needs_note: str = "Needs are not available: the spine has not been built in this warehouse."
    as_at: dt.date | None = None
    scores: list[Score] = field(default_factory=list)
    scores_note: str = "No early-warning scores have been produced in this warehouse."


def collect(con, caps: Capabilities, project: Project, person_id: str, page: PersonPage) -> PersonExtras:
    """Status, needs and scores of one person (each empty, with a note, when its tables are missing)."""
    records = [r for r in page.records if r.source_table in _PERSON_TABLES]
    return PersonExtras(person_level_records=records)
