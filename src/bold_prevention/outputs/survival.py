"""Kaplan-Meier survival tables through disclosure control: curves that cannot be inverted.

A survival table is published as a few **steps** per curve. Each published row is an interval
``(previous reported time, this time]`` and shows:

``At risk``
    people still followed at the start of the interval (rounded),
``Events``
    events in the interval (rounded); a step is reported only once at least ``survival_min_events`` (default: the
    count threshold) events have happened since the last reported time, so no published step has fewer,
``Censored``
    people censored in the interval (rounded), suppressed (``[c]``) when below the threshold,
``Survival`` and its 95% interval
    the product-limit estimate **over the published steps, from the published numbers**:
    ``S_k = prod_j (1 - Events_j / At risk_j)`` with Greenwood's variance ``sum_j E_j / (R_j (R_j - E_j))`` and the
    log(-log) interval, so the survival column holds nothing that the rounded counts do not already say.

A row is published only while at least ``survival_min_at_risk`` people are at risk at its time (the curve stops
before the first time with fewer), and a curve with fewer people than that at the start, or with no step that
reaches the minimum number of events, is suppressed whole.

Every survival output is also put through ACRO 1.0.2's own check on the same microdata (an ``ACRO(suppress=True)``
session's ``surv_func``), and ACRO's verdict is written into the output-check log beside this module's (and from
there into ``results.json`` as ``acro_verdict``). Where ACRO cannot run the verdict is ``unavailable``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .disclosure import (
    _SEAL,
    NOT_APPLICABLE_SYMBOL,
    SUPPRESSED,
    CheckedOutput,
    LogEntry,
    _key_frame,
    _label,
    _to_pandas,
)
from .rules import (
    ACRO_SURVIVAL,
    MIN_THRESHOLD,
    ROUNDING,
    SURVIVAL_AT_RISK,
    SURVIVAL_EVENTS,
    ZEROS,
    RuleSet,
    get_rules,
)

__all__ = ["survival_table", "product_limit", "acro_survival_verdict", "ACRO_VERDICT"]

_SURV_COLUMNS = ["At risk", "Events", "Censored", "Survival", "Lower 95% CI", "Upper 95% CI"]
_Z = 1.959963984540054

#: How the output-check log states ACRO's verdict (``results.py`` reads it back with :data:`ACRO_VERDICT`).
ACRO_VERDICT = re.compile(r"^ACRO (?P<version>\S+) verdict: (?P<verdict>pass|review|fail|unavailable)\b")
_ORDER = ("pass", "review", "fail")


# --- the estimator ------------------------------------------------------------------------------------------------------

def product_limit(at_risk: Sequence[float], events: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Survival, lower and upper 95% limits after each step, from numbers at risk and events per step.

    ``S_k = prod_{j<=k} (1 - d_j / n_j)``; Greenwood's ``var(log S_k) = sum_{j<=k} d_j / (n_j (n_j - d_j))``;
    log(-log) 95% interval. Applied to the published (rounded, grouped) counts, this is what the survival table
    publishes; applied to every distinct time of the microdata it is the Kaplan-Meier estimate.
    """
    n = np.asarray(at_risk, dtype=float)
    d = np.asarray(events, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(np.where(n > 0, 1 - d / n, 1.0))
        var = np.cumsum(np.where(n - d > 0, d / (n * (n - d)), np.where(d > 0, np.inf, 0.0)))
        logs = np.log(s)
        se = np.sqrt(var) / np.abs(logs)
        theta = np.log(-logs)
        lo = np.exp(-np.exp(theta + _Z * se))
        hi = np.exp(-np.exp(theta - _Z * se))
    lo = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, lo))
    hi = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, hi))
    return s, lo, hi


@dataclass(frozen=True)
class _Step:
    time: float
    n: float   # at risk at the start of the interval
    d: float   # events in the interval
    c: float   # censored in the interval


def _steps(t: np.ndarray, e: np.ndarray, candidates: np.ndarray, need: int, min_events: int
           ) -> tuple[list[_Step], float | None]:
    """The reported steps of one curve: intervals ending at a candidate time, each closed once it holds at least
    ``min_events`` events, while at least ``need`` people are at risk at the closing time. Also the time the curve
    stops at (``None`` when it runs to the last candidate)."""
    srt = np.sort(t)
    ev = np.sort(t[e == 1])
    ce = np.sort(t[e == 0])
    steps: list[_Step] = []
    prev = -np.inf
    for tau in candidates:
        at_tau = len(srt) - np.searchsorted(srt, tau, side="left")
        if at_tau < need:
            return steps, float(tau)
        d = np.searchsorted(ev, tau, side="right") - np.searchsorted(ev, prev, side="right")
        if d < min_events:
            continue
        c = np.searchsorted(ce, tau, side="right") - np.searchsorted(ce, prev, side="right")
        n = len(srt) - np.searchsorted(srt, prev, side="right")
        steps.append(_Step(float(tau), float(n), float(d), float(c)))
        prev = tau
    return steps, None


