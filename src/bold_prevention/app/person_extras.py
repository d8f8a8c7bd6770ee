"""The parts of the person page that come from the spine, the linked records' analysis columns and the early-warning
results: the current position (custody, licence, orders and their requirements, supervision), needs with the date and
age of their evidence, early-warning scores with their outcome windows, and the spine's summary. Each says plainly
when its tables have not been built.

Sources (all pseudonymised, read from the single view's in-memory index, :mod:`.index`): ``person_status`` (the
``spine.person`` row as at the spine's as-at date), ``person_need`` (``spine.person_need``: one row per person and
driver: flag, score, evidence dataset, variable and date), ``ew_scores`` (``results.early_warning_scores``, with each
use case's model card under ``<project>/models/early_warning/<use case>/``), and the tables of
:data:`.index.POSITION_SOURCES`: prison custody spells (``prison_custodial_journey``), probation sentences and
supervision (``moj_probation_flatfile``), the requirements of community and suspended sentence orders
(``moj_probation_rqmnts``), court cases with their sentence (``mags_defendant_case``, ``crown_defendant_case``) and
OASys assessments (``oasys_assessments_metadata``).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..datafirst import MODEL
from ..datafirst import codes as K
from ..datafirst.glossary import GLOSSARY
from ..project import Project
from ..register import driver_labels
from ..warehouse.tables import PERSON
from .single_view import LinkedRecord, PersonPage
from .warehouse import Capabilities

_PERSON_TABLES = {t.name for t in MODEL.person_tables()}
MEM = "memory.main"

#: The drivers by their names in the register (the one set of driver labels).
DRIVER_LABELS = driver_labels()

#: Releases after which a person is on licence until the sentence expires.
LICENCE_RELEASES = {"CRD", "HDC", "PAROLE", "ECSL", "DTO", "RECALL_RELEASE"}
RELEASE_WORDS = {"CRD": "at the conditional release date", "HDC": "on home detention curfew", "PAROLE": "on parole",
                 "ECSL": "on end of custody supervised licence", "DTO": "from a detention and training order",
                 "RECALL_RELEASE": "after a recall", "IMMIGRATION_BAIL": "on immigration bail",
                 "ERS": "under the early removal scheme"}
ADMISSION_WORDS = {"SENTENCE": "sentenced", "REMAND": "on remand", "RECALL": "on recall",
                   "HDC_RECALL": "on recall from home detention curfew"}
#: Probation disposals and what being under one means today.
DISPOSAL_KIND = {"Community Order": ("community", "Community order"),
                 "Suspended Sentence Order": ("suspended", "Suspended sentence order"),
                 "Licence": ("licence", "On licence"),
                 "Post Sentence Supervision": ("supervision", "Post-sentence supervision"),
                 "CJA - Std Determinate Custody": ("supervision", "Custodial sentence (probation supervision)")}
#: How many evidence years make a need's evidence "old" (shown, marked).
OLD_EVIDENCE_YEARS = 2


def driver_label(driver: str) -> str:
    """A driver's name in the register (the glossary's words for a code the register does not have)."""
    return DRIVER_LABELS.get(driver) or GLOSSARY.driver(driver)


def date_words(value: dt.date | None) -> str:
    return "not recorded" if value is None else f"{value.day} {value:%B %Y}"


def age_words(then: dt.date | None, now: dt.date) -> str:
    """``3 years before`` / ``5 months before`` / ``the same month``: how old a piece of evidence is at ``now``."""
    if then is None:
        return "date not recorded"
    months = (now.year - then.year) * 12 + now.month - then.month - (1 if now.day < then.day else 0)
    if months >= 24:
        return f"{months // 12} years old"
    if months >= 1:
        return f"{months} month{'s' if months != 1 else ''} old"
    return "less than a month old"


def age_on(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def add_days(d: dt.date | None, days) -> dt.date | None:
    if d is None or days is None:
        return None
    try:
        return d + dt.timedelta(days=int(days))
    except (OverflowError, ValueError, TypeError):
        return None


# -- records behind the current position -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CustodySpell:
    band_joined: str | None
    reception_date: dt.date | None
    admission_reason: str | None
    sentence_date: dt.date | None
    sentence_length_days: int | None
    release_date: dt.date | None
    release_reason: str | None
    establishment: str | None

    @property
    def sentence_expiry(self) -> dt.date | None:
        return add_days(self.sentence_date, self.sentence_length_days)


@dataclass(frozen=True)
class ProbationEvent:
    band_joined: str | None
    event_id: str | None
    referral_date: dt.date | None
    disposal: str | None
    disposal_date: dt.date | None
    termination_date: dt.date | None
    length_in_days: int | None
    area: str | None

    @property
    def end(self) -> dt.date | None:
        """The termination date, else the disposal date plus its length."""
        return self.termination_date or add_days(self.disposal_date, self.length_in_days)

    @property
    def end_is_planned(self) -> bool:
        return self.termination_date is None and self.end is not None


@dataclass(frozen=True)
class RequirementRow:
    band_joined: str | None
    event_id: str | None
    code: str | None
    description: str | None
    start: dt.date | None
    commencement: dt.date | None
    termination: dt.date | None
    termination_reason: str | None
    length: int | None


@dataclass(frozen=True)
class CourtCase:
    band_joined: str | None
    court: str
    date: dt.date | None
    sentence: str | None
    offence_group: str | None


@dataclass
class Requirement:
    label: str
    start: dt.date | None
    end: dt.date | None
    ended: bool
    note: str = ""


@dataclass
class Position:
    """One part of a person's current position (they can be on several at once: on licence and on an order)."""

    kind: str  # custody | licence | community | suspended | supervision
    label: str
    start: dt.date | None
    end: dt.date | None
    end_note: str = ""
    details: list[str] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    source: str = ""
    band_joined: str | None = None


