"""Identifier standardisation: names, dates of birth, UK postcodes and sex codes.

Every linkage step (clear-text Splink linkage, the privacy-preserving hashing a data partner runs, the QA report)
reads identifiers through this module, so two files are always compared on the same footing.

Two forms of each rule:

* **Bulk** - :func:`standardise` turns a whole table (a DuckDB table or view) into a table of standard columns in
  one SQL statement. Phonetic codes are computed once per *distinct* name (a few tens of thousands for a million
  records) with ``jellyfish`` and joined back; nothing loops over rows in Python.
* **Scalar** - :func:`clean_name`, :func:`split_forenames`, :func:`clean_surname`, :func:`normalise_postcode`,
  :func:`parse_date_of_birth`, :func:`normalise_sex` apply the same rules to one value (for tests, single-record
  look-ups and explanations). Property tests check that the two forms agree.

Standard columns written by :func:`standardise` (only those whose role is mapped are filled; the rest are null):

===================== ===============================================================================
``unique_id``          the record id, as text
``forename``           first given name, upper case A-Z only, titles removed
``forename_canonical`` the forename with common diminutives mapped to a canonical form (BILL -> WILLIAM)
``forename_phonetic``  metaphone code of the forename
``middle_names``       other given names (extra words of the forename field plus the middle-names field)
``middle_first``       the first of those
``surname``            surname, upper case, hyphens and punctuation to single spaces, suffixes removed
``surname_nospace``    surname without spaces (``MC DONALD`` = ``MCDONALD``; ``SMITH-JONES`` = ``SMITHJONES``)
``surname_first``      first word of a double-barrelled surname (the surname itself when single)
``surname_last``       last word of a double-barrelled surname
``surname_phonetic``   metaphone code of ``surname_nospace``
``dob``                date of birth (DATE); null when missing or impossible, with ``dob_issue`` saying why
``dob_iso``            ``YYYY-MM-DD`` text of ``dob``
``dob_year``, ``dob_month``, ``dob_day``  parts of ``dob``
``dob_ym``             ``YYYY-MM``
``dob_swapped``        ``YYYY-MM-DD`` with day and month exchanged, when that is another valid date (a candidate
                       for a day/month transposition)
``dob_issue``          missing | unrecognised_format | impossible_date | placeholder | before_<earliest> |
                       in_future | partial (a date with its day, or day and month, missing: ``dob_year`` and
                       ``dob_month`` keep the parts known when ``partial_dates`` is on)
``sex``                ``M`` / ``F`` (null when unknown)
``postcode``           UK postcode spaced as ``AA9A 9AA`` (or, with ``postcode_format='any'``, upper-case
                       alphanumerics)
``postcode_outward``   outward code (``AA9A``); ``postcode_sector`` outward code plus first inward digit
                       (``AA9A 9``); ``postcode_area`` the leading letters
``postcode_issue``     missing | invalid
``address``            free-text address line, upper case, punctuation to spaces
``address_number``     first number in the address line
``town``               town / locality, upper case, punctuation to spaces
``id_number``          another identifier (NI number, NHS number...), upper case alphanumerics
``x_<name>``           a declared extra comparison column (see :mod:`.comparisons`), standardised by its type
===================== ===============================================================================
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Literal

import duckdb
import jellyfish
import pyarrow as pa

from ..errors import InputError
from ..warehouse.engine import quote_ident, sql_literal

#: Standard identifier roles a file may map (any may be absent).
ROLES: tuple[str, ...] = (
    "forename", "middle_names", "surname", "date_of_birth", "sex", "postcode", "address", "town", "id_number",
)

#: Courtesy titles removed from the start of a forename field (only when a name follows).
TITLES: tuple[str, ...] = (
    "MR", "MRS", "MS", "MISS", "MX", "DR", "PROF", "REV", "REVD", "SIR", "DAME", "LADY", "LORD", "MASTER", "FR",
    "CAPT", "RT", "HON",
)
#: Generational suffixes removed from the end of a surname field.
SUFFIXES: tuple[str, ...] = ("JR", "JNR", "SR", "SNR", "II", "III", "IV")

#: Date formats tried, in order, when a file gives dates as text and no format is configured (UK day-first).
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%Y/%m/%d",
    "%d/%m/%y",
)
#: Dates used by source systems to mean "unknown".
PLACEHOLDER_DATES: tuple[str, ...] = ("1900-01-01", "1901-01-01", "1899-12-31", "9999-12-31", "1800-01-01")

_UK_POSTCODE = r"^([A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}|GIR0AA)$"
_UK_POSTCODE_RE = re.compile(_UK_POSTCODE)

_MALE = ("1", "M", "MALE", "MAN", "BOY")
_FEMALE = ("2", "F", "FEMALE", "WOMAN", "GIRL")

DobIssue = str  # missing | unrecognised_format | impossible_date | placeholder | before_<year> | in_future | partial
#: Earliest date of birth accepted by default (earlier dates are set to null with a reason).
DEFAULT_EARLIEST = date(1900, 1, 1)

#: Every column :func:`standardise` writes, with its SQL type.
STANDARD_COLUMNS: dict[str, str] = {
    "unique_id": "VARCHAR",
    "forename": "VARCHAR", "forename_canonical": "VARCHAR", "forename_phonetic": "VARCHAR",
    "middle_names": "VARCHAR", "middle_first": "VARCHAR",
    "surname": "VARCHAR", "surname_nospace": "VARCHAR", "surname_first": "VARCHAR", "surname_last": "VARCHAR",
    "surname_phonetic": "VARCHAR",
    "dob": "DATE", "dob_iso": "VARCHAR", "dob_year": "INTEGER", "dob_month": "INTEGER", "dob_day": "INTEGER",
    "dob_ym": "VARCHAR", "dob_swapped": "VARCHAR", "dob_issue": "VARCHAR",
    "sex": "VARCHAR",
    "postcode": "VARCHAR", "postcode_outward": "VARCHAR", "postcode_sector": "VARCHAR", "postcode_area": "VARCHAR",
    "postcode_issue": "VARCHAR",
    "address": "VARCHAR", "address_number": "VARCHAR", "town": "VARCHAR", "id_number": "VARCHAR",
}


@dataclass(frozen=True)
class StandardiseOptions:
    """How to read one file's identifiers."""

    #: strptime format of text dates of birth (``%d/%m/%Y``...); None tries :data:`DATE_FORMATS` in turn.
    date_format: str | None = None
    #: ``uk`` validates and spaces UK postcodes; ``any`` keeps upper-case alphanumerics (other countries).
    postcode_format: Literal["uk", "any"] = "uk"
    #: Dates of birth after this date are impossible (default: today).
    reference_date: date | None = None
    #: Map diminutives to canonical forenames using the shipped list (or ``nickname_table``).
    nicknames: bool = True
    #: Extra ``(nickname, canonical, sex)`` rows added to the shipped list.
    extra_nicknames: tuple[tuple[str, str, str | None], ...] = field(default_factory=tuple)
    #: Dates of birth before this date are set to null (``before_<year>``): 1800-01-01 for historical records.
    earliest: date = DEFAULT_EARLIEST
    #: Dates that mean "unknown" in this file (ISO text), set to null with the reason ``placeholder``.
    placeholders: tuple[str, ...] = PLACEHOLDER_DATES
    #: Keep the known parts of partial dates ("1990-05", "05/1990", "1990", "00/05/1990", "XX/XX/1990"): year
    #: and month are compared when the day (or day and month) is missing.
    partial_dates: bool = False
    #: Extra comparison columns: name -> (this file's column, type); see :mod:`.comparisons`.
    extra: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)

    def before_label(self) -> str:
        e = self.earliest
        return f"before_{e.year}" if (e.month, e.day) == (1, 1) else f"before_{e.isoformat()}"