# --- ACRO's own verdict -----------------------------------------------------------------------------------------------

def acro_survival_verdict(durations: np.ndarray, events: np.ndarray, rules: RuleSet) -> tuple[str, str]:
    """ACRO's verdict on a survival table of these microdata: ``(status, summary)``.

    Runs an ``ACRO(suppress=True)`` session's ``surv_func(..., output="table")`` (ACRO's thresholds set from
    ``rules``) and reads the status ACRO records for it (``pass``, ``review`` or ``fail``) and its check summary.
    ``("unavailable", why)`` when ACRO is not installed or fails. ACRO writes nothing (``finalise`` is never called);
    the root logger ACRO configures on import is put back as it was.
    """
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.root.manager.disable)
    logging.disable(logging.WARNING)  # ACRO logs every record it adds; keep that out of the toolkit's output
    try:
        import acro  # optional: only to cross-check

        version = getattr(acro, "__version__", None) or getattr(getattr(acro, "version", None), "__version__", "")
        session = acro.ACRO(suppress=True)
        cfg = rules.to_acro_config()
        session.config.update(cfg)
        appetite = getattr(getattr(session, "sdc_checks", None), "risk_appetite", None)
        if isinstance(appetite, dict):
            appetite.update(cfg)
        session.surv_func(pd.Series(np.asarray(durations, dtype=float)),
                          pd.Series(np.asarray(events).astype(bool)), output="table")
        rec = session.results.get_index(session.results.output_id - 1)
        status = str(rec.status)
        summary = " ".join(str(rec.summary).split())
        return (status if status in _ORDER else "review"), f"ACRO {version or '1.0.2'}: {summary}"
    except Exception as exc:  # any failure of the optional cross-check is reported, not raised
        return "unavailable", f"ACRO could not run its survival check here ({type(exc).__name__})"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.disable(saved[2])


def _acro_version() -> str:
    try:
        from importlib.metadata import version

        return version("acro")
    except Exception:
        return "1.0.2"


# --- the checked table ------------------------------------------------------------------------------------------------

