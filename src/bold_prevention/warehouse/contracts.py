"""Data contracts: what each extract table must look like, derived from the Data First model.

A :class:`TableContract` is declarative, like the model it comes from: the columns the file must carry and their
types, the code lists (the model's, or the catalogue's value sets where a catalogue has been loaded into the
warehouse), the primary key, foreign keys, date rules and completeness thresholds. The checks that enforce it are SQL
run inside DuckDB (:mod:`.quality`); the failure policy that turns check results into a decision is
:func:`decide` and the thresholds in :class:`Policy`.

Required columns: every analysis column of the model, except ``inferred`` columns (our reasoned guess at a Data
First name) that are neither keys nor carry a completeness threshold; those are optional and loaded as empty
columns, with a warning, when a real extract names them differently. Identifier columns are optional as a block
(Data First research extracts are de-identified); when present they go to the linkage layer only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import duckdb

from ..datafirst import MODEL, DateOrder, ForeignKey, Table

Status = Literal["pass", "warn", "fail"]
Decision = Literal["load", "warn", "degrade", "block"]


@dataclass(frozen=True)
class Policy:
    """Thresholds of the failure policy (shares are fractions of rows)."""

    #: Share of non-null values that fail to convert above which a column counts as the wrong type (schema break).
    type_fail_share: float = 0.005
    #: Completeness this far (absolute) below a column's threshold is a severe completeness failure.
    completeness_severe_margin: float = 0.15
    #: Share of dates in the future or before 1900 above which the date check fails (otherwise warns).
    date_fail_share: float = 0.01
    #: Share of rows breaking a date order, a value range or a code list above which the check fails.
    value_fail_share: float = 0.05
    #: Relative change in row count against the previous snapshot that is flagged.
    volume_change: float = 0.25
    #: Population stability index: noted above ``psi_warn``, flagged above ``psi_flag``.
    psi_warn: float = 0.1
    psi_flag: float = 0.25
    #: Earliest plausible date in any column.
    min_date: date = date(1900, 1, 1)
    #: Number of example record ids kept per failing check.
    examples: int = 5


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class ColumnContract:
    name: str
    dtype: str
    sql_type: str
    required: bool
    identifier: bool
    key: bool
    nullable: bool
    role: str | None = None
    codes: tuple[str, ...] | None = None
    codes_source: str | None = None
    value_range: tuple[float, float] | None = None
    min_completeness: float | None = None


@dataclass(frozen=True)
class TableContract:
    table: str
    dataset: str
    critical: bool
    columns: tuple[ColumnContract, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    date_orders: tuple[DateOrder, ...]
    coverage: tuple[date, date]
    record_id: str | None
    sex_column: str | None
    #: The dataset's identifiers are known to be weak and sparse (family, civil): their completeness is reported
    #: but never blocks or degrades the load.
    weak_identifiers: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnContract:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def analysis_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.identifier)

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.identifier)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def id_columns(self) -> tuple[str, ...]:
        """The columns that identify a record in examples: the record id, else the primary key."""
        return (self.record_id,) if self.record_id else self.primary_key

    def identity_columns(self, present: set[str] | None = None) -> tuple[str, ...]:
        """``linkage.identity_<table>`` columns: record id, identifiers and the sex column."""
        cols = [self.record_id, *self.identifier_columns]
        if self.sex_column:
            cols.append(self.sex_column)
        return tuple(c for c in cols if c and (present is None or c in present))


def _key_columns(t: Table) -> set[str]:
    keys = set(t.primary_key)
    for fk in t.foreign_keys:
        keys.update(fk.columns)
    if t.record_id:
        keys.add(t.record_id)
    return keys


def table_contract(table: Table | str, *, value_sets: dict[tuple[str, str], tuple[str, ...]] | None = None
                   ) -> TableContract:
    """The contract of one model table (``value_sets`` from :func:`catalogue_value_sets` override code lists)."""
    t = MODEL.table(table) if isinstance(table, str) else table
    ds = MODEL.dataset(t.dataset)
    keys = _key_columns(t)
    cols = []
    for c in t.columns:
        key = c.name in keys
        required = (not c.identifier) and (key or not c.nullable or c.min_completeness is not None
                                           or c.confidence != "inferred")
        codes, source = None, None
        if c.codes is not None:
            codes, source = c.codes.values, "model"
        vs = (value_sets or {}).get((t.name, c.name))
        if vs and c.dtype == "string":
            codes, source = vs, "catalogue"
        cols.append(ColumnContract(
            name=c.name, dtype=c.dtype, sql_type=c.sql_type, required=required, identifier=c.identifier, key=key,
            nullable=c.nullable, role=c.role, codes=codes, codes_source=source, value_range=c.value_range,
            min_completeness=c.min_completeness))
    sex = t.identifier_roles.get("sex")
    return TableContract(
        table=t.name, dataset=t.dataset, critical=ds.critical, columns=tuple(cols), primary_key=t.primary_key,
        foreign_keys=t.foreign_keys, date_orders=t.date_orders, coverage=ds.coverage, record_id=t.record_id,
        sex_column=sex, weak_identifiers=ds.weak_identifiers)


def contracts(con: duckdb.DuckDBPyConnection | None = None) -> dict[str, TableContract]:
    """Every table's contract, using the catalogue's value sets when ``con`` holds a loaded catalogue."""
    vs = catalogue_value_sets(con) if con is not None else {}
    return {t.name: table_contract(t, value_sets=vs) for t in MODEL.tables}


# ------------------------------------------------------------------------------------------- catalogue value sets
def _columns_of(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute("select column_name from duckdb_columns() where database_name = current_database() "
                       "and schema_name = ? and table_name = ?", [schema, table]).fetchall()
    return {r[0] for r in rows}


def parse_value_set(text: str | None) -> tuple[str, ...] | None:
    """Codes of a catalogue ``values`` cell written as ``code = label`` lines; None for anything else.

    Free-text descriptions ("YYYY-MM-DD", "Free text") are not value sets and give None.
    """
    if not text:
        return None
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if len(lines) < 2 or not all(" = " in ln for ln in lines):
        return None
    return tuple(dict.fromkeys(ln.split(" = ", 1)[0].strip() for ln in lines))


def catalogue_value_sets(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(table, column) -> codes`` from the catalogue loaded in the warehouse (empty when none is loaded).

    Codes come from ``catalogue.code_lists`` (parsed ``code = label`` cells, and lookup sheets that a variable
    names in ``catalogue.variables.code_list``), else from ``code = label`` lines of ``catalogue.variables.values``.
    """
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    try:
        cl = _columns_of(con, "catalogue", "code_lists")
        cv = _columns_of(con, "catalogue", "variables")
        rows: list[tuple] = []
        if {"table_name", "variable", "code"} <= cl:
            rows += con.execute("SELECT table_name, variable, code FROM catalogue.code_lists WHERE code IS NOT NULL "
                                "AND table_name IS NOT NULL AND variable IS NOT NULL").fetchall()
        if {"code_list", "code"} <= cl and {"table_name", "variable", "code_list"} <= cv:
            rows += con.execute(
                "SELECT v.table_name, v.variable, c.code FROM catalogue.variables v JOIN catalogue.code_lists c "
                "ON c.code_list = v.code_list WHERE c.code IS NOT NULL AND c.table_name IS NULL").fetchall()
        acc: dict[tuple[str, str], list[str]] = {}
        for t, v, code in rows:
            acc.setdefault((str(t), str(v)), []).append(str(code))
        out.update({k: tuple(dict.fromkeys(v)) for k, v in acc.items()})
        if {"table_name", "variable", "values"} <= cv:
            for t, v, values in con.execute('SELECT table_name, variable, "values" FROM catalogue.variables'
                                            ).fetchall():
                codes = parse_value_set(values)
                if codes and (str(t), str(v)) not in out:
                    out[(str(t), str(v))] = codes
    except duckdb.Error:
        return {}
    return out