@dataclass
class CurrentPosition:
    as_at: dt.date
    positions: list[Position]
    #: the most recent position that has ended, when none is current
    last_ended: Position | None = None
    supervising_area: str | None = None
    supervising_area_current: bool = False
    latest_court: str | None = None
    available: bool = True

    @property
    def headline(self) -> str:
        if not self.available:
            return "Not available"
        if not self.positions:
            return "No current custody, licence, order or supervision known"
        return "; ".join(p.label for p in self.positions)


def current_position(as_at: dt.date, custody: list[CustodySpell], probation: list[ProbationEvent],
                     requirements: list[RequirementRow], courts: list[CourtCase]) -> CurrentPosition:
    """The person's position on ``as_at`` from their linked prison, probation and court records (records dated after
    ``as_at`` are not used).

    In custody: a custody spell received on or before ``as_at`` and not released by then. On licence: released on a
    licence (conditional release, home detention curfew, parole, ...) before a sentence expiry (sentence date plus
    sentence length) that is still to come, or a probation licence event in force. Community or suspended sentence
    order, post-sentence supervision or a custodial sentence under probation: a probation event given on or before
    ``as_at`` whose termination date (else its disposal date plus its length) is after ``as_at``, with the
    requirements of that order in force then. Otherwise the most recent position that ended."""
    positions: list[Position] = []
    ended: list[Position] = []
    spells = sorted((c for c in custody if c.reception_date and c.reception_date <= as_at),
                    key=lambda c: c.reception_date)
    for c in spells:
        reason = ADMISSION_WORDS.get(c.admission_reason or "", (c.admission_reason or "").lower() or None)
        released = c.release_date is not None and c.release_date <= as_at
        if not released:
            details = [f"Received into prison {reason}" if reason else "Received into prison"]
            if c.establishment:
                details.append(f"Prison: {c.establishment}")
            end, note = None, ""
            if c.sentence_expiry and c.admission_reason != "REMAND":
                if c.sentence_expiry > as_at:
                    end, note = c.sentence_expiry, "sentence expiry (sentence date plus sentence length)"
                else:
                    note = (f"the sentence expiry ({date_words(c.sentence_expiry)}) has passed but no release is "
                            "recorded: check the prison record")
            positions.append(Position("custody", "In custody", c.reception_date, end, note, details,
                                      source=GLOSSARY.dataset("prison"), band_joined=c.band_joined))
            continue
        expiry = c.sentence_expiry
        if c.release_reason in LICENCE_RELEASES and expiry:
            pos = Position("licence", "On licence", c.release_date, expiry,
                           "sentence expiry (sentence date plus sentence length)",
                           [f"Released {RELEASE_WORDS.get(c.release_reason, '').strip()}".strip()],
                           source=GLOSSARY.dataset("prison"), band_joined=c.band_joined)
            (positions if expiry > as_at else ended).append(pos)
        else:
            ended.append(Position("custody", "In custody", c.reception_date, c.release_date, "released",
                                  source=GLOSSARY.dataset("prison"), band_joined=c.band_joined))
    reqs_by_event: dict[str, list[RequirementRow]] = {}
    for r in requirements:
        if r.event_id:
            reqs_by_event.setdefault(r.event_id, []).append(r)
    area, area_current = None, False
    events = sorted((e for e in probation if e.disposal in DISPOSAL_KIND and e.disposal_date
                     and e.disposal_date <= as_at), key=lambda e: e.disposal_date)
    for e in events:
        kind, label = DISPOSAL_KIND[e.disposal or ""]
        end = e.end
        current = end is None or end > as_at
        note = ("planned end (date given plus length of the order)" if e.end_is_planned else
                "no end date recorded" if end is None else "termination date")
        reqs = []
        for r in sorted(reqs_by_event.get(e.event_id or "", []), key=lambda r: (r.start or dt.date.min)):
            start = r.start or r.commencement
            if start and start > as_at:
                continue
            r_ended = r.termination is not None and r.termination <= as_at
            label_r = (r.description or (K.RQMNT_CATEGORY.label(r.code) if r.code in K.RQMNT_CATEGORY.values
                                         else GLOSSARY.term(r.code or "Requirement")))
            reqs.append(Requirement(label_r, start, r.termination, r_ended,
                                    (r.termination_reason or "").lower() if r_ended else ""))
        if kind == "licence" and any(p.kind == "licence" for p in positions) and current:
            continue  # the prison release already says so
        if kind == "supervision" and e.disposal == "CJA - Std Determinate Custody" and current and any(
                p.kind in ("custody", "licence") for p in positions):
            continue  # the custody spell or licence already says so
        pos = Position(kind, label, e.disposal_date, end, note, [], reqs, GLOSSARY.dataset("probation"),
                       e.band_joined)
        (positions if current else ended).append(pos)
        if e.area:
            if current:
                area, area_current = e.area, True
            elif not area_current:
                area = e.area
    latest_court = None
    dated = sorted((c for c in courts if c.date and c.date <= as_at and c.sentence), key=lambda c: c.date)
    if dated:
        c = dated[-1]
        sentence = K.SENTENCE.label(c.sentence) if c.sentence in K.SENTENCE.values else c.sentence
        latest_court = f"{sentence} ({GLOSSARY.dataset(c.court)}, {date_words(c.date)})"
    last_ended = None
    if not positions and ended:
        last_ended = max(ended, key=lambda p: (p.end or p.start or dt.date.min))
    order = {"custody": 0, "licence": 1, "supervision": 2, "suspended": 3, "community": 4}
    positions.sort(key=lambda p: (order.get(p.kind, 9), p.start or dt.date.min))
    return CurrentPosition(as_at, positions, last_ended, area, area_current, latest_court)


