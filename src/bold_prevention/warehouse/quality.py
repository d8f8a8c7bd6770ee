"""Quality checks: each contract rule as SQL run inside DuckDB over a staged table.

Every check gives a :class:`CheckResult`: pass, warn or fail, the count of failing rows out of the rows checked, the
threshold, a message naming the table and column, and up to a few example record ids (never identifier values).
Checks marked ``blocking`` are the ones the failure policy acts on (schema breaks, unreadable files, duplicated
keys, severe completeness failures); the rest are reported and the data is loaded.

The checks of one table are gathered into as few scans as possible: one aggregate query computes completeness,
conversion failures, code-list, range, date and date-order counts together; key uniqueness and foreign keys are
one grouped query and one anti-join each.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date

import duckdb

from .contracts import DEFAULT_POLICY, Policy, Status, TableContract
from .engine import quote_ident as q
from .engine import sql_literal
from .readers import FileInfo, safe_name

# DuckDB source types that convert to a model type without loss (no conversion check needed).
_SAFE = {
    "BIGINT": {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT", "UTINYINT"},
    "DOUBLE": {"DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT",
               "UTINYINT"},
    "DATE": {"DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE"},
    "BOOLEAN": {"BOOLEAN"},
    "VARCHAR": {"VARCHAR"},
}
RAW_PREFIX = "__raw__"


@dataclass
class CheckResult:
    """The outcome of one check on one table (and column)."""

    table: str
    check: str
    status: Status
    message: str
    column: str | None = None
    failing: int = 0
    total: int = 0
    threshold: str | None = None
    blocking: bool = False
    #: Example record ids of failing rows (record ids only; never identifier values).
    examples: list[str] = field(default_factory=list)
    #: The most frequent offending values, for non-identifier columns only.
    values: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------------ column planning
@dataclass
class ColumnPlan:
    """How each model column is read from the files."""

    #: model column -> source column name (as in the file).
    source: dict[str, str] = field(default_factory=dict)
    #: model column -> source DuckDB type.
    source_type: dict[str, str] = field(default_factory=dict)
    #: model columns that need a checked conversion (a raw copy is kept in staging to count failures).
    checked_cast: set[str] = field(default_factory=set)
    #: model columns absent from the files but optional: staged as NULL.
    filled: set[str] = field(default_factory=set)
    #: identifier columns present.
    identifiers: set[str] = field(default_factory=set)
    schema_break: bool = False

    def select_sql(self, contract: TableContract) -> str:
        """The SELECT list that stages the files as the model's columns and types."""
        parts = []
        for c in contract.columns:
            if c.name in self.source:
                src = q(self.source[c.name])
                st = self.source_type[c.name].upper()
                if st == c.sql_type:
                    expr = src
                elif c.name in self.checked_cast:
                    if c.sql_type == "BIGINT" and st in ("DOUBLE", "FLOAT") or st.startswith("DECIMAL") \
                            and c.sql_type == "BIGINT":
                        expr = f"CASE WHEN {src} = trunc({src}) THEN TRY_CAST({src} AS BIGINT) END"
                    elif st == "VARCHAR":
                        expr = f"TRY_CAST(NULLIF(trim({src}), '') AS {c.sql_type})"
                    else:
                        expr = f"TRY_CAST({src} AS {c.sql_type})"
                    parts.append(f"{expr} AS {q(c.name)}")
                    parts.append(f"{src} AS {q(RAW_PREFIX + c.name)}")
                    continue
                else:
                    expr = f"CAST({src} AS {c.sql_type})"
                parts.append(f"{expr} AS {q(c.name)}")
            elif c.name in self.filled:
                parts.append(f"CAST(NULL AS {c.sql_type}) AS {q(c.name)}")
        return ", ".join(parts)

    @property
    def present(self) -> set[str]:
        return set(self.source)


