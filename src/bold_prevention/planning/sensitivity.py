"""Sensitivity to linkage, as one run (``bold sensitivity``): cohort profiles and place prevalence at the three
linkage bands, published side by side as one disclosure-checked release, with the differences explained.

A stricter band joins fewer records into a person: the same people appear as more, smaller spine persons, each
holding fewer records and so fewer needs; a looser band joins more, risking false merges. The run builds the spine
at each band in turn (the spine's own ``build_spine``: one home for the rules) and the cohorts and place tables on
it. When the current spine is up to date for the as-at date asked (same extracts, register, key and published XJS
id), its band is computed on it as it stands, first, and it is kept aside (with the person records and the cohorts
built on it) while the other bands are built, then put back: one spine build fewer and no rebuild at the end.
The other bands' spines carry over, from the spine kept aside, every person whose records are the same at that
band (most are: only persons the bands split or join are built, through the same spine plan; see ``carry_from`` of
:func:`bold_prevention.spine.build_spine`). Otherwise every band is built and the starting band last. Either way the project ends with the spine and cohorts at
the band it started at. The loaded extracts are fingerprinted once for the run
(:func:`bold_prevention.spine.fingerprint.extract_frozen`). Each band's tables carry their own spine version, so the
release-wide audit treats them as different populations of the same tables (consistent suppression across the
bands); the explanation in words is computed from the published counts only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date

from ..cohorts import build_cohort, spine_state
from ..cohorts.build import cohort_table
from ..cohorts.release import cohort_outputs, places_outputs
from ..errors import InputError
from ..linkage.pseudonym import check_project_key
from ..outputs import CheckedOutput
from ..spine import build_spine
from ..spine.build import spine_fingerprint_of
from ..spine.fingerprint import (
    changes,
    extract_frozen,
    inputs_fingerprint,
    register_digest,
    spine_fingerprint,
)
from ..spine.rules import load_rules
from ..warehouse.engine import table_exists
from .usecase import BANDS

#: What a spine build writes (``build_spine``, the person records and the gold-standard needs of linked waves):
#: kept aside while the other bands are built.
SPINE_TABLES = ("person", "person_need", "person_need_gold", "need_measure", "spine_info", "person_record",
                "person_record_info")
_SAVED = "_band_sensitivity_saved_"

#: Dimensions profiled at each band (the full profile is `bold cohort profile`).
SENSITIVITY_DIMENSIONS = ["sex", "age_band", "region"]


@dataclass
class SensitivityResult:
    bands: list[str]
    cohorts: list[str]
    outputs: list[CheckedOutput] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    published: dict[str, dict[str, float | None]] = field(default_factory=dict)  # cohort -> band -> persons
    timings: dict[str, float] = field(default_factory=dict)


def _final_count(out: CheckedOutput) -> float | None:
    """The published persons of an attrition table's last step (``None`` when suppressed)."""
    v = out.data.iloc[-1, 0]
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _explain(name: str, counts: dict[str, float | None]) -> str:
    shown = [f"{b}: {'[c]' if v is None else f'{v:,.0f}'}" for b, v in counts.items()]
    text = f"Persons in cohort {name} by linkage band - " + "; ".join(shown) + "."
    hi, lo = counts.get("high"), counts.get("low")
    if hi is not None and lo is not None and max(hi, lo) > 0:
        diff = (hi - lo) / max(hi, lo) * 100
        if abs(diff) < 2:
            text += (" The band makes little difference (under 2% between high and low): the cohort rests on records "
                     "that the linking table joins with confidence.")
        elif hi > lo:
            text += (f" The high band counts {diff:.0f}% more: stricter linkage splits some people into several spine "
                     "persons, and a split person can still meet the cohort's rules on the records each fragment "
                     "holds. Read the medium band as the central estimate and the spread as linkage uncertainty.")
        else:
            text += (f" The low band counts {-diff:.0f}% more: looser linkage merges records into fuller persons, "
                     "each with more needs and contacts, so more of them meet rules that need several domains; some "
                     "of the merges may be false. Read the medium band as the central estimate and the spread as "
                     "linkage uncertainty.")
    return text


def _reusable(con, as_at: date, band: str) -> bool:
    """Whether the current spine is what ``build_spine(con, as_at=as_at, band=band)`` would build now."""
    old = spine_fingerprint_of(con)
    if not old:
        return False
    want = spine_fingerprint(inputs=inputs_fingerprint(con), register=register_digest(load_rules(None)), band=band,
                             as_at=as_at, key=check_project_key(con), xjs="published")
    return not changes(old, want) and old.get("xjs", "published") == "published"


