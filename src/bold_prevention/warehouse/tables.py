"""Every warehouse table, named once, with the package that owns (writes) it.

A table is a :class:`WarehouseTable`: a ``str`` (``"spine.person"``, so it goes straight into SQL and into
:func:`bold_prevention.warehouse.table_exists`) that also knows its ``schema``, ``name`` and owning package. Other
packages read a table through its constant here instead of spelling its name, so a table is renamed in one place.
Tables whose names follow a pattern (``extract.<Data First table>``, ``linkage.identity_<table>``,
``results.cohort_<name>``) are made by :func:`extract`, :func:`identity` and :func:`cohort`.
"""

from __future__ import annotations

__all__ = [
    "CODE_LISTS", "COHORTS", "DRIVER_OVERLAP", "EARLY_WARNING_SCORES", "GEO_LAD", "GEO_LSOA", "GOLD_VS_PROXY",
    "LOADS", "LOAD_DECISIONS", "NEED_MEASURE", "OUTCOME_INFO", "PERSON", "PERSON_CHILD", "PERSON_NEED",
    "PERSON_NEED_GOLD", "PERSON_OUTCOME", "PERSON_RECORD", "PERSON_RECORD_INFO", "PLACES_PREVALENCE",
    "PSEUDONYM_KEY", "QUALITY_RESULTS", "SNAPSHOTS", "SPINE_BUILDS", "SPINE_INFO", "TABLES", "TIMELINE",
    "TIMELINE_INFO", "VARIABLES", "WarehouseTable", "XJS_LINK", "XJS_LINK_IMPROVED", "cohort", "extract",
    "identity",
]


class WarehouseTable(str):
    """``schema.name`` of a warehouse table, with its parts and the package that writes it."""

    schema: str
    name: str
    owner: str

    def __new__(cls, schema: str, name: str, owner: str) -> WarehouseTable:
        obj = super().__new__(cls, f"{schema}.{name}")
        obj.schema, obj.name, obj.owner = schema, name, owner
        return obj

    def __reduce__(self):
        return (WarehouseTable, (self.schema, self.name, self.owner))


TABLES: dict[str, WarehouseTable] = {}


def _t(schema: str, name: str, owner: str) -> WarehouseTable:
    t = WarehouseTable(schema, name, owner)
    TABLES[str(t)] = t
    return t


# extract: loaded under data contracts (warehouse.load; Wave sources: linkage.wave_link)
XJS_LINK = _t("extract", "xjs_link", "warehouse")
# linkage: the identity store and link tables
XJS_LINK_IMPROVED = _t("linkage", "xjs_link_improved", "linkage")
# spine
PERSON = _t("spine", "person", "spine")
PERSON_RECORD = _t("spine", "person_record", "spine")
PERSON_RECORD_INFO = _t("spine", "person_record_info", "spine")
PERSON_NEED = _t("spine", "person_need", "spine")
PERSON_NEED_GOLD = _t("spine", "person_need_gold", "spine")
PERSON_OUTCOME = _t("spine", "person_outcome", "spine")
OUTCOME_INFO = _t("spine", "outcome_info", "spine")
PERSON_CHILD = _t("spine", "person_child", "spine")
NEED_MEASURE = _t("spine", "need_measure", "spine")
SPINE_INFO = _t("spine", "spine_info", "spine")
GEO_LSOA = _t("spine", "geo_lsoa", "geography")
GEO_LAD = _t("spine", "geo_lad", "geography")
TIMELINE = _t("spine", "timeline", "trajectories")
TIMELINE_INFO = _t("spine", "timeline_info", "trajectories")
# results
COHORTS = _t("results", "cohorts", "cohorts")
PLACES_PREVALENCE = _t("results", "places_prevalence", "cohorts")
DRIVER_OVERLAP = _t("results", "driver_overlap", "cohorts")
GOLD_VS_PROXY = _t("results", "gold_vs_proxy", "spine")
EARLY_WARNING_SCORES = _t("results", "early_warning_scores", "early_warning")
# meta
LOADS = _t("meta", "loads", "warehouse")
LOAD_DECISIONS = _t("meta", "load_decisions", "warehouse")
QUALITY_RESULTS = _t("meta", "quality_results", "warehouse")
SNAPSHOTS = _t("meta", "snapshots", "warehouse")
SPINE_BUILDS = _t("meta", "spine_builds", "spine")
PSEUDONYM_KEY = _t("meta", "pseudonym_key", "linkage")
# catalogue
VARIABLES = _t("catalogue", "variables", "catalogue")
CODE_LISTS = _t("catalogue", "code_lists", "catalogue")


def extract(table: str) -> WarehouseTable:
    """``extract.<table>``: a loaded Data First (or Wave source) table, analysis columns only."""
    return WarehouseTable("extract", table, "warehouse")


def identity(table: str) -> WarehouseTable:
    """``linkage.identity_<table>``: the identifiers of ``table``'s records (the linkage layer only)."""
    return WarehouseTable("linkage", f"identity_{table}", "linkage")


def cohort(name: str) -> WarehouseTable:
    """``results.cohort_<name>``: the members of a built cohort."""
    return WarehouseTable("results", f"cohort_{name}", "cohorts")
