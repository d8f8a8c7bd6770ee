"""Typed configuration schemas (pydantic v2) and the one way to read a configuration file.

Every YAML file the toolkit reads goes through :func:`load_config` (a file) or :func:`parse_config` (text), which
parse it with :func:`~.loader.parse_yaml` and validate it against a :class:`ConfigModel`: unknown keys are refused
(naming the key and the allowed ones), types are strict (``"false"`` is not a boolean, ``"12"`` is not a number, a
number is not text), and every problem of the file is reported at once in one :class:`ConfigError`, each with the
file, the line and what to do. :func:`validate_config` checks data that did not come from a file the same way.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ..errors import InputError
from .loader import Document, Problem, _dotted, decode, parse_yaml

M = TypeVar("M", bound=BaseModel)
Where = Callable[[tuple[Any, ...]], str]


class ConfigModel(BaseModel):
    """Base of every configuration schema: unknown keys refused, strict types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    def data(self) -> dict[str, Any]:
        """The keys the file gave (and their validated values), as plain Python data."""
        return self.model_dump(exclude_unset=True, by_alias=True)


def _iso_date(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            raise ValueError("must be a date written YYYY-MM-DD") from None
    return v


#: A date: YAML's unquoted 2024-12-31, or the same in quotes.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class ConfigError(InputError):
    """A configuration file has problems; ``problems`` lists each (with its line where known)."""

    def __init__(self, source: str, problems: list[Problem], *, hint: str | None = None) -> None:
        problems = sorted(problems, key=lambda p: (p.line or 0))
        lines = [p.render(source) for p in problems]
        n = len(lines)
        head = f"{source}: {n} problem{'s' if n != 1 else ''} in the configuration"
        super().__init__(head + "\n  - " + "\n  - ".join(lines),
                         hint=hint or "fix each problem listed above (the file, line and key are shown)")
        self.source = source
        self.problems = problems


# ------------------------------------------------------------------------------------------------- messages
def _describe(v: Any) -> str:
    if v is None:
        return "nothing (an empty value)"
    if isinstance(v, bool):
        return f"{str(v).lower()} (true/false)"
    if isinstance(v, int | float):
        return f"the number {v!r}"
    if isinstance(v, str):
        s = v if len(v) <= 40 else v[:37] + "..."
        return f"the text {s!r}"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list | tuple):
        return "a list"
    if isinstance(v, date):
        return f"the date {v.isoformat()}"
    return type(v).__name__


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema class that validates the value at ``loc`` (None if it is not a model)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = _field(tp, part)
            if f is None:
                return None
            tp = f.annotation
            continue
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (list, tuple, set, frozenset) and args:
            tp = args[0]
        elif origin is dict and len(args) == 2:
            tp = args[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field(model: type[BaseModel], name: Any):
    for fname, f in model.model_fields.items():
        if name in (fname, f.alias):
            return f
    return None


def _allowed(model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    return ", ".join(f.alias or n for n, f in model.model_fields.items())


def _number(v: Any, kind: type) -> bool:
    """Whether ``v`` is a number written in quotes."""
    if not isinstance(v, str):
        return False
    try:
        kind(v.strip())
    except ValueError:
        return False
    return True


def _message(err: dict, model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind, v = err["type"], err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed(_model_at(model, loc[:-1]))
        out = f"unknown key `{loc[-1]}`: unknown settings {loc[-1]} are refused" + (
            f" (allowed keys: {allowed})" if allowed else "")
        if v is None and isinstance(loc[-1], str) and " " in loc[-1].strip():
            # `{measure: Unemployed, or will be ...}`: a comma in a {...} mapping ends the value
            return out + ("; a comma inside {...} ends a value, so if this is the rest of the text before it, "
                          "put the whole text in quotes")
        return out + "; remove it or correct its spelling"
    if kind == "invalid_key":
        return f"the key {loc[-1]!s} is not a name; write keys as names (in quotes if a name looks like a number)"
    if kind == "missing":
        return f"`{loc[-1]}` is missing; add it" if loc else "a value is missing"
    if kind == "string_type":
        if isinstance(v, bool):
            return (f"must be text, got {_describe(v)}: YAML reads yes, no, on, off, true and false as true/false; "
                    "put the value in quotes")
        if isinstance(v, int | float | date):
            return f"must be text, got {_describe(v)}; put the value in quotes"
        return f"must be text, got {_describe(v)}"
    if kind == "bool_type":
        quoted = isinstance(v, str) and v.strip().lower() in ("true", "false", "yes", "no", "on", "off")
        return f"must be true or false, got {_describe(v)}; write true or false" + (" without quotes" if quoted else "")
    if kind in ("int_type", "int_from_float", "int_parsing"):
        hint = "; write the number without quotes" if _number(v, int) else ""
        return f"must be a whole number, got {_describe(v)}{hint}"
    if kind in ("float_type", "float_parsing"):
        hint = "; write the number without quotes" if _number(v, float) else ""
        return f"must be a number, got {_describe(v)}{hint}"
    if kind in ("date_type", "date_parsing", "date_from_datetime_inexact"):
        return f"must be a date written YYYY-MM-DD, got {_describe(v)}"
    if kind == "literal_error":
        return f"must be one of {err['ctx']['expected']}, got {_describe(v)}"
    if kind in ("model_type", "model_attributes_type", "dict_type", "mapping_type"):
        return f"must be a mapping of key: value, got {_describe(v)}"
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        return f"must be a list, got {_describe(v)}"
    if kind in ("too_short", "too_long", "greater_than", "greater_than_equal", "less_than", "less_than_equal",
                "string_too_short", "string_too_long"):
        return f"{err['msg'][0].lower()}{err['msg'][1:]}, got {_describe(v)}"
    msg = err.get("msg", "is not valid")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def _problems(e: ValidationError, model: type[BaseModel], doc: Document | None, where: Where | None
              ) -> list[Problem]:
    out = []
    seen: set[tuple[Any, ...]] = set()
    for err in e.errors(include_url=False):
        loc = tuple(err["loc"])
        key = (loc, err["type"])
        if key in seen:
            continue
        seen.add(key)
        # a missing or unknown key is reported as a problem of its mapping, at the key's line where it has one
        here = loc[:-1] if err["type"] in ("missing", "extra_forbidden", "invalid_key") and loc else loc
        line = doc.line(loc) if doc is not None else None
        place = where(here) if where else _dotted(here)
        out.append(Problem(line, place, _message(err, model, loc)))
    return out


# ------------------------------------------------------------------------------------------------ entry points
def validate_config(data: Any, model: type[M], *, source: str = "config", document: Document | None = None,
                    where: Where | None = None, hint: str | None = None) -> M:
    """Validate parsed data against ``model``, raising one :class:`ConfigError` listing every problem.

    ``where`` turns a location (a tuple of keys and list positions) into words for messages (default
    ``a.b[0].c``); ``hint`` says what to do (default: fix each problem listed).
    """
    if data is None:
        raise InputError(f"{source}: the configuration is empty", hint=hint or "write the settings as key: value lines")
    if not isinstance(data, dict):
        line = document.line(()) if document is not None else None
        at = f"{source}:{line}" if line else source
        raise InputError(f"{at}: the configuration must be a mapping of key: value lines, got {_describe(data)}",
                         hint=hint or "write the settings as key: value lines")
    problems = list(document.problems) if document is not None else []
    try:
        obj = model.model_validate(data)
    except ValidationError as e:
        problems.extend(_problems(e, model, document, where))
        obj = None
    if problems:
        raise ConfigError(source, problems, hint=hint)
    return obj  # type: ignore[return-value]


def parse_config(text: str | bytes, model: type[M], *, source: str = "config", where: Where | None = None,
                 hint: str | None = None) -> M:
    """Parse YAML text and validate it against ``model`` (see :func:`validate_config`)."""
    doc = parse_yaml(text, source=source)
    return validate_config(doc.data, model, source=source, document=doc, where=where, hint=hint)


def read_text(path: str | os.PathLike, *, what: str = "configuration file", source: str | None = None) -> str:
    """The UTF-8 text of a configuration file, or an InputError saying why it cannot be read."""
    p = Path(path)
    name = source or str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {name} not found", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(f"{what} {name} is a folder, not a file", hint="give the path of a YAML file") from None
    except OSError as e:
        raise InputError(f"cannot read {what} {name}: {e.strerror or e}",
                         hint="check the path and the file's permissions") from None
    return decode(raw, source=name)


def read_document(path: str | os.PathLike, *, what: str = "configuration file", source: str | None = None
                  ) -> Document:
    """Read and safely parse a YAML file (see :func:`~.loader.parse_yaml`)."""
    name = source or str(path)
    return parse_yaml(read_text(path, what=what, source=name), source=name)


def load_config(path: str | os.PathLike, model: type[M], *, source: str | None = None, where: Where | None = None,
                hint: str | None = None, what: str = "configuration file") -> M:
    """Read the YAML file at ``path`` and validate it against ``model`` (every problem reported at once)."""
    name = source or str(path)
    doc = read_document(path, what=what, source=name)
    return validate_config(doc.data, model, source=name, document=doc, where=where, hint=hint)
