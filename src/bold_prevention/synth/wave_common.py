"""Helpers shared by the Wave 1 and Wave 2 generators: national numbers (NINO, NHS number) with their keying
errors, Poisson event streams over windows, ages and the local authority of a person's home on a day."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .common import NA, age_at, explode, mix64, uniform_days
from .params import NEEDS
from .population import Population

_NINO_FIRST = np.frombuffer(b"ABCEGHJKLMNOPRSTWXYZ", dtype=np.uint8)
_NINO_SECOND = np.frombuffer(b"ABCEGHJKLMNPRSTWXYZ", dtype=np.uint8)
_NINO_SUFFIX = np.frombuffer(b"ABCD", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def need_scores(pop: Population, person: np.ndarray) -> dict[str, np.ndarray]:
    """Latent need score of each person, by need."""
    s = pop.score[person]
    return {d: s[:, i].astype(np.float64) for i, d in enumerate(NEEDS)}


def _hash(person: np.ndarray, salt: int, seed: int) -> np.ndarray:
    return mix64(np.asarray(person, dtype=np.uint64) * np.uint64(7919) + np.uint64(salt) * np.uint64(1 << 40)
                 + np.uint64(seed & 0xFFFFFFFF))


def _nino_matrix(person: np.ndarray, seed: int) -> np.ndarray:
    """The true National Insurance number of each person as a (rows x 9) byte matrix (``AB123456C``).

    Distinct persons get distinct numbers (the six digits and letters come from a bijective hash of the person
    index, the person index below 10^6 fixing the digits and the rest the letters).
    """
    p = np.asarray(person, dtype=np.int64)
    h = _hash(p, 11, seed)
    digits = p % 1_000_000
    high = p // 1_000_000  # persons above a million differ in the letters
    out = np.empty((len(p), 9), dtype=np.uint8)
    a = high % (len(_NINO_FIRST) * len(_NINO_SECOND))
    scramble = (h >> np.uint64(20)) % np.uint64(len(_NINO_SUFFIX))
    # a fixed permutation of the six digits per seed keeps numbers looking random but unique
    perm = (digits * 7_777 + (seed % 1_000_000)) % 1_000_000
    out[:, 0] = _NINO_FIRST[a // len(_NINO_SECOND)]
    out[:, 1] = _NINO_SECOND[a % len(_NINO_SECOND)]
    for k in range(6):
        out[:, 2 + k] = _DIGITS[(perm // 10 ** (5 - k)) % 10]
    out[:, 8] = _NINO_SUFFIX[scramble.astype(np.intp)]
    return out


def fixed_width_strings(mat: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """A string array from a (rows x width) byte matrix (every string ``width`` bytes), null where ``missing``:
    the Arrow buffers are built directly (no Python or object arrays)."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    if n * w >= 2 ** 31:  # beyond 32-bit offsets: the general (slower) path
        arr = pa.array(mat.view(f"S{w}").ravel(), mask=missing).cast(pa.string())
        return arr
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    validity = None
    nulls = 0
    if missing is not None and missing.any():
        nulls = int(missing.sum())
        validity = pa.py_buffer(np.packbits(~np.asarray(missing, bool), bitorder="little"))
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(mat.ravel())],
                                 null_count=nulls)


_CACHE: dict[tuple[str, int, int], np.ndarray] = {}


def _per_person(kind: str, person: np.ndarray, seed: int) -> np.ndarray:
    """The matrix of ``kind`` (nino / nhs) for ``person``, computed once for persons 0..max (the latest
    population only is kept) and indexed."""
    p = np.asarray(person, dtype=np.int64)
    top = int(p.max()) + 1 if len(p) else 0
    key = next((k for k in _CACHE if k[0] == kind and k[1] == seed and k[2] >= top), None)
    if key is None:
        for k in [k for k in _CACHE if k[0] == kind]:
            del _CACHE[k]
        every = np.arange(top, dtype=np.int64)
        key = (kind, seed, top)
        _CACHE[key] = (_nino_matrix if kind == "nino" else _nhs_number_matrix)(every, seed)
    return _CACHE[key][p]


def nino_matrix(person: np.ndarray, seed: int) -> np.ndarray:
    """The true National Insurance number of each person as a (rows x 9) byte matrix (``AB123456C``)."""
    return _per_person("nino", person, seed)


def nhs_number_matrix(person: np.ndarray, seed: int) -> np.ndarray:
    """A valid NHS number (ten digits, modulus-11 check digit) per person, as a (rows x 10) byte matrix."""
    return _per_person("nhs", person, seed)


