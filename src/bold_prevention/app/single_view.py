"""The practitioners' single-person view: finding a person and assembling one person's page.

Reads the linkage layer's identity store (``linkage.identity_<table>``: record id, names, date of birth, postcode, sex)
joined to ``spine.person_record`` (pseudonymised person id, record, ``band_joined``), and the spine's
pseudonymised tables (``spine.timeline``, ``spine.person``, needs evidence) and ``results.early_warning_scores``.
Identifiers are read only for the records that match one search or belong to the one person being viewed, and never
leave the page being rendered.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

from ..datafirst import MODEL
from ..datafirst.glossary import GLOSSARY
from ..errors import InputError
from .warehouse import Capabilities

BANDS: tuple[str, ...] = ("high", "medium", "low")
BAND_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}
#: How a linkage band reads everywhere on the practitioners' pages: words first, then the band.
BAND_WORDS = {"high": "Confident match", "medium": "Probable match", "low": "Possible match"}
#: What each band means (the linkage layer's default thresholds, ``linkage.splink_model.Thresholds``).
BAND_MEANING = {
    "high": "joins this person even when only links with a match probability of 0.99 or more are accepted",
    "medium": "joins this person only when links with a match probability of 0.90 or more are accepted",
    "low": "joins this person only when links with a match probability of 0.50 or more are accepted: check it "
           "before relying on it",
}


def confidence_words(band: str | None) -> str:
    """``Probable match (medium band)``: the one way a link's confidence is written on the practitioners' pages."""
    if band not in BAND_WORDS:
        return "Link confidence not recorded"
    return f"{BAND_WORDS[band]} ({band} band)"


def band_meaning(band: str | None) -> str:
    return BAND_MEANING.get(band or "", "the band at which this record joined is not recorded")
PERSON_ID_PATTERN = re.compile(r"^[0-9a-f]{20}$")
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{4,80}$")
_NAME_OK = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]*)*$", re.UNICODE)


def _letters(value: str) -> bool:
    from ..linkage.standardise import clean_name

    return bool(clean_name(value))


def valid_person_id(value: str) -> bool:
    return bool(PERSON_ID_PATTERN.match(value or ""))


@dataclass(frozen=True)
class SearchQuery:
    """What a practitioner searched for. Build it with :func:`parse_search`, which validates every field."""

    forename: str | None = None
    surname: str | None = None
    date_of_birth: dt.date | None = None
    reference: str | None = None

    @property
    def fields_used(self) -> list[str]:
        """The kinds of field used (written to the audit log instead of the values)."""
        return [n for n in ("forename", "surname", "date_of_birth", "reference") if getattr(self, n)]


@dataclass
class FieldError:
    field: str
    message: str


def parse_search(form: dict[str, str]) -> tuple[SearchQuery | None, list[FieldError]]:
    """Validate a search form (``forename``, ``surname``, ``dob-day``, ``dob-month``, ``dob-year``, ``reference``).

    A search needs a source record reference, or at least two of forename, surname and date of birth, so that one
    search cannot list a whole surname or birthday."""
    errors: list[FieldError] = []
    forename = (form.get("forename") or "").strip()
    surname = (form.get("surname") or "").strip()
    reference = (form.get("reference") or "").strip()
    for name, value, label in (("forename", forename, "First name"), ("surname", surname, "Last name")):
        if value and (len(value) > 60 or not _NAME_OK.match(value)):
            errors.append(FieldError(name, f"{label} must only include letters, spaces, hyphens and apostrophes"))
    day, month, year = ((form.get(f"dob-{p}") or "").strip() for p in ("day", "month", "year"))
    dob = None
    if day or month or year:
        if not (day and month and year):
            missing = [n for n, v in (("day", day), ("month", month), ("year", year)) if not v]
            errors.append(FieldError("dob-" + missing[0], f"Date of birth must include a {' and '.join(missing)}"))
        elif not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
            errors.append(FieldError("dob-day", "Date of birth must be a real date, for example 27 3 1990"))
        else:
            try:
                dob = dt.date(int(year), int(month), int(day))
            except ValueError:
                errors.append(FieldError("dob-day", "Date of birth must be a real date, for example 27 3 1990"))
            else:
                if dob > dt.date.today():
                    errors.append(FieldError("dob-day", "Date of birth must be in the past"))
                    dob = None
                elif dob.year < 1900:
                    errors.append(FieldError("dob-year", "Date of birth must be after 1900"))
                    dob = None
    if reference and not REFERENCE_PATTERN.match(reference):
        errors.append(FieldError("reference", "Source record reference must be 4 to 80 letters, digits, dashes "
                                              "or underscores"))
    if errors:
        return None, errors
    if forename and not _letters(forename):
        errors.append(FieldError("forename", "First name must include at least one letter"))
    if surname and not _letters(surname):
        errors.append(FieldError("surname", "Last name must include at least one letter"))
    if errors:
        return None, errors
    given = sum(bool(x) for x in (forename, surname, dob))
    if not reference and given < 2:
        errors.append(FieldError("surname" if not surname else ("forename" if not forename else "dob-day"),
                                 "Enter a source record reference, or at least two of first name, last name and "
                                 "date of birth"))
        return None, errors
    return SearchQuery(forename or None, surname or None, dob, reference or None), []


@dataclass
class Candidate:
    """One person who may be the one searched for."""

    person_id: str
    names: list[str]
    dates_of_birth: list[dt.date]
    sexes: list[str]
    #: Matching records by the band at which each joined this person.
    matched_by_band: dict[str, int]
    linked_records: int = 0
    datasets: list[str] = field(default_factory=list)
    best_match_score: float | None = None

    @property
    def confidence(self) -> str:
        """The weakest band among the matching records (a person matched only through a low link is a low
        confidence candidate)."""
        present = [b for b in BANDS if self.matched_by_band.get(b)]
        return present[-1] if present else "high"

    @property
    def match_summary(self) -> str:
        """``2 matching records: 1 confident, 1 probable`` (the bands behind :attr:`confidence`, in words)."""
        n = sum(self.matched_by_band.values())
        words = {"high": "confident", "medium": "probable", "low": "possible"}
        parts = [f"{self.matched_by_band[b]} {words[b]}" for b in BANDS if self.matched_by_band.get(b)]
        return f"{n} matching record{'s' if n != 1 else ''}: " + ", ".join(parts) if parts else ""

    @property
    def dataset_words(self) -> list[str]:
        return list(dict.fromkeys(GLOSSARY.source(d) for d in self.datasets))


@dataclass
class SearchResult:
    candidates: list[Candidate]
    truncated: bool
    unlinked_records: int


def _display_name(forename: str | None, middle: str | None, surname: str | None) -> str:
    return " ".join(p.strip() for p in (forename, middle, surname) if p and p.strip())


_INDEX = "memory.main.person_index"
_HIT_COLUMNS = ("source_table, record_id, forename, middle_names, surname, date_of_birth, sex, person_id, "
                "band_joined, match_score, person_records, person_datasets")


def _query_keys(query: SearchQuery) -> dict[str, object]:
    """The query in the linkage layer's standard forms (the same rules the index was built with)."""
    from ..linkage.standardise import canonical_forename, clean_surname, split_forenames, swapped_date

    keys: dict[str, object] = {}
    if query.surname:
        s = clean_surname(query.surname)
        keys["surname"] = s.replace(" ", "") if s else None
    if query.forename:
        first, _rest = split_forenames(query.forename)
        keys["forename"] = first
        keys["canonical"] = canonical_forename(first) if first else None
    if query.date_of_birth:
        keys["dob"] = query.date_of_birth.isoformat()
        sw = swapped_date(query.date_of_birth)
        keys["dob_swapped"] = sw.isoformat() if sw else keys["dob"]
    return keys


