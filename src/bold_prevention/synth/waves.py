"""Generate and write the Wave 1-3 sources asked for (``bold synth --waves`` / ``--sources``) from the population
and justice truth already simulated, and the truth tables they add (``truth_child_parent``, ``truth_death``, and for
the support service ``truth_support_service`` and ``truth_support_hazard``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..datafirst.waves import WAVE_MODEL
from .common import NA, Frame, date_array
from .identifiers import person_columns
from .params import SynthParams
from .population import Population
from .truth import person_ids
from .wave1 import npd_module_frames
from .wave2 import ICD_CODES, WaveContext, child_parent_pairs, wave2_frames
from .writer import Writer, to_arrow

#: Justice, family and civil records describe a day (``when``) but their later events (hearings, results,
#: releases) follow it; a death is kept at least this many days after a person's last record day.
RECORD_TAIL_DAYS = 400


def last_record_day(pop: Population, frames: dict[str, Frame]) -> np.ndarray:
    """The last day each person has a record on (NA: none), over the frames with persons and days."""
    last = np.full(pop.n, NA, np.int64)
    for f in frames.values():
        if f.person is None or f.when is None:
            continue
        keep = (f.when != NA) if f.non_person is None else (f.when != NA) & ~f.non_person
        np.maximum.at(last, f.person[keep].astype(np.int64), f.when[keep].astype(np.int64) + RECORD_TAIL_DAYS)
    return last


def _treatment_requirements(frames: dict[str, Frame]) -> np.ndarray | None:
    """(person, start day, 1 DRR | 2 ATR) of the drug rehabilitation and alcohol treatment requirements."""
    rq, ev = frames.get("moj_probation_rqmnts"), frames.get("moj_probation_flatfile")
    if rq is None or ev is None or getattr(rq, "parent", None) is None:
        return None
    code = np.asarray(rq.columns["rqmnt_type_main_category_code"].to_numpy(zero_copy_only=False), dtype=object)
    kind = np.where(code == "D", 1, np.where(code == "AT", 2, 0))
    start = np.asarray(rq.columns["rqmnt_start_date"], dtype=np.int64)
    sel = (kind > 0) & (start != NA)
    person = np.asarray(ev.person, dtype=np.int64)[np.asarray(rq.parent)[sel]]
    return np.column_stack([person, start[sel], kind[sel]]).astype(np.int64)


def wave_frames(pop: Population, P: SynthParams, seed: int, sources: tuple[str, ...], *, J, frames: dict[str, Frame],
                pupil: Frame, writer: Writer, record_parts: list) -> dict[str, pa.Table]:
    """Write the chosen sources' tables (and add their records to ``record_parts``); return the extra truth."""
    from .common import day

    out: dict[str, Frame] = {}
    if "npd" in sources:
        out.update(npd_module_frames(pop, P, seed, pupil))
    wave2 = [s for s in sources if s not in ("npd", "support")]
    truth: dict[str, pa.Table] = {}
    ids = person_ids(pop)
    if "support" in sources:
        from .support_service import support_frames

        f3, t3, who = support_frames(pop, seed, day(P.start), day(P.end))
        out.update(f3)
        t3["truth_support_service"] = t3["truth_support_service"].add_column(
            1, "person_id", ids.take(pa.array(who)))
        truth.update(t3)
    if wave2:
        offending = np.bincount(J.cases.person.astype(np.int64), minlength=pop.n)
        last = last_record_day(pop, {**frames, "npd_pupil": pupil})
        ctx = WaveContext(lo=day(P.start), hi=day(P.end), offending=offending, last_record=last,
                          requirements=_treatment_requirements(frames))
        f2, t2 = wave2_frames(pop, P, seed, ctx, tuple(wave2))
        out.update(f2)
        died = np.flatnonzero(t2["death"] != NA)
        truth["truth_death"] = pa.table({
            "person_id": ids.take(pa.array(died)),
            "date_of_death": date_array(t2["death"][died]),
            "underlying_cause": pa.array([ICD_CODES[c] for c in t2["cause"][died]], pa.string()),
        })
    child, parent = child_parent_pairs(pop)
    rel = np.where(pop.male[parent], "father", "mother")
    truth["truth_child_parent"] = pa.table({
        "child_person_id": ids.take(pa.array(child)), "parent_person_id": ids.take(pa.array(parent)),
        "relation": pa.array(rel, pa.string()),
    })
    if "hmrc_child_benefit_children" in out:
        ch = out["hmrc_child_benefit_children"]
        truth["truth_child_benefit"] = pa.table({
            "child_person_id": ids.take(pa.array(ch.person.astype(np.int64))),
            "claimant_person_id": ids.take(pa.array(ch.parent.astype(np.int64))),
        })
    for name in WAVE_MODEL.table_names:
        f = out.pop(name, None)
        if f is None:
            continue
        table = WAVE_MODEL.table(name)
        extra = person_columns(pop, f, table, P, seed) if table.record_id else {}
        t = to_arrow(f, table, extra)
        writer.write_wave(name, t)
        key = table.record_id or (table.primary_key[0] if len(table.primary_key) == 1 else None)
        if key is not None and f.person is not None:
            record_parts.append((name, t.column(key).combine_chunks(), f.person.astype(np.int64)))
    return truth