# --------------------------------------------------------------------------------------------------- the policy
@dataclass(frozen=True)
class TableDecision:
    table: str
    dataset: str
    decision: Decision
    reason: str


def decide(contract: TableContract, checks: list, *, present: bool = True) -> TableDecision:
    """Turn a table's check results into the failure policy's decision.

    * block: a blocking check failed (schema break, unreadable file, duplicated keys, severe completeness failure)
      in a table of a critical dataset: nothing from the load is committed;
    * degrade: the same in a non-critical dataset (family, civil, local authority, education): the table is left
      out, the rest is loaded and the load is marked partial;
    * warn: some check warned or failed without blocking: loaded, with the problems in the report;
    * load: every check passed.
    """
    blocking = [c for c in checks if c.status == "fail" and c.blocking]
    if blocking:
        reason = "; ".join(c.message for c in blocking[:3])
        if len(blocking) > 3:
            reason += f"; and {len(blocking) - 3} more"
        if contract.critical:
            return TableDecision(contract.table, contract.dataset, "block", reason)
        return TableDecision(contract.table, contract.dataset, "degrade",
                             f"{reason} (non-critical source: left out, load marked partial)")
    problems = [c for c in checks if c.status in ("warn", "fail")]
    if problems:
        return TableDecision(contract.table, contract.dataset, "warn",
                             f"{len(problems)} check(s) raised warnings; loaded")
    return TableDecision(contract.table, contract.dataset, "load", "all checks passed")


