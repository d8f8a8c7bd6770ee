"""List, load and run studies, and write a study's release.

:func:`run_study` checks the definition's sources in the warehouse (a missing required source is an
:class:`InputError` naming it and how to load it; a missing optional source marks the parts that need it "not
available"), runs the study's code at its band and at each sensitivity band, and gathers the headline figures by band.
:func:`write_study_release` writes the release through the one release writer
(:func:`bold_prevention.outputs.write_release`), audited with the project's ledger: the tables, the headline figures
as a checked table (value by band, from the counts behind each), the headlines with their intervals in words, the
methods note and, on synthetic data, a separate "synthetic check" note.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..outputs import CheckedOutput, check_counts, rate_table, write_release
from ..outputs.figures import protected_count
from ..outputs.intervals import wilson
from ..outputs.rules import RuleSet, get_rules
from ..project import Project
from ..warehouse.engine import tables as warehouse_tables
from ..warehouse.tables import PERSON_RECORD
from .base import Headline, StudyContext, StudyResult
from .registry import study_code
from .spec import BANDS, StudySpec, load_study_spec, shipped_definitions

__all__ = ["list_studies", "load_study", "check_sources", "run_study", "write_study_release", "StudyRun",
           "share_headline", "SourceState", "band_available", "spine_band", "IMPROVED_ID_STUDIES",
           "ensure_improved_id"]


def list_studies() -> list[StudySpec]:
    """The shipped study definitions (each checked), in name order."""
    return [load_study_spec(p) for p in shipped_definitions().values()]


def load_study(name_or_path: str | os.PathLike) -> StudySpec:
    """A study definition: a shipped study's name or the path of a YAML file (checked, names resolved)."""
    return load_study_spec(name_or_path)


# ------------------------------------------------------------------------------------------------- sources
def _tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in warehouse_tables(con)}


@dataclass(frozen=True)
class SourceState:
    name: str
    required: bool
    loaded: bool
    missing: tuple[str, ...]
    load: str


def check_sources(con, spec: StudySpec) -> list[SourceState]:
    """Whether each source of ``spec`` is loaded: its tables exist and its ``linked`` tables have records linked
    to the spine (``spine.person_record``)."""
    have = _tables(con)
    linked: set[str] = set()
    if PERSON_RECORD in have:
        linked = {r[0] for r in con.execute("SELECT DISTINCT source_table FROM spine.person_record").fetchall()}
    out = []
    for s in spec.sources:
        missing = [t for t in s.tables if t not in have]
        missing += [f"{t} (linked to the spine)" for t in s.linked if t not in linked]
        out.append(SourceState(s.name, s.required, not missing, tuple(missing), s.load))
    return out


def spine_band(con) -> str | None:
    """The band the spine's person records were built at (records are joined at that band or stronger)."""
    try:
        row = con.execute("SELECT band FROM spine.spine_info LIMIT 1").fetchone()
    except Exception:  # no spine
        return None
    return row[0] if row else None


def band_available(con, band: str) -> bool:
    """Whether the spine holds the links a study at ``band`` needs (it was built at ``band`` or a weaker one)."""
    sb = spine_band(con)
    return sb is not None and BANDS.index(band) <= BANDS.index(sb)


# ------------------------------------------------------------------------------------------------- persons
#: Studies (by code name) whose measures need two sources to meet on one person, and which therefore count their
#: persons on the improved XJS person id when the project holds it (see ``_pilots.improved_xjs_table``).
IMPROVED_ID_STUDIES: tuple[str, ...] = ("probation_treatment", "prison_leavers_housing")


def ensure_improved_id(con, specs: Sequence[StudySpec], *, progress=None) -> dict[str, Any] | None:
    """Before running ``specs``: when one of them counts persons on the improved XJS person id
    (:data:`IMPROVED_ID_STUDIES`), the spine is built on the published XJS id and the warehouse has no improved id
    (``linkage.xjs_link_improved``), write it with the XJS audit (``bold link xjs-audit``). Returns the audit's
    report, or None when nothing needed it."""
    from ..linkage.xjs import XJS_IDS
    from ..linkage.xjs_audit import audit_xjs
    from ._pilots import spine_xjs_id

    if not any(s.code_name in IMPROVED_ID_STUDIES for s in specs):
        return None
    schema, _, name = XJS_IDS["improved"].partition(".")
    if spine_xjs_id(con) != "published" or f"{schema}.{name}" in _tables(con):
        return None
    say = progress or (lambda _m: None)
    say("studies: writing the improved XJS person id (the XJS audit), so that a person's records on two XJS "
        "fragments meet (a requirement and its treatment episode, a release and a later court case)")
    return audit_xjs(con, progress=progress)


