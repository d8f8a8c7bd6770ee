"""Parse the free-text ``Values`` cells of the Data First catalogues.

Real catalogues write code lists in several layouts: one ``code = label`` pair per line, pairs separated by ``/`` or
``;`` (``0 = Never / 1 = Previously / 2 = Current``), bare code lists (``DK / NO / YES``, ``0/1/2``), numeric ranges
(``0 - 99``) and formats (``YYYY-MM-DD``). :func:`parse_values` reads all of them defensively: it never raises, and
anything it cannot read as codes is kept as free text.

>>> parse_values("NO = No\\nYES = Yes").codes
(('NO', 'No'), ('YES', 'Yes'))
>>> parse_values("0 = Never / 1 = Previously / 2 = Current").codes
(('0', 'Never'), ('1', 'Previously'), ('2', 'Current'))
>>> parse_values("0 - 99").value_range
(0.0, 99.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``0 - 99``, ``0-8``, ``1 to 10``, ``0 – 9`` (en dash).
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|—|to)\s*(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
#: Date and time formats written in a values cell.
_FORMAT = re.compile(r"^\s*\(?\s*((?:YYYY|DD|MM|YY|HH|SS)(?:[-/.: ]?(?:YYYY|DD|MM|YY|HH|SS))*)\s*\)?\s*$",
                     re.IGNORECASE)
#: A code: short, without spaces around it (``NO``, ``01``, ``M``, ``N/A``, ``CHLDZ``, ``-1``).
_CODE = r"[^\s=;/\n][^=;\n]{0,24}?"
#: Split ``a = b / c = d`` on the slash only where the next piece starts with ``code =``.
_SLASH_BEFORE_PAIR = re.compile(r"\s*/\s*(?=" + _CODE + r"\s*=)")
_PAIR = re.compile(r"^\s*(" + _CODE + r")\s*=\s*(.*?)\s*$", re.DOTALL)
_BARE_CODE = re.compile(r"^[A-Za-z0-9_+\-.]{1,12}$")
#: Tokens that contain a slash but are one code.
_SLASH_CODES = ("N/A", "n/a", "D/K")


@dataclass(frozen=True)
class ValueSpec:
    """What a values cell says: a code list, a numeric range, a format, or free text."""

    raw: str
    codes: tuple[tuple[str, str], ...] = ()
    value_range: tuple[float, float] | None = None
    value_format: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.raw.strip()

    @property
    def free_text(self) -> bool:
        """True when the cell holds text that is neither codes, a range nor a format."""
        return not self.is_empty and not self.codes and self.value_range is None and self.value_format is None


def _split_pieces(text: str) -> list[str]:
    """Split on newlines and semicolons, then on slashes that separate ``code = label`` pairs."""
    pieces: list[str] = []
    for line in re.split(r"[\n;]+", text):
        line = line.strip()
        if not line:
            continue
        if "=" in line:
            pieces.extend(p for p in _SLASH_BEFORE_PAIR.split(line) if p.strip())
        else:
            pieces.append(line)
    return pieces


def _split_bare(text: str) -> list[str] | None:
    """``DK / NO / YES``, ``0/1/2``, ``N/A / NO / YES``: a list of short codes, or None if it is not one."""
    protected = text
    for i, tok in enumerate(_SLASH_CODES):
        protected = protected.replace(tok, f"\x00{i}\x00")
    if "/" not in protected:
        return None
    parts = [p.strip() for p in protected.split("/")]
    out = []
    for p in parts:
        for i, tok in enumerate(_SLASH_CODES):
            p = p.replace(f"\x00{i}\x00", tok)
        if not p or not (_BARE_CODE.match(p) or p in _SLASH_CODES):
            return None
        out.append(p)
    return out if len(out) >= 2 else None


def parse_values(cell: object) -> ValueSpec:
    """Read a catalogue values cell. Never raises; unreadable text is kept as free text."""
    if cell is None:
        return ValueSpec(raw="")
    raw = str(cell)
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ValueSpec(raw=raw)
    m = _RANGE.match(text)
    if m:
        lo, hi = float(m.group(1)), float(m.group(2))
        return ValueSpec(raw=raw, value_range=(min(lo, hi), max(lo, hi)))
    m = _FORMAT.match(text)
    if m and any(ch in text.upper() for ch in ("YYYY", "DD", "MM")):
        return ValueSpec(raw=raw, value_format=m.group(1).upper())

    if "=" in text:
        codes: list[tuple[str, str]] = []
        for piece in _split_pieces(text):
            pm = _PAIR.match(piece)
            if pm and pm.group(1).strip():
                codes.append((pm.group(1).strip(), pm.group(2).strip()))
            elif codes:
                # a wrapped label: continue the previous one
                code, label = codes[-1]
                codes[-1] = (code, f"{label} {piece.strip()}".strip())
        if codes:
            return ValueSpec(raw=raw, codes=_dedupe(codes))
        return ValueSpec(raw=raw)

    lines = [ln.strip() for ln in re.split(r"[\n;]+", text) if ln.strip()]
    if len(lines) < 2 and " / " in text:
        lines = [p.strip() for p in text.split(" / ") if p.strip()]
    if len(lines) >= 2 and all(len(ln) <= 80 for ln in lines):
        return ValueSpec(raw=raw, codes=_dedupe([(ln, ln) for ln in lines]))
    bare = _split_bare(text)
    if bare:
        return ValueSpec(raw=raw, codes=_dedupe([(b, b) for b in bare]))
    if _BARE_CODE.match(text) and text.upper() == text:
        return ValueSpec(raw=raw, codes=((text, text),))
    return ValueSpec(raw=raw)


def _dedupe(codes: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    seen: set[str] = set()
    out = []
    for c, lab in codes:
        if c not in seen:
            seen.add(c)
            out.append((c, lab))
    return tuple(out)


def render_values(codes: tuple[tuple[str, str], ...] | list[tuple[str, str]], sep: str = "\n") -> str:
    """Write codes as a values cell (``code = label`` joined by ``sep``; a code equal to its label alone)."""
    return sep.join(c if c == lab else f"{c} = {lab}" for c, lab in codes)
