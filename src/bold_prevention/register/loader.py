"""Load the risk factor register from YAML and check it against the Data First model.

Every problem is reported at once, each naming the register entry (and candidate or evidence) it is in:

* structure: missing fields, unknown ``kind`` / ``when`` / ``combine``, duplicate ids;
* references: an unknown dataset, a table that is not in the model (or not in that dataset), a variable that is not
  a column of the table (with the nearest column names), a personal identifier column (never allowed);
* derivations: an expression that does not parse as one portable SQL expression (sqlglot), that uses constructs
  which do not run row by row on every engine (sub-queries, aggregates, window or unknown functions), that reads a
  column not listed in ``variables`` (or lists one it does not read), that reads a variable not among the entry's
  candidates, that compares a coded column with a value outside its code list, or whose type does not match the
  derivation kind (a flag must be a condition, a score a number).
"""

from __future__ import annotations

import difflib
import functools
import os
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError

from ..config import ConfigError, ConfigModel, Document, IsoDate, read_document, validate_config
from ..datafirst import MODEL, DataFirstModel, Table
from ..errors import InputError
from .model import Candidate, Derivation, Entry, Evidence, Register, ReplacementSource

#: The dialects a derivation must compile to (embedded engine, Spark, Athena/Trino).
DIALECTS = ("duckdb", "spark", "trino")

_ALLOWED_NODES: tuple[type, ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.And, exp.Or, exp.Not, exp.Paren,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Is, exp.Between, exp.Like, exp.ILike,
    exp.Case, exp.If, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Coalesce, exp.Cast, exp.DataType,
    exp.Lower, exp.Upper, exp.Trim, exp.Abs, exp.Greatest, exp.Least, exp.Tuple,
)
_PREDICATES: tuple[type, ...] = (exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
                                 exp.In, exp.Is, exp.Between, exp.Like, exp.ILike, exp.Boolean)
_COMPARISONS: tuple[type, ...] = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)

REQUIRED_FIELDS = ("id", "name", "kind", "definition", "preferred_measure", "fallback_proxy", "candidates",
                   "derivation", "time_coverage", "expected_missingness", "linkage_needs", "bias_notes",
                   "coverage_notes", "replacement_sources")


class RegisterError(InputError):
    """The register file has problems; ``problems`` lists each one (naming its entry)."""

    def __init__(self, path: str, problems: list[str]) -> None:
        head = f"{path}: {len(problems)} problem(s) in the register"
        super().__init__(head + "\n  - " + "\n  - ".join(problems),
                         hint="fix the register entries named above (see docs/catalogue-and-register.md)")
        self.problems = problems


# ------------------------------------------------------------------------------------------------ the schema
class CandidateSchema(ConfigModel):
    dataset: str
    table: str
    variable: str
    measure: str
    role: str = "supporting"
    note: str | None = None


class EvidenceSchema(ConfigModel):
    table: str
    expression: str
    variables: list[str]
    when: str = "latest"
    lookback_months: int | None = None


class DerivationSchema(ConfigModel):
    kind: str
    combine: str = "any"
    threshold: float | None = None
    evidence: list[EvidenceSchema]


class ReplacementSourceSchema(ConfigModel):
    wave: int
    source: str
    measure: str
    owner: str | None = None


class EntrySchema(ConfigModel):
    id: str
    name: str
    kind: str
    definition: str
    preferred_measure: str
    fallback_proxy: str
    candidates: list[CandidateSchema]
    derivation: DerivationSchema
    time_coverage: str
    expected_missingness: str
    linkage_needs: str
    bias_notes: str
    coverage_notes: str
    replacement_sources: list[ReplacementSourceSchema]


class RegisterSchema(ConfigModel):
    """The keys and types of a register file (the meaning is checked by :func:`parse_register`)."""

    version: str
    updated: IsoDate
    source: str | None = None
    description: str | None = None
    entries: list[EntrySchema]


_PARTS = {"candidates": "candidate", "evidence": "evidence", "replacement_sources": "replacement source"}