# ------------------------------------------------------------------------------------------------- headlines
def share_headline(name: str, label: str, numerator: int, denominator: int, *, rules: RuleSet | str | None = None,
                   per: float = 100.0, units: str = "%", truth: float | None = None, note: str = "",
                   decimals: int = 1, recall: float | None = None) -> Headline:
    """A headline share or rate (``numerator / denominator * per``) as it may be published: withheld (``None``)
    when the numerator, the denominator or their difference is below the threshold; the interval is the Wilson
    interval of the published (rounded) counts, widened to hold the value. ``recall``: the estimated share of the
    links the numerator needs that the linkage made (``_pilots.link_recall``); the upper limit is then that of the
    numerator with the expected missed links added (divided by ``recall``)."""
    r = get_rules(rules)
    x, n = int(numerator), int(denominator)
    if n <= 0 or r.is_low(x) or r.is_low(n) or r.is_low(n - x):
        return Headline(name, label, None, units=units, truth=truth, note=note or "withheld: too few people",
                        numerator=x, denominator=n, per=per)
    value = round(x / n * per, decimals)
    xp, np_ = protected_count(x, r), protected_count(n, r)
    lo, hi = wilson(float(xp), float(np_))
    if recall is not None and 0 < recall < 1:
        hi = max(hi, wilson(min(float(xp) / recall, float(np_)), float(np_))[1])
    lo, hi = min(lo * per, value), max(hi * per, value)
    return Headline(name, label, value, round(lo, decimals + 1), round(hi, decimals + 1), units=units, truth=truth,
                    note=note, numerator=x, denominator=n, per=per)


# ------------------------------------------------------------------------------------------------- running
@dataclass
class StudyRun:
    """A study's result at its band plus its headline figures at each sensitivity band."""

    spec: StudySpec
    result: StudyResult
    by_band: dict[str, list[Headline]] = field(default_factory=dict)
    sources: list[SourceState] = field(default_factory=list)


def _truth_dir(truth: str | os.PathLike | None) -> Path | None:
    if truth is None:
        return None
    p = Path(truth)
    if (p / "truth").is_dir():
        p = p / "truth"
    if not p.is_dir():
        raise InputError(f"truth folder {p} not found", hint="give the synthetic population folder (it holds truth/)")
    return p


def run_study(con, project: Project | None, name: str | os.PathLike | StudySpec, *, band: str | None = None,
              bands: Sequence[str] | None = None, truth: str | os.PathLike | None = None,
              as_at: date | None = None, params: dict[str, Any] | None = None) -> StudyRun:
    """Run a study on the warehouse ``con``: at ``band`` (default: the definition's) and at ``bands`` (default:
    its sensitivity bands; ``()`` for none). See the module docstring."""
    spec = name if isinstance(name, StudySpec) else load_study(name)
    band = band or spec.band
    if band not in BANDS:
        raise InputError(f"linkage band {band!r} is not known", hint=f"use one of: {', '.join(BANDS)}")
    states = check_sources(con, spec)
    missing_required = [s for s in states if s.required and not s.loaded]
    if missing_required:
        s = missing_required[0]
        more = (f" (also missing: {', '.join(m.name for m in missing_required[1:])})"
                if len(missing_required) > 1 else "")
        raise InputError(f"study {spec.name} needs the source {s.name!r}, which is not loaded: missing "
                         f"{', '.join(s.missing)}{more}", hint=f"load it: {s.load}")
    if not band_available(con, band):
        raise InputError(f"study {spec.name}: the spine is built at the {spine_band(con) or 'unknown'} band, so it "
                         f"holds no links at the weaker {band} band",
                         hint=f"rebuild the spine at the {band} band (`bold spine build --band {band}`), or run "
                              f"at the spine's band")
    missing_optional = tuple(s.name for s in states if not s.loaded)
    code = study_code(spec.code_name)
    base_params = {**spec.population.parameters, **(params or {})}
    tdir = _truth_dir(truth)

    def ctx_at(b: str) -> StudyContext:
        return StudyContext(con=con, project=project or Project.at(None), spec=spec, band=b, as_at=as_at,
                            params=dict(base_params), truth_dir=tdir, missing_sources=missing_optional)

    result = code.run(ctx_at(band))
    for s in states:
        if not s.loaded:
            note = (f"source {s.name} is not loaded ({', '.join(s.missing)}): the parts that need it are not "
                    f"available. To load it: {s.load}")
            if note not in result.not_available:
                result.not_available.append(note)
    if not result.methods:
        result.methods = spec.methods_text()
    run = StudyRun(spec, result, {band: list(result.headlines)}, states)
    for b in (spec.sensitivity_bands if bands is None else bands):
        if b == band:
            continue
        if b not in BANDS:
            raise InputError(f"linkage band {b!r} is not known", hint=f"use one of: {', '.join(BANDS)}")
        if not band_available(con, b):
            result.not_available.append(f"sensitivity at the {b} band: the spine is built at the "
                                        f"{spine_band(con)} band, so it holds no weaker links; rebuild it with "
                                        f"`bold spine build --band {b}` to see them")
            continue
        run.by_band[b] = list(code.run(ctx_at(b)).headlines)
    return run


