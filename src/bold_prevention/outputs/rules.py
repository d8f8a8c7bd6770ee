"""Disclosure-control rule sets: the thresholds every output is checked against, named and documented.

A :class:`RuleSet` holds the parameters of every rule the disclosure-control module applies. Three named profiles
ship with the toolkit:

``default``
    Output checking as trusted research environments (ONS Secure Research Service, UK LLC) and ACRO apply it:
    counts below 10 are disclosive and zeros are disclosive (class disclosure), published counts are rounded to
    the nearest 5, secondary (complementary) suppression so no suppressed cell can be worked out from the totals,
    N-k dominance with n=2, k=0.90, p-ratio p=0.10, survival curves need 10 at risk at each point, models need 10
    residual degrees of freedom. The thresholds are ACRO 1.0.2's ``default.yaml``.
``ons_10_5``
    The ONS "10-5 rule" for published tables: counts below 10 suppressed, other counts rounded to the nearest 5.
    True zeros are published (``zeros_disclosive=False``), as many ONS tables do; every other rule as ``default``.
``opensafely``
    OpenSAFELY's rule: counts of 7 or fewer suppressed (``threshold=8``), then rounding to the nearest 5.

Every parameter can be changed: ``get_rules("default", threshold=20)``, or a YAML file read by :func:`load_rules`::

    profile: default          # start from a named profile
    threshold: 20             # then override any parameter
    round_base: 10

A count ``c`` is *low* (primary disclosive) when ``c < threshold``, except a zero when ``zeros_disclosive`` is false.
This is ACRO's ``MinimumThresholdCheck`` (``count < safe_threshold``): 9 fails, 10 passes.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

# --- rule identifiers -------------------------------------------------------------------------------------------------
# Each rule the module applies has a stable id (used in logs, errors and results.json) and, where ACRO has the same
# check, ACRO's check name (so output checkers used to ACRO recognise it in SACRO-Viewer).

CHECKED_ONLY = "checked-outputs-only"
INTEGRITY = "integrity"
MIN_THRESHOLD = "min-threshold"
ZEROS = "zeros"
SECONDARY = "secondary-suppression"
ROUNDING = "rounding"
NK_DOMINANCE = "nk-dominance"
P_RATIO = "p-ratio"
NEGATIVE_VALUES = "negative-values"
DERIVED = "derived-from-suppressed"
NOT_APPLICABLE = "not-applicable"
SURVIVAL_AT_RISK = "survival-min-at-risk"
SURVIVAL_EVENTS = "survival-min-events"
MODEL_DOF = "model-min-dof"
MODEL_INDIVIDUAL = "model-no-individual-values"
LINKED_TABLES = "linked-tables"
CONSISTENT = "consistent-suppression"
CELL_KEY = "cell-key-perturbation"
RELEASE_CONFLICT = "release-conflict"
ACRO_SURVIVAL = "acro-survival-check"


@dataclass(frozen=True)
class Rule:
    """One disclosure-control rule: its id, ACRO's equivalent check (if any) and what it does."""

    id: str
    title: str
    acro_check: str | None
    description: str


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule(CHECKED_ONLY, "Checked outputs only", None,
         "Export functions (HTML report, spreadsheets, results.json) accept only outputs made by the "
         "disclosure-control module; anything else is refused."),
    Rule(INTEGRITY, "Output unchanged since checking", None,
         "A checked output carries a checksum of its published values; an output changed after checking is refused."),
    Rule(MIN_THRESHOLD, "Minimum threshold", "MinimumThresholdCheck",
         "A count (or the number of contributors to a sum or mean) below the threshold is suppressed; margins "
         "(totals) are checked too."),
    Rule(ZEROS, "Zeros are disclosive", "PresenceOfZeroCheck",
         "A zero count reveals that nobody in a group has an attribute (class disclosure); it is suppressed "
         "when the rule set treats zeros as disclosive."),
    Rule(SECONDARY, "Secondary (complementary) suppression", None,
         "Further cells are suppressed until no suppressed cell can be worked out exactly from the published "
         "row, column and grand totals (checked by linear programming over the published margins)."),
    Rule(ROUNDING, "Rounding", None,
         "Published counts are rounded to the nearest multiple of the rounding base; totals are rounded "
         "independently, so rows and columns may not add up exactly."),
    Rule(NK_DOMINANCE, "N-k dominance", "NKCheck",
         "In a sum or mean, a cell whose n largest contributors make up k or more of the cell total is suppressed."),
    Rule(P_RATIO, "p-ratio dominance", "PPercentCheck",
         "In a sum or mean, a cell where (total - largest - second largest) / largest is below p is suppressed: "
         "the second-largest contributor could estimate the largest too closely."),
    Rule(NEGATIVE_VALUES, "Negative contributions", None,
         "Dominance is not defined for negative values; it is computed on absolute values and the output is "
         "marked for review."),
    Rule(DERIVED, "Derived from suppressed values", None,
         "A rate or percentage is suppressed when its numerator or its denominator is suppressed; rates are "
         "computed from the published (rounded) counts."),
    Rule(NOT_APPLICABLE, "Not applicable", None,
         "A rate whose published denominator is zero is not applicable and shown as [z]."),
    Rule(SURVIVAL_AT_RISK, "Survival: minimum number at risk", None,
         "A survival curve or time series is published only at points with at least the minimum number at risk; "
         "the curve is cut where the number at risk falls below it."),
    Rule(SURVIVAL_EVENTS, "Survival: events reported in groups", None,
         "Steps of a survival curve are reported only once at least the minimum number of events (the count "
         "threshold unless survival_min_events is set) have happened since the last reported point; survival and "
         "its interval are recomputed from the published (rounded) numbers at risk and events."),
    Rule(ACRO_SURVIVAL, "Survival: ACRO's own check", None,
         "ACRO's surv_func check is run on the same microdata and its verdict recorded beside this module's, "
         "for the output checker."),
    Rule(MODEL_DOF, "Model: minimum residual degrees of freedom", "MinimumDoFCheck",
         "Model coefficients are published only when the residual degrees of freedom reach the minimum; "
         "otherwise every coefficient is suppressed."),
    Rule(MODEL_INDIVIDUAL, "Model: no residuals or individual predictions", None,
         "Only coefficients and summary statistics leave; residuals, fitted values and individual predictions "
         "are refused."),
    Rule(LINKED_TABLES, "Linked tables", "PresenceOfLinkedTableCheck",
         "Every count of a release, with the project's earlier releases, is audited as one system: cells shared "
         "between tables, totals, rates and rounding. Further cells are suppressed until no small count can be "
         "bounded more closely than the protection width by linear and integer programming."),
    Rule(CELL_KEY, "Cell-key perturbation", None,
         "Each count is perturbed by the p-table entry of its value and cell key (the sum of its records' keys), "
         "so the same cell gets the same noise wherever it is published; counts below the threshold after "
         "perturbation are suppressed (the ONS method)."),
    Rule(CONSISTENT, "Consistent suppression across releases", None,
         "A cell suppressed as a small count in an earlier release of the same table (another band or snapshot) "
         "is suppressed again when its new value would let the old one be estimated within the rounding."),
    Rule(RELEASE_CONFLICT, "Conflict with an earlier release", None,
         "A table is withheld when one of its small counts would be estimated within the rounding from the value "
         "an earlier release of the same table published."),
)}