# ------------------------------------------------------------------------------------------------ nicknames
@functools.cache
def nickname_rows() -> tuple[tuple[str, str, str | None], ...]:
    """The shipped diminutive list as ``(nickname, canonical, sex)`` rows, chains resolved (GAZ -> GARY -> GARETH)."""
    text = resources.files("bold_prevention.linkage").joinpath("data/nicknames.csv").read_text("utf-8")
    rows = [(r["nickname"].strip().upper(), r["canonical"].strip().upper(), (r["sex"] or "").strip().upper() or None)
            for r in csv.DictReader(text.splitlines())]
    return _resolve_chains(rows)


def _resolve_chains(rows: list[tuple[str, str, str | None]]) -> tuple[tuple[str, str, str | None], ...]:
    first: dict[tuple[str, str | None], str] = {}
    for nick, canon, sex in rows:
        first.setdefault((nick, sex), canon)

    def resolve(name: str, sex: str | None) -> str:
        seen = {name}
        for _ in range(5):
            nxt = first.get((name, sex)) or first.get((name, None))
            if nxt is None or nxt in seen:
                break
            seen.add(nxt)
            name = nxt
        return name

    return tuple((nick, resolve(canon, sex), sex) for (nick, sex), canon in first.items())


def canonical_forename(name: str | None, sex: str | None = None) -> str | None:
    """The canonical form of a (cleaned) forename: ``BILL`` -> ``WILLIAM``; ``SAM`` needs the sex to decide
    (SAMUEL or SAMANTHA); a diminutive with a single canonical form (``KATE``) needs no sex."""
    if not name:
        return name
    table, unambiguous = _nickname_lookup()
    return table.get((name, sex)) or table.get((name, None)) or unambiguous.get(name) or name


