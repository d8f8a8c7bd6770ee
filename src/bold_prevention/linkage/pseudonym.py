"""Pseudonymised ids: a keyed hash (HMAC-SHA256) whose key comes from the environment, never from the repository.

Everything downstream of the linkage layer carries only these ids.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

import pyarrow as pa

from ..errors import InputError

KEY_ENV = "BOLD_PSEUDONYM_KEY"
#: Length (hex characters) of a pseudonymised id: 80 bits, ample for national populations.
ID_LENGTH = 20


def pseudonym_key(env: str = KEY_ENV) -> bytes:
    """The HMAC key from ``$BOLD_PSEUDONYM_KEY``; a clear error if it is missing."""
    key = os.environ.get(env)
    if not key:
        raise InputError(
            f"the pseudonymisation secret ${env} is not set",
            hint=f"export {env}=<a long random secret held by your data controller>; never commit it",
        )
    return key.encode("utf-8")


def pseudonymise(value: str, *, key: bytes | None = None, domain: str = "person") -> str:
    """The pseudonymised id of ``value`` in ``domain`` (different domains give unrelated ids)."""
    k = key if key is not None else pseudonym_key()
    mac = hmac.new(k, f"{domain}\x1f{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[:ID_LENGTH]


def pseudonymise_many(values: Iterable[str | None], *, key: bytes | None = None,
                      domain: str = "person") -> pa.Array:
    """Pseudonymise many values (nulls stay null) into an Arrow string array."""
    k = key if key is not None else pseudonym_key()
    return pa.array([None if v is None else pseudonymise(str(v), key=k, domain=domain) for v in values],
                    type=pa.string())