def rule_label(rule_id: str) -> str:
    """``"min-threshold (Minimum threshold)"`` for messages."""
    r = RULES.get(rule_id)
    return f"{rule_id} ({r.title})" if r else rule_id


@dataclass(frozen=True)
class RuleSet:
    """The parameters of every disclosure-control rule. Frozen: change with :meth:`replace`."""

    name: str = "default"
    description: str = "TRE output checking (ACRO defaults) with rounding to 5 and secondary suppression"
    threshold: int = 10
    """Smallest publishable count: a count ``c < threshold`` is suppressed (ACRO ``safe_threshold``)."""
    zeros_disclosive: bool = True
    """Suppress zero counts (class disclosure; ACRO ``zeros_are_disclosive``)."""
    round_base: int | None = 5
    """Round published counts to the nearest multiple of this (``None``: no rounding)."""
    secondary: bool = True
    """Apply secondary (complementary) suppression so suppressed cells cannot be recovered from totals."""
    nk_n: int = 2
    nk_k: float = 0.90
    """N-k dominance: the ``nk_n`` largest contributors make up ``nk_k`` or more of a cell (ACRO ``safe_nk_*``)."""
    p_ratio: float = 0.10
    """p-ratio: (total - top1 - top2) / top1 below this is dominated (ACRO ``safe_pratio_p``)."""
    min_contributors: int | None = None
    """Minimum contributors to a sum or mean (``None``: the count ``threshold``)."""
    survival_min_at_risk: int = 10
    """Minimum number at risk at each published point of a survival curve (ACRO ``survival_safe_threshold``)."""
    survival_min_events: int | None = None
    """Events in each reported step of a survival curve (``None``: the count ``threshold``)."""
    model_min_dof: int = 10
    """Minimum residual degrees of freedom of a model (ACRO ``safe_dof_threshold``)."""
    rate_decimals: int = 1
    """Decimal places of published rates and percentages."""
    magnitude_decimals: int = 2
    """Decimal places of published sums and means."""
    method: str = "suppress-round"
    """``suppress-round`` (threshold, secondary suppression, rounding) or ``cell-key`` (ONS cell-key perturbation:
    noise from a p-table by cell key, then the threshold; for many overlapping tables)."""
    ptable: str | None = None
    """Cell-key method: a p-table CSV (``pcv``, ``ckey``, ``pvalue``); ``None``: the toolkit's default p-table."""
    max_noise: int = 2
    """Cell-key method with the default p-table: the largest perturbation either way."""
    min_interval: int | None = None
    """The narrowest interval an attacker may bound a suppressed small count to, from everything a release and the
    project's earlier releases publish (``None``: the rounding base, or 1 without rounding)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        def bad(param: str, why: str) -> InputError:
            return InputError(f"disclosure rule set {self.name!r}: {param} {why}",
                              hint="fix the value in the rules file or the keyword argument")

        for p in ("threshold", "nk_n", "survival_min_at_risk", "model_min_dof"):
            v = getattr(self, p)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(p, f"must be a whole number of at least 1, got {v!r}")
        for p in ("min_contributors", "survival_min_events", "round_base", "min_interval"):
            v = getattr(self, p)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise bad(p, f"must be a whole number of at least 1 or empty, got {v!r}")
        if self.method not in ("suppress-round", "cell-key"):
            raise bad("method", f"must be 'suppress-round' or 'cell-key', got {self.method!r}")
        if not isinstance(self.max_noise, int) or isinstance(self.max_noise, bool) or not 0 <= self.max_noise <= 10:
            raise bad("max_noise", f"must be a whole number from 0 to 10, got {self.max_noise!r}")
        if not (isinstance(self.nk_k, int | float) and 0 < self.nk_k <= 1):
            raise bad("nk_k", f"must be a fraction in (0, 1], got {self.nk_k!r}")
        if not (isinstance(self.p_ratio, int | float) and 0 <= self.p_ratio < 1):
            raise bad("p_ratio", f"must be a fraction in [0, 1), got {self.p_ratio!r}")
        for p in ("rate_decimals", "magnitude_decimals"):
            v = getattr(self, p)
            if not isinstance(v, int) or v < 0 or v > 10:
                raise bad(p, f"must be a whole number from 0 to 10, got {v!r}")

    # --- derived values ---
    @property
    def uncertainty_base(self) -> int | None:
        """How far a published count may be from the truth, as a rounding base: the rounding base, or for the
        cell-key method the width of the perturbation (2 x max_noise + 1)."""
        return self.round_base if self.method != "cell-key" else 2 * self.max_noise + 1

    @property
    def protection_width(self) -> int:
        """Bounds on a suppressed small count must be at least this far apart (see ``min_interval``)."""
        return self.min_interval if self.min_interval is not None else (self.round_base or 1)

    @property
    def contributors(self) -> int:
        """Minimum number of contributors to a magnitude cell."""
        return self.min_contributors if self.min_contributors is not None else self.threshold

    @property
    def survival_events(self) -> int:
        """Events in each reported step of a survival curve."""
        return self.survival_min_events if self.survival_min_events is not None else self.threshold

    def is_low(self, count: float) -> bool:
        """Whether a count is primary disclosive under this rule set."""
        if count == 0:
            return self.zeros_disclosive
        return count < self.threshold

    def round_count(self, count: float) -> float:
        """A count rounded to the nearest multiple of ``round_base`` (halves up), or unchanged without rounding."""
        if self.round_base is None or count is None or (isinstance(count, float) and math.isnan(count)):
            return count
        return float(math.floor(count / self.round_base + 0.5) * self.round_base)

    def replace(self, **changes: Any) -> RuleSet:
        """A copy with some parameters changed (validated)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InputError(f"unknown disclosure rule parameter(s): {', '.join(sorted(unknown))}",
                             hint=f"use one of: {', '.join(f.name for f in dataclasses.fields(self) if f.name != 'extra')}")
        return dataclasses.replace(self, **changes)

    def describe(self) -> list[str]:
        """Plain-English lines describing the rule set (for report notes and cover sheets)."""
        low = f"Counts below {self.threshold}"
        lines = [f"Disclosure-control rule set: {self.name} ({self.description})."]
        lines.append(f"{low} are suppressed" + (", and so are zeros." if self.zeros_disclosive
                                                 else "; true zeros are shown."))
        if self.secondary:
            lines.append("Further cells are suppressed where needed so that no suppressed value can be worked out "
                         "from the totals.")
        if self.round_base:
            lines.append(f"Published counts are rounded to the nearest {self.round_base}; totals are rounded "
                         "independently, so they may not equal the sum of the rounded figures.")
        lines.append(f"Sums and means need at least {self.contributors} contributors, and are suppressed when the "
                     f"largest {self.nk_n} contributors make up {self.nk_k:.0%} or more of the total, or when "
                     f"the rest are less than {self.p_ratio:.0%} of the largest.")
        lines.append(f"Survival curves are shown only where at least {self.survival_min_at_risk} people are at "
                     f"risk, in steps of at least {self.survival_events} events, with survival computed from the "
                     f"published counts; models need at least {self.model_min_dof} residual degrees of freedom.")
        lines.append("Rates and percentages are suppressed where their numerator or denominator is.")
        return lines

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("extra", None)
        return d

    def to_acro_config(self) -> dict[str, Any]:
        """The equivalent ACRO ``session.config`` values (for cross-checking with ACRO)."""
        return {
            "safe_threshold": self.threshold,
            "safe_dof_threshold": self.model_min_dof,
            "safe_nk_n": self.nk_n,
            "safe_nk_k": float(self.nk_k),
            "safe_pratio_p": float(self.p_ratio),
            "check_missing_values": False,
            "survival_safe_threshold": self.survival_min_at_risk,
            "zeros_are_disclosive": self.zeros_disclosive,
            "safe_round_base": self.round_base or 5,
        }


