"""Need-to-know rules of the practitioners' single view: what a search must give and may show, caseloads and
break-glass reasons, and the screening of free text before it reaches the audit log.

Search: a source record reference, or a last name, a first name (two letters or more) and a date of birth or a year of
birth, so that one search cannot list a surname, a birthday or an initial. At most ``max_results`` candidates are
shown (a search that finds more is asked for more detail) with only what is needed to choose between them (names,
dates of birth and the confidence of the link); the audit entry lists every pseudonymised person shown.

Caseload: a practitioner's account holds the areas they work in (:attr:`.accounts.Account.caseload`): region names,
local authority codes or names (``spine.person``: ``region``, ``lad_code``, ``lad_name``) or probation areas (the
probation records' ``probation_area_desc``), or ``*`` for every area. A person none of whose areas is in the
caseload (or whose area is not recorded) opens only with a break-glass reason, flagged in the audit log and listed
for administrators on the Review page.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from importlib import resources

from ..warehouse.tables import PERSON
from .accounts import ALL_AREAS

# -- search rules ---------------------------------------------------------------------------------------------------

MIN_FORENAME_LETTERS = 2
SEARCH_FIELDS = ("forename", "surname", "dob-day", "dob-month", "dob-year", "reference")
ENOUGH = ("Enter a last name, a first name and a date of birth (or at least the year of birth), or a source record "
          "reference")


def _letters(value: str) -> int:
    return len(re.findall(r"[^\W\d_]", value or ""))


def search_rules(values: dict[str, str]) -> tuple[dict[str, str], int | None, list[tuple[str, str]]]:
    """Check that a search names one person closely enough.

    Returns the values to parse (a year of birth given alone is taken out: it filters the results instead), that
    year (or None), and the errors (field, message)."""
    v = {k: (values.get(k) or "").strip() for k in SEARCH_FIELDS}
    errors: list[tuple[str, str]] = []
    year: int | None = None
    if v["dob-year"] and not v["dob-day"] and not v["dob-month"]:
        y = v["dob-year"]
        if not (y.isdigit() and len(y) == 4 and 1900 <= int(y) <= dt.date.today().year):
            errors.append(("dob-year", f"Year of birth must be 4 digits between 1900 and {dt.date.today().year}"))
        else:
            year = int(y)
        v = {**v, "dob-year": ""}
    if v["reference"]:
        return v, year, errors
    has_dob = year is not None or bool(v["dob-day"] or v["dob-month"] or v["dob-year"])
    if not (v["surname"] and v["forename"] and has_dob) and not errors:
        first_missing = next(f for f, ok in (("surname", v["surname"]), ("forename", v["forename"]),
                                             ("dob-day", has_dob)) if not ok)
        errors.append((first_missing, ENOUGH))
    if v["forename"] and 0 < _letters(v["forename"]) < MIN_FORENAME_LETTERS:
        errors.append(("forename", f"First name must have at least {MIN_FORENAME_LETTERS} letters: one letter "
                                   "would match too many people"))
    if v["surname"] and 0 < _letters(v["surname"]) < 2:
        errors.append(("surname", "Last name must have at least 2 letters"))
    return v, year, errors


def check_search(values: dict[str, str]):
    """The search to run (a :class:`.single_view.SearchQuery`), the year of birth to filter by, and the errors
    (field, message): problems with a field's form first (:func:`.single_view.parse_search`), then
    :func:`search_rules`. The query is None when there are errors."""
    from .single_view import parse_search

    parsed, year, rule_errors = search_rules(values)
    # the form of each field, whatever else is given (a stand-in reference passes the parser's own minimum)
    _q, format_errors = parse_search({**parsed, "reference": parsed.get("reference") or "XXXX"})
    errors = [(e.field, e.message) for e in format_errors] or rule_errors
    if errors:
        return None, year, errors
    query, errs = parse_search(parsed)
    if errs:
        return None, year, [(e.field, e.message) for e in errs]
    return query, year, []


def minimise(result, *, year: int | None, limit: int):
    """The candidates of a search, filtered to ``year`` of birth when given, at most ``limit`` (``truncated`` set
    when more were found), each with only the fields needed to choose: names, dates of birth and the link's
    confidence."""
    candidates = list(result.candidates)
    if year is not None:
        candidates = [c for c in candidates if any(d.year == year for d in c.dates_of_birth)]
    truncated = bool(result.truncated) or len(candidates) > limit
    candidates = candidates[:limit]
    for c in candidates:
        c.sexes = []
        c.datasets = []
    result.candidates = candidates
    result.truncated = truncated
    return result


# -- caseloads --------------------------------------------------------------------------------------------------

def person_areas(con, caps, indexed: frozenset[str] | set[str], person_id: str) -> set[str]:
    """The areas recorded for a person (lower case): region, local authority code and name from ``spine.person``,
    and the probation areas of their probation records."""
    import duckdb

    areas: set[str] = set()
    if caps.has(PERSON):
        cols = {r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'wh' and "
            "table_schema = 'spine' and table_name = 'person'").fetchall()}
        wanted = [c for c in ("region", "lad_code", "lad_name") if c in cols]
        if wanted:
            try:
                for row in con.execute(f"select {', '.join(wanted)} from spine.person where person_id = ?",
                                       [person_id]).fetchall():
                    areas.update(str(x).strip().lower() for x in row if x is not None and str(x).strip())
            except duckdb.Error:
                pass
    if "person_probation" in indexed:
        try:
            for (area,) in con.execute("select distinct probation_area_desc from memory.main.person_probation "
                                       "where person_id = ?", [person_id]).fetchall():
                if area and str(area).strip():
                    areas.add(str(area).strip().lower())
        except duckdb.Error:
            pass
    return areas


def in_caseload(caseload: tuple[str, ...] | list[str], areas: set[str]) -> bool:
    """True when the caseload covers the person: ``*``, or one of the person's areas (compared without case)."""
    wanted = {a.strip().lower() for a in caseload}
    if ALL_AREAS in wanted:
        return True
    return bool(wanted & areas)