def plan_columns(contract: TableContract, info: FileInfo) -> tuple[ColumnPlan, list[CheckResult]]:
    """Match the files' columns to the contract: missing, renamed, extra and wrongly typed columns."""
    plan = ColumnPlan()
    checks: list[CheckResult] = []
    by_lower = {}
    for name, typ in info.columns.items():
        by_lower.setdefault(name.strip().lower(), (name, typ))
    model_lower = {c.name.lower() for c in contract.columns}
    extra = [n for n in info.columns if n.strip().lower() not in model_lower]
    missing_required, missing_optional, missing_ident = [], [], []
    for c in contract.columns:
        hit = by_lower.get(c.name.lower())
        if hit is None:
            if c.identifier:
                missing_ident.append(c.name)
            elif c.required:
                missing_required.append(c.name)
            else:
                missing_optional.append(c.name)
            continue
        name, typ = hit
        plan.source[c.name] = name
        plan.source_type[c.name] = typ
        if c.identifier:
            plan.identifiers.add(c.name)
        base = typ.upper()
        if base != c.sql_type and base not in _SAFE.get(c.sql_type, set()):
            if c.sql_type == "VARCHAR":
                continue  # anything converts to text
            plan.checked_cast.add(c.name)
    t = contract.table
    # a column name that looks like a value (a misaligned or headerless file) is never repeated in a message
    shown = {n: (n if safe_name(n) else f"<column {k + 1}>") for k, n in enumerate(info.columns)}
    safe_extra = [n for n in extra if safe_name(n)]
    for col in missing_required:
        guess = difflib.get_close_matches(col, safe_extra, n=1, cutoff=0.6)
        if guess:
            msg = (f"{t}: required column {col} is missing; the file has {guess[0]!r} instead "
                   f"(renamed column? rename it back to {col})")
        else:
            msg = f"{t}: required column {col} is missing"
        checks.append(CheckResult(t, "columns", "fail", msg, column=col, failing=1, total=len(contract.columns),
                                  threshold="present", blocking=True))
    if missing_required:
        plan.schema_break = True
    for col in missing_optional:
        plan.filled.add(col)
        checks.append(CheckResult(
            t, "columns", "warn", f"{t}: optional column {col} (an inferred Data First name) is not in the file; "
            "loaded as empty", column=col, threshold="present"))
    if missing_ident and plan.identifiers:
        checks.append(CheckResult(
            t, "columns", "warn", f"{t}: identifier column(s) {', '.join(missing_ident)} missing; linkage will "
            "use the identifiers present", column=missing_ident[0], threshold="present"))
    elif missing_ident and not plan.identifiers and contract.identifier_columns:
        checks.append(CheckResult(
            t, "columns", "pass", f"{t}: no identifier columns (a de-identified extract); no identity table",
            threshold="present"))
    unmatched_extra = [shown[n] for n in extra if not (safe_name(n) and any(n in c.message for c in checks))]
    if unmatched_extra:
        checks.append(CheckResult(
            t, "columns", "warn", f"{t}: column(s) not in the model ignored: {', '.join(unmatched_extra[:10])}"
            + (f" and {len(unmatched_extra) - 10} more" if len(unmatched_extra) > 10 else ""),
            failing=len(unmatched_extra), total=len(info.columns)))
    if not checks or all(c.status == "pass" for c in checks):
        checks.append(CheckResult(t, "columns", "pass", f"{t}: all required columns present",
                                  total=len(contract.columns)))
    return plan, checks


# --------------------------------------------------------------------------------------------------- data checks
@dataclass
class _Rule:
    check: str
    column: str | None
    cond: str  # SQL condition true for failing rows
    denominator: str  # SQL aggregate for the rows checked
    describe: str
    blocking_kind: bool = False
    share_limit: float = 0.0
    identifier: bool = False
    show_values: bool = True


def _id_expr(contract: TableContract, plan: ColumnPlan) -> str:
    cols = [c for c in contract.id_columns if c in plan.present]
    if not cols:
        return "NULL"
    if len(cols) == 1:
        return f"CAST({q(cols[0])} AS VARCHAR)"
    return "concat_ws('|', " + ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in cols) + ")"