def _keep_aside(con, cohorts: list[str]) -> list[tuple[str, str]]:
    """Rename the spine's tables and the cohorts' results to saved names; returns (table, saved name) pairs."""
    names = [f"spine.{t}" for t in SPINE_TABLES]
    names += [t for c in cohorts for t in (cohort_table(c), cohort_table(c) + "_attrition")] + ["results.cohorts"]
    kept = []
    for full in names:
        schema, _, t = full.partition(".")
        if table_exists(con, schema, t):
            con.execute(f"DROP TABLE IF EXISTS {schema}.{_SAVED}{t}")
            con.execute(f"ALTER TABLE {full} RENAME TO {_SAVED}{t}")
            kept.append((full, f"{schema}.{_SAVED}{t}"))
    return kept


def _put_back(con, kept: list[tuple[str, str]], cohorts: list[str]) -> None:
    """Drop what the other bands wrote and rename the saved tables back."""
    names = [f"spine.{t}" for t in SPINE_TABLES]
    names += [t for c in cohorts for t in (cohort_table(c), cohort_table(c) + "_attrition")] + ["results.cohorts"]
    for full in names:
        con.execute(f"DROP TABLE IF EXISTS {full}")
    for full, saved in kept:
        con.execute(f"ALTER TABLE {saved} RENAME TO {full.partition('.')[2]}")


def band_sensitivity(con, cohorts: list[str], *, places: bool = True, bands: tuple[str, ...] = BANDS,
                     as_at: date | None = None, rules=None, progress=None) -> SensitivityResult:
    """Build the spine, the ``cohorts`` and (with ``places``) the place tables at each of ``bands`` and return their
    checked outputs side by side, ending with the spine at the band it had."""
    state = spine_state(con)
    if state is None:
        raise InputError("the warehouse has no spine to vary", hint="build one first: bold spine build (or bold demo)")
    start_as_at, start_band = state
    as_at = as_at or start_as_at
    unknown = [b for b in bands if b not in BANDS]
    if unknown:
        raise InputError(f"unknown linkage band {unknown[0]!r}", hint=f"use {', '.join(BANDS)}")
    res = SensitivityResult(list(bands), list(cohorts))
    say = progress or (lambda _m: None)
    # the order of the tables in the release: the other bands, then the starting band
    order = [b for b in bands if b != start_band] + ([start_band] if start_band in bands else [])
    by_band: dict[str, list[CheckedOutput]] = {}

    def at_band(b: str, build: bool, carry_from: str | None = None) -> None:
        t0 = time.perf_counter()
        if build:
            say(f"spine at the {b} band")
            build_spine(con, as_at=as_at, band=b, carry_from=carry_from)
        else:
            say(f"the current spine, at the {b} band")
        for c in cohorts:
            say(f"cohort {c} at the {b} band")
            build_cohort(con, c, as_at=as_at, band=b)
            outs, texts = cohort_outputs(con, c, rules=rules, dimensions=SENSITIVITY_DIMENSIONS, label=f"{b} band")
            by_band.setdefault(b, []).extend(outs)
            res.published.setdefault(c, {})[b] = _final_count(outs[0])
        if places:
            outs, _ = places_outputs(con, rules=rules, label=f"{b} band")
            by_band.setdefault(b, []).extend(outs)
        res.timings[b] = round(time.perf_counter() - t0, 2)

    with extract_frozen():
        reuse = start_band in bands and as_at == start_as_at and _reusable(con, as_at, start_band)
        if reuse:
            at_band(start_band, build=False)
            kept = _keep_aside(con, cohorts)
            try:
                for b in bands:
                    if b != start_band:
                        at_band(b, build=True, carry_from=_SAVED)
            finally:
                say(f"spine back at the {start_band} band")
                _put_back(con, kept, cohorts)
        else:
            for b in order:
                at_band(b, build=True)
            if start_band not in bands or as_at != start_as_at:
                say(f"spine back at the {start_band} band")
                build_spine(con, as_at=start_as_at, band=start_band)
    res.outputs = [o for b in order for o in by_band.get(b, [])]
    for c in cohorts:
        res.published[c] = {b: res.published[c].get(b) for b in bands}
        res.texts.append((f"Cohort {c} across linkage bands", _explain(c, res.published[c])))
    if places:
        res.texts.append(("Place prevalence across linkage bands",
                          "The needs tables are repeated at each band. A stricter band leaves more, smaller persons, "
                          "so assessed counts rise and the share with each need can fall; differences of a point or "
                          "two between bands are within linkage uncertainty."))
    return res
