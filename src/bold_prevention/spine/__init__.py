"""The Wave 0 person-level spine: persons linked through XJS, their needs (from the register's derivation rules),
justice contacts, civil and family signals, geography and deprivation. Pseudonymised ids only."""

from .build import SpineResult, build_spine, spine_plan, transpiled_plan
from .children import build_children, score_children
from .gold import apply_gold, gold_report
from .outcomes import build_outcomes
from .rules import DriverRule, load_rules

__all__ = ["DriverRule", "SpineResult", "apply_gold", "build_children", "build_outcomes", "build_spine", "gold_report",
           "load_rules", "score_children", "spine_plan", "transpiled_plan"]
