"""A release: one folder holding the report, the spreadsheet and the output-checking files for a set of outputs.

::

    <folder>/report.html            self-contained HTML report (tables and charts)
    <folder>/tables.xlsx            GSS-style accessible workbook
    <folder>/output-checking/       results.json, published CSVs, check log, config and checksums for the checker

The folder appears under its final name only when everything is written; an existing folder is kept unless
``overwrite``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_dir
from .disclosure import CheckedOutput, require_checked
from .html import HtmlReport, _chartable
from .results import write_results
from .spreadsheet import write_spreadsheet


@dataclass(frozen=True)
class ReleasePaths:
    folder: Path
    report: Path
    spreadsheet: Path
    checking: Path


def write_release(outputs: Sequence[CheckedOutput], folder: str | os.PathLike, *, title: str,
                  subtitle: str | None = None, source: str | None = None, charts: bool = True,
                  overwrite: bool = False, command: str = "") -> ReleasePaths:
    """Write the report, workbook and output-checking files for checked outputs into ``folder``."""
    checked = [require_checked(o, f"output {k + 1}") for k, o in enumerate(outputs)]
    final = Path(folder).absolute()
    with atomic_dir(final, overwrite=overwrite) as tmp:
        report = HtmlReport(title, subtitle=subtitle, source=source)
        for o in checked:
            report.add_table(o, chart=charts and _chartable(o))
        report.write(tmp / "report.html", overwrite=True)
        write_spreadsheet(checked, tmp / "tables.xlsx", title=title, intro=[subtitle] if subtitle else None,
                          source=source, overwrite=True)
        write_results(checked, tmp / "output-checking", overwrite=True, command=command)
    return ReleasePaths(final, final / "report.html", final / "tables.xlsx", final / "output-checking")