@functools.cache
def _nickname_lookup() -> tuple[dict[tuple[str, str | None], str], dict[str, str]]:
    table = {(n, s): c for n, c, s in nickname_rows()}
    canon: dict[str, set[str]] = {}
    for n, c, _s in nickname_rows():
        canon.setdefault(n, set()).add(c)
    return table, {n: next(iter(cs)) for n, cs in canon.items() if len(cs) == 1}


# ------------------------------------------------------------------------------------------------ scalar rules
def clean_name(value: object) -> str | None:
    """Upper case, accents stripped, apostrophes dropped, anything else not A-Z to one space; '' -> None."""
    if value is None:
        return None
    import unicodedata

    s = unicodedata.normalize("NFKD", str(value))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).upper()
    s = re.sub(r"['\u2019`]", "", s)
    s = re.sub(r"[^A-Z]+", " ", s).strip()
    return s or None


_TITLE_RE = re.compile(r"^((" + "|".join(TITLES) + r") )+")
_SUFFIX_RE = re.compile(r"( (" + "|".join(SUFFIXES) + r"))+$")


def split_forenames(forename: object, middle_names: object = None) -> tuple[str | None, str | None]:
    """``("Mr John Paul", "George")`` -> ``("JOHN", "PAUL GEORGE")``: the first given name and the others."""
    f = clean_name(forename)
    if f is not None:
        f = _TITLE_RE.sub("", f) or None
    first, _, rest = (f or "").partition(" ")
    m = clean_name(middle_names)
    others = " ".join(x for x in (rest, m or "") if x).strip() or None
    return (first or None), others


def clean_surname(value: object) -> str | None:
    """``"Smith-Jones Jnr"`` -> ``"SMITH JONES"``; ``"O'Brien"`` -> ``"OBRIEN"``."""
    s = clean_name(value)
    if s is None:
        return None
    return _SUFFIX_RE.sub("", s) or s


def normalise_postcode(value: object, *, postcode_format: str = "uk") -> str | None:
    """A UK postcode spaced as ``AA9A 9AA`` (None when not a valid UK postcode). Idempotent."""
    if value is None:
        return None
    s = re.sub(r"[^A-Z0-9]", "", str(value).upper())
    if not s:
        return None
    if postcode_format == "any":
        return s
    if not _UK_POSTCODE_RE.match(s):
        return None
    return f"{s[:-3]} {s[-3:]}"


def postcode_parts(postcode: str | None) -> tuple[str | None, str | None, str | None]:
    """``(outward, sector, area)`` of a normalised UK postcode."""
    if not postcode or " " not in postcode:
        return None, None, None
    outward, inward = postcode.split(" ")
    return outward, f"{outward} {inward[0]}", re.match(r"[A-Z]+", outward).group(0)


def normalise_sex(value: object) -> str | None:
    """``1``/``M``/``Male``/``man`` -> ``M``; ``2``/``F``/``Female``/``woman`` -> ``F``; anything else -> None."""
    if value is None:
        return None
    s = str(value).strip().upper()
    if s.endswith(".0"):
        s = s[:-2]
    return "M" if s in _MALE else "F" if s in _FEMALE else None