def search_people(con: duckdb.DuckDBPyConnection, caps: Capabilities, query: SearchQuery, *,
                  limit: int = 50) -> SearchResult:
    """People whose linked records match ``query``.

    Names are compared in the linkage layer's standard form (case, accents, punctuation and titles removed; the
    surname without spaces or either part of a double-barrelled surname; the first name as a prefix, or through the
    shipped nickname list, so ``Rob`` and ``Bob`` find ``Robert``); the date of birth exactly or with day and month
    swapped; the reference against every person-level record's id. At most ``limit`` candidates, strongest matches
    first. Reads the single view's in-memory index (:mod:`.index`)."""
    if not caps.single_view:
        raise InputError("the warehouse has no single-view tables: missing "
                         + ", ".join(caps.missing_for_single_view()),
                         hint="build the linkage and the spine (`bold demo` does both), then restart `bold serve`")
    k = _query_keys(query)
    if (query.surname and not k.get("surname")) or (query.forename and not k.get("forename")):
        return SearchResult([], False, 0)
    conds: list[str] = []
    params: list[object] = []
    forename_sql = "(starts_with(forename_std, ?) or forename_canonical = ?)"
    if query.reference:
        conds.append("record_id = ?")
        params.append(query.reference)
        if query.surname:
            conds.append("surname_key = ?")
            params.append(k["surname"])
        if query.date_of_birth:
            conds.append("(cast(dob as varchar) = ? or cast(dob as varchar) = ?)")
            params += [k["dob"], k["dob_swapped"]]
        if query.forename:
            conds.append(forename_sql)
            params += [k["forename"], k["canonical"]]
        sql = f"select {_HIT_COLUMNS} from {_INDEX} where " + " and ".join(conds)
    elif query.surname and query.date_of_birth:
        key, key_sw = f"{k['surname']}|{k['dob']}", f"{k['surname']}|{k['dob_swapped']}"
        extra, extra_params = "", []
        if query.forename:
            extra, extra_params = f" and {forename_sql}", [k["forename"], k["canonical"]]
        sql = (f"select {_HIT_COLUMNS} from {_INDEX} where sd_key = ?{extra} union "
               f"select {_HIT_COLUMNS} from {_INDEX} where sd_key_swapped = ?{extra}")
        params = [key, *extra_params, key, *extra_params]
        if key_sw != key:
            sql += f" union select {_HIT_COLUMNS} from {_INDEX} where sd_key = ?{extra}"
            params += [key_sw, *extra_params]
    elif query.date_of_birth:  # forename and date of birth
        key = f"{k['canonical']}|{k['dob']}"
        sql = (f"select {_HIT_COLUMNS} from {_INDEX} where fd_key = ? union "
               f"select {_HIT_COLUMNS} from {_INDEX} where fd_key_swapped = ?")
        params = [key, key]
    else:  # surname and forename
        sql = f"select {_HIT_COLUMNS} from {_INDEX} where surname_key = ? and {forename_sql}"
        params = [k["surname"], k["forename"], k["canonical"]]
    hits = con.execute(f"select distinct * from ({sql})", params).fetchall()
    if not hits:
        return SearchResult([], False, 0)
    by_person: dict[str, Candidate] = {}
    unlinked = 0
    for _table, _rid, forename, middle, surname, dob, sex, person_id, band_joined, score, n, ds in hits:
        if person_id is None:
            unlinked += 1
            continue
        c = by_person.get(person_id)
        if c is None:
            c = by_person[person_id] = Candidate(person_id, [], [], [], {}, int(n or 0), list(ds or []))
        name = _display_name(forename, middle, surname)
        if name and name not in c.names:
            c.names.append(name)
        if dob and dob not in c.dates_of_birth:
            c.dates_of_birth.append(dob)
        if sex and sex not in c.sexes:
            c.sexes.append(sex)
        c.matched_by_band[band_joined] = c.matched_by_band.get(band_joined, 0) + 1
        if score is not None and (c.best_match_score is None or score > c.best_match_score):
            c.best_match_score = float(score)
    ranked = sorted(by_person.values(),
                    key=lambda c: (BANDS.index(c.confidence) if c.confidence in BANDS else 3,
                                   -sum(c.matched_by_band.values()), c.person_id))
    truncated = len(ranked) > limit
    ranked = ranked[:limit]
    for c in ranked:
        c.dates_of_birth.sort()
    return SearchResult(ranked, truncated, unlinked)