BREAK_GLASS_REASONS: list[tuple[str, str]] = [
    ("bg_imminent_risk", "There is an immediate risk of serious harm to someone"),
    ("bg_transfer", "The person is transferring to me and the case is not yet in my caseload"),
    ("bg_duty_cover", "I am covering the duty desk for the person's area"),
    ("bg_court_today", "The person is before a court today and I have been asked to help"),
    ("bg_other", "Another urgent reason (explain below)"),
]
BREAK_GLASS_CODES = {c for c, _ in BREAK_GLASS_REASONS}


# -- screening free text ----------------------------------------------------------------------------------------

_MONTHS = ("jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|"
           "nov(ember)?|dec(ember)?")
_DATE = re.compile(
    r"\b\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{2,4}\b|\b\d{4}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{1,2}\b"
    rf"|\b\d{{1,2}}(st|nd|rd|th)?\s+(of\s+)?({_MONTHS})\b|\b({_MONTHS})\s+\d{{1,2}}(st|nd|rd|th)?\b"
    rf"|\b({_MONTHS})\s+(19|20)\d\d\b|\b(born|dob|d\.o\.b)\b", re.IGNORECASE)
_NI = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]?\b", re.IGNORECASE)
_NHS = re.compile(r"\b\d{3}[\s-]?\d{3}[\s-]?\d{4}\b")
_PHONE = re.compile(r"(\+\s?44|\b0)[\s\-()]*\d(?:[\s\-()]*\d){8,10}\b")
_LONG_NUMBER = re.compile(r"\d(?:[\s\-]?\d){6,}")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
#: Names that are also common English words, allowed in a reason unless they are the person's own name.
COMMON_WORDS = frozenset("""
ball banks bell bird bishop blessing bond booth brooks brown butler cook cooper cross day dean faith favour field
fisher ford fox french frost gill grace grant green hall hardy hart heath hill holly hope hunt hunter ivy jade joy
king knight lane long mann mark marsh mason may miles mills moss norman page parker peace perry poole porter potter
precious price read reed rose ruby sharp shaw stone storey summer turner walker ward webb wells west white will
wood woods young dawn daisy poppy willow max bill court lord
""".split())


@functools.cache
def name_words() -> frozenset[str]:
    """Common forenames, nicknames and surnames (lower case), from the synthetic population's name lists."""
    words: set[str] = set()
    base = resources.files("bold_prevention.synth").joinpath("data")
    for file, cols in (("forenames.csv", ("name",)), ("surnames.csv", ("name",)),
                       ("nicknames.csv", ("name", "nickname"))):
        with base.joinpath(file).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for c in cols:
                    for part in _WORD.findall(row.get(c) or ""):
                        if len(part) > 1:
                            words.add(part.lower())
    return frozenset(words - COMMON_WORDS)


def screen_reason_text(text: str, identifiers: list[str]) -> str | None:
    """An error message if free text about a person carries something that identifies someone (and so must not
    reach the audit log): a date, a National Insurance, NHS or phone number (or any long number), a postcode, an
    email address, one of the person's own names (``identifiers``), or a capitalised word that is a common forename
    or surname. None when the text may be recorded."""
    if len(text) > 300:
        return "Reason must be 300 characters or fewer"
    if _DATE.search(text):
        return "Do not include dates (or dates of birth) in the reason"
    if _POSTCODE.search(text):
        return "Do not include postcodes in the reason"
    if _EMAIL.search(text):
        return "Do not include email addresses in the reason"
    if _NI.search(text):
        return "Do not include National Insurance numbers in the reason"
    if _PHONE.search(text) or _NHS.search(text) or _LONG_NUMBER.search(text):
        return "Do not include phone numbers, NHS numbers or other reference numbers in the reason"
    words = _WORD.findall(text)
    lower = {w.lower() for w in words}
    for value in identifiers:
        for part in _WORD.findall(value or ""):
            if len(part) > 1 and part.lower() in lower:
                return "Do not include the person's name in the reason"
    names = name_words()
    for w in words:
        if w[0].isupper() and w.lower().replace("’", "'") in names:
            return "Do not include names in the reason: describe the task instead"
    return None