def parse_date_of_birth(value: object, *, date_format: str | None = None,
                        reference_date: date | None = None, earliest: date = DEFAULT_EARLIEST,
                        placeholders: tuple[str, ...] = PLACEHOLDER_DATES) -> tuple[date | None, DobIssue | None]:
    """A date of birth and, when it is null, the reason: ``("31/02/1990")`` -> ``(None, "impossible_date")``."""
    ref = reference_date or date.today()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing"
    if isinstance(value, datetime):
        d: date | None = value.date()
    elif isinstance(value, date):
        d = value
    else:
        text = str(value).strip()
        d = None
        for fmt in (date_format,) if date_format else DATE_FORMATS:
            try:
                d = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        if d is None:
            return None, ("impossible_date" if _looks_like_date(text) else "unrecognised_format")
    if d.isoformat() in placeholders:
        return None, "placeholder"
    if d < earliest:
        return None, StandardiseOptions(earliest=earliest).before_label()
    if d > ref:
        return None, "in_future"
    return d, None


_DATE_SHAPES = (r"^\d{4}-\d{1,2}-\d{1,2}$", r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$", r"^\d{8}$", r"^\d{4}/\d{1,2}/\d{1,2}$")


def _looks_like_date(text: str) -> bool:
    return any(re.match(p, text) for p in _DATE_SHAPES)


def swapped_date(d: date | None) -> date | None:
    """The date with day and month exchanged, when that is a different valid date."""
    if d is None or d.day > 12 or d.day == d.month:
        return None
    return date(d.year, d.day, d.month)


def phonetic(name: str | None) -> str | None:
    """The phonetic key used for names (metaphone, via jellyfish)."""
    if not name:
        return None
    return jellyfish.metaphone(name) or None


# ------------------------------------------------------------------------------------------------ bulk (SQL)
def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def _clean_sql(expr: str) -> str:
    """SQL twin of :func:`clean_name`."""
    return (f"nullif(trim(regexp_replace(regexp_replace(upper(strip_accents(cast({expr} as varchar))), "
            f"'[''\u2019`]', '', 'g'), '[^A-Z]+', ' ', 'g')), '')")


def _column_types(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    rows = con.execute(f"describe select * from {source}").fetchall()
    return {r[0]: str(r[1]).upper() for r in rows}


def standardise(con: duckdb.DuckDBPyConnection, source: str, *, id_column: str, columns: Mapping[str, str],
                out: str, options: StandardiseOptions | None = None, label: str | None = None) -> str:
    """Standardise the identifiers of table/view ``source`` into a new table ``out`` (see the module docstring).

    ``columns`` maps standard roles (:data:`ROLES`) to ``source``'s column names. Returns ``out``.
    Raises :class:`InputError` (naming ``label``) when a mapped column is missing.
    """
    opts = options or StandardiseOptions()
    label = label or source
    types = _column_types(con, source)
    unknown_roles = sorted(set(columns) - set(ROLES))
    if unknown_roles:
        raise InputError(f"{label}: unknown identifier role(s) {', '.join(unknown_roles)}",
                         hint=f"map only these roles: {', '.join(ROLES)}")
    missing = [c for c in (id_column, *columns.values()) if c not in types]
    if missing:
        from ..warehouse.readers import describe_columns

        raise InputError(f"{label}: column(s) {', '.join(repr(m) for m in missing)} not found",
                         hint=f"the file has: {describe_columns(types)}; fix the `columns` mapping in the "
                              "config")

    def src(role: str) -> str | None:
        return quote_ident(columns[role]) if role in columns else None

    null = "cast(null as varchar)"
    f_raw = _clean_sql(src("forename")) if "forename" in columns else null
    m_raw = _clean_sql(src("middle_names")) if "middle_names" in columns else null
    s_raw = _clean_sql(src("surname")) if "surname" in columns else null
    title_re = "^((" + "|".join(TITLES) + ") )+"
    suffix_re = "( (" + "|".join(SUFFIXES) + "))+$"

    sex_sql = null
    if "sex" in columns:
        s = f"regexp_replace(upper(trim(cast({src('sex')} as varchar))), '\\.0$', '')"
        sex_sql = (f"case when {s} in ({', '.join(sql_literal(v) for v in _MALE)}) then 'M' "
                   f"when {s} in ({', '.join(sql_literal(v) for v in _FEMALE)}) then 'F' end")

    dob_raw, dob_parsed, dob_text = _dob_sql(src("date_of_birth"), types.get(columns.get("date_of_birth", ""), ""),
                                             opts)
    ref = (opts.reference_date or date.today()).isoformat()

    if "postcode" in columns:
        pc = f"nullif(regexp_replace(upper(cast({src('postcode')} as varchar)), '[^A-Z0-9]', '', 'g'), '')"
    else:
        pc = null
    if opts.postcode_format == "any":
        pc_valid = "pc_raw is not null"
        pc_norm = "pc_raw"
    else:
        pc_valid = f"regexp_full_match(pc_raw, {sql_literal(_UK_POSTCODE[1:-1])})"
        pc_norm = "substr(pc_raw, 1, length(pc_raw) - 3) || ' ' || right(pc_raw, 3)"

    addr = _free_text_sql(src("address")) if "address" in columns else null
    town = _free_text_sql(src("town")) if "town" in columns else null
    idn = (f"nullif(regexp_replace(upper(cast({src('id_number')} as varchar)), '[^A-Z0-9]', '', 'g'), '')"
           if "id_number" in columns else null)
    from .comparisons import extra_select

    extra_missing = [c for _n, c, _t in opts.extra for c in c.split("\x1f") if c not in types]
    if extra_missing:
        from ..warehouse.readers import describe_columns

        raise InputError(f"{label}: extra comparison column(s) {', '.join(repr(m) for m in extra_missing)} not "
                         "found", hint=f"the file has: {describe_columns(types)}; fix `extra` in the config")
    extra_sql = "".join(f",\n            {sql} as {col}" for col, sql in extra_select(opts.extra, types))

    stage1 = f"""
        select
            cast({quote_ident(id_column)} as varchar) as unique_id,
            nullif(regexp_replace({f_raw}, {sql_literal(title_re)}, ''), '') as f_clean,
            {m_raw} as m_clean,
            {s_raw} as s_clean0,
            {sex_sql} as sex,
            {dob_raw} as dob_raw,
            {dob_parsed} as dob_parsed,
            {dob_text} as dob_text,
            {pc} as pc_raw,
            {addr} as address,
            {town} as town,
            {idn} as id_number{extra_sql}
        from {source}
    """
    con.execute(f"create or replace temp table __std_stage1 as {stage1}")
    con.execute(f"""
        create or replace temp table __std_stage2 as
        select s.*,
            split_part(f_clean, ' ', 1) as forename,
            nullif(trim(concat_ws(' ', nullif(substr(f_clean, length(split_part(f_clean, ' ', 1)) + 2), ''),
                                  m_clean)), '') as middle_names,
            coalesce(nullif(regexp_replace(s_clean0, {sql_literal(suffix_re)}, ''), ''), s_clean0) as surname
        from __std_stage1 s
    """)
    _register_lookups(con, opts)
    placeholders = ", ".join(sql_literal(p) for p in opts.placeholders) or "''"
    dob_issue_shape = " or ".join(f"regexp_matches(dob_text, {sql_literal(p)})" for p in _DATE_SHAPES)
    cols = f"""
        s.unique_id,
        nullif(s.forename, '') as forename,
        case when nullif(s.forename, '') is null then null
             else coalesce(nk_sex.canonical, nk_any.canonical, nk_one.canonical, s.forename) end
             as forename_canonical,
        pf.code as forename_phonetic,
        s.middle_names,
        nullif(split_part(s.middle_names, ' ', 1), '') as middle_first,
        s.surname,
        replace(s.surname, ' ', '') as surname_nospace,
        split_part(s.surname, ' ', 1) as surname_first,
        case when s.surname is null then null
             else reverse(split_part(reverse(s.surname), ' ', 1)) end as surname_last,
        ps.code as surname_phonetic,
        d.dob,
        strftime(d.dob, '%Y-%m-%d') as dob_iso,
        coalesce(cast(year(d.dob) as integer), d.p_year) as dob_year,
        coalesce(cast(month(d.dob) as integer), d.p_month) as dob_month,
        cast(day(d.dob) as integer) as dob_day,
        coalesce(strftime(d.dob, '%Y-%m'), case when d.p_month is not null
                 then lpad(cast(d.p_year as varchar), 4, '0') || '-' || lpad(cast(d.p_month as varchar), 2, '0')
                 end) as dob_ym,
        case when day(d.dob) <= 12 and day(d.dob) <> month(d.dob)
             then strftime(make_date(year(d.dob), day(d.dob), month(d.dob)), '%Y-%m-%d') end as dob_swapped,
        d.dob_issue,
        s.sex,
        case when {pc_valid} then {pc_norm} end as postcode,
        case when {pc_valid} and {sql_literal(opts.postcode_format)} = 'uk'
             then substr(pc_raw, 1, length(pc_raw) - 3) end as postcode_outward,
        case when {pc_valid} and {sql_literal(opts.postcode_format)} = 'uk'
             then substr(pc_raw, 1, length(pc_raw) - 3) || ' ' || substr(right(pc_raw, 3), 1, 1) end
             as postcode_sector,
        case when {pc_valid} and {sql_literal(opts.postcode_format)} = 'uk'
             then regexp_extract(pc_raw, '^[A-Z]+') end as postcode_area,
        case when pc_raw is null then 'missing' when not ({pc_valid}) then 'invalid' end as postcode_issue,
        s.address,
        nullif(regexp_extract(s.address, '[0-9]+'), '') as address_number,
        s.town,
        s.id_number{"".join(f", s.{col}" for col, _sql in extra_select(opts.extra, types))}
    """
    _create_with_phonetics(con, out, cols, placeholders, dob_issue_shape, ref, opts)
    for t in ("__std_stage1", "__std_stage2", "__std_phon"):
        con.execute(f"drop table if exists {t}")
    return out


#: Partial dates of birth (``partial_dates``): year first ("1990", "1990-05", "1990-05-00", "1990-XX-XX"), day
#: or day and month first ("05/1990", "00/05/1990", "XX/XX/1990") and yyyymm00. Groups: year, month.
_UNKNOWN_PART = r"(?:0{1,2}|X{1,2}|\?{1,2}|-{1,2})"
PARTIAL_DATE_PATTERNS: tuple[tuple[str, int, int], ...] = (
    (rf"^(\d{{4}})(?:[-/. ](\d{{1,2}}|{_UNKNOWN_PART}))?(?:[-/. ]{_UNKNOWN_PART})?$", 1, 2),
    (rf"^(?:{_UNKNOWN_PART}[-/. ])?(\d{{1,2}}|{_UNKNOWN_PART})[-/. ](\d{{4}})$", 2, 1),
    (r"^(\d{4})(\d{2})00$", 1, 2),
)


def parse_partial_date(value: object, *, earliest: date = DEFAULT_EARLIEST,
                       reference_date: date | None = None) -> tuple[int, int | None] | None:
    """(year, month or None) of a partial date such as "1990-05" or "XX/XX/1990"; None when it is not one."""
    if value is None:
        return None
    text = str(value).strip().upper()
    ref = reference_date or date.today()
    for pattern, gy, gm in PARTIAL_DATE_PATTERNS:
        m = re.match(pattern, text)
        if m:
            year = int(m.group(gy))
            mt = m.group(gm)
            month = int(mt) if mt and mt.isdigit() and 1 <= int(mt) <= 12 else None
            return (year, month) if earliest.year <= year <= ref.year else None
    return None


def _partial_sql(text: str, opts: StandardiseOptions, ref: str) -> tuple[str, str]:
    """SQL (year, month) of a partial date in ``text`` (both null when it is not one)."""
    if not opts.partial_dates:
        return "cast(null as integer)", "cast(null as integer)"
    up = f"upper(trim({text}))"
    y_cases, m_cases = [], []
    for pattern, gy, gm in PARTIAL_DATE_PATTERNS:
        y = f"try_cast(regexp_extract({up}, {sql_literal(pattern)}, {gy}) as integer)"
        m = f"try_cast(regexp_extract({up}, {sql_literal(pattern)}, {gm}) as integer)"
        y_cases.append(f"when regexp_full_match({up}, {sql_literal(pattern)}) then {y}")
        m_cases.append(f"when regexp_full_match({up}, {sql_literal(pattern)}) then case when {m} between 1 and 12 "
                       f"then {m} end")
    year = f"(case {' '.join(y_cases)} end)"
    ok = f"{year} between {opts.earliest.year} and year(date {sql_literal(ref)})"
    return (f"case when {ok} then {year} end", f"case when {ok} then (case {' '.join(m_cases)} end) end")


def _create_with_phonetics(con: duckdb.DuckDBPyConnection, out: str, cols: str, placeholders: str,
                           dob_issue_shape: str, ref: str, opts: StandardiseOptions) -> None:
    # Phonetic codes: once per distinct name, in Python (the DuckDB phonetic extension would download).
    names = con.execute("""
        select distinct n from (
            select nullif(forename, '') as n from __std_stage2
            union all select replace(surname, ' ', '') from __std_stage2
        ) where n is not null
    """).fetchall()
    values = [r[0] for r in names]
    phon = pa.table({"name": pa.array(values, pa.string()),
                     "code": pa.array([phonetic(v) for v in values], pa.string())})
    con.register("__std_phon_arrow", phon)
    con.execute("create or replace temp table __std_phon as select * from __std_phon_arrow")
    con.unregister("__std_phon_arrow")
    p_year, p_month = _partial_sql("dob_text", opts, ref)
    earliest = opts.earliest.isoformat()
    # Rows keep their input order (row number) so that outputs are deterministic.
    con.execute(f"""
        create or replace table {out} as
        with s2 as (select *, row_number() over () as __row from __std_stage2),
        d00 as (
            select __row, dob_raw, dob_parsed, dob_text,
                   case when dob_parsed is null then {p_year} end as p_year,
                   case when dob_parsed is null then {p_month} end as p_month
            from s2
        ),
        d0 as (
            select __row, p_year, p_month,
                   case when dob_parsed is null then null
                        when strftime(dob_parsed, '%Y-%m-%d') in ({placeholders}) then null
                        when dob_parsed < date {sql_literal(earliest)} then null
                        when dob_parsed > date {sql_literal(ref)} then null
                        else dob_parsed end as dob,
                   case when dob_raw is null then 'missing'
                        when p_year is not null then 'partial'
                        when dob_parsed is null and dob_text is not null and ({dob_issue_shape})
                             then 'impossible_date'
                        when dob_parsed is null then 'unrecognised_format'
                        when strftime(dob_parsed, '%Y-%m-%d') in ({placeholders}) then 'placeholder'
                        when dob_parsed < date {sql_literal(earliest)} then {sql_literal(opts.before_label())}
                        when dob_parsed > date {sql_literal(ref)} then 'in_future'
                   end as dob_issue
            from d00
        )
        select {cols}
        from s2 s
        join d0 d on d.__row = s.__row
        left join __std_nick nk_sex on nk_sex.nickname = s.forename and nk_sex.sex = s.sex
        left join __std_nick nk_any on nk_any.nickname = s.forename and nk_any.sex is null
        left join (select nickname, min(canonical) as canonical from __std_nick group by 1
                   having count(distinct canonical) = 1) nk_one on nk_one.nickname = s.forename
        left join __std_phon pf on pf.name = nullif(s.forename, '')
        left join __std_phon ps on ps.name = replace(s.surname, ' ', '')
        order by s.__row
    """)


def _free_text_sql(expr: str) -> str:
    return (f"nullif(trim(regexp_replace(upper(strip_accents(cast({expr} as varchar))), '[^A-Z0-9]+', ' ', 'g')), "
            f"'')")


def _dob_sql(expr: str | None, sql_type: str, opts: StandardiseOptions) -> tuple[str, str, str]:
    """(raw-is-present expression, parsed DATE expression, text expression) for the date-of-birth column."""
    if expr is None:
        return "cast(null as varchar)", "cast(null as date)", "cast(null as varchar)"
    if sql_type.startswith("DATE") or sql_type.startswith("TIMESTAMP"):
        return expr, f"cast({expr} as date)", "cast(null as varchar)"
    text = f"nullif(trim(cast({expr} as varchar)), '')"
    if sql_type in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "UINTEGER"):
        text = f"nullif(lpad(cast({expr} as varchar), 8, '0'), '')"
    formats = (opts.date_format,) if opts.date_format else DATE_FORMATS
    parsed = f"cast(try_strptime({text}, {_sql_list(formats)}) as date)"
    return text, parsed, text


def _register_lookups(con: duckdb.DuckDBPyConnection, opts: StandardiseOptions) -> None:
    rows = list(nickname_rows()) if opts.nicknames else []
    if opts.extra_nicknames:
        rows = list(_resolve_chains([(n.upper(), c.upper(), (s or None)) for n, c, s in opts.extra_nicknames]
                                    + rows))
    tbl = pa.table({
        "nickname": pa.array([r[0] for r in rows], pa.string()),
        "canonical": pa.array([r[1] for r in rows], pa.string()),
        "sex": pa.array([r[2] for r in rows], pa.string()),
    })
    con.register("__std_nick_arrow", tbl)
    con.execute("create or replace temp table __std_nick as select * from __std_nick_arrow")
    con.unregister("__std_nick_arrow")


# ------------------------------------------------------------------------------------------------ convenience
def standardise_arrow(table: pa.Table, *, id_column: str, columns: Mapping[str, str],
                      options: StandardiseOptions | None = None, label: str = "input") -> pa.Table:
    """Standardise an Arrow table in a private in-memory DuckDB; returns the standard columns as Arrow."""
    con = duckdb.connect()
    try:
        con.register("__input", table)
        standardise(con, "__input", id_column=id_column, columns=columns, out="__std_out", options=options,
                    label=label)
        return con.sql("select * from __std_out").to_arrow_table()
    finally:
        con.close()


def standardise_record(record: Mapping[str, object], *, options: StandardiseOptions | None = None) -> dict:
    """Standardise one record given by role (``{"forename": ..., "surname": ...}``) with the scalar rules."""
    opts = options or StandardiseOptions()
    sex = normalise_sex(record.get("sex"))
    forename, middle = split_forenames(record.get("forename"), record.get("middle_names"))
    surname = clean_surname(record.get("surname"))
    dob, issue = (parse_date_of_birth(record.get("date_of_birth"), date_format=opts.date_format,
                                      reference_date=opts.reference_date)
                  if "date_of_birth" in record else (None, None))
    pc = normalise_postcode(record.get("postcode"), postcode_format=opts.postcode_format)
    outward, sector, area = postcode_parts(pc) if opts.postcode_format == "uk" else (None, None, None)
    sw = swapped_date(dob)
    return {
        "unique_id": None if record.get("unique_id") is None else str(record.get("unique_id")),
        "forename": forename,
        "forename_canonical": canonical_forename(forename, sex) if opts.nicknames else forename,
        "forename_phonetic": phonetic(forename),
        "middle_names": middle,
        "middle_first": middle.split(" ")[0] if middle else None,
        "surname": surname,
        "surname_nospace": surname.replace(" ", "") if surname else None,
        "surname_first": surname.split(" ")[0] if surname else None,
        "surname_last": surname.split(" ")[-1] if surname else None,
        "surname_phonetic": phonetic(surname.replace(" ", "")) if surname else None,
        "dob": dob,
        "dob_iso": dob.isoformat() if dob else None,
        "dob_year": dob.year if dob else None,
        "dob_month": dob.month if dob else None,
        "dob_day": dob.day if dob else None,
        "dob_ym": dob.strftime("%Y-%m") if dob else None,
        "dob_swapped": sw.isoformat() if sw else None,
        "dob_issue": issue,
        "sex": sex,
        "postcode": pc,
        "postcode_outward": outward,
        "postcode_sector": sector,
        "postcode_area": area,
    }


def issue_summary(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, dict[str, int]]:
    """Counts of null-with-reason identifiers in a standardised table: ``{"dob_issue": {"missing": 3, ...}}``."""
    out: dict[str, dict[str, int]] = {}
    for col in ("dob_issue", "postcode_issue"):
        rows = con.execute(f"select {col}, count(*) from {table} where {col} is not null group by 1 order by 1"
                           ).fetchall()
        out[col] = {r[0]: int(r[1]) for r in rows}
    return out
