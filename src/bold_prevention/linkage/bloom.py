"""Bloom-filter (cryptographic long-term key style) encodings of names, and their Dice similarity in SQL.

A name is split into bigrams of `` NAME `` (padded with one space each side); each bigram sets ``k`` bits of an
``L``-bit filter at positions from keyed double hashing (two HMAC-SHA256 keys derived from the partner's secret):
``pos_i = (h1 + i * h2) mod L``. Similar names share bigrams, so share bits; the Dice coefficient of two filters,
``2 |A & B| / (|A| + |B|)``, approximates the bigram Dice similarity of the names without revealing them.

The filter is stored as ``L / 64`` signed 64-bit integer columns (``<name>_clk_0`` ...) plus its bit count
(``<name>_clk_n``), so that Dice is plain SQL (``bit_count`` and ``&``) that runs unchanged on DuckDB and Spark
(both have ``bit_count`` on BIGINT) inside Splink comparison levels: no user-defined function to register.

Keyed Bloom filters resist simple dictionary attacks only while the secret is kept; frequency attacks on
common names remain possible for an adversary holding the file and a name list, which is why the filters are
optional and the file should be handled as personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np

#: Filter length in bits and number of hash positions per bigram.
CLK_BITS = 512
CLK_HASHES = 15
CLK_WORDS = CLK_BITS // 64
_ALPHABET = " ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def block_columns(col: str) -> list[str]:
    """The integer block columns of the filter for ``col``."""
    return [f"{col}_clk_{i}" for i in range(CLK_WORDS)]


def count_column(col: str) -> str:
    return f"{col}_clk_n"


def dice_sql(col: str, threshold: float) -> str:
    """SQL condition: Dice similarity of the filters of ``col`` on the two sides of a pair ``>= threshold``."""
    inter = " + ".join(f'cast(bit_count("{b}_l" & "{b}_r") as integer)' for b in block_columns(col))
    n = count_column(col)
    return (f'("{n}_l" + "{n}_r") > 0 and '
            f'2.0 * ({inter}) >= {threshold!r} * ("{n}_l" + "{n}_r")')


class BloomEncoder:
    """Encode names as keyed Bloom filters (one encoder per secret; deterministic)."""

    def __init__(self, secret: bytes, *, bits: int = CLK_BITS, hashes: int = CLK_HASHES) -> None:
        if bits % 64:
            raise ValueError("bits must be a multiple of 64")
        self.bits, self.hashes, self.words = bits, hashes, bits // 64
        k1 = hmac.new(secret, b"bloom-key-1", hashlib.sha256).digest()
        k2 = hmac.new(secret, b"bloom-key-2", hashlib.sha256).digest()
        # One mask per possible bigram of the standardised alphabet: names are A-Z and single spaces only.
        self._masks: dict[str, np.ndarray] = {}
        for a in _ALPHABET:
            for b in _ALPHABET:
                bg = a + b
                h1 = int.from_bytes(hmac.new(k1, bg.encode(), hashlib.sha256).digest()[:8], "big")
                h2 = int.from_bytes(hmac.new(k2, bg.encode(), hashlib.sha256).digest()[:8], "big") | 1
                mask = np.zeros(self.words, dtype=np.uint64)
                for i in range(hashes):
                    pos = (h1 + i * h2) % bits
                    mask[pos // 64] |= np.uint64(1) << np.uint64(pos % 64)
                self._masks[bg] = mask

    def encode_one(self, name: str | None) -> np.ndarray | None:
        """The filter of one standardised name as ``words`` unsigned 64-bit integers (None for a null name)."""
        if not name:
            return None
        padded = f" {name} "
        out = np.zeros(self.words, dtype=np.uint64)
        for i in range(len(padded) - 1):
            m = self._masks.get(padded[i:i + 2])
            if m is not None:
                out |= m
        return out

    def encode(self, names: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encode many names (each distinct name once).

        Returns ``(blocks, counts, valid)``: ``blocks`` an ``(n, words)`` int64 array (bits reinterpreted as signed,
        as SQL BIGINT), ``counts`` the number of set bits, ``valid`` False where the name was null.
        """
        n = len(names)
        blocks = np.zeros((n, self.words), dtype=np.uint64)
        valid = np.zeros(n, dtype=bool)
        cache: dict[str, np.ndarray] = {}
        for i, name in enumerate(names):
            if not name:
                continue
            enc = cache.get(name)
            if enc is None:
                enc = cache[name] = self.encode_one(name)
            blocks[i] = enc
            valid[i] = True
        counts = np.unpackbits(blocks.view(np.uint8), axis=1).sum(axis=1).astype(np.int64)
        return blocks.view(np.int64), counts, valid


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two filters (as returned by :meth:`BloomEncoder.encode_one`)."""
    ua, ub = a.view(np.uint64), b.view(np.uint64)
    na = int(np.unpackbits(ua.view(np.uint8)).sum())
    nb = int(np.unpackbits(ub.view(np.uint8)).sum())
    inter = int(np.unpackbits((ua & ub).view(np.uint8)).sum())
    return 2 * inter / (na + nb) if na + nb else 0.0