PROFILES: dict[str, RuleSet] = {
    "default": RuleSet(),
    "ons_10_5": RuleSet(
        name="ons_10_5",
        description="ONS 10-5 rule: counts below 10 suppressed, others rounded to the nearest 5; true zeros shown",
        zeros_disclosive=False,
    ),
    "ons_cell_key": RuleSet(
        name="ons_cell_key",
        description="ONS cell-key perturbation: each cell perturbed by up to 2 either way by its cell key, counts "
                    "below 10 suppressed; consistent across overlapping tables",
        method="cell-key", secondary=False,
    ),
    "opensafely": RuleSet(
        name="opensafely",
        description="OpenSAFELY: counts of 7 or fewer suppressed, then rounded to the nearest 5",
        threshold=8,
    ),
}


def get_rules(rules: RuleSet | str | None = None, **overrides: Any) -> RuleSet:
    """A rule set: a :class:`RuleSet`, a profile name (``default``, ``ons_10_5``, ``opensafely``) or a YAML path.

    Keyword arguments override single parameters, e.g. ``get_rules("default", threshold=20)``.
    """
    if rules is None:
        base = PROFILES["default"]
    elif isinstance(rules, RuleSet):
        base = rules
    elif isinstance(rules, str) and rules in PROFILES:
        base = PROFILES[rules]
    elif isinstance(rules, str | os.PathLike) and (str(rules).endswith((".yaml", ".yml")) or Path(rules).exists()):
        base = load_rules(rules)
    else:
        raise InputError(f"unknown disclosure rule profile {rules!r}",
                         hint=f"use one of {', '.join(PROFILES)} or the path of a rules YAML file")
    return base.replace(**overrides) if overrides else base