class SavedSearches:
    """Search terms kept in server memory so that a practitioner can go back to their results.

    The browser only ever sees a random search id (in the URL of the results page, the reason page and the person
    page's back link), never a name or a date. Terms are bound to the session that made them (another session's
    id finds nothing), expire after ``minutes`` and at most ``per_session`` (and ``total``) are kept."""

    ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

    def __init__(self, *, minutes: int = 30, per_session: int = 20, total: int = 20_000) -> None:
        import threading
        from collections import OrderedDict

        self.seconds = minutes * 60
        self.per_session = per_session
        self.total = total
        self._items: OrderedDict[str, tuple[str, float, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, session_id: str, values: dict[str, str]) -> str:
        import secrets
        import time

        sid = secrets.token_urlsafe(16)
        with self._lock:
            self._items[sid] = (session_id, time.monotonic() + self.seconds, dict(values))
            mine = [k for k, v in self._items.items() if v[0] == session_id]
            for k in mine[:-self.per_session]:
                del self._items[k]
            while len(self._items) > self.total:
                self._items.popitem(last=False)
        return sid

    def get(self, session_id: str, search_id: str | None) -> dict[str, str] | None:
        import time

        if not search_id or not self.ID.match(search_id):
            return None
        with self._lock:
            item = self._items.get(search_id)
            if item is None or item[0] != session_id:
                return None
            if item[1] < time.monotonic():
                del self._items[search_id]
                return None
            return dict(item[2])

    @classmethod
    def valid_id(cls, search_id: str | None) -> str | None:
        return search_id if search_id and cls.ID.match(search_id) else None


# -- one person's page ------------------------------------------------------------------------------------------


@dataclass
class LinkedRecord:
    source_dataset: str
    source_table: str
    record_id: str
    match_score: float | None
    band_joined: str

    @property
    def dataset_words(self) -> str:
        return GLOSSARY.source(self.source_dataset) if self.source_dataset else GLOSSARY.dataset_of_table(
            self.source_table)

    @property
    def table_words(self) -> str:
        return GLOSSARY.table(self.source_table)


@dataclass
class IdentityValue:
    value: str
    sources: list[str]


@dataclass
class IdentitySummary:
    names: list[IdentityValue]
    dates_of_birth: list[IdentityValue]
    sexes: list[IdentityValue]
    postcodes: list[IdentityValue]
    #: the dates of birth as dates, in the order of ``dates_of_birth`` (most records first)
    dob_dates: list[dt.date] = field(default_factory=list)


@dataclass
class TimelineEvent:
    event_date: dt.date | None
    dataset: str
    source_table: str
    record_id: str | None
    event_type: str
    description: str
    band_joined: str | None

    @property
    def dataset_words(self) -> str:
        return GLOSSARY.dataset(self.dataset)

    @property
    def event_words(self) -> str:
        return GLOSSARY.event(self.event_type)

    @property
    def table_words(self) -> str:
        return GLOSSARY.table(self.source_table)

    @property
    def uncertain(self) -> bool:
        return self.band_joined not in (None, "high")


@dataclass
class PersonPage:
    person_id: str
    band: str | None
    bands_shown: tuple[str, ...]
    records: list[LinkedRecord]
    hidden_records: list[LinkedRecord]
    identity: IdentitySummary
    timeline: list[TimelineEvent]
    timeline_available: bool
    datasets_hidden: list[str] = field(default_factory=list)
    #: "newest" (the default) or "oldest"
    order: str = "newest"

    @property
    def uncertain_records(self) -> list[LinkedRecord]:
        """Records shown that joined below the high band."""
        return [r for r in self.records if r.band_joined != "high"]

    @property
    def main_name(self) -> str | None:
        return self.identity.names[0].value if self.identity.names else None

    @property
    def main_date_of_birth(self) -> dt.date | None:
        return self.identity.dob_dates[0] if self.identity.dob_dates else None

    def age_on(self, day: dt.date) -> int | None:
        dob = self.main_date_of_birth
        if dob is None or dob > day:
            return None
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    def recent_events(self, n: int = 4) -> list[TimelineEvent]:
        """The ``n`` most recent dated events, newest first (whatever order the timeline is shown in)."""
        dated = sorted((e for e in self.timeline if e.event_date), key=lambda e: e.event_date, reverse=True)
        return dated[:n]


class PersonNotFound(InputError):
    """No person with that pseudonymised id in this warehouse."""


def person_exists(con, person_id: str) -> bool:
    if not valid_person_id(person_id):
        return False
    return con.execute(f"select 1 from {_INDEX} where person_id = ? limit 1", [person_id]).fetchone() is not None


def identity_summary(rows: list[tuple]) -> IdentitySummary:
    """Names, dates of birth, sexes and postcodes recorded on the identity rows of one person's records, each with
    the datasets that hold it."""
    groups: dict[str, dict[str, set[str]]] = {k: defaultdict(set) for k in ("names", "dob", "sex", "postcode")}
    dob_of: dict[str, dt.date] = {}
    for table, _rid, forename, middle, surname, dob, postcode, sex in rows:
        dataset = GLOSSARY.dataset(MODEL.table(table).dataset)
        name = _display_name(forename, middle, surname)
        if name:
            groups["names"][name].add(dataset)
        if dob:
            groups["dob"][f"{dob.day} {dob:%B %Y}"].add(dataset)
            dob_of[f"{dob.day} {dob:%B %Y}"] = dob
        if sex:
            groups["sex"][sex].add(dataset)
        if postcode:
            groups["postcode"][postcode.strip().upper()].add(dataset)

    def values(g: dict[str, set[str]]) -> list[IdentityValue]:
        # most records first; between equals, a value as written (fewest words in capitals) first
        def key(kv):
            return (-len(kv[1]), sum(w.isupper() and len(w) > 1 for w in kv[0].split()), kv[0])

        return [IdentityValue(v, sorted(s)) for v, s in sorted(g.items(), key=key)]

    dobs = values(groups["dob"])
    return IdentitySummary(values(groups["names"]), dobs, values(groups["sex"]), values(groups["postcode"]),
                           [dob_of[v.value] for v in dobs])


@functools.cache
def _event_ranks() -> dict[str, int]:
    from ..trajectories.timeline import EVENT_SPECS

    return {spec.event_type: spec.rank for spec in EVENT_SPECS}


def person_page(con, caps: Capabilities, person_id: str, *, bands: tuple[str, ...] = BANDS,
                order: str = "newest") -> PersonPage:
    """Everything the person page shows for ``person_id``, counting only records that joined the person at one of
    ``bands`` (a practitioner can leave out medium- or low-confidence links).

    Person-level records and their identifiers come from the in-memory index; the timeline from
    ``spine.timeline`` in the trajectories layer's order (date, then the event ranks of its ``EVENT_SPECS``),
    newest first unless ``order`` is ``"oldest"`` (newest first is the exact reverse of oldest first)."""
    order = "oldest" if order == "oldest" else "newest"
    if not valid_person_id(person_id):
        raise PersonNotFound("that is not a person id", hint="find the person with the search page")
    bands = tuple(b for b in BANDS if b in bands) or ("high",)
    rows = con.execute(
        f"select source_dataset, source_table, record_id, match_score, band_joined, band, forename, middle_names, "
        f"surname, date_of_birth, postcode, sex, primary_variant from {_INDEX} where person_id = ?",
        [person_id]).fetchall()
    rows = sorted((r[:12] for r in rows if r[12]), key=lambda r: (r[0] or "", r[1], str(r[2])))
    if not rows:
        raise PersonNotFound("no person with that id in this warehouse",
                             hint="the warehouse may have been rebuilt since the link was made: search again")
    band = rows[0][5]
    all_records = [LinkedRecord(r[0], r[1], str(r[2]), None if r[3] is None else float(r[3]), r[4]) for r in rows]
    shown_rows = [r for r in rows if r[4] in bands]
    shown = [r for r in all_records if r.band_joined in bands]
    hidden = [r for r in all_records if r.band_joined not in bands]
    timeline: list[TimelineEvent] = []
    if caps.has("spine.timeline"):
        ranks = _event_ranks()
        ev = con.execute(
            "select event_date, dataset, source_table, record_id, event_type, description, band_joined "
            "from spine.timeline where person_id = ?", [person_id]).fetchall()
        ev.sort(key=lambda e: (e[0] is None, e[0] or dt.date.min, ranks.get(e[4], 999), e[2], str(e[3])))
        if order == "newest":
            ev.reverse()
        for e in ev:
            if e[6] is not None and e[6] not in bands:
                continue
            dataset = e[1] if e[1] in _DATASET_KEYS else _dataset_of_table(e[2], e[1])
            timeline.append(TimelineEvent(e[0], dataset, e[2], None if e[3] is None else str(e[3]), e[4], e[5],
                                          e[6]))
    identity = identity_summary([(r[1], r[2], r[6], r[7], r[8], r[9], r[10], r[11]) for r in shown_rows])
    return PersonPage(
        person_id=person_id, band=band, bands_shown=bands, records=shown, hidden_records=hidden,
        identity=identity, timeline=timeline, timeline_available=caps.has("spine.timeline"),
        datasets_hidden=sorted({r.dataset_words for r in hidden} - {r.dataset_words for r in shown}), order=order)


_DATASET_KEYS = frozenset(d.key for d in MODEL.datasets)


def _dataset_of_table(table: str, fallback: str) -> str:
    try:
        return MODEL.table(table).dataset
    except KeyError:
        return fallback


def identifiers_of(con, person_id: str) -> list[str]:
    """Every identifier value recorded for a person (for checking that a free-text reason does not repeat one)."""
    rows = con.execute(f"select forename, middle_names, surname, date_of_birth, postcode from {_INDEX} "
                       "where person_id = ?", [person_id]).fetchall()
    out: list[str] = []
    for forename, middle, surname, dob, postcode in rows:
        out += [v for v in (forename, middle, surname, postcode) if v]
        if dob:
            out.append(dob.isoformat())
    return out
