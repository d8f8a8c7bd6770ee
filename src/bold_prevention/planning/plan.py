"""The feasibility plan of a use case, measured on the loaded project (``bold usecase plan``).

For each measure (a register entry) the plan reports, from the warehouse as it is:

- **coverage**: the share of the spine's persons with at least one linked record in a table the measure reads
  (its candidate variables' and derivation evidence's tables);
- **missingness**: for each variable the measure reads, the share of the loaded extract's rows where it is empty;
- **link rate and band mix** of each table: the share of its rows joined to a spine person, and of those the
  shares joined at the high, medium and low bands;
- **register changes**: candidate variables the use case adds to the entry;
- **linkage needs**: the Wave 1-3 sources the register names as the gold standard for the entry, and whether
  each is loaded.

The plan is a working document inside the secure setting (shares, not released tables); shares resting on fewer
than :data:`MIN_PERSONS` persons are shown as ``< MIN_PERSONS`` rather than as a value.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ..errors import InputError
from ..register import Register, load_register
from ..warehouse.engine import quote_ident as _q
from ..warehouse.engine import table_exists
from .usecase import BANDS, UseCaseSchema

#: Below this many persons a share is not shown.
MIN_PERSONS = 10

#: Words of a register's replacement source that name a wave source (``bold synth --sources`` keys).
WAVE_SOURCE_WORDS: dict[str, tuple[str, ...]] = {
    "npd": ("national pupil", "npd", "children's social care", "pupil"),
    "dwp": ("dwp", "universal credit", "benefit"),
    "hmrc": ("hmrc", "paye"),
    "hes": ("hospital episode", "nhs", "mhsds", "mental health services"),
    "ndtms": ("ndtms", "drug treatment"),
    "deaths": ("mortality", "death"),
}


@dataclass
class TableFacts:
    table: str
    rows: int
    linked_rows: int
    band_mix: dict[str, float]

    @property
    def link_rate(self) -> float | None:
        return self.linked_rows / self.rows if self.rows else None


@dataclass
class MeasurePlan:
    entry: str
    kind: str
    label: str
    tables: list[str]
    loaded_tables: list[str]
    coverage: float | None
    coverage_persons: int
    missingness: dict[str, float | None]
    link: list[dict]
    adds: list[str]
    wave_needs: list[dict]
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    use_case: str
    persons: int
    band: str | None
    measures: list[MeasurePlan]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"use_case": self.use_case, "persons": self.persons, "band": self.band, "seconds": self.seconds,
                "notes": self.notes, "measures": [asdict(m) for m in self.measures]}


def _columns(con, schema: str, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchall()}


def _table_facts(con, tables: set[str]) -> dict[str, TableFacts]:
    linked: dict[str, dict[str, int]] = {}
    for table, band, n in con.execute(
            "SELECT source_table, band_joined, COUNT(DISTINCT record_id) FROM spine.person_record "
            "GROUP BY source_table, band_joined").fetchall():
        linked.setdefault(table, {})[band or "unknown"] = int(n)
    facts = {}
    for t in sorted(tables):
        if not table_exists(con, "extract", t):
            continue
        rows = int(con.execute(f"SELECT COUNT(*) FROM extract.{_q(t)}").fetchone()[0])
        by_band = linked.get(t, {})
        total = sum(by_band.values())
        mix = {b: by_band.get(b, 0) / total for b in BANDS} if total else {}
        facts[t] = TableFacts(t, rows, min(total, rows), mix)
    return facts


def _missingness(con, table: str, variables: list[str]) -> dict[str, float | None]:
    cols = _columns(con, "extract", table)
    present = [v for v in variables if v in cols]
    out: dict[str, float | None] = {f"{table}.{v}": None for v in variables if v not in cols}
    if present:
        sel = ", ".join(f"COUNT({_q(v)})" for v in present)
        row = con.execute(f"SELECT COUNT(*), {sel} FROM extract.{_q(table)}").fetchone()
        n = int(row[0])
        for v, k in zip(present, row[1:], strict=True):
            out[f"{table}.{v}"] = (1 - int(k) / n) if n else None
    return out


def _wave_needs(entry, con) -> list[dict]:
    from ..datafirst.waves import WAVE_SOURCES

    needs = []
    for rs in entry.replacement_sources:
        text = rs.source.lower()
        keys = [k for k, words in WAVE_SOURCE_WORDS.items() if any(w in text for w in words)]
        if rs.wave == 3 and "local authority" in text:
            keys.append("local_authority")
        loaded = []
        for k in keys:
            table = "la_residents" if k == "local_authority" else WAVE_SOURCES[k].person_table
            loaded.append(table_exists(con, "extract", table))
        needs.append({"wave": rs.wave, "source": rs.source, "measure": rs.measure, "toolkit_sources": keys,
                      "loaded": bool(loaded) and all(loaded),
                      "how": ("loaded" if loaded and all(loaded) else
                              f"bold synth --sources {','.join(k for k in keys if k != 'local_authority')} "
                              "(synthetic) or load the extract, then bold link wave SOURCE"
                              if [k for k in keys if k != "local_authority"] else
                              "not a source this toolkit links yet: record it as a linkage need")})
    return needs


def plan(con, uc: UseCaseSchema, *, register: Register | None = None) -> Plan:
    """Measure the use case's feasibility on the project behind ``con`` (see the module docstring)."""
    t0 = time.perf_counter()
    register = register or load_register()
    if not table_exists(con, "spine", "person"):
        raise InputError("the warehouse has no spine (table spine.person), so coverage cannot be measured",
                         hint="build it first: bold spine build (or bold demo for a synthetic project)")
    persons, band = con.execute("SELECT COUNT(*), MIN(band) FROM spine.person").fetchone()
    persons = int(persons)
    entries = [m.entry for m in uc.measures] or [*uc.drivers, *uc.outcomes]
    extra = {m.entry: list(m.candidates) for m in uc.measures}
    named_sets = {n for m in uc.measures for n in m.feature_sets}
    if named_sets:
        from .feature_sets import feature_sets, get_feature_set

        variables = (con.execute("SELECT * FROM catalogue.variables").fetchdf()
                     if table_exists(con, "catalogue", "variables") else None)
        sets = feature_sets(variables)
        for m in uc.measures:
            for n in m.feature_sets:
                fs = get_feature_set(n, sets)
                extra[m.entry] += [f"{t}.{v}" for t, v in fs.variables if f"{t}.{v}" not in extra[m.entry]]
    wanted: dict[str, tuple[set[str], dict[str, list[str]]]] = {}
    all_tables: set[str] = set()
    for eid in entries:
        e = register.entry(eid)
        variables: dict[str, list[str]] = {}
        for c in e.candidates:
            variables.setdefault(c.table, []).append(c.variable)
        for ev in e.derivation.evidence:
            for v in ev.variables:
                variables.setdefault(ev.table, [])
                if v not in variables[ev.table]:
                    variables[ev.table].append(v)
        for c in extra.get(eid, []):
            t, v = c.split(".", 1)
            variables.setdefault(t, [])
            if v not in variables[t]:
                variables[t].append(v)
        wanted[eid] = (set(variables), variables)
        all_tables |= set(variables)
    facts = _table_facts(con, all_tables)
    measures = []
    for eid in entries:
        e = register.entry(eid)
        tables, variables = wanted[eid]
        loaded = sorted(t for t in tables if t in facts)
        cov_n = 0
        if loaded:
            placeholders = ", ".join("?" for _ in loaded)
            cov_n = int(con.execute(
                f"SELECT COUNT(DISTINCT person_id) FROM spine.person_record WHERE source_table IN ({placeholders})",
                loaded).fetchone()[0])
        miss: dict[str, float | None] = {}
        for t in sorted(tables):
            if t in facts:
                miss.update(_missingness(con, t, variables[t]))
        notes = []
        missing_tables = sorted(tables - set(loaded))
        if missing_tables:
            notes.append(f"not loaded: {', '.join(missing_tables)}")
        known = {f"{c.table}.{c.variable}" for c in e.candidates}
        adds = [c for c in extra.get(eid, []) if c not in known]
        link = [{"table": t, "rows": facts[t].rows, "link_rate": facts[t].link_rate, "band_mix": facts[t].band_mix}
                for t in loaded]
        indirect = [t for t in loaded if not facts[t].linked_rows]
        if indirect:
            notes.append(f"no row of {', '.join(indirect)} is joined to a person directly: an event table reached "
                         "through its person table, or a source not linked yet (bold link wave SOURCE)")
        coverage = cov_n / persons if persons and cov_n >= MIN_PERSONS else None
        if 0 < cov_n < MIN_PERSONS:
            notes.append(f"coverage rests on fewer than {MIN_PERSONS} persons")
        measures.append(MeasurePlan(eid, e.kind, e.name, sorted(tables), loaded, coverage, cov_n, miss, link,
                                    adds, _wave_needs(e, con), notes))
    out_notes = []
    if not entries:
        out_notes.append("the use case names no measure, driver or outcome")
    return Plan(uc.name, persons, band, measures, round(time.perf_counter() - t0, 3), out_notes)
