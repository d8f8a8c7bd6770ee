"""The registry of study code: name -> ``run(ctx) -> StudyResult``, with the analysis kinds, measures and sources it
implements (a study definition naming anything else is refused).

A study module registers its code with the :func:`study` decorator::

    @study("probation_treatment", kinds=("shares", "time_to_event"), measures=("started_3w",),
           sources=("probation", "ndtms"))
    def run(ctx: StudyContext) -> StudyResult: ...

The modules named in :data:`STUDY_MODULES` are imported on first use (a module not present yet is skipped), so a
new study is one module plus one line here and one YAML file under ``definitions/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import InputError
from .base import StudyContext, StudyResult

#: Modules of ``bold_prevention.studies`` that hold study code.
STUDY_MODULES = ("probation_treatment", "treatment_deaths", "prison_leavers_housing", "children_parent_prison",
                 "victims_support")

#: Analysis kinds every study may use (the code calls the shared implementation).
GENERIC_KINDS = ("time_to_event",)

RunFn = Callable[[StudyContext], StudyResult]


@dataclass(frozen=True)
class StudyCode:
    name: str
    run: RunFn
    kinds: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    module: str = ""


_REGISTRY: dict[str, StudyCode] = {}
_loaded = False


def study(name: str, *, kinds: Sequence[str] = (), measures: Sequence[str] = (), sources: Sequence[str] = ()
          ) -> Callable[[RunFn], RunFn]:
    """Register ``run`` as the code of study ``name`` (the kinds, measures and sources it implements; an empty
    ``measures`` or ``sources`` accepts any)."""

    def deco(fn: RunFn) -> RunFn:
        prev = _REGISTRY.get(name)
        if prev is not None and prev.module != fn.__module__:
            raise ValueError(f"study code {name!r} is registered twice ({prev.module} and {fn.__module__})")
        _REGISTRY[name] = StudyCode(name, fn, tuple(kinds), tuple(measures), tuple(sources), fn.__module__)
        return fn

    return deco


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for m in STUDY_MODULES:
        try:
            importlib.import_module(f"{__package__}.{m}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{m}":
                raise


def registered() -> dict[str, StudyCode]:
    """Every registered study code, by name."""
    _load()
    return dict(_REGISTRY)


def study_code(name: str, *, missing_ok: bool = False) -> StudyCode | None:
    """The code registered under ``name`` (an :class:`InputError` naming the known ones, or None if ``missing_ok``)."""
    reg = registered()
    if name in reg:
        return reg[name]
    if missing_ok:
        return None
    raise InputError(f"no study code is registered under {name!r}",
                     hint=f"use one of: {', '.join(sorted(reg)) or 'none'}")


def known_kinds(name: str) -> set[str]:
    """The analysis kinds a definition run by study code ``name`` may use."""
    code = study_code(name, missing_ok=True)
    return set(GENERIC_KINDS) | (set(code.kinds) if code else set())
