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
from ..warehouse.engine import table_exists

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


# ------------------------------------------------------------------------------------------- the key's fingerprint
#: The fixed label whose HMAC under the key is the key's fingerprint (the key itself is never stored).
FINGERPRINT_LABEL = b"bold-prevention pseudonymisation key fingerprint v1"
#: The warehouse table where a project records the fingerprint of the key its person ids were made with.
KEY_TABLE = "meta.pseudonym_key"
REKEY_HINT = ("to start again under a new key on purpose, run `bold spine build --as-at YYYY-MM-DD --rekey`: it "
              "drops everything built under the old key (the spine, person records, timelines, cohorts, results "
              "and early-warning models) and rebuilds the spine with the key that is set now")


def key_fingerprint(key: bytes | None = None) -> str:
    """A fingerprint of the pseudonymisation key: an HMAC of a fixed label, keyed with it (16 hex characters).

    It shows whether two runs used the same key without revealing the key."""
    k = key if key is not None else pseudonym_key()
    return hmac.new(k, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def recorded_key_fingerprint(con) -> str | None:
    """The key fingerprint the warehouse ``con`` recorded at its first use of a key (None: none recorded)."""
    schema, name = KEY_TABLE.split(".")
    if not table_exists(con, schema, name):
        return None
    row = con.execute(f"SELECT fingerprint FROM {KEY_TABLE} ORDER BY recorded_at DESC LIMIT 1").fetchall()
    return row[0][0] if row else None


def record_key_fingerprint(con, fingerprint: str) -> None:
    """Record ``fingerprint`` as the key of the warehouse ``con`` (replacing any earlier one)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(f"CREATE OR REPLACE TABLE {KEY_TABLE} AS SELECT CAST(? AS VARCHAR) AS fingerprint, "
                "CAST(CURRENT_TIMESTAMP AS TIMESTAMP) AS recorded_at", [fingerprint])


def check_project_key(con, *, rekey: bool = False, env: str = KEY_ENV) -> str:
    """The fingerprint of the key in ``$BOLD_PSEUDONYM_KEY``, checked against the one the warehouse recorded.

    A missing key, or a key other than the recorded one, is an :class:`InputError` that says what to do (unless
    ``rekey``: then a different key is accepted and the caller drops what the old key built). Nothing is recorded
    here: the caller records the fingerprint once the person ids are built with it."""
    recorded = recorded_key_fingerprint(con)
    raw = os.environ.get(env)
    if not raw:
        if recorded is None:
            pseudonym_key(env)  # the plain "not set" error
        raise InputError(
            f"the pseudonymisation secret ${env} is not set, and this project's person ids were made with a key "
            f"(fingerprint {recorded})",
            hint=f"export {env} with the same key the project was built with (ask your data controller); "
                 + REKEY_HINT)
    fp = key_fingerprint(raw.encode("utf-8"))
    if recorded is not None and recorded != fp and not rekey:
        raise InputError(
            f"${env} is not the key this project's person ids were made with (the project's key has fingerprint "
            f"{recorded}; the key set now has fingerprint {fp}), so cohorts and results built earlier would match "
            "nobody",
            hint=f"export {env} with the project's own key; " + REKEY_HINT)
    return fp
