"""Configuration: the one reader of the toolkit's YAML files (register, link configs, cohort specs, use cases,
pipeline configs, disclosure rule sets, search vocabularies).

Layer 0: imports only the standard library, pydantic, yaml and :mod:`bold_prevention.errors`.
"""

from .loader import MAX_ALIAS_NODES, MAX_ALIASES, MAX_DEPTH, Document, Problem, decode, parse_yaml
from .schema import (
    ConfigError,
    ConfigModel,
    IsoDate,
    load_config,
    parse_config,
    read_document,
    read_text,
    validate_config,
)

__all__ = [
    "MAX_ALIASES", "MAX_ALIAS_NODES", "MAX_DEPTH", "ConfigError", "ConfigModel", "Document", "IsoDate", "Problem",
    "decode", "load_config", "parse_config", "parse_yaml", "read_document", "read_text", "validate_config",
]