# -- needs, scores and the spine's summary -----------------------------------------------------------------------------

@dataclass
class Evidence:
    dataset: str
    variable: str
    date: dt.date | None
    age: str = ""
    old: bool = False


@dataclass
class NeedFlag:
    driver: str
    label: str
    flag: bool
    score: float | None
    evidence: list[Evidence] = field(default_factory=list)
    #: False when the loaded extract could not measure the need for this person (the flag is then unknown)
    measured: bool = True
    unmeasured_reason: str | None = None
    #: True when the evidence comes from an OASys assessment older than the person's latest one
    earlier: bool = False


@dataclass
class Score:
    use_case: str
    label: str
    t0: dt.date | None
    score: float
    level: str | None
    model_card: bool
    model_version: str | None = None
    window_months: int | None = None
    window_end: dt.date | None = None
    #: True when the score's outcome window closed on or before the as-at date
    out_of_date: bool = False


@dataclass
class Assessment:
    date: dt.date | None
    kind: str
    context: str
    band_joined: str | None


@dataclass
class PersonExtras:
    person_level_records: list[LinkedRecord]
    status: list[tuple[str, str]] = field(default_factory=list)
    status_note: str = "The spine's summary is not available: the spine has not been built in this warehouse."
    needs: list[NeedFlag] = field(default_factory=list)
    needs_note: str = "Needs are not available: the spine has not been built in this warehouse."
    as_at: dt.date | None = None
    scores: list[Score] = field(default_factory=list)
    scores_note: str = "No early-warning scores have been produced in this warehouse."
    position: CurrentPosition | None = None
    assessments: list[Assessment] = field(default_factory=list)

    @property
    def latest_assessment(self) -> Assessment | None:
        return self.assessments[0] if self.assessments else None

    @property
    def current_needs(self) -> list[NeedFlag]:
        return [n for n in self.needs if not n.earlier]

    @property
    def earlier_needs(self) -> list[NeedFlag]:
        return [n for n in self.needs if n.earlier]


def _d(value) -> str:
    return "None recorded" if value is None else f"{value.day} {value:%B %Y}"


