"""Safe outputs: disclosure control and the renderers that accept only disclosure-checked outputs.

Check a table, then render it::

    from bold_prevention.outputs import frequency_table, HtmlReport, write_spreadsheet, write_results

    t = frequency_table(people, "local_authority", "risk_band", title="People by local authority and risk band")
    HtmlReport("Prevalence").add_table(t, chart=True).write("report.html")
    write_spreadsheet([t], "tables.xlsx", title="Prevalence")
    write_results([t], "output-checking")          # ACRO-compatible results.json for the output checker

See ``docs/disclosure-control.md`` for the rules and how they compare with ACRO and TRE practice.
"""

from .disclosure import (
    NOT_APPLICABLE_SYMBOL,
    SUPPRESSED,
    TOTAL,
    CheckedOutput,
    LogEntry,
    check_counts,
    check_frequency_table,
    check_model,
    check_model_metrics,
    frequency_table,
    magnitude_table,
    percentage_table,
    rate_table,
    require_checked,
    time_series,
)
from .html import HtmlReport, table_html, write_html_report
from .release import ReleasePaths, write_release, write_release_index
from .results import results_document, write_results
from .rules import PROFILES, RULES, RuleSet, get_rules, load_rules
from .spreadsheet import write_spreadsheet
from .survival import survival_table
from .tidy import tidy_frame, write_tidy

__all__ = [
    "CheckedOutput", "LogEntry", "SUPPRESSED", "NOT_APPLICABLE_SYMBOL", "TOTAL",
    "frequency_table", "check_counts", "check_frequency_table", "magnitude_table", "rate_table", "percentage_table",
    "time_series", "survival_table", "check_model", "check_model_metrics", "require_checked",
    "HtmlReport", "table_html", "write_html_report", "write_spreadsheet", "write_results", "results_document",
    "write_release", "write_release_index", "ReleasePaths", "tidy_frame", "write_tidy", "RuleSet", "RULES", "PROFILES", "get_rules", "load_rules",
]
