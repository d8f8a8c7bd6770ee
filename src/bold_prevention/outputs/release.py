"""A release: one folder holding the report, the spreadsheet and the output-checking files for a set of outputs.

::

    <folder>/report.html            self-contained HTML report (tables and charts)
    <folder>/tables.xlsx            GSS-style accessible workbook
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

from ..errors import DisclosureError
from ..files import atomic_dir
from .audit import AuditReport, CellSystem, merge, protect_release, published_interval, system_of
from .disclosure import CheckedOutput, require_checked
from .html import HtmlReport, _chartable
from .ledger import ReleaseLedger
from .results import write_results
from .rules import RELEASE_CONFLICT
from .spreadsheet import write_spreadsheet


@dataclass(frozen=True)
class ReleasePaths:
    folder: Path
    report: Path
    spreadsheet: Path
    checking: Path
    audit: AuditReport | None = None
    withheld: tuple[tuple[str, str], ...] = field(default=())


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
                  texts: Sequence[tuple[str, str]] = (), extra: Callable[[Path, list[CheckedOutput]], None] | None = None
                  ) -> ReleasePaths:
    """Audit the checked outputs as one release (with the ledger's earlier releases), then write the report, workbook
    and output-checking files into ``folder`` and record the release in the ledger.

    ``texts`` are (heading, text) sections added after the tables; ``extra(tmp_folder, outputs)`` may write further
    files from the audited outputs. Raises :class:`DisclosureError` (and writes nothing) when no output is left or
    the release cannot be made safe.
    """
    final = Path(folder).absolute()
    released, report, withheld = audited_outputs(outputs, ledger=ledger)
    if not released:
        raise DisclosureError(f"nothing in release {title!r} can be published: "
                              + "; ".join(f"{t}: {why}" for t, why in withheld),
                              hint="publish a coarser table or choose another band; nothing was written")
    with atomic_dir(final, overwrite=overwrite) as tmp:
        html = HtmlReport(title, subtitle=subtitle, source=source)
        for o in released:
            html.add_table(o, chart=charts and _chartable(o))
        for heading, text in texts:
            html.add_text(heading, text)
        if withheld:
            html.add_text("Tables withheld", "\n".join(f"{t}: withheld because a small count in it was published "
                                                        "by an earlier release of the same table." for t, _ in withheld))
        html.add_text("How this release is protected", _protection_text(report))
        if extra is not None:
            extra(tmp, released)
        html.write(tmp / "report.html", overwrite=True)
        write_spreadsheet(released, tmp / "tables.xlsx", title=title, intro=[subtitle] if subtitle else None,
                          source=source, overwrite=True)
        write_results(released, tmp / "output-checking", overwrite=True, command=command)
        (tmp / "output-checking" / "release_audit.json").write_text(json.dumps(_audit_doc(report, withheld),
                                                                               indent=2), encoding="utf-8")
        if ledger is not None:
            ledger.record(system_of(released), name=title, folder=final, command=command)
    return ReleasePaths(final, final / "report.html", final / "tables.xlsx", final / "output-checking", report,
                        tuple(withheld))


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
            "lp_solves": report.lp_solves, "integer_solves": report.milp_solves, "seconds": round(report.seconds, 3),
            "protection_width": report.width, "added_suppressions": len(report.added),
            "consistent_suppressions": len(report.consistent), "findings": len(report.findings),
            "withheld_tables": [{"title": t, "reason": r} for t, r in withheld]}
