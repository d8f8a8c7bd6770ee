"""Declared extra comparisons: any column of a file compared by its type, beside the standard identifier roles.

A link config names them once (``comparisons:``) and maps each to a column on every side (``extra:``)::

    comparisons:
      occupation: {type: text}                         # Jaro-Winkler levels (and Levenshtein, if asked)
      birth_place: {type: exact}                       # exact, with term-frequency adjustment
      email: {type: email}                             # whole address, then the part before the @
      phone: {type: phone}                             # national digits: exact, one slip, the last 6 digits
      height: {type: numeric, tolerances: [1, 5]}      # |a - b| <= 1, <= 5
      visit_date: {type: date, tolerances: [1, 30]}    # days apart
      area: {type: geography}                          # a hierarchy of codes, finest first (OA, LSOA, LAD)
    left:
      extra: {occupation: Job, email: Email, area: [OA11CD, LSOA11CD, LAD21CD]}

Each becomes the standardised column ``x_<name>`` (geography: ``x_<name>_<level>``, level 0 the finest; email
also ``x_<name>_local``) and the Splink comparison named ``x_<name>``, whose levels are labelled ``<key>:
<description>`` like the standard ones. Strong identifiers (email, phone, and any comparison with ``block:
true``) also give a blocking rule. Everything here is SQL that Splink transpiles (DuckDB dialect in, any backend
out).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import block_on

from ..errors import InputError
from ..warehouse.engine import quote_ident

#: Types of extra comparison and what each does.
TYPES: dict[str, str] = {
    "exact": "exact agreement, with term-frequency adjustment (rare values weigh more)",
    "text": "free text: exact, then Jaro-Winkler levels (and Levenshtein levels if given)",
    "email": "e-mail address: exact (case-insensitive), the same part before the @, a close one",
    "phone": "telephone number as national digits: exact, one slip, the same last 6 digits",
    "numeric": "a number: exact, then within each tolerance",
    "date": "a date: exact, then within each tolerance in days",
    "geography": "a hierarchy of area codes, finest first: the finest level that agrees",
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PREFIX = "x_"


@dataclass(frozen=True)
class ExtraComparison:
    """One declared comparison."""

    name: str
    type: str
    #: Jaro-Winkler thresholds (text; default 0.95, 0.88).
    thresholds: tuple[float, ...] = ()
    #: Levenshtein distances (text).
    levenshtein: tuple[int, ...] = ()
    #: Absolute differences (numeric) or days (date), smallest first.
    tolerances: tuple[float, ...] = ()
    #: Term-frequency adjustment on exact agreement (default: on for exact and text).
    tf: bool | None = None
    #: Also block on exact agreement (default: on for email and phone).
    block: bool | None = None
    #: Levels of a geography hierarchy (set from the sides' column lists).
    levels: int = 1
    date_format: str | None = None
    #: A standard column (such as ``postcode``) whose agreement already says what this comparison would: where
    #: the two records agree on it, this comparison is neutral (its null level) instead of counting the same
    #: evidence twice (a postcode area beside the full postcode).
    neutral_within: str | None = None

    @property
    def column(self) -> str:
        return PREFIX + self.name

    @property
    def use_tf(self) -> bool:
        return self.tf if self.tf is not None else self.type in ("exact", "text")

    @property
    def blocks(self) -> bool:
        return self.block if self.block is not None else self.type in ("email", "phone")


def parse_comparisons(raw: Mapping[str, Mapping[str, Any]] | None, sides: Sequence[Mapping[str, Any] | None],
                      where: str) -> tuple[ExtraComparison, ...]:
    """Check the declared comparisons against every side's ``extra`` mapping (names, types, levels)."""
    raw = dict(raw or {})
    out = []
    mapped = [dict(s or {}) for s in sides]
    for name, spec in raw.items():
        if not NAME_RE.match(name):
            raise InputError(f"{where}: comparison name {name!r} must be lower-case letters, digits and _ "
                             "(starting with a letter)", hint="rename it, for example occupation or birth_place")
        t = spec.get("type")
        if t not in TYPES:
            raise InputError(f"{where}: comparison {name!r} has type {t!r}",
                             hint="use one of: " + "; ".join(f"{k} ({v})" for k, v in TYPES.items()))
        missing = [i for i, m in enumerate(mapped) if name not in m]
        if missing:
            which = ", ".join(("left", "right")[i] for i in missing)
            raise InputError(f"{where}: comparison {name!r} is not mapped to a column on the {which} file",
                             hint=f"add `extra: {{{name}: <column>}}` under {which}")
        levels = {len(m[name]) if isinstance(m[name], list) else 1 for m in mapped}
        if t == "geography":
            if len(levels) != 1 or min(levels) < 1:
                raise InputError(f"{where}: geography comparison {name!r} needs the same number of levels on "
                                 "every file", hint="list the area-code columns finest first, e.g. [OA, LSOA, LAD]")
        elif max(levels) != 1:
            raise InputError(f"{where}: comparison {name!r} ({t}) takes one column per file, not a list",
                             hint="only geography comparisons take a list of columns")
        tol = tuple(float(x) for x in spec.get("tolerances") or ())
        if t in ("numeric", "date") and not tol:
            tol = (1.0,) if t == "numeric" else (1.0, 31.0)
        if any(x <= 0 for x in tol) or list(tol) != sorted(tol):
            raise InputError(f"{where}: comparison {name!r}: tolerances must be positive and increasing",
                             hint="for example tolerances: [1, 5]")
        thr = tuple(float(x) for x in spec.get("thresholds") or ())
        if t == "text" and not thr:
            thr = (0.95, 0.88)
        if any(not 0 < x < 1 for x in thr):
            raise InputError(f"{where}: comparison {name!r}: Jaro-Winkler thresholds must be between 0 and 1",
                             hint="for example thresholds: [0.95, 0.88]")
        out.append(ExtraComparison(
            name=name, type=t, thresholds=tuple(sorted(thr, reverse=True)),
            levenshtein=tuple(sorted(int(x) for x in spec.get("levenshtein") or ())),
            tolerances=tol, tf=spec.get("tf"), block=spec.get("block"), levels=min(levels),
            date_format=spec.get("date_format")))
    unknown = sorted({n for m in mapped for n in m} - set(raw))
    if unknown:
        raise InputError(f"{where}: `extra` maps {', '.join(unknown)}, which `comparisons` does not declare",
                         hint="declare each under comparisons: {name: {type: ...}}")
    return tuple(out)


