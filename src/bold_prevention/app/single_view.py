"""The practitioners' single-person view: finding a person and assembling one person's page.

Reads the linkage layer's identity store (``linkage.identity_<table>``: record id, names, date of birth, postcode, sex)
joined to ``spine.person_record`` (pseudonymised person id, record, ``band_joined``), and the spine's
pseudonymised tables (``spine.timeline``, ``spine.person``, needs evidence) and ``results.early_warning_scores``.
Identifiers are read only for the records that match one search or belong to the one person being viewed, and never
leave the page being rendered.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

from ..datafirst import MODEL
from ..errors import InputError
from .warehouse import Capabilities, identity_table

BANDS: tuple[str, ...] = ("high", "medium", "low")
BAND_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}
PERSON_ID_PATTERN = re.compile(r"^[0-9a-f]{20}$")
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{4,80}$")
_NAME_OK = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]*)*$", re.UNICODE)


def normalise_name(value: str) -> str:
    """A name reduced for comparison: accents removed, lower case, letters only (``O'Brien`` -> ``obrien``)."""
    v = unicodedata.normalize("NFKD", value)
    v = "".join(c for c in v if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z]", "", v)


def _sql_norm(col: str) -> str:
    return f"regexp_replace(lower(strip_accents(coalesce({col}, ''))), '[^a-z]', '', 'g')"


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
    if forename and not normalise_name(forename):
        errors.append(FieldError("forename", "First name must include at least one letter"))
    if surname and not normalise_name(surname):
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


@dataclass
class SearchResult:
    candidates: list[Candidate]
    truncated: bool
    unlinked_records: int


def _display_name(forename: str | None, middle: str | None, surname: str | None) -> str:
    return " ".join(p.strip() for p in (forename, middle, surname) if p and p.strip())


def _identity_select(table: str) -> str:
    t = MODEL.table(table)
    rid = t.record_id or t.primary_key[0]
    roles = t.identifier_roles
    sex = roles.get("sex")
    sex_sql = f"cast({sex} as varchar)" if sex else "null"
    return (f"select '{table}' as source_table, cast({rid} as varchar) as record_id, {roles['forename']} as forename, "
            f"{roles.get('middle_names', 'null')} as middle_names, {roles['surname']} as surname, "
            f"cast({roles['date_of_birth']} as date) as date_of_birth, {roles.get('postcode', 'null')} as postcode, "
            f"{sex_sql} as sex from linkage.{identity_table(table)}")


def search_people(con: duckdb.DuckDBPyConnection, caps: Capabilities, query: SearchQuery, *,
                  limit: int = 50) -> SearchResult:
    """People whose linked records match ``query``: names compared without case, accents or punctuation (the
    first name as a prefix, so ``Rob`` finds ``Robert``), the date of birth exactly or with day and month swapped,
    and the reference against every linked record's id. At most ``limit`` candidates, strongest matches first."""
    if not caps.single_view:
        raise InputError("the warehouse has no single-view tables: missing "
                         + ", ".join(caps.missing_for_single_view()),
                         hint="build the linkage and the spine (`bold demo` does both), then restart `bold serve`")
    conds: list[str] = []
    params: list[object] = []
    if query.surname:
        conds.append(f"{_sql_norm('surname')} = ?")
        params.append(normalise_name(query.surname))
    if query.forename:
        conds.append(f"starts_with({_sql_norm('forename')}, ?)")
        params.append(normalise_name(query.forename))
    if query.date_of_birth:
        d = query.date_of_birth
        swapped = None
        if d.day <= 12 and d.day != d.month:
            try:
                swapped = dt.date(d.year, d.day, d.month)
            except ValueError:
                swapped = None
        if swapped:
            conds.append("date_of_birth in (?, ?)")
            params += [d, swapped]
        else:
            conds.append("date_of_birth = ?")
            params.append(d)
    hits: list[tuple] = []
    if query.reference:
        ref_rows = con.execute(
            "select source_table, record_id from spine.person_record where record_id = ?",
            [query.reference]).fetchall()
        ref_rows += [r for r in _identity_reference_hits(con, caps, query.reference) if r not in ref_rows]
        for source_table, record_id in ref_rows:
            if source_table in caps.identity_tables:
                hits += con.execute(f"select * from ({_identity_select(source_table)}) where record_id = ?"
                                    + "".join(f" and {c}" for c in conds), [record_id, *params]).fetchall()
            elif not conds:
                hits.append((source_table, record_id, None, None, None, None, None, None))
    else:
        union = " union all ".join(f"select * from ({_identity_select(t)}) where " + " and ".join(conds)
                                   for t in caps.identity_tables)
        hits = con.execute(union, params * len(caps.identity_tables)).fetchall()
    if not hits:
        return SearchResult([], False, 0)
    keys = sorted({(h[0], h[1]) for h in hits})
    links = _person_records_for(con, keys)
    by_person: dict[str, Candidate] = {}
    unlinked = 0
    for source_table, record_id, forename, middle, surname, dob, _postcode, sex in hits:
        link = links.get((source_table, record_id))
        if link is None:
            unlinked += 1
            continue
        person_id, band_joined, score = link
        c = by_person.get(person_id)
        if c is None:
            c = by_person[person_id] = Candidate(person_id, [], [], [], {})
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
                    key=lambda c: (BANDS.index(c.confidence), -sum(c.matched_by_band.values()), c.person_id))
    truncated = len(ranked) > limit
    ranked = ranked[:limit]
    if ranked:
        ids = [c.person_id for c in ranked]
        rows = con.execute(
            "select person_id, count(*), list(distinct source_dataset order by source_dataset) "
            "from spine.person_record where person_id in (select unnest(?)) group by person_id", [ids]).fetchall()
        summary = {pid: (n, ds) for pid, n, ds in rows}
        for c in ranked:
            n, ds = summary.get(c.person_id, (0, []))
            c.linked_records, c.datasets = int(n), list(ds)
            c.dates_of_birth.sort()
    return SearchResult(ranked, truncated, unlinked)