def nino_column(person: np.ndarray, seed: int, rng: np.random.Generator, *, missing: float,
                mistyped: float) -> tuple[pa.Array, np.ndarray]:
    """NINO strings for records of ``person`` with a share missing and a share mistyped (one digit changed).

    Returns the array and the per-record state (0 true, 1 missing, 2 mistyped).
    """
    m = nino_matrix(person, seed)
    n = len(person)
    u = rng.random(n)
    state = np.where(u < missing, 1, np.where(u < missing + mistyped, 2, 0)).astype(np.int8)
    bad = np.flatnonzero(state == 2)
    if len(bad):
        pos = 2 + rng.integers(0, 6, len(bad))
        cur = m[bad, pos] - ord("0")
        m[bad, pos] = _DIGITS[(cur + rng.integers(1, 10, len(bad))) % 10]
    return fixed_width_strings(m, state == 1), state


def _nhs_number_matrix(person: np.ndarray, seed: int) -> np.ndarray:
    """A valid NHS number (ten digits, modulus-11 check digit) per person, as a (rows x 10) byte matrix."""
    p = np.asarray(person, dtype=np.int64)
    body = (p * 104_729 + 3_000_000 + (seed % 997) * 1_000_003) % 100_000_000  # eight digits after the lead
    lead = np.where(p % 2 == 0, 4, 6)
    d = np.empty((len(p), 9), dtype=np.int64)
    d[:, 0] = lead
    for k in range(8):
        d[:, 1 + k] = (body // 10 ** (7 - k)) % 10
    for _ in range(3):  # a check value of 10 is invalid: change the ninth digit and try again
        s = (d * np.arange(10, 1, -1)[None, :]).sum(axis=1)
        chk = (11 - s % 11) % 11
        bad = chk == 10
        if not bad.any():
            break
        d[bad, 8] = (d[bad, 8] + 1) % 10
    s = (d * np.arange(10, 1, -1)[None, :]).sum(axis=1)
    chk = (11 - s % 11) % 11
    chk = np.where(chk == 10, 0, chk)
    out = np.empty((len(p), 10), dtype=np.uint8)
    out[:, :9] = _DIGITS[d]
    out[:, 9] = _DIGITS[chk]
    return out


def nhs_number_column(person: np.ndarray, seed: int, rng: np.random.Generator, *, missing: float) -> pa.Array:
    m = nhs_number_matrix(person, seed)
    miss = rng.random(len(person)) < missing
    return fixed_width_strings(m, miss)


def poisson_events(rng: np.random.Generator, rate: np.ndarray, lo: np.ndarray, hi: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Events at ``rate`` per year over each row's window [lo, hi]: (row index of each event, its day)."""
    years = np.clip(np.asarray(hi, np.int64) - lo + 1, 0, None) / 365.25
    cnt = rng.poisson(np.clip(rate, 0, 50) * years)
    par, _ = explode(cnt)
    return par, uniform_days(rng, lo[par], hi[par])


def durations(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.maximum(1, np.round(median * np.exp(sigma * rng.standard_normal(n)))).astype(np.int64)


def open_end(end: np.ndarray, limit: int) -> np.ndarray:
    """End days after ``limit`` become missing (still open at the extract date)."""
    return np.where(end > limit, NA, end).astype(np.int32)


def ages(pop: Population, person: np.ndarray, when: np.ndarray) -> np.ndarray:
    return age_at(pop.dob[person], np.asarray(when, dtype=np.int32)).astype(np.int64)


def lad_index_at(pop: Population, person: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Local authority (index into ``pop.geo.lad_code``) of each person's home on each day."""
    return pop.geo.lad_index[pop.lsoa_at(person, np.asarray(when, dtype=np.int32))]


_HEX = b"0123456789abcdef"
#: The two hex digits of every byte value, as one uint16 each (the bytes in memory order).
_HEX_PAIRS = np.frombuffer(b"".join(bytes((_HEX[b >> 4], _HEX[b & 15])) for b in range(256)), dtype=np.uint16)


def hex_ids(index: np.ndarray, salt: str, seed: int, *, prefix: str = "", width: int = 16) -> pa.Array:
    """:func:`bold_prevention.synth.common.hex_ids` (the same ids) with a byte-pair table instead of a nibble
    matrix, for the event tables of many millions of rows."""
    import zlib

    idx = np.asarray(index, dtype=np.uint64)
    key = mix64(np.array([(zlib.crc32(salt.encode()) << 32) | (int(seed) & 0xFFFFFFFF)], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        v = mix64(idx + key)
    digits = _HEX_PAIRS[v.astype(">u8").view(np.uint8).reshape(-1, 8)].view(np.uint8)[:, 16 - width:]
    p = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars = np.empty((len(idx), len(p) + width), np.uint8)
    chars[:, :len(p)] = p
    chars[:, len(p):] = digits
    return fixed_width_strings(chars)
