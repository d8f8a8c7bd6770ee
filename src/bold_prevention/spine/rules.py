"""Register derivation rules, as the spine executes them.

Each driver of the risk factor register carries a ``derivation``::

    derivation:
      kind: flag                # flag (boolean) or score (numeric; score >= threshold is also kept as a flag)
      threshold: 1              # for scores (flags: the number of positive evidence items needed, default 1)
      combine: any              # any | max | sum, across evidence items (and across rows in a window)
      evidence:
        - table: oasys_assessments_details_core_risk
          expression: "question_3_3 = 'YES' OR question_3_4 = '2'"
          variables: [question_3_3, question_3_4]
          when: latest          # latest | ever | window
          lookback_months: 24   # with when: window

:func:`load_rules` reads them from the register (the shipped ``register.yaml``, a YAML file, a parsed mapping or
the register package's own objects) and checks every rule against the Data First model: the table reaches a person,
every variable is an analysis column of the table, the expression parses as one SQL expression and reads only the
listed variables. Errors name the driver, table and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from ..datafirst import MODEL, DataFirstModel
from ..errors import InputError
from ..register import load_register
from .sources import RECORD_DATES

__all__ = ["DriverRule", "Derivation", "Evidence", "load_rules", "parse_rule", "register_path"]

WHEN = ("latest", "ever", "window")
KINDS = ("flag", "score")
COMBINE = ("any", "max", "sum")


@dataclass(frozen=True)
class Evidence:
    table: str
    expression: str
    variables: tuple[str, ...]
    when: str = "latest"
    lookback_months: int | None = None

    @property
    def dataset(self) -> str:
        return MODEL.dataset_of(self.table).key


@dataclass(frozen=True)
class Derivation:
    kind: str
    evidence: tuple[Evidence, ...]
    combine: str = "any"
    threshold: float | None = None

    @property
    def flag_threshold(self) -> float:
        return float(self.threshold) if self.threshold is not None else 1.0


@dataclass(frozen=True)
class DriverRule:
    driver: str
    derivation: Derivation
    label: str = ""


def register_path() -> Path:
    """The shipped register file (``bold_prevention/register/data/register.yaml``)."""
    from importlib import resources

    return Path(str(resources.files("bold_prevention").joinpath("register", "data", "register.yaml")))


def _entry_key(entry: Mapping[str, Any]) -> str | None:
    for k in ("key", "id", "driver", "name", "code"):
        v = entry.get(k)
        if isinstance(v, str) and v:
            return v
    return None


def _entries(raw: Any, *, source: str) -> list[tuple[str, Mapping[str, Any], str]]:
    """(driver key, entry, label) for every driver entry of a parsed register."""
    if isinstance(raw, Mapping) and "entries" in raw:
        raw = raw["entries"]
    elif isinstance(raw, Mapping) and "drivers" in raw:
        raw = raw["drivers"]
    out = []
    if isinstance(raw, Mapping):
        items = [(k, v) for k, v in raw.items() if isinstance(v, Mapping)]
        for k, v in items:
            kind = v.get("kind") if isinstance(v.get("kind"), str) else v.get("type")
            if kind not in (None, "driver"):
                continue
            out.append((str(k), v, str(v.get("label") or v.get("title") or v.get("name") or k)))
    elif isinstance(raw, list):
        for v in raw:
            if not isinstance(v, Mapping):
                raise InputError(f"register {source}: every driver entry must be a mapping, found {v!r}",
                                 hint="see the derivation rule format in docs/spine-and-cohorts.md")
            kind = v.get("kind") if isinstance(v.get("kind"), str) else v.get("type")
            if kind not in (None, "driver"):
                continue
            k = _entry_key(v)
            if not k:
                raise InputError(f"register {source}: a driver entry has no key (key, id or driver)",
                                 hint="give each driver a `key:`")
            out.append((k, v, str(v.get("label") or v.get("title") or v.get("name") or k)))
    else:
        raise InputError(f"register {source}: expected a list of drivers or a mapping with `drivers:`",
                         hint="see the derivation rule format in docs/spine-and-cohorts.md")
    return out


def _columns_read(expression: str, *, where: str) -> set[str]:
    try:
        trees = [t for t in sqlglot.parse(expression, read="duckdb") if t is not None]
        tree = trees[0] if len(trees) == 1 else None
        if len(trees) > 1:
            raise InputError(f"{where}: the expression {expression!r} must be one expression, not several statements",
                             hint="write one condition, such as question_3_3 = 'YES'")
    except sqlglot.errors.ParseError as e:
        raise InputError(f"{where}: the expression {expression!r} is not valid SQL: {e.errors[0]['description']}"
                         if e.errors else f"{where}: the expression {expression!r} is not valid SQL",
                         hint="write one SQL boolean or numeric expression over the table's columns") from e
    if tree is not None and (isinstance(tree, exp.Select | exp.Subquery)
                             or any(True for _ in tree.find_all(exp.Subquery, exp.Select))):
        raise InputError(f"{where}: the expression {expression!r} may not contain a query",
                         hint="use only the table's own columns, literals and functions")
    if tree is None or isinstance(tree, exp.Query | exp.Command | exp.Create | exp.Drop | exp.Insert):
        raise InputError(f"{where}: the expression {expression!r} must be one expression, not a statement",
                         hint="write a condition such as question_3_3 = 'YES'")
    return {c.name for c in tree.find_all(exp.Column)}


def parse_rule(driver: str, derivation: Mapping[str, Any], *, label: str = "", model: DataFirstModel = MODEL,
               source: str = "register") -> DriverRule:
    """Check one driver's derivation against the model and return it as a :class:`DriverRule`."""
    where = f"register {source}, driver {driver}"
    if not isinstance(derivation, Mapping):
        raise InputError(f"{where}: `derivation` must be a mapping", hint="see the derivation rule format")
    kind = derivation.get("kind", "flag")
    if kind not in KINDS:
        raise InputError(f"{where}: derivation kind {kind!r} is not known", hint=f"use one of {', '.join(KINDS)}")
    combine = derivation.get("combine", "any")
    if combine not in COMBINE:
        raise InputError(f"{where}: combine {combine!r} is not known", hint=f"use one of {', '.join(COMBINE)}")
    threshold = derivation.get("threshold")
    if threshold is not None and not isinstance(threshold, int | float):
        raise InputError(f"{where}: threshold {threshold!r} is not a number", hint="give a number, e.g. 1")
    items = derivation.get("evidence") or []
    if not isinstance(items, list) or not items:
        raise InputError(f"{where}: the derivation has no evidence", hint="list at least one evidence item")
    evs = []
    for i, ev in enumerate(items, 1):
        w = f"{where}, evidence {i}"
        if not isinstance(ev, Mapping):
            raise InputError(f"{w}: must be a mapping with table, expression and variables")
        table = ev.get("table")
        try:
            t = model.table(str(table))
        except KeyError as e:
            raise InputError(f"{w}: table {table!r} is not in the Data First model",
                             hint="use a table name from the catalogue (e.g. oasys_assessments_details_core_risk)"
                             ) from e
        if t.name not in RECORD_DATES:
            raise InputError(f"{w}: table {t.name} does not reach a person through the XJS spine",
                             hint="use a Data First table linked through xjs_link (or one of its detail tables)")
        expression = ev.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise InputError(f"{w}: `expression` is missing", hint="give a SQL expression over the table's columns")
        variables = ev.get("variables") or []
        if isinstance(variables, str):
            variables = [variables]
        for v in variables:
            if v not in t.column_names:
                raise InputError(f"{w}: variable {v!r} is not a column of {t.name}",
                                 hint=f"columns of {t.name}: {', '.join(t.analysis_columns)}")
            if t.column(v).identifier:
                raise InputError(f"{w}: variable {v!r} of {t.name} is a personal identifier",
                                 hint="derivations may read analysis columns only")
        read = _columns_read(expression, where=w)
        unknown = sorted(read - set(t.column_names))
        if unknown:
            raise InputError(f"{w}: the expression reads {', '.join(unknown)}, not columns of {t.name}",
                             hint=f"columns of {t.name}: {', '.join(t.analysis_columns)}")
        ident = sorted(c for c in read if t.column(c).identifier)
        if ident:
            raise InputError(f"{w}: the expression reads personal identifiers ({', '.join(ident)})",
                             hint="derivations may read analysis columns only")
        unlisted = sorted(read - set(variables))
        if unlisted:
            raise InputError(f"{w}: the expression reads {', '.join(unlisted)} but `variables` does not list them",
                             hint="list every column the expression reads under `variables`")
        when = ev.get("when", "latest")
        if when not in WHEN:
            raise InputError(f"{w}: when {when!r} is not known", hint=f"use one of {', '.join(WHEN)}")
        lookback = ev.get("lookback_months")
        if when == "window":
            if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback <= 0:
                raise InputError(f"{w}: when: window needs a positive whole `lookback_months`",
                                 hint="e.g. lookback_months: 24")
        elif lookback is not None and not isinstance(lookback, int):
            raise InputError(f"{w}: lookback_months {lookback!r} is not a whole number")
        evs.append(Evidence(t.name, expression.strip(), tuple(variables), when,
                            lookback if when == "window" else None))
    return DriverRule(driver, Derivation(kind, tuple(evs), combine, threshold), label or driver)


