"""The risk factor register: drivers and outcomes -> measures -> candidate variables -> derivation rules.

The register is versioned data (``data/register.yaml``). Load it with :func:`load_register` (checked against the
Data First model), check it against loaded catalogues with :func:`validate`, export it with :func:`export`, and
find catalogue variables it does not use yet with :func:`suggest`.
"""

from .export import export, linkage_route, step_a_frame
from .loader import RegisterError, default_register_path, driver_labels, load_register, parse_register
from .model import DRIVERS, OUTCOMES, Candidate, Derivation, Entry, Evidence, Register, ReplacementSource
from .validate import Finding, ValidationReport, suggest, validate

__all__ = [
    "DRIVERS", "OUTCOMES", "Candidate", "Derivation", "Entry", "Evidence", "Finding", "Register", "RegisterError",
    "ReplacementSource", "ValidationReport", "default_register_path", "driver_labels", "export", "linkage_route", "load_register",
    "parse_register", "step_a_frame", "suggest", "validate",
]