# ------------------------------------------------------------------------------------- Wave 1-2 source contracts
#: The main date of each Wave 1-2 table: the day its record describes (used for the period check and the
#: death-before-event check of ``bold link wave``).
WAVE_EVENT_DATES: dict[str, str] = {
    "npd_census": "academic_year", "npd_key_stage": "academic_year", "npd_cla_episodes": "episode_start_date",
    "npd_cp_plans": "plan_start_date", "dwp_benefit_spells": "spell_start_date",
    "dwp_employment_programmes": "start_date", "hmrc_paye_employments": "start_date",
    "hmrc_child_benefit_claims": "claim_start_date", "hes_apc_episodes": "admission_date",
    "hes_ae_attendances": "arrival_date", "mhsds_contacts": "contact_date", "ndtms_episodes": "referral_date",
    "ons_death_registrations": "date_of_death", "support_referrals": "referral_date",
    "support_contacts": "contact_date",
}
#: Identifier columns a wave person table needs at least one of, with a date of birth, to be linkable.
WAVE_KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "dwp_customers": ("nino", "forename", "surname"), "hmrc_individuals": ("nino", "forename", "surname"),
    "hmrc_child_benefit_children": ("forename", "surname"), "nhs_patients": ("nhs_number", "forename", "surname"),
    "ndtms_episodes": ("forename_initial", "surname_initial"), "ons_death_registrations": ("nhs_number", "forename",
                                                                                          "surname"),
    "npd_pupil": ("forename", "surname"), "support_referrals": ("forename", "surname"),
}


def wave_contract(table: str) -> TableContract:
    """The contract of a Wave 1-2 table (:mod:`bold_prevention.datafirst.waves`): derived like the Data First ones,
    with its own dataset, coverage and identifier strength; every wave source is non-critical."""
    import dataclasses

    from ..datafirst.waves import WAVE_MODEL

    t = WAVE_MODEL.table(table)
    ds = WAVE_MODEL.dataset(t.dataset)
    if t.dataset in {d.key for d in MODEL.datasets}:
        return table_contract(t)
    proxy = dataclasses.replace(t, dataset="education", foreign_keys=())
    c = table_contract(proxy)
    return dataclasses.replace(c, dataset=t.dataset, critical=False, coverage=ds.coverage,
                               foreign_keys=t.foreign_keys, weak_identifiers=ds.weak_identifiers)