def _load_raw(register: Any, model: DataFirstModel = MODEL) -> tuple[Any, str]:
    if register is None:
        path = register_path()
        if not path.exists():
            raise InputError(f"the register {path} does not exist",
                             hint="install the risk factor register, or pass a register file with --register")
        register = path
    if isinstance(register, str | Path):
        # one reader of the register: the register package's loader (schema and model checks)
        path = Path(register)
        if not path.exists():
            raise InputError(f"register file {path} not found", hint="check the path")
        return load_register(path, model=model), str(path)
    return register, "register"


def _from_objects(register: Any) -> list[tuple[str, Any, str]] | None:
    """Driver entries of register objects (anything with ``drivers`` holding items with ``key`` and
    ``derivation``)."""
    drivers = getattr(register, "drivers", None)
    if drivers is None or isinstance(register, Mapping):
        return None
    if isinstance(drivers, Mapping):
        drivers = list(drivers.values())
    out = []
    for d in drivers:
        key = getattr(d, "key", None) or getattr(d, "id", None) or getattr(d, "name", None)
        der = getattr(d, "derivation", None)
        if der is not None and not isinstance(der, Mapping):
            der = der.to_dict() if hasattr(der, "to_dict") else getattr(der, "__dict__", der)
        out.append((str(key), der, str(getattr(d, "label", None) or getattr(d, "title", None) or key)))
    return out


