"""Guards that explain themselves: what each hard non-match rule refused on this data, and whether it should.

The twins and generation guards refuse pairs before clustering. On real administrative data most of what they
refuse are twins and relatives; on data whose errors replace whole forenames or dates of birth (keyed test sets
such as FEBRL, some legacy systems) most of it is the same person. :func:`guard_report` says, per guard, how many
pairs it refused, how many of those the model scored as near-certain matches (at or above the high band), and -
where labels exist (a truth file, or any partial set of labelled record pairs) - the guard's precision: the share
of its labelled refusals that really are two different people, with a Wilson interval. A guard whose refusals are
mostly true matches is flagged with advice; without labels, a guard refusing many near-certain pairs is flagged
for a clerical check of a sample of its refusals.
"""

from __future__ import annotations

from typing import Any

import duckdb

#: A labelled guard is flagged when the share of its labelled refusals that are true non-matches is below this.
MIN_GUARD_PRECISION = 0.5
#: Labels needed before a guard's precision is judged.
MIN_LABELLED = 5
#: Without labels, a guard is flagged for checking when at least this many of its refusals score near-certain and
#: they are at least this share of its refusals.
CHECK_NEAR_CERTAIN = 10
CHECK_SHARE = 0.5

ADVICE = {
    "twins": ("its refusals are mostly the same person (the data's errors replace whole forenames): set "
              "`guards: {twins: false}`, or keep it and accept the lost recall"),
    "generation": ("its refusals are mostly the same person (the data's errors replace whole dates of birth): set "
                   "`guards: {generation: false}`, or widen `generation_years`"),
}


def guard_report(con: duckdb.DuckDBPyConnection, scored: str, *, high: float, labels: str | None = None,
                 guards: dict[str, bool] | None = None) -> dict[str, Any]:
    """Per guard: refused pairs, near-certain refusals, labelled precision and a flag with advice.

    ``scored`` has ``left_id, right_id, match_probability, guard`` (null when kept). ``labels`` is an optional
    table of ``left_id, right_id, is_match`` (any subset of pairs; pairs are matched in either order).
    """
    rows = con.execute(f"""
        select guard, count(*), count(*) filter (where match_probability >= {high!r})
        from {scored} where guard is not null group by 1 order by 1""").fetchall()
    high_kept = con.execute(f"select count(*) from {scored} where guard is null and match_probability >= {high!r}"
                            ).fetchall()[0][0]
    out: dict[str, Any] = {}
    names = sorted({r[0] for r in rows} | {k for k, v in (guards or {}).items() if v is True})
    counts = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    for g in names:
        refused, near = counts.get(g, (0, 0))
        entry: dict[str, Any] = {"refused": refused, "refused_near_certain": near,
                                 "near_certain_share_of_high_band": round(near / (near + high_kept), 5)
                                 if near + high_kept else None,
                                 "labelled": 0, "precision": None, "precision_interval": None,
                                 "flag": None, "advice": None}
        if labels is not None and refused:
            n, nonmatch = con.execute(f"""
                select count(*), count(*) filter (where not l.is_match) from {scored} s join {labels} l
                  on (l.left_id = s.left_id and l.right_id = s.right_id)
                  or (l.left_id = s.right_id and l.right_id = s.left_id)
                where s.guard = ?""", [g]).fetchall()[0]
            entry["labelled"] = int(n)
            if n:
                # imported here: the interval module's package loads the chart and HTML writers, which a run
                # without labels never needs
                from ..outputs.intervals import wilson as wilson_interval

                lo, hi = wilson_interval(nonmatch, n)
                entry["precision"] = round(nonmatch / n, 5)
                entry["precision_interval"] = [round(lo, 5), round(hi, 5)]
                if n >= MIN_LABELLED and nonmatch / n < MIN_GUARD_PRECISION:
                    entry["flag"] = "refuses mostly true matches"
                    entry["advice"] = (f"{n - nonmatch:,} of its {n:,} labelled refusals are the same person; "
                                       + ADVICE.get(g, "turn it off for this data"))
        if entry["flag"] is None and entry["labelled"] < MIN_LABELLED and near >= CHECK_NEAR_CERTAIN \
                and near >= CHECK_SHARE * refused:
            entry["flag"] = "check"
            entry["advice"] = (f"{near:,} of its {refused:,} refusals scored as near-certain matches: on real data "
                               "these are twins or relatives, but on data whose errors replace whole values they "
                               "are the same person. Review a sample of excluded_pairs.csv (bold link review "
                               "export) or give labels (`truth:`) to measure it")
        out[g] = entry
    return out


def guard_lines(report: dict[str, Any]) -> list[str]:
    """Plain-text lines for the summary and the command line."""
    lines = []
    for g, e in report.items():
        text = f"{g}: refused {e['refused']:,} pairs, {e['refused_near_certain']:,} of them near-certain matches"
        if e.get("precision") is not None:
            lo, hi = e["precision_interval"]
            text += (f"; precision {e['precision']:.3f} (95% interval {lo:.3f}-{hi:.3f}, {e['labelled']:,} "
                     "labelled)")
        if e.get("flag"):
            text += f". FLAG ({e['flag']}): {e['advice']}"
        lines.append(text)
    return lines