def _yes(value) -> str:
    return "Yes" if value else "No"


def status_rows(row: dict) -> list[tuple[str, str]]:
    """Plain-words lines of the spine's summary from one ``spine.person`` row (labels from the glossary)."""
    out: list[tuple[str, str]] = []
    g = GLOSSARY.column
    if row.get("in_custody") is not None:
        out.append((g("in_custody"), _yes(row["in_custody"])))
    if "last_release_date" in row:
        out.append((g("last_release_date"), _d(row["last_release_date"])))
    if row.get("cj_contact_12m") is not None:
        out.append((g("cj_contact_12m"), _yes(row["cj_contact_12m"])))
    if "last_cj_date" in row:
        out.append((g("last_cj_date"), _d(row["last_cj_date"])))
    if "last_oasys_date" in row:
        out.append((g("last_oasys_date"), _d(row["last_oasys_date"])))
    if row.get("n_possession_claims_12m") is not None:
        out.append((g("n_possession_claims_12m"), str(int(row["n_possession_claims_12m"]))))
    if row.get("n_family_cases_12m") is not None:
        out.append((g("n_family_cases_12m"), str(int(row["n_family_cases_12m"]))))
    if row.get("lad_name"):
        out.append(("Local authority (latest record)", str(row["lad_name"])))
    if row.get("need_count") is not None:
        out.append((g("need_count"), str(int(row["need_count"]))))
    return out


def _card_info(project: Project, use_case: str) -> tuple[str, bool, int | None]:
    """(title, whether a model card exists, outcome window in months) for a use case."""
    card = latest_card(project, use_case)
    if card:
        uc = card.get("use_case", {}) or {}
        window = uc.get("window_months")
        return (str(uc.get("title") or GLOSSARY.term(use_case)), True,
                int(window) if isinstance(window, int) else None)
    return GLOSSARY.term(use_case), False, None


def latest_card(project: Project, use_case: str) -> dict | None:
    """The latest model card (``model_card.json``) of an early-warning use case, or None."""
    folder = project.models_dir / "early_warning" / use_case
    latest = folder / "latest.json"
    try:
        version = json.loads(latest.read_text(encoding="utf-8"))["model_version"]
        path = Path(folder / version / "model_card.json")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# (models folder, use case) -> (modification time of latest.json, the card's title, card or not, window): every
# person page shows the scores' model cards, so each card is read once, and again only when a model is retrained
# (latest.json changes); no card read per request.
_CARDS: dict[tuple[str, str], tuple[int | None, tuple[str, bool, int | None]]] = {}
_CARDS_LOCK = threading.Lock()


def _card_info_cached(project: Project, use_case: str) -> tuple[str, bool, int | None]:
    folder = project.models_dir / "early_warning" / use_case
    try:
        stamp: int | None = (folder / "latest.json").stat().st_mtime_ns
    except OSError:
        stamp = None
    key = (str(folder), use_case)
    hit = _CARDS.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    info = _card_info(project, use_case)
    with _CARDS_LOCK:
        _CARDS[key] = (stamp, info)
    return info


def add_months(d: dt.date, months: int) -> dt.date:
    import calendar

    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _rows(con, table: str, columns: str, person_id: str, bands: tuple[str, ...]) -> list[tuple]:
    rows = con.execute(f"select band_joined, {columns} from {MEM}.{table} where person_id = ?",
                       [person_id]).fetchall()
    return [r for r in rows if r[0] is None or r[0] in bands]