def load_rules(register: Any = None, *, drivers: Iterable[str] | None = None,
               model: DataFirstModel = MODEL) -> list[DriverRule]:
    """The checked derivation rules of every driver of the register (or of ``drivers``), in register order.

    ``register``: None (the shipped register), a YAML path, a parsed mapping or list, register objects, or a list
    of :class:`DriverRule`. Drivers without a derivation are skipped.
    """
    if isinstance(register, list) and register and all(isinstance(r, DriverRule) for r in register):
        rules = list(register)
    else:
        src = "register"
        if isinstance(register, str | Path) or register is None:
            register, src = _load_raw(register, model)
        entries = _from_objects(register)
        if entries is None:
            entries = [(k, v.get("derivation"), label) for k, v, label in _entries(register, source=src)]
        rules = [parse_rule(k, der, label=label, model=model, source=src) for k, der, label in entries
                 if der is not None]
    if drivers is not None:
        wanted = list(drivers)
        known = {r.driver for r in rules}
        missing = [d for d in wanted if d not in known]
        if missing:
            raise InputError(f"the register has no derivation for {', '.join(missing)}",
                             hint=f"drivers with derivations: {', '.join(sorted(known))}")
        rules = [r for r in rules if r.driver in wanted]
    seen: set[str] = set()
    for r in rules:
        if r.driver in seen:
            raise InputError(f"the register defines driver {r.driver} twice", hint="keep one entry per driver")
        if not r.driver.isidentifier():
            raise InputError(f"driver key {r.driver!r} cannot name a column",
                             hint="use lower_case letters, digits and underscores")
        seen.add(r.driver)
    return rules