def _where(raw: Any) -> Any:
    """Locations in the register named the way the register's other messages name them."""

    def where(loc: tuple[Any, ...]) -> str:
        if len(loc) < 2 or loc[0] != "entries" or not isinstance(loc[1], int):
            return ".".join(str(x) for x in loc) if loc else "top level"
        e = raw["entries"][loc[1]] if loc[1] < len(raw["entries"]) else None
        eid = e.get("id") if isinstance(e, dict) else None
        parts = [f"entry {eid!r}" if isinstance(eid, str) and eid else f"entry {loc[1] + 1}"]
        rest = list(loc[2:])
        while rest:
            k = rest.pop(0)
            if k in _PARTS and rest and isinstance(rest[0], int):
                parts.append(f"{_PARTS[k]} {rest.pop(0) + 1}")
            elif k == "derivation":
                parts.append("derivation")
            else:
                parts.append(f"`{k}`" + "".join(f"[{i}]" for i in rest))
                break
        return ", ".join(parts)

    return where


def default_register_path() -> Path:
    return Path(str(resources.files(__package__).joinpath("data/register.yaml")))


def load_register(path: str | os.PathLike | None = None, *, model: DataFirstModel = MODEL) -> Register:
    """Read and check the register (the shipped one, or the YAML file at ``path``)."""
    p = Path(path) if path is not None else default_register_path()
    if not p.exists():
        raise InputError(f"register file {p} does not exist", hint="check the path given with --register")
    doc = read_document(p, what="register file", source=p.name)
    return _parse(doc.data, path=p.name, model=model, document=doc)


@functools.cache
def _shipped_driver_labels() -> tuple[tuple[str, str], ...]:
    return tuple((e.id, e.name) for e in load_register().drivers)


def driver_labels(register: Register | None = None) -> dict[str, str]:
    """``{driver id: its name}`` from the register (the shipped one by default): the one set of driver labels that
    the register's exports, the reports and the web application all show."""
    if register is None:
        return dict(_shipped_driver_labels())
    return {e.id: e.name for e in register.drivers}


def parse_register(raw: Any, *, path: str = "register.yaml", model: DataFirstModel = MODEL) -> Register:
    """Build a :class:`Register` from parsed YAML, raising :class:`RegisterError` listing every problem."""
    return _parse(raw, path=path, model=model, document=None)


