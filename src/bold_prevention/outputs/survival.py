"""Kaplan-Meier survival tables through disclosure control."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .disclosure import _SEAL, SUPPRESSED, CheckedOutput, LogEntry, _key_frame, _label, _to_pandas
from .rules import ROUNDING, SURVIVAL_AT_RISK, SURVIVAL_EVENTS, RuleSet, get_rules

__all__ = ["survival_table"]


# --- survival ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _SurvPoint:
    time: float
    n: float
    d: float
    c: float
    s: float
    lo: float
    hi: float


_SURV_COLUMNS = ["At risk", "Events", "Censored", "Survival", "Lower 95% CI", "Upper 95% CI"]


def _km(durations: np.ndarray, events: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier estimate with Greenwood log(-log) 95% intervals at each distinct time."""
    order = np.argsort(durations, kind="stable")
    t, e = durations[order], events[order]
    times, first = np.unique(t, return_index=True)
    d = np.add.reduceat(e.astype(float), first)
    removed = np.diff(np.append(first, len(t))).astype(float)
    n = len(t) - first.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1 - d / n)
        var = np.cumsum(np.where(n - d > 0, d / (n * (n - d)), np.inf))
        logs = np.log(s)
        se = np.sqrt(var) / np.abs(logs)
        theta = np.log(-logs)
        lo = np.exp(-np.exp(theta + 1.959964 * se))
        hi = np.exp(-np.exp(theta - 1.959964 * se))
    lo = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, lo))
    hi = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, hi))
    return pd.DataFrame({"time": times, "n": n, "d": d, "c": removed - d, "s": s, "lo": lo, "hi": hi})


def survival_table(data: Any, duration: str, event: str, *, title: str, group: str | None = None,
                   name: str | None = None, rules: RuleSet | str | None = None, subtitle: str | None = None,
                   source: str | None = None, time_unit: str = "days",
                   times: Sequence[float] | None = None) -> CheckedOutput:
    """Kaplan-Meier survival curves from microdata (one per ``group``), checked point by point.

    A step is reported only once at least ``survival_events`` people have left the risk set since the last reported
    point (events and censorings grouped, as ACRO does), and only while at least ``survival_min_at_risk`` people are
    at risk; the curve stops there. Published numbers at risk, events and censorings are rounded. A group with
    fewer than the minimum at risk at the start is suppressed whole. With ``times`` (e.g. every 30 days) the curve is
    reported only at those times, under the same rules.
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
    need, step = rules.survival_min_at_risk, rules.survival_events
    rows: list[tuple[Any, ...]] = []
    syms: list[list[str]] = []
    crules: list[list[str]] = []
    log: list[LogEntry] = []
    for g in (df["g"].cat.categories if group else ["All"]):
        sub = df[df["g"] == g]
        label = _label(g)
        if len(sub) < need:
            rows.append((g, 0.0, *[np.nan] * 6))
            syms.append([SUPPRESSED] * 6)
            crules.append([SURVIVAL_AT_RISK] * 6)
            log.append(LogEntry(SURVIVAL_AT_RISK, "suppress", f"fewer than {need} people at risk at the start: "
                                "the whole curve is suppressed", label))
            continue
        km = _km(sub["t"].to_numpy(), sub["e"].to_numpy())
        rows.append((g, 0.0, rules.round_count(float(len(sub))), 0.0, 0.0, 1.0, 1.0, 1.0))
        syms.append([""] * 6)
        crules.append([""] * 6)
        if times is None:
            points = km.itertuples(index=False)
        else:
            grid = np.sort(np.asarray([t for t in times if t > 0], dtype=float))
            srt = np.sort(sub["t"].to_numpy())
            at = np.searchsorted(km["time"].to_numpy(), grid, side="right") - 1
            cum_d = np.concatenate([[0.0], np.cumsum(km["d"].to_numpy())])
            cum_c = np.concatenate([[0.0], np.cumsum(km["c"].to_numpy())])
            last = np.maximum(at, -1)
            points = [_SurvPoint(time=float(gt), n=float(len(srt) - np.searchsorted(srt, gt, side="left")),
                                 d=float(cum_d[k + 1] - cum_d[p + 1]), c=float(cum_c[k + 1] - cum_c[p + 1]),
                                 s=float(km["s"].iat[k]) if k >= 0 else 1.0,
                                 lo=float(km["lo"].iat[k]) if k >= 0 else 1.0,
                                 hi=float(km["hi"].iat[k]) if k >= 0 else 1.0)
                      for gt, k, p in zip(grid, last, np.r_[-1, last[:-1]], strict=True)]
        acc_d = acc_c = 0.0
        reported = 0
        truncated_at = None
        for r in points:
            if r.n < need:
                truncated_at = r.time
                break
            acc_d += r.d
            acc_c += r.c
            if acc_d + acc_c >= step:
                rows.append((g, float(r.time), rules.round_count(float(r.n)), rules.round_count(acc_d),
                             rules.round_count(acc_c), float(r.s), float(r.lo), float(r.hi)))
                syms.append([""] * 6)
                crules.append([""] * 6)
                reported += 1
                acc_d = acc_c = 0.0
        log.append(LogEntry(SURVIVAL_EVENTS, "group", f"{len(km)} distinct times reported as {reported} steps, each "
                            f"after at least {step} people left the risk set", label))
        if truncated_at is not None:
            log.append(LogEntry(SURVIVAL_AT_RISK, "truncate", f"curve stops before time {truncated_at:g}: fewer than "
                                f"{need} people at risk from then on", label))
        else:
            log.append(LogEntry(SURVIVAL_AT_RISK, "checked", f"at least {need} at risk at every reported point",
                                label))
    if rules.round_base:
        log.append(LogEntry(ROUNDING, "round", f"numbers at risk, events and censorings rounded to the nearest "
                            f"{rules.round_base}"))
    tcol = f"Time ({time_unit})"
    frame = pd.DataFrame(rows, columns=[group or "Group", tcol, *_SURV_COLUMNS])
    index = pd.MultiIndex.from_frame(frame[[group or "Group", tcol]].astype({tcol: float}).astype(object))
    data_df = pd.DataFrame(frame[_SURV_COLUMNS].to_numpy(float), index=index, columns=_SURV_COLUMNS)
    symbols = pd.DataFrame(syms, index=index, columns=_SURV_COLUMNS)
    return CheckedOutput(_SEAL, name=name, title=title, kind="survival", data=data_df, symbols=symbols,
                         cell_rules=pd.DataFrame(crules, index=index, columns=_SURV_COLUMNS), log=log, rules=rules,
                         subtitle=subtitle or "Kaplan-Meier estimate", source=source, units="proportion surviving",
                         dimensions=[group] if group else [],
                         decimals={"At risk": 0, "Events": 0, "Censored": 0, "*": 3}, method="surv func")
