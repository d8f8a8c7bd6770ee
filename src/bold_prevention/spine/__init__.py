"""The Wave 0 person-level spine: persons linked through XJS, their needs (from the register's derivation rules),
justice contacts, civil and family signals, geography and deprivation. Pseudonymised ids only."""

from .build import SpineResult, build_spine, spine_plan, transpiled_plan
from .rules import DriverRule, load_rules

__all__ = ["DriverRule", "SpineResult", "build_spine", "load_rules", "spine_plan", "transpiled_plan"]
