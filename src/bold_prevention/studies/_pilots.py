"""Helpers the pilot studies share: the linkage bands a study sees, intervals that carry linkage and sampling
uncertainty, headline figures built from checked tables, and the synthetic truth folder.

Linkage uncertainty is carried in two ways. The same measure is run at each band (``high``: strictest links only,
then ``medium``, then ``low``: every link) and the published interval is the union of the bands' sampling intervals:
``[min over bands of the lower limit, max over bands of the upper limit]``; the published value is the estimate at
the study's band. A band whose records the spine does not hold (a spine built at ``medium`` holds no ``low``-only
links) gives the same estimate as the band before it. And where a figure needs a link that the linkage may have
missed (a death, a treatment episode or a support referral joined to its person), the upper limit at each band also
carries the links the source's own model expects were missed (:func:`link_recall`): the numerator is divided by the
source's estimated recall at that band before its sampling interval is taken. The lower limit stays as linked (the
strictest band, with its sampling interval), so the interval runs from "only the links made" to "the links made and
the expected missed ones". No truth is used: the recall comes from the match probabilities of the linkage itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from ..errors import InputError
from ..outputs import CheckedOutput, check_counts, rate_table
from ..outputs.figures import protected_count
from ..outputs.intervals import wilson
from ..outputs.rules import RuleSet, get_rules
from ..warehouse.engine import table_exists as has_table
from .base import Headline, StudyContext

BANDS = ("high", "medium", "low")


def check_band(band: str) -> str:
    if band not in BANDS:
        raise InputError(f"unknown linkage band {band!r}", hint="use one of: high, medium, low")
    return band


def band_filter(band: str, column: str = "band_joined") -> str:
    """SQL condition: a record joined at ``band`` or a stricter one."""
    ok = BANDS[: BANDS.index(check_band(band)) + 1]
    return f"coalesce({column}, 'high') IN ({', '.join(repr(b) for b in ok)})"


def linked_tables(con: Any) -> set[str]:
    if not has_table(con, "spine", "person_record"):
        return set()
    return {r[0] for r in con.execute("SELECT DISTINCT source_table FROM spine.person_record").fetchall()}


def as_at(ctx: StudyContext) -> date:
    """The study's as-at date: the context's, else the spine's."""
    if ctx.as_at is not None:
        return ctx.as_at
    if has_table(ctx.con, "spine", "spine_info"):
        r = ctx.con.execute("SELECT MAX(as_at_date) FROM spine.spine_info").fetchall()[0][0]
        if r is not None:
            return r
    raise InputError("no spine has been built in this warehouse",
                     hint="run `bold spine build --as-at YYYY-MM-DD` first")


def param_date(ctx: StudyContext, key: str, default: date) -> date:
    v = ctx.params.get(key, default)
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v))
    except ValueError:
        raise InputError(f"study parameter {key!r} is not a date (YYYY-MM-DD)",
                         hint=f"give {key}: YYYY-MM-DD in the study definition's population parameters") from None


def years_before(d: date, days: int) -> date:
    return d - timedelta(days=days)


