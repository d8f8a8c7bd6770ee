"""What every study's code takes and gives back.

A study function is ``run(ctx: StudyContext) -> StudyResult``. It reads the project's warehouse through
``ctx.con``, at linkage band ``ctx.band``, and returns only disclosure-checked outputs (``CheckedOutput`` from
:mod:`bold_prevention.outputs`) and headline figures with their intervals. Parts it cannot run because a source is
not loaded are listed in ``not_available`` (with how to load the source) rather than silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..outputs import CheckedOutput
from ..project import Project


@dataclass(frozen=True)
class Headline:
    """One headline figure of a study, with its interval and, on synthetic data, the truth it should recover.

    ``value``, ``lower`` and ``upper`` are what the study publishes (already through disclosure control: a figure
    built on a suppressed count is ``None``); ``truth`` is the value the synthetic population was built to give,
    computed from the synthetic truth tables, or ``None`` on real data.
    """

    name: str
    label: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    units: str = ""
    truth: float | None = None
    note: str = ""
    #: The exact counts behind a share or rate (``value = numerator / denominator * per``), used only to build
    #: the release's checked headline table (they are never published as they are).
    numerator: int | None = field(default=None, repr=False, compare=False)
    denominator: int | None = field(default=None, repr=False, compare=False)
    per: float = 100.0

    @property
    def recovers_truth(self) -> bool | None:
        """Whether the truth lies within the published interval (``None`` when either is unknown)."""
        if self.truth is None or self.lower is None or self.upper is None:
            return None
        return self.lower <= self.truth <= self.upper


@dataclass
class StudyContext:
    """What a study runs on: the warehouse connection, the project, its definition and the band."""

    con: Any
    project: Project
    spec: Any  # the validated study definition (studies.spec.StudySpec)
    band: str = "medium"
    as_at: date | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: The truth folder of a synthetic population (``<population>/truth``), or None on real data.
    truth_dir: Path | None = None
    #: Sources of the definition that are not loaded (optional ones only: a missing required source stops the run).
    missing_sources: tuple[str, ...] = ()


@dataclass
class StudyResult:
    """A study's checked outputs, headline figures and what could not be run."""

    name: str
    band: str
    outputs: list[CheckedOutput] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    not_available: list[str] = field(default_factory=list)
    methods: str = ""
    texts: list[tuple[str, str]] = field(default_factory=list)
