"""Cohorts as declarative specs over the spine (OHDSI-like), compiled to portable SQL, with attrition, profiles,
needs prevalence by place and risk-factor overlap."""

from .build import CohortResult, build_cohort, spine_state
from .compile import compile_cohort, transpile_cohort
from .profile import driver_overlap, overlap_network_svg, places_prevalence, profile, wilson
from .spec import CohortSpec, load_spec, shipped_specs

__all__ = [
    "CohortResult",
    "CohortSpec",
    "build_cohort",
    "compile_cohort",
    "driver_overlap",
    "load_spec",
    "overlap_network_svg",
    "places_prevalence",
    "profile",
    "shipped_specs",
    "spine_state",
    "transpile_cohort",
    "wilson",
]