# ------------------------------------------------------------------------------------------------- intervals
def poisson_interval(k: float, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson count."""
    from scipy.special import gammaincinv  # chi2.ppf(q, 2k) / 2, without importing scipy.stats

    lo = 0.0 if k <= 0 else float(gammaincinv(k, alpha / 2))
    hi = float(gammaincinv(k + 1, 1 - alpha / 2))
    return lo, hi


@dataclass(frozen=True)
class LinkRecall:
    """The share of a wave source's true links to the spine that the linkage made at ``band``, estimated from the
    linkage's own match probabilities (no truth): ``linked``, the expected true links among the records joined at
    ``band`` or a stricter one (the sum of their match scores), and ``missed``, the expected true links among its
    other records (the match probability of each one's best spine candidate: its score where it was joined at a
    weaker band, else the best pairwise probability of the source's model, ``spine.link_candidates``). At the low
    band the records whose best candidate reached only the low band count as joined (with their match score): a
    study at the low band joins them from the candidates, whatever band the spine was built at. Records
    refused after linking (a contradiction found later, such as a death before a linked event) are not counted as
    missed."""

    source_table: str
    band: str
    linked: float
    missed: float

    @property
    def recall(self) -> float:
        total = self.linked + self.missed
        return self.linked / total if total > 0 else 1.0


_RANK_SQL = "CASE {c} WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"


def link_recall(con: Any, source_table: str, band: str) -> LinkRecall | None:
    """The estimated recall of ``source_table``'s links at ``band`` (see :class:`LinkRecall`); None when the
    warehouse holds no candidates for it (the source was linked before the linkage kept them: relink it)."""
    from ..linkage.wave import LINK_CANDIDATES

    schema, _, name = LINK_CANDIDATES.partition(".")
    if not (has_table(con, schema, name) and has_table(con, "spine", "person_record")):
        return None
    r = BANDS.index(check_band(band))
    row = con.execute(f"""
WITH pr AS (SELECT record_id, max(match_score) AS score, min({_RANK_SQL.format(c='band_joined')}) AS rk
            FROM spine.person_record WHERE source_table = ? GROUP BY 1),
c AS (SELECT * FROM {LINK_CANDIDATES} WHERE source_table = ?),
sb AS (SELECT coalesce(max({_RANK_SQL.format(c='band')}), 1) AS rk FROM spine.person_record WHERE source_table = ?),
u AS (SELECT c.* FROM c LEFT JOIN pr USING (record_id)
      WHERE pr.record_id IS NULL AND {_RANK_SQL.format(c='c.band_joined')} > (SELECT rk FROM sb))
SELECT (SELECT count(*) FROM c),
       coalesce((SELECT sum(score) FROM pr WHERE rk <= {r}), 0)
       + coalesce((SELECT sum(match_score) FROM u WHERE {r} = 2 AND band_joined = 'low'), 0),
       coalesce((SELECT sum(score) FROM pr WHERE rk > {r}), 0)
       + coalesce((SELECT sum(pair_score) FROM u WHERE NOT ({r} = 2 AND coalesce(band_joined, '') = 'low')), 0)""",
                      [source_table, source_table, source_table]).fetchone()
    if not row or not row[0] or not row[1]:
        return None  # no candidates, or none joined (a spine rebuilt since the source was linked: relink it)
    return LinkRecall(source_table, band, float(row[1]), float(row[2]))


def recall_note(recalls: Mapping[str, LinkRecall | None], what: str) -> str:
    """A sentence for the methods: what the interval's upper limit carries for ``what`` (the link it needs)."""
    have = {b: rc for b, rc in recalls.items() if rc is not None}
    if not have:
        return (f"The interval does not carry {what} the linkage may have missed (the source's link candidates are "
                "not in the warehouse; relink the source to add them).")
    by = ", ".join(f"{b} {rc.recall:.3f}" for b, rc in have.items())
    return (f"The upper limit also carries {what} the linkage is expected to have missed: the numerator divided by "
            f"the source's estimated link recall (from the linkage's own match probabilities: {by} by band) before "
            "its sampling interval is taken; the lower limit counts only the links made.")


@dataclass(frozen=True)
class BandEstimate:
    """A proportion (``k`` of ``n``) or a count (``n`` None) measured at one band. ``recall`` (at most 1): the
    estimated share of the links the numerator needs that the linkage made at this band; the upper limit of the
    interval is taken with the numerator divided by it (the expected missed links added)."""

    band: str
    k: float
    n: float | None = None
    recall: float = 1.0

    @property
    def value(self) -> float:
        if self.n is None:
            return float(self.k)
        return self.k / self.n if self.n else math.nan

    def interval(self, rules: RuleSet | str | None = None) -> tuple[float, float]:
        """The 95% interval from the counts as they may be published (rounded; a count under the threshold gives
        the interval of anything from 0 to the threshold), so that the limits reveal no exact count."""
        r = get_rules(rules)
        k = protected_count(self.k, r)
        low = k is None
        if low:
            k = max(r.threshold - 1, 0)
        up = k / min(max(self.recall, 1e-6), 1.0)  # the published numerator with the expected missed links
        if self.n is None:
            lo, hi = poisson_interval(k)
            return (0.0 if low else lo), (hi if up == k else poisson_interval(up)[1])
        n = protected_count(self.n, r)
        if n is None or n <= 0:
            return math.nan, math.nan
        lo, hi = wilson(min(k, n), n)
        if up != k:
            hi = max(hi, wilson(min(up, n), n)[1])
        return (0.0 if low else lo), hi


def across_bands(estimates: Mapping[str, BandEstimate], rules: RuleSet | str | None = None
                 ) -> tuple[float, float]:
    """The union of the bands' sampling intervals (linkage and sampling uncertainty together), each from the
    published (protected) counts."""
    ivs = [e.interval(rules) for e in estimates.values()]
    ivs = [iv for iv in ivs if not (math.isnan(iv[0]) or math.isnan(iv[1]))]
    if not ivs:
        return math.nan, math.nan
    return min(iv[0] for iv in ivs), max(iv[1] for iv in ivs)


# ------------------------------------------------------------------------------------------------- headlines
def subpopulation(population: str, what: str) -> str:
    """The population key of a subset (``name@version`` -> ``name.what@version``): cells that count different
    people must not share a key, or the release-wide audit sees two values for one number."""
    head, sep, tail = population.partition("@")
    return f"{head}.{what}{sep}{tail}"


def proportion_headline(name: str, label: str, estimates: Mapping[str, BandEstimate], band: str, *,
                        truth: float | None, title: str, population: str, note: str = ""
                        ) -> tuple[Headline, list[CheckedOutput]]:
    """A percentage headline: the numerator and denominator at ``band`` checked as counts, the rate from them (the
    headline is ``None`` where disclosure control suppresses it), and the interval across the bands."""
    e = estimates[band]
    num = check_counts(pd.DataFrame({"Measure": [label], "n": [e.k]}), "n", "Measure", title=f"{title}: numerator",
                       margins=False, population=subpopulation(population, f"{name}.numerator"))
    den = check_counts(pd.DataFrame({"Measure": [label], "n": [e.n]}), "n", "Measure",
                       title=f"{title}: denominator", margins=False,
                       population=subpopulation(population, f"{name}.denominator"))
    rate = rate_table(num, den, title=title)
    v = rate.data.iloc[0, 0]
    published = rate.symbols.iloc[0, 0] == "" and not pd.isna(v)
    lo, hi = across_bands(estimates)
    ok = published and not (math.isnan(lo) or math.isnan(hi))
    h = Headline(name=name, label=label, value=float(v) if published else None,
                 lower=min(round(100 * lo, 1), float(v)) if ok else None,
                 upper=max(round(100 * hi, 1), float(v)) if ok else None, units="%",
                 truth=None if truth is None else round(100 * truth, 2),
                 note=note or "interval: the union over the linkage bands of the 95% Wilson intervals",
                 numerator=int(e.k), denominator=int(e.n or 0), per=100.0)
    return h, [num, den, rate]


def count_headline(name: str, label: str, estimates: Mapping[str, BandEstimate], band: str, *,
                   truth: float | None, title: str, population: str, note: str = ""
                   ) -> tuple[Headline, list[CheckedOutput]]:
    """A count headline, checked (rounded or suppressed by the rules), with the interval across the bands."""
    e = estimates[band]
    out = check_counts(pd.DataFrame({"Measure": [label], "n": [e.k]}), "n", "Measure", title=title, margins=False,
                       population=subpopulation(population, name))
    v = out.data.iloc[0, 0]
    published = out.symbols.iloc[0, 0] == "" and not pd.isna(v)
    lo, hi = across_bands(estimates)
    h = Headline(name=name, label=label, value=float(v) if published else None,
                 lower=min(float(math.floor(lo)), float(v)) if published else None,
                 upper=max(float(math.ceil(hi)), float(v)) if published else None, units="people",
                 truth=truth, note=note or "interval: the union over the linkage bands of the exact 95% Poisson "
                                           "intervals")
    return h, [out]


def methods_of(ctx: StudyContext) -> str:
    """The methods note of the study's definition (definitions, caveats, what synthetic results can say)."""
    spec = ctx.spec
    return spec.methods_text() if spec is not None and hasattr(spec, "methods_text") else ""


def not_loaded(source: str, tables: str, how: str) -> str:
    return f"{source} not available: {tables} not loaded; {how}"


# ------------------------------------------------------------------------------------------------- persons
#: The improved XJS person id of ``bold link xjs-audit`` (the table name is the linkage layer's).
IMPROVED_ID_NOTE = ("Persons: spine persons that share an improved XJS person id (`bold link xjs-audit`: XJS's "
                    "medium persons joined wherever the toolkit's own model links two of them with high "
                    "confidence) are counted as one person, so a requirement and a treatment episode that XJS put "
                    "on two fragments of one person meet.")


def spine_xjs_id(con: Any) -> str | None:
    """The XJS person id the spine was built on (``published`` or ``improved``; None without a spine)."""
    if not has_table(con, "spine", "spine_info"):
        return None
    cols = {r[0] for r in con.execute("DESCRIBE spine.spine_info").fetchall()}
    if "xjs_id" not in cols:
        return "published"
    row = con.execute("SELECT MAX(xjs_id) FROM spine.spine_info").fetchall()
    return row[0][0] if row and row[0][0] else "published"


def improved_xjs_table(con: Any) -> str | None:
    """The improved XJS person id's table (``linkage.xjs_link_improved``, shaped like ``extract.xjs_link``) when a
    study should count its persons on it: the warehouse holds it and the spine was built on the published XJS id;
    None otherwise (no spine, no improved id, or a spine whose persons already are the improved ones)."""
    from ..linkage.xjs import XJS_IDS

    schema, _, name = XJS_IDS["improved"].partition(".")
    if not (has_table(con, schema, name) and has_table(con, "spine", "person_record")):
        return None
    if spine_xjs_id(con) in (None, "improved"):
        return None
    return f"{schema}.{name}"


def improved_persons(con: Any) -> pd.DataFrame | None:
    """``person_id -> study_person``: each spine person with the improved XJS person id of its Data First records,
    when the spine was built on the published XJS id and the warehouse holds the improved id
    (``linkage.xjs_link_improved``, written by ``bold link xjs-audit``); None otherwise (the spine's persons are
    then the study's). A spine person none of whose records has an improved id keeps its own id. A spine person
    whose records carry several improved ids (an audit run with ``--split``) takes the smallest."""
    table = improved_xjs_table(con)
    if table is None:
        return None
    return con.execute(f"""
        SELECT pr.person_id, 'I:' || MIN(x.cluster_medium) AS study_person
        FROM spine.person_record pr JOIN {table} x
          ON x.source_dataset = pr.source_dataset AND x.row_id_hash = pr.record_id
        WHERE x.cluster_medium IS NOT NULL
        GROUP BY pr.person_id""").df()
