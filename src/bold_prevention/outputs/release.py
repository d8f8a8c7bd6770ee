"""A release: one folder holding the report, the spreadsheet and the output-checking files for a set of outputs.

::

    <folder>/report.html            one short self-contained page: key findings, charts, tables behind disclosures
    <folder>/tables.xlsx            GSS-style accessible workbook
    <folder>/tables-long.csv        one row per cell (value, status, rule), never [c] in a number; also .parquet
    <folder>/release.json           title, question and key findings (what write_release_index shows)
    <folder>/output-checking/       results.json, published CSVs, check log, config and checksums for the checker,
                                    and release_audit.json (the release-wide audit)

Before anything is written the release is audited as one system with the project's earlier releases
(:mod:`.audit`, :mod:`.ledger`): cells shared between tables, totals, rates and rounding; further cells are suppressed
until no small count can be bounded too closely; a table whose small count an earlier release of the same table would
give away is withheld. The ledger records the release before its folder appears under its final name; an existing
folder is kept unless ``overwrite``. This is the one release writer: every command that publishes goes through it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DisclosureError, InputError
from ..files import atomic_dir, atomic_file
from .audit import AuditReport, CellSystem, merge, protect_release, published_interval, system_of
from .disclosure import CheckedOutput, require_checked
from .html import render_template
from .ledger import ReleaseLedger
from .page import release_page
from .results import write_results
from .rules import RELEASE_CONFLICT
from .spreadsheet import write_spreadsheet
from .tidy import TIDY_STEM, write_tidy


@dataclass(frozen=True)
class ReleasePaths:
    folder: Path
    report: Path
    spreadsheet: Path
    checking: Path
    audit: AuditReport | None = None
    withheld: tuple[tuple[str, str], ...] = field(default=())
    tidy_csv: Path | None = None
    tidy_parquet: Path | None = None
    title: str = ""


def _conflicts(outs: list[CheckedOutput], earlier: CellSystem) -> tuple[list[CheckedOutput], list[tuple[str, str]]]:
    """Withhold tables with a small count whose family an earlier release published within the rounding of it."""
    close: dict[str, float] = {}
    for c in earlier.cells:
        if c.status == "published" and c.value is not None:
            lo, _hi = published_interval(c.value, c.round_base, 0, True)
            if lo < c.threshold:  # the earlier value's rounding interval reaches below the threshold
                close[c.family] = c.value
    if not close:
        return outs, []
    bad_keys = {c.key for c in system_of(outs).cells if c.status == "suppressed" and c.primary and c.family in close}
    if not bad_keys:
        return outs, []
    kept: list[CheckedOutput] = []
    withheld: list[tuple[str, str]] = []
    for o in outs:
        keys = o.audit_structure()["keys"]
        rel = o.audit_structure()["relations"]
        hit = (keys is not None and bool(set(map(str, keys.ravel())) & bad_keys)) or any(
            n in bad_keys or d in bad_keys for _p, n, d, *_ in rel)
        if hit:
            withheld.append((o.title, f"rule {RELEASE_CONFLICT}: a small count in this table was published by an "
                             "earlier release of the same table (another band or snapshot) at a value within the "
                             "rounding of it, so publishing it suppressed here would let it be estimated"))
        else:
            kept.append(o)
    return kept, withheld


def audited_outputs(outputs: Sequence[CheckedOutput], *, ledger: ReleaseLedger | None = None
                    ) -> tuple[list[CheckedOutput], AuditReport, list[tuple[str, str]]]:
    """The outputs as they may be released with the project's earlier releases: (outputs, audit, withheld tables)."""
    checked = [require_checked(o, f"output {k + 1}") for k, o in enumerate(outputs)]
    earlier = ledger.systems() if ledger is not None else []
    kept, withheld = _conflicts(checked, merge(earlier))
    protected, report = protect_release(kept, earlier=earlier)
    return protected, report, withheld