def data_checks(con: duckdb.DuckDBPyConnection, staged: str, contract: TableContract, plan: ColumnPlan, *,
                rows: int, today: date, snapshot_date: date, policy: Policy = DEFAULT_POLICY) -> list[CheckResult]:
    """Completeness, conversion, code-list, range and date checks of a staged table, in one scan."""
    t = contract.table
    if rows == 0:
        return [CheckResult(t, "rows", "fail", f"{t}: the extract has no rows (empty file)", failing=0, total=0,
                            threshold="> 0 rows", blocking=True)]
    present = plan.present
    rules: list[_Rule] = []
    for c in contract.columns:
        if c.name not in present:
            continue
        col = q(c.name)
        if c.name in plan.checked_cast:
            raw = q(RAW_PREFIX + c.name)
            rules.append(_Rule(
                "type", c.name, f"{raw} IS NOT NULL AND trim(CAST({raw} AS VARCHAR)) <> '' AND {col} IS NULL",
                f"count({raw})", f"value(s) of {c.name} that are not {c.dtype}s "
                f"(the file stores it as {plan.source_type[c.name]})", blocking_kind=True,
                share_limit=policy.type_fail_share, identifier=c.identifier, show_values=not c.identifier))
        threshold = c.min_completeness if c.min_completeness is not None else (None if c.nullable else 1.0)
        if threshold is not None and c.name not in contract.primary_key:
            # a value present in the file but of the wrong type is counted by the type check, not here
            missing = f"{q(RAW_PREFIX + c.name)} IS NULL" if c.name in plan.checked_cast else f"{col} IS NULL"
            rules.append(_Rule("completeness", c.name, missing, "count(*)",
                               f"missing value(s) of {c.name}", blocking_kind=True, share_limit=1 - threshold,
                               identifier=c.identifier, show_values=False))
        # a tick-box item (YES or blank) that nobody ticked is an answer, not a missing column: in a small extract
        # every row can be blank, so the empty-column check applies to the other required columns only
        tick_box = tuple(c.codes or ()) == ("YES",)
        if c.required and not c.identifier and not tick_box:
            raw_missing = f"{q(RAW_PREFIX + c.name)} IS NULL" if c.name in plan.checked_cast else f"{col} IS NULL"
            rules.append(_Rule("empty_column", c.name, raw_missing, "count(*)", f"values in {c.name}",
                               blocking_kind=True, share_limit=1.0, show_values=False))
        if c.codes:
            inlist = ", ".join(sql_literal(v) for v in c.codes)
            rules.append(_Rule("code_list", c.name, f"{col} IS NOT NULL AND {col} NOT IN ({inlist})",
                               f"count({col})", f"value(s) of {c.name} outside its code list ({c.codes_source})",
                               share_limit=policy.value_fail_share, identifier=c.identifier,
                               show_values=not c.identifier))
        if c.value_range and c.dtype in ("int", "float"):
            lo, hi = c.value_range
            rules.append(_Rule("value_range", c.name, f"{col} < {lo!r} OR {col} > {hi!r}", f"count({col})",
                               f"value(s) of {c.name} outside {lo:g}-{hi:g}", share_limit=policy.value_fail_share,
                               identifier=c.identifier, show_values=not c.identifier))
        if c.dtype == "date":
            limit = min(today, snapshot_date)
            rules.append(_Rule("date_future", c.name, f"{col} > {sql_literal(limit)}", f"count({col})",
                               f"date(s) of {c.name} after {limit.isoformat()} (in the future)",
                               share_limit=policy.date_fail_share, identifier=c.identifier,
                               show_values=not c.identifier))
            rules.append(_Rule("date_before_1900", c.name, f"{col} < {sql_literal(policy.min_date)}", f"count({col})",
                               f"date(s) of {c.name} before {policy.min_date.isoformat()}",
                               share_limit=policy.date_fail_share, identifier=c.identifier,
                               show_values=not c.identifier))
            if not c.identifier:
                start, end = contract.coverage
                end = max(end, snapshot_date)
                rules.append(_Rule("date_coverage", c.name,
                                   f"{col} >= {sql_literal(policy.min_date)} AND {col} <= {sql_literal(limit)} AND "
                                   f"({col} < {sql_literal(start)} OR {col} > {sql_literal(end)})", f"count({col})",
                                   f"date(s) of {c.name} outside the {contract.dataset} coverage "
                                   f"({start.isoformat()} to {end.isoformat()})", share_limit=1.0,
                                   show_values=False))
    for o in contract.date_orders:
        if o.earlier in present and o.later in present:
            a, b = q(o.earlier), q(o.later)
            rules.append(_Rule("date_order", f"{o.earlier}<={o.later}", f"{a} > {b}",
                               f"count(*) FILTER (WHERE {a} IS NOT NULL AND {b} IS NOT NULL)",
                               f"row(s) where {o.earlier} is after {o.later}", share_limit=policy.value_fail_share,
                               show_values=False))
    if not rules:
        return []
    aggs = []
    for i, r in enumerate(rules):
        aggs.append(f"count(*) FILTER (WHERE {r.cond}) AS f{i}")
        aggs.append(f"{r.denominator} AS d{i}")
    counts = con.execute(f"SELECT {', '.join(aggs)} FROM {staged}").fetchone()
    out: list[CheckResult] = []
    id_expr = _id_expr(contract, plan)
    for i, r in enumerate(rules):
        failing, denom = int(counts[2 * i] or 0), int(counts[2 * i + 1] or 0)
        res = _result(con, staged, contract, r, failing, denom, id_expr, policy)
        if r.check == "empty_column" and res.status == "pass":
            continue  # reported only when a required column holds nothing
        out.append(res)
    return out


