"""The risk factor register as typed objects: entries (drivers and outcomes), candidate variables, derivations.

The register itself is data (``data/register.yaml``); :mod:`.loader` reads and checks it into these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["driver", "outcome"]
DerivationKind = Literal["flag", "score"]
Combine = Literal["any", "max", "sum"]
When = Literal["latest", "ever", "window"]
Role = Literal["primary", "supporting", "enrichment"]

DRIVERS = ("mental_health", "physical_health", "low_income", "substance_misuse", "employment", "education",
           "accommodation", "family")
OUTCOMES = ("offending", "ill_health_mortality", "in_work_poverty", "inactivity_unemployment", "homelessness",
            "child_outcomes")


@dataclass(frozen=True)
class Candidate:
    """A catalogue variable that measures (or helps measure) an entry."""

    dataset: str
    table: str
    variable: str
    measure: str
    role: Role = "supporting"
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.table, self.variable)


@dataclass(frozen=True)
class Evidence:
    """One table's contribution to a derivation: a portable SQL expression over that table's columns."""

    table: str
    expression: str
    variables: tuple[str, ...]
    when: When = "latest"
    lookback_months: int | None = None


@dataclass(frozen=True)
class Derivation:
    """How the spine turns evidence into a person-level flag or score as at a date."""

    kind: DerivationKind
    combine: Combine
    evidence: tuple[Evidence, ...]
    threshold: float | None = None

    def to_dict(self) -> dict:
        """The derivation as the register's YAML mapping (the format the spine executes)."""
        out: dict = {"kind": self.kind}
        if self.threshold is not None:
            out["threshold"] = self.threshold
        out["combine"] = self.combine
        out["evidence"] = [
            {"table": e.table, "expression": e.expression, "variables": list(e.variables), "when": e.when,
             **({"lookback_months": e.lookback_months} if e.lookback_months is not None else {})}
            for e in self.evidence]
        return out


@dataclass(frozen=True)
class ReplacementSource:
    """A Wave 1-3 source that would replace the Data First proxy."""

    wave: int
    source: str
    measure: str
    owner: str = ""


@dataclass(frozen=True)
class Entry:
    """One driver or outcome of the register."""

    id: str
    name: str
    kind: Kind
    definition: str
    preferred_measure: str
    fallback_proxy: str
    candidates: tuple[Candidate, ...]
    derivation: Derivation
    time_coverage: str
    expected_missingness: str
    linkage_needs: str
    bias_notes: str
    coverage_notes: str
    replacement_sources: tuple[ReplacementSource, ...]

    @property
    def label(self) -> str:
        return self.name

    @property
    def variables(self) -> tuple[tuple[str, str, str], ...]:
        """Every (dataset, table, variable) the entry references (candidates, then derivation inputs)."""
        seen: dict[tuple[str, str], str] = {}
        for c in self.candidates:
            seen.setdefault(c.key, c.dataset)
        out = [(ds, t, v) for (t, v), ds in seen.items()]
        return tuple(out)

    def derivation_variables(self) -> set[tuple[str, str]]:
        return {(e.table, v) for e in self.derivation.evidence for v in e.variables}


@dataclass(frozen=True)
class Register:
    version: str
    updated: str
    entries: tuple[Entry, ...]
    source: str = ""
    path: str = "register.yaml"
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def entry(self, id_: str) -> Entry:
        for e in self.entries:
            if e.id == id_:
                return e
        from ..errors import InputError

        raise InputError(f"the register has no entry {id_!r}; entries: {', '.join(self.ids)}",
                         hint="use one of the register's driver or outcome ids")

    @property
    def drivers(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.kind == "driver")

    @property
    def outcomes(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.kind == "outcome")
