"""Synthetic Data First population with a known truth.

>>> from bold_prevention.synth import generate, SynthParams          # doctest: +SKIP
>>> manifest = generate("population", persons=2000, seed=7)           # doctest: +SKIP

``generate`` writes, atomically (a temporary folder renamed at the end)::

    <out>/manifest.json                  seed, persons, parameters, format, per table: file, rows, sha256
    <out>/extracts/<table>.<fmt>         one file per table of datafirst.MODEL, the model's columns and types
    <out>/truth/truth_person.<fmt>       persons, their latent needs and twin status
    <out>/truth/truth_record.<fmt>       every person record -> its true person
    <out>/truth/truth_outcomes.<fmt>     true probabilities and outcomes of the use cases

The model and every parameter are documented in :mod:`bold_prevention.synth.params` and
``docs/synthetic-data.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import __version__
from ..datafirst import MODEL
from ..datafirst.waves import WAVE_MODEL
from ..errors import InputError, OutputExistsError
from ..files import atomic_dir
from .common import Frame, hex_ids
from .params import NEEDS, OASYS_PROXY_RULES, SynthParams
from .writer import FORMATS, Manifest, TableEntry, Writer, to_arrow

__all__ = ["generate", "check_request", "SynthParams", "Manifest", "TableEntry", "NEEDS", "OASYS_PROXY_RULES", "MAX_PERSONS",
           "STAGES", "WAVE_STAGE", "check_sources", "stages_for"]

#: Largest population accepted (memory grows about 3 GB per million persons at peak).
MAX_PERSONS = 20_000_000
#: Progress stages reported to the ``progress`` callback, in order.
STAGES = ("population", "justice", "family and civil", "local authority and education", "linking (XJS)",
          "writing extracts", "truth and manifest")
#: Within-dataset estimated person id column of each XJS table.
_ESTIMATED_ID = {
    "mags_defendant_case": "estimated_defendant_id",
    "crown_defendant_case": "estimated_defendant_id",
    "prison_custodial_journey": "estimated_offender_id",
    "moj_probation_flatfile": "estimated_offender_id",
    "oasys_assessments_metadata": "estimated_offender_id",
}

#: The extra progress stage of a run with wave sources (before writing the extracts).
WAVE_STAGE = "wave sources"

ProgressFn = Callable[[str, int, int], None]


def _check_inputs(persons, seed, fmt, params) -> SynthParams:
    if isinstance(persons, bool) or not isinstance(persons, int | np.integer):
        raise InputError(f"number of persons must be a whole number (got {persons!r})",
                         hint="pass --persons N with N between 1 and 20,000,000")
    if not 1 <= int(persons) <= MAX_PERSONS:
        raise InputError(f"number of persons must be between 1 and {MAX_PERSONS:,} (got {persons})",
                         hint="pass --persons N within that range")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**32:
        raise InputError(f"seed must be a whole number between 0 and 4294967295 (got {seed!r})",
                         hint="pass --seed S with a non-negative integer")
    if fmt not in FORMATS:
        raise InputError(f"unknown output format {fmt!r}", hint="use --format parquet or --format csv")
    if params is None:
        params = SynthParams()
    elif not isinstance(params, SynthParams):
        raise InputError(f"params must be a SynthParams (got {type(params).__name__})",
                         hint="build it with SynthParams(...) or SynthParams.from_dict({...})")
    params.validate()
    return params


def check_request(out_dir: str | os.PathLike, persons: int, seed: int, fmt: str = "parquet",
                  overwrite: bool = False, params: SynthParams | None = None) -> SynthParams:
    """Check a generation request before any work: inputs, parameters and the output folder."""
    P = _check_inputs(persons, seed, fmt, params)
    out = Path(out_dir).absolute()
    if out.exists() and not overwrite:
        raise OutputExistsError(f"output folder {out} already exists",
                                hint="pass --overwrite to replace it, or choose another folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} is a file, not a folder", hint="choose a folder path for --out")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise InputError(f"folder {parent} is not writable", hint="choose an output path you can write to")
    return P


def generate(out_dir: str | os.PathLike, persons: int = 1000, seed: int = 0, fmt: str = "parquet",
             overwrite: bool = False, params: SynthParams | None = None,
             progress: ProgressFn | None = None, sources: Sequence[str] = ()) -> Manifest:
    """Generate a synthetic population of ``persons`` persons and write its Data First-shaped extracts.

    ``sources``: Wave 1-2 sources to add (keys of :data:`bold_prevention.datafirst.waves.WAVE_SOURCES`, e.g.
    ``("npd", "dwp", "hmrc", "hes", "ndtms", "deaths", "support")``); their files go to ``<out>/waves/`` with their
    records in ``truth_record`` and the truth tables ``truth_child_parent`` and ``truth_death`` (and, for the
    victims' support service, ``truth_support_service`` and ``truth_support_hazard``). None by default (the default
    output is unchanged).

    Same ``seed`` (and parameters) gives byte-identical files. Raises :class:`~bold_prevention.errors.InputError`
    for invalid inputs and :class:`~bold_prevention.errors.OutputExistsError` if ``out_dir`` exists and
    ``overwrite`` is false; an interrupted run leaves nothing under ``out_dir``.
    """
    P = check_request(out_dir, persons, seed, fmt, overwrite, params)
    persons, seed = int(persons), int(seed)
    sources = check_sources(sources)
    step = {"i": 0}
    stages = stages_for(sources)

    def report(stage: str) -> None:
        step["i"] += 1
        if progress is not None:
            progress(stage, step["i"], len(stages))

    out = Path(out_dir)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        manifest = _generate_into(Path(tmp), out.absolute(), persons, seed, fmt, P, report, sources)
    return Manifest(path=out.absolute(), seed=manifest.seed, persons=manifest.persons, format=manifest.format,
                    parameters=manifest.parameters, tables=manifest.tables, truth=manifest.truth,
                    generator=manifest.generator, summary=manifest.summary)


def check_sources(sources: Sequence[str] | None) -> tuple[str, ...]:
    """The wave sources asked for, validated (an InputError names an unknown one)."""
    from ..datafirst.waves import WAVE_SOURCES

    out = tuple(dict.fromkeys(str(s).strip() for s in (sources or ()) if str(s).strip()))
    bad = [s for s in out if s not in WAVE_SOURCES]
    if bad:
        raise InputError(f"unknown wave source(s): {', '.join(bad)}",
                         hint=f"choose from: {', '.join(WAVE_SOURCES)} (or --waves 1,2,3)")
    return tuple(k for k in WAVE_SOURCES if k in out)


def stages_for(sources: Sequence[str]) -> tuple[str, ...]:
    """The progress stages of a run (the wave stage only when wave sources are asked for)."""
    if not sources:
        return STAGES
    return STAGES[:-2] + (WAVE_STAGE,) + STAGES[-2:]


def _generate_into(root: Path, final: Path, persons: int, seed: int, fmt: str, P: SynthParams,
                   report: Callable[[str], None], wave_sources: tuple[str, ...] = ()) -> Manifest:
    from .civil import civil_frames
    from .events import simulate_justice
    from .family import family_frames
    from .identifiers import person_columns
    from .local import education_frames, local_authority_frames
    from .population import build_population
    from .records import justice_frames
    from .truth import USE_CASES, person_ids, truth_outcomes, truth_person, truth_record
    from .xjs import XjsRecords, link

    writer = Writer(root, fmt)
    record_parts: list[tuple[str, pa.Array, np.ndarray]] = []

    def write(frame: Frame, extra: dict | None = None) -> pa.Array | None:
        table = MODEL.table(frame.table)
        cols = dict(extra or {})
        rec = None
        if table.holds_persons:
            cols.update(person_columns(pop, frame, table, P, seed))
        t = to_arrow(frame, table, cols)
        writer.write_extract(table.name, t)
        if table.holds_persons and table.record_id:
            ids = t.column(table.record_id).combine_chunks()
            keep = np.ones(len(frame), bool) if frame.non_person is None else ~frame.non_person
            rec = ids.filter(pa.array(keep))
            record_parts.append((table.name, rec, frame.person[keep].astype(np.int64)))
        return rec

    pop = build_population(persons, seed, P)
    report("population")
    J = simulate_justice(pop, P, seed)
    frames = justice_frames(pop, P, seed, J)
    report("justice")
    frames.update(family_frames(pop, P, seed))
    civil, possession = civil_frames(pop, P, seed)
    frames.update(civil)
    report("family and civil")
    for f in local_authority_frames(pop, P, seed).values():
        write(f)
    edu = education_frames(pop, P, seed)
    for f in edu.values():
        write(f)
    report("local authority and education")

    # XJS over every person record of the XJS sources
    xjs_tables = [t for t in MODEL.xjs_tables()]
    sources = tuple(t.xjs_source for t in xjs_tables)
    src_l, per_l, rid_l, spans = [], [], [], {}
    at = 0
    for k, t in enumerate(xjs_tables):
        f = frames[t.name]
        keep = np.ones(len(f), bool) if f.non_person is None else ~f.non_person
        rid = hex_ids(f.key[keep], t.name, seed)
        src_l.append(np.full(int(keep.sum()), k, np.int8))
        per_l.append(f.person[keep].astype(np.int64))
        rid_l.append(rid)
        spans[t.name] = (at, at + int(keep.sum()), keep)
        at += int(keep.sum())
    rec = XjsRecords(source=np.concatenate(src_l), sources=sources, person=np.concatenate(per_l),
                     row_id=pa.concat_arrays(rid_l))
    X = link(pop, P, seed, rec)
    xjs_frame = Frame("xjs_link", columns={
        "source_dataset": pa.DictionaryArray.from_arrays(pa.array(X.source.astype(np.int32)),
                                                         pa.array(list(sources))).cast(pa.string()),
        "row_id_hash": X.row_id,
        "estimated_xjs_id": X.cluster_ids("medium", seed),
        "match_score": X.score,
        "cluster_high": X.cluster_ids("high", seed),
        "cluster_medium": X.cluster_ids("medium", seed),
        "cluster_low": X.cluster_ids("low", seed),
    })
    report("linking (XJS)")
    write(xjs_frame)
    del xjs_frame
    # within-dataset estimated person ids: the strict (high) cluster, renamed per dataset
    estimated: dict[str, pa.Array] = {}
    for name, col in _ESTIMATED_ID.items():
        a, b, keep = spans[name]
        est = hex_ids(X.label["high"][a:b], f"est-{MODEL.table(name).dataset}", seed, prefix="E", width=15)
        estimated[name] = est
        frames[name].columns[col] = est
    # probation requirements carry the estimated id of their event
    rq = frames["moj_probation_rqmnts"]
    rq.columns["estimated_offender_id"] = estimated["moj_probation_flatfile"].take(pa.array(rq.parent))
    wave_truth: dict[str, pa.Table] = {}
    if wave_sources:
        from .waves import wave_frames

        wave_truth = wave_frames(pop, P, seed, wave_sources, J=J, frames=frames, pupil=edu["npd_pupil"],
                                 writer=writer, record_parts=record_parts)
        report(WAVE_STAGE)
    del edu
    for t in MODEL.tables:
        if t.name in frames:
            write(frames.pop(t.name))
    report("writing extracts")

    ids = person_ids(pop)
    writer.write_truth("truth_person", truth_person(pop, ids))
    writer.write_truth("truth_record", truth_record(record_parts, ids))
    o = J.outcomes
    reoff_rec = hex_ids(o["journey"].to_numpy(), "prison_custodial_journey", seed)
    poss_rec = hex_ids(possession["party"].to_numpy(), "civil_parties", seed)
    writer.write_truth("truth_outcomes", truth_outcomes([
        (USE_CASES[0], "prison_custodial_journey", reoff_rec, o["person"].to_numpy().astype(np.int64),
         o["t0"].to_numpy(), o["probability"].to_numpy(), o["outcome"].to_numpy()),
        (USE_CASES[1], "civil_parties", poss_rec, possession["person"].to_numpy().astype(np.int64),
         possession["t0"].to_numpy(), possession["probability"].to_numpy(), possession["outcome"].to_numpy()),
    ], ids))
    for name, table in wave_truth.items():
        writer.write_truth(name, table)
    missing = [t.name for t in MODEL.tables if t.name not in writer.tables]
    if missing:
        raise InputError(f"internal error: no output for tables {missing}")
    summary: dict = {
        "households": int(len(pop.hh_first)),
        "persons_with_magistrates_case": int(len(np.unique(J.cases.person))),
        "need_prevalence": {d: round(float(pop.need[:, i].mean()), 4) for i, d in enumerate(NEEDS)},
    }
    if wave_sources:
        summary["wave_sources"] = list(wave_sources)
    manifest = Manifest(path=final, seed=seed, persons=persons, format=fmt, parameters=P.to_dict(),
                        tables=dict(sorted(writer.tables.items(), key=lambda kv: WAVE_MODEL.table_names.index(kv[0]))),
                        truth=writer.truth, generator=f"bold_prevention {__version__}", summary=summary)
    writer.write_manifest(manifest)
    report("truth and manifest")
    return manifest