def _result(con, staged: str, contract: TableContract, r: _Rule, failing: int, denom: int, id_expr: str,
            policy: Policy) -> CheckResult:
    t = contract.table
    share = failing / denom if denom else 0.0
    where = f"{t}.{r.column}" if r.column else t
    if r.check == "empty_column":
        threshold = "at least one value"
        if denom and failing >= denom:
            status, blocking = "fail", True
            msg = (f"{where}: the required column is empty (no value in any of its {denom:,} rows); it is "
                   "present in the file but holds nothing")
        else:
            status, blocking = "pass", False
            msg = f"{where}: holds {denom - failing:,} value(s)"
        return CheckResult(t, r.check, status, msg, column=r.column, failing=failing, total=denom,
                           threshold=threshold, blocking=blocking)
    if r.check == "completeness":
        need = 1 - r.share_limit
        observed = 1 - share
        threshold = f">= {need:.0%} complete"
        if observed + 1e-12 >= need:
            status, blocking = "pass", False
            msg = f"{where}: {observed:.1%} complete (threshold {need:.0%})"
        elif observed + policy.completeness_severe_margin < need:
            status, blocking = "fail", True
            msg = (f"{where}: only {observed:.1%} complete ({failing:,} of {denom:,} missing); the threshold is "
                   f"{need:.0%}: a severe completeness failure")
            if r.identifier and contract.weak_identifiers:
                blocking = False
                msg += (f" (identifiers in {contract.dataset} are known to be sparse: reported, not blocking; "
                        "linkage of these records will be weaker)")
        else:
            status, blocking = "warn", False
            msg = f"{where}: {observed:.1%} complete ({failing:,} missing), below the {need:.0%} threshold"
    else:
        threshold = f"<= {r.share_limit:.1%} of rows" if r.share_limit < 1 else "reported"
        if failing == 0:
            status, blocking = "pass", False
            msg = f"{where}: no {r.describe}"
        elif share > r.share_limit:
            status, blocking = "fail", r.blocking_kind
            msg = f"{where}: {failing:,} {r.describe} ({share:.1%} of {denom:,})"
            if r.check == "type":
                msg += ": the column has the wrong type"
        else:
            status, blocking = "warn", False
            msg = f"{where}: {failing:,} {r.describe} ({share:.2%} of {denom:,})"
            if r.check == "type":
                msg += "; they were loaded as empty"
    res = CheckResult(t, r.check, status, msg, column=r.column, failing=failing, total=denom,
                      threshold=threshold, blocking=blocking)
    if failing and status != "pass":
        res.examples = _examples(con, staged, r.cond, id_expr, policy.examples)
        if r.show_values and r.column and not r.identifier and r.check != "date_order":
            res.values = _values(con, staged, r.column, r.cond, policy.examples, raw=r.check == "type",
                                 codes=contract.column(r.column).codes if r.check == "code_list" else None)
    return res