def collect(con, caps: Capabilities, project: Project, person_id: str, page: PersonPage, *,
            indexed: frozenset[str] | None = None, today: dt.date | None = None) -> PersonExtras:
    """Position, needs, scores and the spine's summary of one person (each empty, with a note, when its tables are
    missing). Only records that joined the person at one of the bands shown on the page count towards the position
    and the assessments."""
    has_index = (lambda n: n in indexed) if indexed is not None else (lambda n: True)
    records = [r for r in page.records if r.source_table in _PERSON_TABLES]
    extras = PersonExtras(person_level_records=records)
    bands = page.bands_shown
    if caps.has(PERSON):
        cur = con.execute(f"select * from {MEM}.person_status where person_id = ?", [person_id])
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        if row is None:
            extras.status_note = ("This person is not in the spine as at its date (no record dated on or before "
                                  "it at the spine's band).")
            extras.needs_note = extras.status_note
            as_at = con.execute("select max(as_at_date) from spine.spine_info").fetchone()[0] if caps.has(
                "spine.spine_info") else None
            extras.as_at = as_at
        else:
            r = dict(zip(names, row, strict=True))
            extras.as_at = r.get("as_at_date")
            extras.status = status_rows(r)
    as_at = extras.as_at or today or dt.date.today()

    # assessments (newest first) and the current position
    if has_index("person_assessment"):
        rows = _rows(con, "person_assessment", "assessment_date, assessment_type, assessment_context", person_id,
                     bands)
        rows = [r for r in rows if r[1] is None or r[1] <= as_at]
        rows = sorted(rows, key=lambda r: r[1] or dt.date.min, reverse=True)
        extras.assessments = [Assessment(
            d, K.ASSESSMENT_TYPE.label(t) if t in K.ASSESSMENT_TYPE.values else (t or "Type not recorded"),
            K.ASSESSMENT_CONTEXT.label(c) if c in K.ASSESSMENT_CONTEXT.values else (c or ""), b)
            for b, d, t, c in rows]
    position_tables = ("person_custody", "person_probation")
    if any(has_index(t) for t in position_tables):
        custody = [CustodySpell(*r) for r in _rows(
            con, "person_custody", "reception_date, admission_reason, sentence_date, sentence_length_days, "
            "release_date, release_reason, establishment", person_id, bands)] if has_index("person_custody") else []
        probation = [ProbationEvent(*r) for r in _rows(
            con, "person_probation", "event_id_hash, referral_date, disposal_type_description, disposal_date, "
            "disposal_termination_date, length_in_days, probation_area_desc", person_id, bands)] if has_index(
            "person_probation") else []
        reqs = [RequirementRow(*r) for r in dict.fromkeys(_rows(
            con, "person_requirement", "event_id_hash, rqmnt_type_main_category_code, rqmnt_type_main_category_desc, "
            "rqmnt_start_date, rqmnt_commencement_date, rqmnt_termination_date, rqmnt_termination_reason_desc, "
            "length", person_id, bands))] if has_index("person_requirement") else []
        courts: list[CourtCase] = []
        if has_index("person_court_mags"):
            courts += [CourtCase(b, "mags", d or h, s, o) for b, d, h, s, o, _out in _rows(
                con, "person_court_mags", "final_result_date, first_hearing_date, sentence, offence_group, outcome",
                person_id, bands)]
        if has_index("person_court_crown"):
            courts += [CourtCase(b, "crown", d or h, s, o) for b, d, h, s, o, _out in _rows(
                con, "person_court_crown", "sentence_date, receipt_date, sentence, offence_group, outcome",
                person_id, bands)]
        extras.position = current_position(as_at, custody, probation, reqs, courts)
    else:
        extras.position = CurrentPosition(as_at, [], available=False)

    if caps.has("spine.person_need"):
        rows = con.execute(
            "select driver, value, score, evidence_dataset, evidence_variable, evidence_date, measured, "
            f"unmeasured_reason from {MEM}.person_need where person_id = ? order by driver",
            [person_id]).fetchall()
        latest = extras.latest_assessment.date if extras.latest_assessment else None
        needs = []
        for driver, value, score, ds, var, when, measured, reason in rows:
            old = when is not None and add_months(when, 12 * OLD_EVIDENCE_YEARS) <= as_at
            ev = [Evidence(GLOSSARY.dataset(ds), GLOSSARY.variables(var), when, age_words(when, as_at), old)
                  ] if ds or var else []
            earlier = bool(ds == "oasys" and when and latest and when < latest)
            needs.append(NeedFlag(driver, driver_label(driver), bool(value),
                                  None if score is None else float(score), ev, measured is not False, reason,
                                  earlier))
        needs.sort(key=lambda n: (not n.flag, not n.measured, n.label))
        extras.needs = needs
        if not needs:
            extras.needs_note = "No record held for this person gives evidence about any need."
    if caps.has("results.early_warning_scores"):
        rows = con.execute(
            "select use_case, t0, score, model_version from ("
            "  select *, row_number() over (partition by use_case order by t0 desc) as rn "
            f"  from {MEM}.ew_scores where person_id = ?) where rn = 1 order by use_case",
            [person_id]).fetchall()
        for use_case, t0, score, version in rows:
            title, has_card, window = _card_info_cached(project, use_case)
            end = add_months(t0, window) if (t0 and window) else None
            extras.scores.append(Score(use_case, title, t0, float(score), None, has_card, version, window, end,
                                       bool(end and end <= as_at)))
        if not rows:
            extras.scores_note = ("This person has no early-warning score: they have had none of the events the "
                                  "models score (for example a release from custody or a first possession claim).")
    return extras