def side_columns(specs: Sequence[ExtraComparison], mapping: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """(name, column(s) joined by \\x1f, type) of one side, for :class:`~.standardise.StandardiseOptions`."""
    out = []
    for s in specs:
        cols = mapping[s.name]
        cols = cols if isinstance(cols, list) else [cols]
        out.append((s.name, "\x1f".join(cols), s.type + (f"|{s.date_format}" if s.date_format else "")))
    return tuple(out)


def _text(expr: str) -> str:
    return f"nullif(trim(regexp_replace(upper(strip_accents(cast({expr} as varchar))), '[^A-Z0-9]+', ' ', 'g')), '')"


def extra_select(extra: Sequence[tuple[str, str, str]], types: Mapping[str, str]) -> list[tuple[str, str]]:
    """(standard column, SQL expression over the raw table) of each declared extra column of one side."""
    out: list[tuple[str, str]] = []
    for name, cols_joined, type_spec in extra:
        t, _, fmt = type_spec.partition("|")
        cols = cols_joined.split("\x1f")
        col = PREFIX + name
        src = quote_ident(cols[0])
        raw = f"cast({src} as varchar)"
        if t in ("exact", "text"):
            out.append((col, _text(src)))
        elif t == "email":
            e = f"nullif(lower(trim({raw})), '')"
            ok = f"regexp_full_match({e}, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')"
            out.append((col, f"case when {ok} then {e} end"))
            # the part before the @, without dots and +tags (firstname.lastname+news@... = firstnamelastname)
            local = f"regexp_replace(split_part(split_part({e}, '@', 1), '+', 1), '\\.', '', 'g')"
            out.append((col + "_local", f"case when {ok} then nullif({local}, '') end"))
        elif t == "phone":
            d = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
            # national digits: +44 / 0044 / 0 prefixes dropped
            nat = f"regexp_replace({d}, '^(00|)(44)?0?', '')"
            out.append((col, f"case when length({nat}) >= 7 then {nat} end"))
        elif t == "numeric":
            out.append((col, f"try_cast(regexp_replace({raw}, '[, ]', '', 'g') as double)"))
        elif t == "date":
            sql_type = types.get(cols[0], "")
            if sql_type.startswith(("DATE", "TIMESTAMP")):
                out.append((col, f"cast({src} as date)"))
            else:
                from .standardise import DATE_FORMATS

                fmts = "[" + ", ".join("'" + f + "'" for f in ((fmt,) if fmt else DATE_FORMATS)) + "]"
                out.append((col, f"cast(try_strptime(nullif(trim({raw}), ''), {fmts}) as date)"))
        elif t == "geography":
            for i, c in enumerate(cols):
                out.append((f"{col}_{i}", f"nullif(upper(regexp_replace(cast({quote_ident(c)} as varchar), '\\s', '', "
                                          f"'g')), '')"))
    return out


# ------------------------------------------------------------------------------------------------ Splink
def _level(key: str, description: str, sql: str) -> cll.CustomLevel:
    return cll.CustomLevel(sql, label_for_charts=f"{key}: {description}", base_dialect_str="duckdb")


def _null(col: str) -> cll.CustomLevel:
    return _level("null", "missing on one side", f'"{col}_l" is null or "{col}_r" is null').configure(
        is_null_level=True)


def _exact(col: str, tf: bool, description: str = "equal") -> cll.CustomLevel:
    lvl = _level("exact", description, f'"{col}_l" = "{col}_r"')
    return lvl.configure(tf_adjustment_column=col, tf_adjustment_weight=1.0) if tf else lvl


def _else() -> cll.ElseLevel:
    return cll.ElseLevel().configure(label_for_charts="else: all other comparisons")


def comparison(spec: ExtraComparison, mode: str = "clear") -> cl.CustomComparison:
    """The Splink comparison of one declared extra column (hashed mode: exact levels only)."""
    c = spec.column
    clear = mode == "clear"
    levels: list = []
    within = (f' or "{spec.neutral_within}_l" = "{spec.neutral_within}_r"', f", or the same {spec.neutral_within} "
              f"(counted by its own comparison)") if spec.neutral_within else ("", "")
    if spec.type == "geography":
        levels.append(_level("null", "missing on one side" + within[1],
                             f'"{c}_0_l" is null or "{c}_0_r" is null{within[0]}').configure(is_null_level=True))
        for i in range(spec.levels):
            key = "exact" if i == 0 else f"level{i}"
            levels.append(_level(key, f"same code at level {i} (0 the finest)", f'"{c}_{i}_l" = "{c}_{i}_r"'))
    else:
        levels.append(_level("null", "missing on one side" + within[1],
                             f'"{c}_l" is null or "{c}_r" is null{within[0]}').configure(is_null_level=True)
                      if within[0] else _null(c))
        levels.append(_exact(c, spec.use_tf and spec.type != "email"))
        if spec.type == "text" and clear:
            for t in spec.thresholds:
                levels.append(cll.JaroWinklerLevel(c, t).configure(label_for_charts=f"jw{t}: Jaro-Winkler >= {t}"))
            for k in spec.levenshtein:
                levels.append(cll.LevenshteinLevel(c, k).configure(
                    label_for_charts=f"lev{k}: at most {k} characters different"))
        elif spec.type == "email":
            levels.append(_level("local", "same part before the @", f'"{c}_local_l" = "{c}_local_r"'))
            if clear:
                levels.append(cll.JaroWinklerLevel(f"{c}_local", 0.88).configure(
                    label_for_charts="close: Jaro-Winkler of the parts before the @ >= 0.88"))
        elif spec.type == "phone" and clear:
            levels.append(cll.And(cll.LevenshteinLevel(c, 2), cll.DamerauLevenshteinLevel(c, 1)).configure(
                label_for_charts="typo: one digit different or two adjacent digits swapped"))
            levels.append(_level("tail", "same last 6 digits", f'right("{c}_l", 6) = right("{c}_r", 6)'))
        elif spec.type == "numeric":
            for t in spec.tolerances:
                levels.append(_level(f"within{t:g}", f"within {t:g}", f'abs("{c}_l" - "{c}_r") <= {t!r}'))
        elif spec.type == "date" and clear:
            for t in spec.tolerances:
                levels.append(_level(f"within{t:g}", f"within {t:g} days",
                                     f'abs(datediff(\'day\', "{c}_l", "{c}_r")) <= {int(t)}'))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name=c,
                               comparison_description=f"{spec.name} ({spec.type})")


def comparisons_for(specs: Sequence[ExtraComparison], mode: str = "clear") -> list[cl.CustomComparison]:
    return [comparison(s, mode) for s in specs]


def blocking_rules(specs: Sequence[ExtraComparison]) -> list:
    """Exact-agreement blocking rules of the strong extra identifiers."""
    out = []
    for s in specs:
        if s.blocks:
            out.append(block_on(f"{s.column}_0" if s.type == "geography" else s.column))
    return out


def columns_of(spec: ExtraComparison) -> list[str]:
    if spec.type == "geography":
        return [f"{spec.column}_{i}" for i in range(spec.levels)]
    if spec.type == "email":
        return [spec.column, spec.column + "_local"]
    return [spec.column]


__all__ = ["TYPES", "ExtraComparison", "blocking_rules", "columns_of", "comparison", "comparisons_for",
           "extra_select", "field", "parse_comparisons", "side_columns"]