def _examples(con, staged: str, cond: str, id_expr: str, n: int) -> list[str]:
    if id_expr == "NULL":
        return []
    rows = con.execute(f"SELECT DISTINCT {id_expr} AS id FROM {staged} WHERE {cond} ORDER BY id LIMIT {n}"
                       ).fetchall()
    return [mask_example(r[0]) for r in rows if r[0] is not None]


_NOT_AN_ID = re.compile(
    r"^(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?"  # a date
    r"|[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}"  # a postcode
    r"|[A-Za-z]{2}\s*\d{2}\s*\d{2}\s*\d{2}\s*[A-Da-d]"  # a National Insurance number
    r"|[^@\s]+@[^@\s]+"  # an e-mail address
    r"|[^\d]*)$")  # no digit at all: a name, not a record id


def mask_example(value) -> str:
    """A record id as it may appear in a report. Record ids are hashes or numbered keys; a value that looks like a
    name, a date, a postcode or an NI number (a misaligned file puts them in the id column) is shown by its length."""
    v = str(value)
    return f"<{len(v)} characters>" if _NOT_AN_ID.match(v.strip()) else v


def mask_value(value: str, codes: tuple[str, ...] | None = None) -> str:
    """A text value as it may appear in a report: short codes (or a code in another case) as they are, anything
    longer by its length only (``<8 characters>``): a misaligned file can put a name or a postcode in any column."""
    v = str(value)
    if len(v) <= 2 or (codes and v.strip().upper() in {c.upper() for c in codes}):
        return v
    return f"<{len(v)} characters>"


def _values(con, staged: str, column: str, cond: str, n: int, *, raw: bool = False,
            codes: tuple[str, ...] | None = None) -> list[str]:
    """The most frequent offending values with their counts.

    Values that failed to convert are shown by shape only (letters as ``A``, digits as ``9``: ``99/99/9999``), and
    text outside a code list by its length only (:func:`mask_value`): a misaligned file can put any text,
    identifiers included, into any column.
    """
    if raw:
        text = f"CAST({q(RAW_PREFIX + column)} AS VARCHAR)"
        expr = f"regexp_replace(regexp_replace({text}, '\\pL', 'A', 'g'), '\\pN', '9', 'g')"
    else:
        expr = f"CAST({q(column)} AS VARCHAR)"
    rows = con.execute(f"SELECT {expr} AS v, count(*) AS n FROM {staged} WHERE {cond} "
                       f"GROUP BY v ORDER BY n DESC, v LIMIT {n}").fetchall()
    if codes is not None:
        return [f"{mask_value(v, codes)} ({k:,})" for v, k in rows]
    return [f"{'shape ' if raw else ''}{v} ({k:,})" for v, k in rows]


def primary_key_check(con, staged: str, contract: TableContract, plan: ColumnPlan, *, rows: int,
                      policy: Policy = DEFAULT_POLICY) -> CheckResult:
    """Primary-key uniqueness (and no empty key values)."""
    t = contract.table
    pk = [c for c in contract.primary_key if c in plan.present]
    keys = ", ".join(q(c) for c in pk)
    nulls = " OR ".join(f"{q(c)} IS NULL" for c in pk)
    dup_groups, dup_rows = con.execute(
        f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {staged} GROUP BY {keys} "
        f"HAVING count(*) > 1)").fetchone()
    null_rows = con.execute(f"SELECT count(*) FROM {staged} WHERE {nulls}").fetchone()[0]
    name = "+".join(contract.primary_key)
    if not dup_groups and not null_rows:
        return CheckResult(t, "primary_key", "pass", f"{t}: primary key {name} is unique", column=name,
                           total=rows, threshold="unique, no empty values")
    parts = []
    if dup_groups:
        parts.append(f"{dup_groups:,} duplicated value(s) of primary key {name} ({int(dup_rows):,} rows)")
    if null_rows:
        parts.append(f"{null_rows:,} row(s) with an empty primary key")
    res = CheckResult(t, "primary_key", "fail", f"{t}: " + " and ".join(parts), column=name,
                      failing=int(dup_rows) + int(null_rows), total=rows, threshold="unique, no empty values",
                      blocking=True)
    key_expr = (f"CAST({q(pk[0])} AS VARCHAR)" if len(pk) == 1
                else "concat_ws('|', " + ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in pk) + ")")
    if dup_groups:
        res.examples = [mask_example(r[0]) for r in con.execute(
            f"SELECT {key_expr} AS k FROM {staged} GROUP BY {keys} HAVING count(*) > 1 ORDER BY k "
            f"LIMIT {policy.examples}").fetchall()]
    return res