def _identity_reference_hits(con, caps: Capabilities, reference: str) -> list[tuple[str, str]]:
    out = []
    for t in caps.identity_tables:
        tab = MODEL.table(t)
        rid = tab.record_id or tab.primary_key[0]
        if con.execute(f"select 1 from linkage.{identity_table(t)} where cast({rid} as varchar) = ? limit 1",
                       [reference]).fetchone():
            out.append((t, reference))
    return out


def _person_records_for(con, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str, float | None]]:
    if not keys:
        return {}
    tables = sorted({k[0] for k in keys})
    rids = sorted({k[1] for k in keys})
    rows = con.execute(
        "select source_table, record_id, person_id, band_joined, match_score from spine.person_record "
        "where record_id in (select unnest(?)) and source_table in (select unnest(?))", [rids, tables]).fetchall()
    wanted = set(keys)
    return {(s, r): (p, b, m) for s, r, p, b, m in rows if (s, r) in wanted}


# -- one person's page ------------------------------------------------------------------------------------------


@dataclass
class LinkedRecord:
    source_dataset: str
    source_table: str
    record_id: str
    match_score: float | None
    band_joined: str


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

    def values_for_screening(self) -> list[str]:
        """Every identifier value shown (for checking that free text does not repeat them)."""
        return [v.value for group in (self.names, self.dates_of_birth, self.postcodes) for v in group]


@dataclass
class TimelineEvent:
    event_date: dt.date | None
    dataset: str
    source_table: str
    record_id: str | None
    event_type: str
    description: str
    band_joined: str | None


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


class PersonNotFound(InputError):
    """No person with that pseudonymised id in this warehouse."""


def person_exists(con, person_id: str) -> bool:
    if not valid_person_id(person_id):
        return False
    return con.execute("select 1 from spine.person_record where person_id = ? limit 1", [person_id]).fetchone() \
        is not None


def identity_summary(con, caps: Capabilities, records: list[LinkedRecord]) -> IdentitySummary:
    """Names, dates of birth, sexes and postcodes recorded on ``records`` (from the identity store), each with the
    datasets that hold it."""
    groups: dict[str, dict[str, set[str]]] = {k: defaultdict(set) for k in ("names", "dob", "sex", "postcode")}
    by_table: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_table[r.source_table].append(r.record_id)
    for table, rids in sorted(by_table.items()):
        if table not in caps.identity_tables:
            continue
        dataset = MODEL.table(table).dataset
        rows = con.execute(f"select * from ({_identity_select(table)}) where record_id in (select unnest(?))",
                           [rids]).fetchall()
        for _t, _rid, forename, middle, surname, dob, postcode, sex in rows:
            name = _display_name(forename, middle, surname)
            if name:
                groups["names"][name].add(dataset)
            if dob:
                groups["dob"][f"{dob.day} {dob:%B %Y}"].add(dataset)
            if sex:
                groups["sex"][sex].add(dataset)
            if postcode:
                groups["postcode"][postcode.strip().upper()].add(dataset)

    def values(g: dict[str, set[str]]) -> list[IdentityValue]:
        return [IdentityValue(v, sorted(s)) for v, s in sorted(g.items(), key=lambda kv: (-len(kv[1]), kv[0]))]

    return IdentitySummary(values(groups["names"]), values(groups["dob"]), values(groups["sex"]),
                           values(groups["postcode"]))


def person_page(con, caps: Capabilities, person_id: str, *, bands: tuple[str, ...] = BANDS) -> PersonPage:
    """Everything the person page shows for ``person_id``, counting only records that joined the person at one of
    ``bands`` (a practitioner can leave out medium- or low-confidence links)."""
    if not valid_person_id(person_id):
        raise PersonNotFound("that is not a person id", hint="find the person with the search page")
    bands = tuple(b for b in BANDS if b in bands) or ("high",)
    rows = con.execute(
        "select source_dataset, source_table, record_id, match_score, band_joined, band from spine.person_record "
        "where person_id = ? order by source_dataset, source_table, record_id", [person_id]).fetchall()
    if not rows:
        raise PersonNotFound("no person with that id in this warehouse",
                             hint="the warehouse may have been rebuilt since the link was made: search again")
    band = rows[0][5]
    all_records = [LinkedRecord(r[0], r[1], str(r[2]), None if r[3] is None else float(r[3]), r[4]) for r in rows]
    shown = [r for r in all_records if r.band_joined in bands]
    hidden = [r for r in all_records if r.band_joined not in bands]
    hidden_keys = {(r.source_table, r.record_id) for r in hidden}
    timeline: list[TimelineEvent] = []
    if caps.has("spine.timeline"):
        ev = con.execute(
            "select event_date, dataset, source_table, record_id, event_type, description, band_joined "
            "from spine.timeline where person_id = ? order by event_date, dataset, event_type", [person_id]).fetchall()
        for e in ev:
            if e[6] is not None and e[6] not in bands:
                continue
            if (e[2], str(e[3])) in hidden_keys:
                continue
            timeline.append(TimelineEvent(e[0], e[1], e[2], None if e[3] is None else str(e[3]), e[4], e[5], e[6]))
    return PersonPage(
        person_id=person_id, band=band, bands_shown=bands, records=shown, hidden_records=hidden,
        identity=identity_summary(con, caps, shown), timeline=timeline,
        timeline_available=caps.has("spine.timeline"),
        datasets_hidden=sorted({r.source_dataset for r in hidden} - {r.source_dataset for r in shown}))