def write_release(outputs: Sequence[CheckedOutput], folder: str | os.PathLike, *, title: str,
                  subtitle: str | None = None, source: str | None = None, charts: bool = True,
                  overwrite: bool = False, command: str = "", ledger: ReleaseLedger | None = None,
                  texts: Sequence[tuple[str, str]] = (), extra: Callable[[Path, list[CheckedOutput]], None] | None = None,
                  question: str | None = None, findings: Sequence[str] = (), index_href: str | None = None,
                  published: str | None = None, tidy: bool = True) -> ReleasePaths:
    """Audit the checked outputs as one release (with the ledger's earlier releases), then write the release page,
    workbook, long-format table and output-checking files into ``folder`` and record the release in the ledger.

    The folder holds ``report.html`` (one short page answering one question: key findings in words from the
    published figures, a chart per table or group of tables with the data behind a disclosure; see
    :mod:`.page`), ``tables.xlsx`` (GSS workbook), ``tables-long.csv`` and ``tables-long.parquet`` (one row per
    cell, see :mod:`.tidy`; not with ``tidy=False``), ``release.json`` (what an index page shows) and
    ``output-checking/`` (for the output checker).

    ``question`` is the question the release answers (shown under the title); ``findings`` are extra key findings
    written by the caller, shown before the generated ones (they must quote only published figures);
    ``index_href`` links back to an index page (see :func:`write_release_index`). ``charts=False`` shows the tables
    without charts. ``texts`` are (heading, text) sections added as notes; ``extra(tmp_folder, outputs)`` may write
    further files from the audited outputs. Raises :class:`DisclosureError` (and writes nothing) when no output is
    left or the release cannot be made safe.
    """
    final = Path(folder).absolute()
    released, report, withheld = audited_outputs(outputs, ledger=ledger)
    if not released:
        raise DisclosureError(f"nothing in release {title!r} can be published: "
                              + "; ".join(f"{t}: {why}" for t, why in withheld),
                              hint="publish a coarser table or choose another band; nothing was written")
    sections = list(texts)
    if withheld:
        sections.append(("Tables withheld", "\n\n".join(f"{t}: withheld because a small count in it was published "
                                                         "by an earlier release of the same table." for t, _ in withheld)))
    with atomic_dir(final, overwrite=overwrite) as tmp:
        if extra is not None:
            extra(tmp, released)
        files = sorted(p.name for p in tmp.iterdir() if p.is_file())
        page, summary = release_page(released, title=title, subtitle=subtitle, source=source, question=question,
                                     findings=findings, texts=sections, protection=_protection_text(report),
                                     charts=charts, tidy=tidy, extra_files=files, index_href=index_href,
                                     published=published)
        (tmp / "report.html").write_text(page, encoding="utf-8")
        write_spreadsheet(released, tmp / "tables.xlsx", title=title, intro=[subtitle] if subtitle else None,
                          source=source, overwrite=True)
        if tidy:
            write_tidy(released, tmp, overwrite=True)
        write_results(released, tmp / "output-checking", overwrite=True, command=command)
        (tmp / "output-checking" / "release_audit.json").write_text(json.dumps(_audit_doc(report, withheld),
                                                                               indent=2), encoding="utf-8")
        (tmp / RELEASE_JSON).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        if ledger is not None:
            ledger.record(system_of(released), name=title, folder=final, command=command)
    return ReleasePaths(final, final / "report.html", final / "tables.xlsx", final / "output-checking", report,
                        tuple(withheld), final / f"{TIDY_STEM}.csv" if tidy else None,
                        final / f"{TIDY_STEM}.parquet" if tidy else None, title)


RELEASE_JSON = "release.json"


def write_release_index(folder: str | os.PathLike, releases: Sequence[ReleasePaths | str | os.PathLike], *,
                        title: str, intro: str | None = None, overwrite: bool = True) -> Path:
    """Write ``folder/index.html``: a page linking the releases (each a :class:`ReleasePaths` or a release
    folder written by :func:`write_release`), with each one's question and first key findings. Links are relative,
    so the folder can be moved with its releases. Returns the index's path."""
    if not releases:
        raise InputError(f"the release index {title!r} has no releases", hint="pass the folders write_release wrote")
    root = Path(folder).absolute()
    entries = []
    for r in releases:
        rfolder = Path(r.folder if isinstance(r, ReleasePaths) else r).absolute()
        meta = rfolder / RELEASE_JSON
        if not meta.is_file():
            raise InputError(f"{rfolder} is not a release folder (it has no {RELEASE_JSON})",
                             hint="write each release with bold_prevention.outputs.write_release first")
        doc = json.loads(meta.read_text(encoding="utf-8"))
        href = Path(os.path.relpath(rfolder / "report.html", root)).as_posix()
        entries.append({"href": href, "title": doc.get("title", rfolder.name), "question": doc.get("question"),
                        "findings": list(doc.get("findings", []))[:3],
                        "counts": f"{doc.get('tables', 0)} table(s), {doc.get('charts', 0)} chart(s)"})
    text = render_template("index.html.j2", title=title, intro=intro, releases=entries)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "index.html"
    with atomic_file(path, overwrite=overwrite) as fh:
        fh.write(text)
    return path


def _protection_text(report: AuditReport) -> str:
    return ("Every count in this release was checked together with the other tables of the release and with the "
            "project's earlier releases: shared cells, totals, rates and rounding. Small counts are suppressed "
            "([c]), and further cells are suppressed where needed, so that no suppressed small count can be "
            f"narrowed down to a range of fewer than {report.width:g} from what has been published. "
            f"{len(report.added)} cell(s) were suppressed for this across tables and {len(report.consistent)} to "
            "stay consistent with earlier releases.")


def _audit_doc(report: AuditReport, withheld: list[tuple[str, str]]) -> dict:
    return {"summary": report.summary(), "count_cells": report.cells, "distinct_numbers": report.variables,
            "linked_groups": report.components, "primary_cells_bounded": report.targets,
            "lp_solves": report.lp_solves, "integer_solves": report.milp_solves,
            "cells_shown_protected_without_solving": report.certified, "seconds": round(report.seconds, 3),
            "protection_width": report.width, "added_suppressions": len(report.added),
            "consistent_suppressions": len(report.consistent), "findings": len(report.findings),
            "withheld_tables": [{"title": t, "reason": r} for t, r in withheld]}