def foreign_key_check(con, staged: str, contract: TableContract, fk, parent: str | None, plan: ColumnPlan, *,
                      rows: int, policy: Policy = DEFAULT_POLICY) -> CheckResult:
    """Every non-empty foreign key value of the table is found in the parent table."""
    t = contract.table
    name = f"{'+'.join(fk.columns)} -> {fk.ref_table}"
    if parent is None:
        return CheckResult(t, "foreign_key", "warn", f"{t}: cannot check {name}: {fk.ref_table} is not loaded",
                           column="+".join(fk.columns), total=rows, threshold="every key found")
    if not all(c in plan.present for c in fk.columns):
        return CheckResult(t, "foreign_key", "warn", f"{t}: cannot check {name}: key column missing",
                           column="+".join(fk.columns), total=rows, threshold="every key found")
    on = " AND ".join(f"p.{q(rc)} = c.{q(cc)}" for cc, rc in zip(fk.columns, fk.ref_columns, strict=True))
    notnull = " AND ".join(f"c.{q(cc)} IS NOT NULL" for cc in fk.columns)
    cond = f"{notnull} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {on})"
    orphans = con.execute(f"SELECT count(*) FROM {staged} c WHERE {cond}").fetchone()[0]
    if not orphans:
        return CheckResult(t, "foreign_key", "pass", f"{t}: every {name} key is found", column="+".join(fk.columns),
                           total=rows, threshold="every key found")
    share = orphans / rows if rows else 0
    status = "fail" if share > policy.value_fail_share else "warn"
    res = CheckResult(t, "foreign_key", status,
                      f"{t}: {orphans:,} row(s) ({share:.1%}) whose {'+'.join(fk.columns)} is not in {fk.ref_table}",
                      column="+".join(fk.columns), failing=int(orphans), total=rows, threshold="every key found")
    id_expr = _id_expr(contract, plan).replace('"', 'c."', 1) if len(contract.id_columns) == 1 else "NULL"
    if id_expr != "NULL":
        res.examples = [mask_example(r[0]) for r in con.execute(
            f"SELECT DISTINCT {id_expr} AS id FROM {staged} c WHERE {cond} ORDER BY id LIMIT {policy.examples}"
        ).fetchall()]
    return res


# --------------------------------------------------------------------------------------------------------- drift
def profiled_columns(contract: TableContract, present: set[str]) -> list[str]:
    """Key categorical columns whose distributions are compared between snapshots (coded, not identifiers)."""
    return [c.name for c in contract.columns
            if c.name in present and not c.identifier and c.dtype == "string" and (c.codes or c.role == "sex")]


OTHER_VALUE = "(not in the code list)"


def profile(con, staged: str, columns: list[str], codes: dict[str, tuple[str, ...] | None] | None = None
            ) -> list[tuple[str, str, int]]:
    """``(column, value, rows)`` for each category of each column (``(missing)`` for nulls), in one scan.

    Values outside the column's code list are counted together as ``(not in the code list)`` (and, for a column
    without a code list, values longer than two characters): a misaligned file can put names or postcodes in a
    coded column, and profiles are kept in ``meta.profiles``.
    """
    if not columns:
        return []

    def cat(c: str) -> str:
        allowed = (codes or {}).get(c)
        keep = (f"{q(c)} IN ({', '.join(sql_literal(v) for v in allowed)})" if allowed else f"length({q(c)}) <= 2")
        return (f"CASE WHEN {q(c)} IS NULL THEN '(missing)' WHEN {keep} THEN {q(c)} "
                f"ELSE {sql_literal(OTHER_VALUE)} END AS {q(c)}")

    cols = ", ".join(cat(c) for c in columns)
    unpiv = ", ".join(q(c) for c in columns)
    rows = con.execute(
        f"SELECT col, val, count(*) FROM (UNPIVOT (SELECT {cols} FROM {staged}) ON {unpiv} "
        f"INTO NAME col VALUE val) GROUP BY col, val ORDER BY col, val").fetchall()
    return [(str(c), str(v), int(n)) for c, v, n in rows]