# ------------------------------------------------------------------------------------------------- release
def headline_tables(run: StudyRun, rules: RuleSet | str | None = None) -> list[CheckedOutput]:
    """The headline figures by band as checked tables: one rate table per unit (share in %, rate per 100,000 ...),
    computed through disclosure control from the counts behind each figure."""
    rows = []
    for b, hs in run.by_band.items():
        for h in hs:
            if h.numerator is not None and h.denominator is not None:
                rows.append({"Figure": h.label, "Band": b, "num": h.numerator, "den": h.denominator, "per": h.per})
    if not rows:
        return []
    df = pd.DataFrame(rows)
    outs = []
    for k, (per, sub) in enumerate(df.groupby("per", sort=True)):
        levels = {"Figure": list(dict.fromkeys(sub["Figure"])), "Band": [b for b in run.by_band]}
        tag = f"{run.spec.name}_headlines" + (f"_{k + 1}" if df["per"].nunique() > 1 else "")
        unit = "percentage" if per == 100 else f"rate per {per:,g}"
        num = check_counts(sub, "num", "Figure", "Band", title=f"{run.spec.title}: headline numerators",
                           name=f"{tag}_num", rules=rules, margins=False, levels=levels)
        den = check_counts(sub, "den", "Figure", "Band", title=f"{run.spec.title}: headline denominators",
                           name=f"{tag}_den", rules=rules, margins=False, levels=levels)
        outs.append(rate_table(num, den, per=float(per), name=tag, decimals=1,
                               title=f"{run.spec.title}: headline figures by linkage band ({unit})"))
    return outs


def _fmt(v: float | None, units: str) -> str:
    if v is None:
        return "withheld"
    return f"{v:,.1f}{'%' if units == '%' else ''}" + (f" {units}" if units not in ("%", "") else "")


def headline_text(result: StudyResult) -> str:
    lines = []
    for h in result.headlines:
        iv = (f" (95% interval {_fmt(h.lower, h.units)} to {_fmt(h.upper, h.units)})"
              if h.value is not None and h.lower is not None else "")
        lines.append(f"{h.label}: {_fmt(h.value, h.units)}{iv}." + (f" {h.note}" if h.note else ""))
    return "\n".join(lines) or "No headline figures."


def synthetic_check_text(result: StudyResult) -> str | None:
    """What each headline should be on the synthetic population (from the truth tables) and whether the
    published interval holds it; None on real data."""
    hs = [h for h in result.headlines if h.truth is not None]
    if not hs:
        return None
    lines = ["Synthetic check (not a finding): the synthetic population was built with these true values, "
             "computed from its truth tables with every record at its true person."]
    for h in hs:
        ok = h.recovers_truth
        verdict = "within the interval" if ok else ("outside the interval" if ok is False else "not comparable")
        lines.append(f"{h.label}: true value {h.truth:,.1f}{'%' if h.units == '%' else ' ' + h.units}, "
                     f"{verdict}.")
    return "\n".join(lines)


def write_study_release(run: StudyRun | StudyResult, folder: str | os.PathLike, *, ledger=None,
                        overwrite: bool = False, rules: RuleSet | str | None = None, spec: StudySpec | None = None):
    """Write the study's release through :func:`bold_prevention.outputs.write_release` (audited with ``ledger``)."""
    if isinstance(run, StudyResult):
        sp = spec or load_study(run.name)
        run = StudyRun(sp, run, {run.band: list(run.headlines)})
    result, sp = run.result, run.spec
    outs = list(result.outputs) + headline_tables(run, rules)
    texts: list[tuple[str, str]] = [("Question", sp.question), ("Population", sp.population.description),
                                    ("Headline figures", headline_text(result))]
    texts += list(result.texts)
    if result.not_available:
        texts.append(("Not available", "\n".join(result.not_available)))
    texts.append(("Methods", result.methods or sp.methods_text()))
    check = synthetic_check_text(result)
    if check:
        texts.append(("Synthetic check", check))
    return write_release(outs, folder, title=sp.title, question=sp.question,
                         subtitle=f"Study {sp.name} version {sp.version}, linkage band {result.band}",
                         source="Linked Data First and Wave sources (BOLD)",
                         overwrite=overwrite, command=f"bold study run {sp.name} --band {result.band}",
                         ledger=ledger, texts=texts)