def _parse(raw: Any, *, path: str, model: DataFirstModel, document: Document | None) -> Register:
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise RegisterError(path, ["the file must be a mapping with a list under `entries`"])
    try:
        validate_config(raw, RegisterSchema, source=path, document=document, where=_where(raw))
    except ConfigError as e:
        raise RegisterError(path, [p.render(path if document is not None else None) for p in e.problems]) from None
    problems: list[str] = []
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, e in enumerate(raw["entries"], start=1):
        where = f"entry {i}"
        eid = str(e.get("id") or "")
        if eid:
            where = f"entry {eid!r}"
            if eid in seen:
                problems.append(f"{where}: the id appears twice")
            seen.add(eid)
        entry = _parse_entry(e, where, model, problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise RegisterError(path, problems)
    updated = raw["updated"]
    return Register(version=str(raw["version"]),
                    updated=updated.isoformat() if isinstance(updated, date) else str(updated),
                    entries=tuple(entries), source=str(raw.get("source") or ""), path=path,
                    description=str(raw.get("description") or ""))


def _text(e: dict, key: str, where: str, problems: list[str]) -> str:
    v = e.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        problems.append(f"{where}: `{key}` is missing")
        return ""
    return " ".join(str(v).split())


def _nearest(word: str, options: list[str]) -> str:
    near = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    return f" (nearest: {', '.join(near)})" if near else ""


def _resolve(dataset: str | None, table: str, variable: str | None, where: str, model: DataFirstModel,
             problems: list[str]) -> Table | None:
    datasets = [d.key for d in model.datasets]
    if dataset is not None and dataset not in datasets:
        problems.append(f"{where}: unknown dataset {dataset!r}{_nearest(dataset, datasets)}; "
                        f"known datasets: {', '.join(datasets)}")
        return None
    if table not in model.table_names:
        problems.append(f"{where}: unknown table {table!r}{_nearest(table, list(model.table_names))}")
        return None
    t = model.table(table)
    if dataset is not None and t.dataset != dataset:
        problems.append(f"{where}: table {table!r} belongs to dataset {t.dataset!r}, not {dataset!r}")
        return None
    if variable is not None:
        if variable not in t.column_names:
            problems.append(f"{where}: table {table!r} has no variable {variable!r}"
                            f"{_nearest(variable, list(t.analysis_columns))}")
            return None
        if t.column(variable).identifier:
            problems.append(f"{where}: {table}.{variable} is a personal identifier; the register may only use "
                            "analysis variables (identifiers stay in the linkage layer)")
            return None
    return t


def _parse_entry(e: dict, where: str, model: DataFirstModel, problems: list[str]) -> Entry | None:
    before = len(problems)
    for k in REQUIRED_FIELDS:
        if k not in e:
            problems.append(f"{where}: `{k}` is missing")
    if len(problems) > before:
        return None
    kind = e.get("kind")
    if kind not in ("driver", "outcome"):
        problems.append(f"{where}: kind must be driver or outcome (got {kind!r})")
    texts = {k: _text(e, k, where, problems) for k in
             ("name", "definition", "preferred_measure", "fallback_proxy", "time_coverage", "expected_missingness",
              "linkage_needs", "bias_notes", "coverage_notes")}

    candidates: list[Candidate] = []
    raw_c = e.get("candidates")
    if not isinstance(raw_c, list) or not raw_c:
        problems.append(f"{where}: `candidates` must be a non-empty list")
        raw_c = []
    seen_c: set[tuple[str, str]] = set()
    for j, c in enumerate(raw_c, start=1):
        cw = f"{where}, candidate {j}"
        if not isinstance(c, dict) or not all(c.get(k) for k in ("dataset", "table", "variable", "measure")):
            problems.append(f"{cw}: needs dataset, table, variable and measure")
            continue
        cw = f"{where}, candidate {j} ({c['table']}.{c['variable']})"
        role = c.get("role", "supporting")
        if role not in ("primary", "supporting", "enrichment"):
            problems.append(f"{cw}: role must be primary, supporting or enrichment (got {role!r})")
            continue
        if _resolve(str(c["dataset"]), str(c["table"]), str(c["variable"]), cw, model, problems) is None:
            continue
        cand = Candidate(dataset=str(c["dataset"]), table=str(c["table"]), variable=str(c["variable"]),
                         measure=" ".join(str(c["measure"]).split()), role=role,
                         note=" ".join(str(c.get("note") or "").split()))
        if cand.key in seen_c:
            problems.append(f"{cw}: listed twice")
            continue
        seen_c.add(cand.key)
        candidates.append(cand)

    derivation = _parse_derivation(e.get("derivation"), where, model, seen_c, problems)

    sources: list[ReplacementSource] = []
    raw_s = e.get("replacement_sources")
    if not isinstance(raw_s, list) or not raw_s:
        problems.append(f"{where}: `replacement_sources` must list the Wave 1-3 sources that replace the proxy")
        raw_s = []
    for j, s in enumerate(raw_s, start=1):
        sw = f"{where}, replacement source {j}"
        if not isinstance(s, dict) or not s.get("source") or not s.get("measure"):
            problems.append(f"{sw}: needs wave, source and measure")
            continue
        if s.get("wave") not in (1, 2, 3):
            problems.append(f"{sw}: wave must be 1, 2 or 3 (got {s.get('wave')!r})")
            continue
        sources.append(ReplacementSource(wave=int(s["wave"]), source=" ".join(str(s["source"]).split()),
                                         measure=" ".join(str(s["measure"]).split()),
                                         owner=str(s.get("owner") or "")))
    if len(problems) > before or derivation is None:
        return None
    return Entry(id=str(e["id"]), kind=kind, candidates=tuple(candidates), derivation=derivation,
                 replacement_sources=tuple(sources), **texts)


def _parse_derivation(d: Any, where: str, model: DataFirstModel, candidates: set[tuple[str, str]],
                      problems: list[str]) -> Derivation | None:
    where = f"{where}, derivation"
    if not isinstance(d, dict):
        problems.append(f"{where}: must be a mapping with kind, combine and evidence")
        return None
    before = len(problems)
    kind = d.get("kind")
    if kind not in ("flag", "score"):
        problems.append(f"{where}: kind must be flag or score (got {kind!r})")
    combine = d.get("combine", "any")
    if combine not in ("any", "max", "sum"):
        problems.append(f"{where}: combine must be any, max or sum (got {combine!r})")
    if kind == "flag" and combine == "sum":
        problems.append(f"{where}: a flag combines with any (or max), not sum")
    threshold = d.get("threshold")
    if kind == "score":
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            problems.append(f"{where}: a score needs a numeric threshold")
        if combine == "any":
            problems.append(f"{where}: a score combines with max or sum, not any")
    elif threshold is not None:
        problems.append(f"{where}: threshold applies to scores only")
    raw_ev = d.get("evidence")
    if not isinstance(raw_ev, list) or not raw_ev:
        problems.append(f"{where}: `evidence` must be a non-empty list")
        return None
    evidence = []
    for j, ev in enumerate(raw_ev, start=1):
        ew = f"{where}, evidence {j}"
        if not isinstance(ev, dict) or not ev.get("table") or not ev.get("expression"):
            problems.append(f"{ew}: needs table, expression and variables")
            continue
        ew = f"{where}, evidence {j} ({ev['table']})"
        item = _parse_evidence(ev, ew, kind, model, candidates, problems)
        if item is not None:
            evidence.append(item)
    if len(problems) > before:
        return None
    return Derivation(kind=kind, combine=combine, evidence=tuple(evidence),
                      threshold=float(threshold) if threshold is not None else None)


def _parse_evidence(ev: dict, where: str, kind: str | None, model: DataFirstModel,
                    candidates: set[tuple[str, str]], problems: list[str]) -> Evidence | None:
    before = len(problems)
    table = _resolve(None, str(ev["table"]), None, where, model, problems)
    variables = ev.get("variables")
    if not isinstance(variables, list) or not variables:
        problems.append(f"{where}: `variables` must list every column the expression reads")
        variables = []
    variables = [str(v) for v in variables]
    when = ev.get("when", "latest")
    if when not in ("latest", "ever", "window"):
        problems.append(f"{where}: when must be latest, ever or window (got {when!r})")
    lookback = ev.get("lookback_months")
    if when == "window":
        if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 1:
            problems.append(f"{where}: when: window needs lookback_months (a whole number of months, 1 or more)")
    elif lookback is not None:
        problems.append(f"{where}: lookback_months applies to when: window only")
    if table is None:
        return None
    for v in variables:
        _resolve(None, table.name, v, where, model, problems)
        if (table.name, v) not in candidates and v in table.column_names:
            problems.append(f"{where}: variable {table.name}.{v} is not among the entry's candidates "
                            "(list it as a candidate so the register records every input)")
    expr = str(ev["expression"])
    check_expression(expr, table, variables, kind, where, problems)
    if len(problems) > before:
        return None
    return Evidence(table=table.name, expression=" ".join(expr.split()), variables=tuple(variables), when=when,
                    lookback_months=lookback if when == "window" else None)


def check_expression(expr: str, table: Table, variables: list[str], kind: str | None, where: str,
                     problems: list[str]) -> exp.Expression | None:
    """Check one derivation expression; append any problems (naming ``where``) and return its syntax tree."""
    try:
        trees = sqlglot.parse(expr, error_level=ErrorLevel.RAISE)
    except (ParseError, SqlglotError) as e:
        problems.append(f"{where}: the expression does not parse as SQL: {str(e).splitlines()[0]}")
        return None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1 or isinstance(trees[0], exp.Block):
        problems.append(f"{where}: the expression must be one SQL expression (no statements or semicolons)")
        return None
    tree = trees[0]
    for node in tree.walk():
        if isinstance(node, exp.Query | exp.Subquery | exp.DDL | exp.DML):
            problems.append(f"{where}: the expression must be row-level SQL (no SELECT, sub-query or statement)")
            return None
        if isinstance(node, exp.AggFunc | exp.Window):
            problems.append(f"{where}: the expression must be row-level (no aggregate or window functions: "
                            f"{node.sql()})")
            return None
        if not isinstance(node, _ALLOWED_NODES):
            name = node.sql() if isinstance(node, exp.Func) else type(node).__name__
            problems.append(f"{where}: {name!r} is not allowed in a portable derivation (use comparisons, "
                            "AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE, CASE, COALESCE, CAST, + - * /)")
            return None
    read = [c.name for c in tree.find_all(exp.Column)]
    if any(c.table for c in tree.find_all(exp.Column)):
        problems.append(f"{where}: refer to columns by name only (no table prefixes)")
    unlisted = sorted(set(read) - set(variables))
    if unlisted:
        problems.append(f"{where}: the expression reads {', '.join(unlisted)} which "
                        f"{'is' if len(unlisted) == 1 else 'are'} not listed in `variables`")
    unread = sorted(set(variables) - set(read))
    if unread:
        problems.append(f"{where}: `variables` lists {', '.join(unread)} but the expression does not read "
                        f"{'it' if len(unread) == 1 else 'them'}")
    for d in DIALECTS:
        try:
            sqlglot.transpile(expr, write=d, unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as e:
            problems.append(f"{where}: the expression does not compile to {d}: {str(e).splitlines()[0]}")
    _check_types(tree, table, kind, where, problems)
    return tree


def _literal_kind(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Neg):
        node = node.this
    if isinstance(node, exp.Literal):
        return "string" if node.is_string else "number"
    if isinstance(node, exp.Boolean):
        return "bool"
    return None


def _check_types(tree: exp.Expression, table: Table, kind: str | None, where: str, problems: list[str]) -> None:
    cols = {c.name: c for c in table.columns}

    def check(col: exp.Column, lits: list[exp.Expression]) -> None:
        c = cols.get(col.name)
        if c is None:
            return
        for lit in lits:
            lk = _literal_kind(lit)
            if lk is None:
                continue
            value = lit.this.name if isinstance(lit, exp.Neg) else lit.name
            expected = {"string": "string", "int": "number", "float": "number", "bool": "bool",
                        "date": "string"}[c.dtype]
            if lk != expected:
                problems.append(f"{where}: {c.name} is {c.dtype}, compared with the {lk} {lit.sql()}")
            elif c.codes is not None and lk == "string" and value not in c.codes.values:
                codes = ", ".join(c.codes.values)
                problems.append(f"{where}: {lit.sql()} is not a code of {c.name} (codes: {codes})")

    for node in tree.walk():
        if isinstance(node, _COMPARISONS):
            left, right = node.left, node.right
            if isinstance(left, exp.Column):
                check(left, [right])
            elif isinstance(right, exp.Column):
                check(right, [left])
        elif isinstance(node, exp.In) and isinstance(node.this, exp.Column):
            check(node.this, list(node.expressions))
        elif isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
            check(node.this, [node.args.get("low"), node.args.get("high")])

    top = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if kind == "flag":
        boolean_column = isinstance(top, exp.Column) and cols.get(top.name) is not None and \
            cols[top.name].dtype == "bool"
        if not (isinstance(top, _PREDICATES) or boolean_column):
            problems.append(f"{where}: a flag's expression must be a condition (true/false), got {top.sql()!r}")
    elif kind == "score":
        numeric_column = isinstance(top, exp.Column) and cols.get(top.name) is not None and \
            cols[top.name].dtype in ("int", "float")
        if isinstance(top, _PREDICATES) or (isinstance(top, exp.Column) and not numeric_column):
            problems.append(f"{where}: a score's expression must be a number (e.g. CASE WHEN ... THEN 1 ELSE 0 "
                            f"END), got {top.sql()!r}")