def psi(previous: dict[str, int], current: dict[str, int], *, eps: float = 1e-4) -> float:
    """Population stability index of two category count distributions (0 = identical)."""
    cats = set(previous) | set(current)
    tp, tc = sum(previous.values()), sum(current.values())
    if not tp or not tc:
        return 0.0
    total = 0.0
    for k in cats:
        p = max(previous.get(k, 0) / tp, eps)
        c = max(current.get(k, 0) / tc, eps)
        total += (c - p) * math.log(c / p)
    return total


@dataclass
class DriftResult:
    table: str
    column: str | None
    metric: str  # psi | rows
    previous: float
    current: float
    value: float
    flagged: bool
    previous_snapshot: str

    def to_dict(self) -> dict:
        return asdict(self)


def drift_checks(table: str, rows: int, prev_rows: int | None, prof: list[tuple[str, str, int]],
                 prev_prof: list[tuple[str, str, int]], previous_snapshot: str, *,
                 policy: Policy = DEFAULT_POLICY) -> tuple[list[DriftResult], list[CheckResult]]:
    """Volume change and PSI per profiled column against the previous snapshot."""
    drifts: list[DriftResult] = []
    checks: list[CheckResult] = []
    if prev_rows is not None:
        change = (rows - prev_rows) / prev_rows if prev_rows else (math.inf if rows else 0.0)
        flagged = abs(change) > policy.volume_change
        drifts.append(DriftResult(table, None, "rows", prev_rows, rows, change, flagged, previous_snapshot))
        if flagged:
            checks.append(CheckResult(
                table, "volume", "warn", f"{table}: {rows:,} rows against {prev_rows:,} in snapshot "
                f"{previous_snapshot} ({change:+.0%}); volume changes of more than {policy.volume_change:.0%} "
                "are flagged", failing=abs(rows - prev_rows), total=rows,
                threshold=f"change <= {policy.volume_change:.0%}"))
        else:
            checks.append(CheckResult(table, "volume", "pass", f"{table}: {rows:,} rows ({change:+.1%} against "
                                      f"snapshot {previous_snapshot})", total=rows,
                                      threshold=f"change <= {policy.volume_change:.0%}"))
    cur: dict[str, dict[str, int]] = {}
    prev: dict[str, dict[str, int]] = {}
    for c, v, n in prof:
        cur.setdefault(c, {})[v] = n
    for c, v, n in prev_prof:
        prev.setdefault(c, {})[v] = n
    for col in sorted(set(cur) & set(prev)):
        value = psi(prev[col], cur[col])
        flagged = value > policy.psi_flag
        drifts.append(DriftResult(table, col, "psi", 0.0, 0.0, value, flagged, previous_snapshot))
        if flagged:
            shifts = _top_shifts(prev[col], cur[col])
            checks.append(CheckResult(
                table, "drift", "warn", f"{table}.{col}: distribution shifted since snapshot {previous_snapshot} "
                f"(population stability index {value:.2f} > {policy.psi_flag}); largest changes: {shifts}",
                column=col, total=rows, threshold=f"PSI <= {policy.psi_flag}"))
        else:
            note = " (moderate shift)" if value > policy.psi_warn else ""
            checks.append(CheckResult(table, "drift", "pass",
                                      f"{table}.{col}: population stability index {value:.3f}{note}",
                                      column=col, total=rows, threshold=f"PSI <= {policy.psi_flag}"))
    return drifts, checks


def _top_shifts(prev: dict[str, int], cur: dict[str, int], n: int = 3) -> str:
    tp, tc = sum(prev.values()) or 1, sum(cur.values()) or 1
    diffs = sorted(((cur.get(k, 0) / tc - prev.get(k, 0) / tp, k) for k in set(prev) | set(cur)),
                   key=lambda x: -abs(x[0]))
    return ", ".join(f"{k} {prev.get(k, 0) / tp:.1%} -> {cur.get(k, 0) / tc:.1%}" for _, k in diffs[:n])