def load_rules(path: str | os.PathLike) -> RuleSet:
    """Read a rules YAML file: ``profile: NAME`` (optional, default ``default``) plus parameter overrides.

    Checked through the configuration layer: unknown parameters and wrong types (``threshold: "10"``,
    ``zeros_disclosive: "no"``) are refused, every problem at once with its line.
    """
    import typing

    from pydantic import create_model

    from ..config import ConfigModel, read_document, validate_config

    p = Path(path)
    if not p.exists():
        raise InputError(f"disclosure rules file {p} not found", hint="check the path, or use --profile NAME")
    doc = read_document(p, what="disclosure rules file")
    if doc.data is None:
        doc.data = {}
    hints = typing.get_type_hints(RuleSet)
    schema = create_model("RuleSetFile", __base__=ConfigModel, profile=(str, "default"),
                          **{f.name: (hints[f.name], None) for f in dataclasses.fields(RuleSet) if f.name != "extra"})
    data = validate_config(doc.data, schema, source=str(p), document=doc,
                           hint="fix each problem listed above (one `parameter: value` per line)").data()
    profile = data.pop("profile", "default")
    if profile not in PROFILES:
        raise InputError(f"disclosure rules file {p}: unknown profile {profile!r}",
                         hint=f"use one of {', '.join(PROFILES)}")
    data.setdefault("name", f"{profile} ({p.name})")
    try:
        return PROFILES[profile].replace(**data)
    except InputError as e:
        raise InputError(f"disclosure rules file {p}: {e.message}", hint=e.hint) from e