def survival_table(data: Any, duration: str, event: str, *, title: str, group: str | None = None,
                   name: str | None = None, rules: RuleSet | str | None = None, subtitle: str | None = None,
                   source: str | None = None, time_unit: str = "days",
                   times: Sequence[float] | None = None, acro_check: bool = True) -> CheckedOutput:
    """Kaplan-Meier survival curves from microdata (one per ``group``), published so they cannot be inverted.

    See the module docstring for what each column holds. In short: a step is reported only once at least
    ``survival_min_events`` events (default: the count threshold) have happened since the last reported time, and
    only while at least ``survival_min_at_risk`` people are at risk; numbers at risk, events and censorings are
    rounded, censorings below the threshold are suppressed; survival and its interval are the product-limit over the
    published steps from the published counts. A group with fewer than the minimum at risk at the start, or in which
    no step reaches the minimum number of events, is suppressed whole. With ``times`` (e.g. every 30 days) steps end
    only at those times, under the same rules. ``acro_check`` runs ACRO's own survival check on the same data and
    records its verdict in the log (``unavailable`` where ACRO cannot run).
    """
    rules = get_rules(rules)
    cols = [duration, event] + ([group] if group else [])
    df = _to_pandas(data, cols, f"survival table {title!r}")
    dur = pd.to_numeric(df[duration], errors="coerce")
    ev = df[event]
    if dur.isna().any() or (dur < 0).any():
        raise InputError(f"survival table {title!r}: column {duration!r} has missing or negative durations",
                         hint="drop or fix those rows before checking")
    if ev.isna().any() or not set(pd.unique(ev.astype(int))) <= {0, 1}:
        raise InputError(f"survival table {title!r}: column {event!r} must be 0/1 or true/false",
                         hint="code the event indicator as 1 (event) or 0 (censored)")
    df = pd.DataFrame({"t": dur.to_numpy(float), "e": ev.astype(int).to_numpy(),
                       "g": _key_frame(df, [group], None)[group] if group else "All"})
    need = rules.survival_min_at_risk
    min_events = rules.survival_events
    rnd = rules.round_count
    grid = None if times is None else np.unique(np.asarray([t for t in times if t > 0], dtype=float))
    rows: list[tuple[Any, ...]] = []
    syms: list[list[str]] = []
    crules: list[list[str]] = []
    log: list[LogEntry] = []
    verdicts: list[str] = []
    suppressed_whole = 0

    def suppress_whole(g: Any, rule: str, why: str) -> None:
        nonlocal suppressed_whole
        suppressed_whole += 1
        rows.append((g, 0.0, *[np.nan] * 6))
        syms.append([SUPPRESSED] * 6)
        crules.append([rule] * 6)
        log.append(LogEntry(rule, "suppress", why, _label(g)))

    for g in (df["g"].cat.categories if group else ["All"]):
        sub = df[df["g"] == g]
        label = _label(g)
        t, e = sub["t"].to_numpy(), sub["e"].to_numpy()
        if acro_check:
            verdict, summary = acro_survival_verdict(t, e, rules)
            verdicts.append(verdict)
            log.append(LogEntry(ACRO_SURVIVAL, "review" if verdict != "pass" else "checked",
                                f"ACRO {_acro_version()} verdict: {verdict} (surv_func, suppress=True, on this "
                                f"group's microdata). {summary}", label))
        if len(sub) < need:
            suppress_whole(g, SURVIVAL_AT_RISK, f"fewer than {need} people at risk at the start: the whole curve "
                           "is suppressed")
            continue
        candidates = np.unique(t[e == 1]) if grid is None else grid
        steps, truncated_at = _steps(t, e, candidates, need, min_events)
        if not steps:
            suppress_whole(g, SURVIVAL_EVENTS, f"no step reaches {min_events} events while at least {need} people "
                           "are at risk: the whole curve is suppressed")
            continue
        pub_n = np.array([rnd(s.n) for s in steps])
        pub_d = np.array([rnd(s.d) for s in steps])
        surv, lo, hi = product_limit(pub_n, pub_d)
        rows.append((g, 0.0, rnd(float(len(sub))), np.nan, np.nan, 1.0, 1.0, 1.0))
        syms.append(["", NOT_APPLICABLE_SYMBOL, NOT_APPLICABLE_SYMBOL, "", "", ""])
        crules.append([""] * 6)
        low_censored = 0
        for k, s in enumerate(steps):
            c_low = rules.is_low(s.c)
            low_censored += c_low
            rows.append((g, s.time, pub_n[k], pub_d[k], np.nan if c_low else rnd(s.c),
                         float(surv[k]), float(lo[k]), float(hi[k])))
            syms.append(["", "", SUPPRESSED if c_low else "", "", "", ""])
            crules.append(["", "", (ZEROS if s.c == 0 else MIN_THRESHOLD) if c_low else "", "", "", ""])
        log.append(LogEntry(SURVIVAL_EVENTS, "group", f"{len(candidates)} candidate times reported as {len(steps)} "
                            f"steps, each holding at least {min_events} events", label))
        if low_censored:
            log.append(LogEntry(MIN_THRESHOLD, "suppress", f"censored counts below {rules.threshold} suppressed in "
                                f"{low_censored} of {len(steps)} steps", label, "Censored"))
        if truncated_at is not None:
            log.append(LogEntry(SURVIVAL_AT_RISK, "truncate", f"curve stops before time {truncated_at:g}: fewer than "
                                f"{need} people at risk from then on", label))
        else:
            log.append(LogEntry(SURVIVAL_AT_RISK, "checked", f"at least {need} at risk at every reported time",
                                label))
    log.append(LogEntry(SURVIVAL_EVENTS, "derive", "survival and its 95% interval computed by the product-limit "
                        "method (Greenwood, log(-log)) over the published steps from the published numbers at risk "
                        "and events, so they reveal nothing beyond the rounded counts"))
    if rules.round_base:
        log.append(LogEntry(ROUNDING, "round", f"numbers at risk, events and censorings rounded to the nearest "
                            f"{rules.round_base}"))
    if acro_check:
        overall = ("unavailable" if "unavailable" in verdicts or not verdicts
                   else max(verdicts, key=_ORDER.index))
        log.append(LogEntry(ACRO_SURVIVAL, "review" if overall != "pass" else "checked",
                            f"ACRO {_acro_version()} verdict: {overall} (worst over the curves); this module's "
                            "status: review"))
    review = [f"Survival curves: steps grouped to at least {min_events} events, numbers rounded and survival "
              "recomputed from the published counts; review them with any plot drawn from the same data"
              + (f"; {suppressed_whole} curve(s) suppressed whole" if suppressed_whole else "") + "."]
    tcol = f"Time ({time_unit})"
    frame = pd.DataFrame(rows, columns=[group or "Group", tcol, *_SURV_COLUMNS])
    index = pd.MultiIndex.from_frame(frame[[group or "Group", tcol]].astype({tcol: float}).astype(object))
    data_df = pd.DataFrame(frame[_SURV_COLUMNS].to_numpy(float), index=index, columns=_SURV_COLUMNS)
    symbols = pd.DataFrame(syms, index=index, columns=_SURV_COLUMNS)
    notes = [f"Each row is the interval ending at its time: people at risk at its start, events and censorings in "
             f"it. Steps hold at least {min_events} events; rows need at least {need} people at risk. Survival is "
             "the product-limit estimate over the published steps, from the published (rounded) numbers."]
    return CheckedOutput(_SEAL, name=name, title=title, kind="survival", data=data_df, symbols=symbols,
                         cell_rules=pd.DataFrame(crules, index=index, columns=_SURV_COLUMNS), log=log, rules=rules,
                         subtitle=subtitle or "Kaplan-Meier estimate over grouped steps", source=source,
                         units="proportion surviving", dimensions=[group] if group else [],
                         decimals={"At risk": 0, "Events": 0, "Censored": 0, "*": 3}, notes=notes, review=review,
                         method="surv func")
