"""Privacy-preserving linkage: "derive, then hash".

A data partner who will not share identifiers in the clear runs ``bold link hash --config FILE --out FILE``. It
standardises the partner's identifiers (the same rules as clear-text linkage), derives comparison keys (canonical
forename, phonetic codes, name prefixes, parts of double-barrelled surnames, date-of-birth parts and the
day/month-swapped date, postcode sector, district and area) and replaces every value with a keyed hash
(HMAC-SHA256 with a secret shared by the partners, read from an environment variable - ``BOLD_LINKAGE_SECRET`` by
default - and never written anywhere). Optionally it adds keyed Bloom-filter encodings of forename and surname
(:mod:`.bloom`) so that misspelt names still agree partly. Only that file leaves the partner.

Linkage then runs on hashed files (``mode: hashed`` in the config) with the same Splink model builder: exact
agreement on hashed keys replaces the fuzzy string functions, Dice similarity of the Bloom filters replaces
Jaro-Winkler. No clear identifier is present in the hashed files or anywhere in the linkage outputs.

Values that are compared with each other share a hashing domain (all name columns one, the date of birth and its
swapped twin another), so cross-column levels (forename vs middle name, swapped day and month) survive hashing;
unrelated keys use separate domains, so equal hashes never leak across fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputError
from ..files import atomic_path
from ..warehouse.engine import sql_literal
from . import bloom
from .config import DEFAULT_SECRET_ENV, LinkConfig, load_config
from .standardise import standardise

#: Schema-metadata key of a hashed file.
METADATA_KEY = b"bold_linkage_hashed"
FORMAT_VERSION = 1
#: Hex characters kept of each HMAC-SHA256 (128 bits).
HASH_HEX = 32

#: Hashed output column -> (hashing domain, the role it needs).
HASHED_COLUMNS: dict[str, tuple[str, str]] = {
    "forename": ("name", "forename"),
    "forename_canonical": ("name", "forename"),
    "forename_phonetic": ("phonetic", "forename"),
    "forename_prefix": ("prefix", "forename"),
    "forename_initial": ("initial", "forename"),
    "forename_letter": ("initial", "forename"),
    "middle_names": ("name", "forename"),
    "middle_first": ("name", "forename"),
    "surname": ("name", "surname"),
    "surname_nospace": ("name", "surname"),
    "surname_first": ("name", "surname"),
    "surname_last": ("name", "surname"),
    "surname_phonetic": ("phonetic", "surname"),
    "surname_prefix": ("prefix", "surname"),
    "dob_iso": ("date", "date_of_birth"),
    "dob_swapped": ("date", "date_of_birth"),
    "dob_year": ("dob_year", "date_of_birth"),
    "dob_month": ("dob_month", "date_of_birth"),
    "dob_day": ("dob_day", "date_of_birth"),
    "dob_ym": ("dob_ym", "date_of_birth"),
    "dob_decade": ("dob_decade", "date_of_birth"),
    "dob_decade_shifted": ("dob_decade_shifted", "date_of_birth"),
    "sex": ("sex", "sex"),
    "postcode": ("postcode", "postcode"),
    "postcode_sector": ("postcode_sector", "postcode"),
    "postcode_outward": ("postcode_outward", "postcode"),
    "postcode_area": ("postcode_area", "postcode"),
    "address": ("address", "address"),
    "address_number": ("address_number", "address"),
    "town": ("town", "town"),
    "id_number": ("id_number", "id_number"),
}
#: Names encoded as Bloom filters (hashed column name -> standardised source column).
BLOOM_NAMES = {"forename": "forename", "surname": "surname_nospace"}


def linkage_secret(env: str = DEFAULT_SECRET_ENV) -> bytes:
    """The shared hashing secret from the environment; a clear error if it is not set."""
    value = os.environ.get(env)
    if not value:
        raise InputError(f"the linkage hashing secret ${env} is not set",
                         hint=f"export {env}=<the secret agreed by every data partner>; it must be the same for "
                              "all files to be linked and must never be stored with them")
    if len(value) < 16:
        raise InputError(f"the linkage hashing secret ${env} is too short ({len(value)} characters)",
                         hint="use a random secret of at least 16 characters (32 or more recommended)")
    return value.encode("utf-8")


def key_check(secret: bytes) -> str:
    """A value that shows whether two files were hashed with the same secret, without revealing it."""
    return hmac.new(secret, b"bold-linkage-key-check", hashlib.sha256).hexdigest()[:16]


def _hmac_array(values: pa.Array, secret: bytes, domain: str) -> pa.Array:
    """HMAC of each distinct value once (names and dates repeat), mapped back to every row; nulls stay null."""
    arr = values.cast(pa.string())
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), pa.string())
    enc = pc.dictionary_encode(arr).combine_chunks() if isinstance(arr, pa.ChunkedArray) else pc.dictionary_encode(arr)
    prefix = f"{domain}\x1f".encode()
    digests = [hmac.new(secret, prefix + v.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_HEX]
               for v in enc.dictionary.to_pylist()]
    return pc.take(pa.array(digests, pa.string()), enc.indices)


def hash_standardised(std: pa.Table, roles: list[str], secret: bytes, *, bloom_filters: bool = True) -> pa.Table:
    """Hash a table of standard columns (from :func:`.standardise.standardise`): the shareable table."""
    n = std.num_rows
    cols: dict[str, pa.Array] = {"unique_id": std.column("unique_id").combine_chunks()}
    fn = std.column("forename")
    derived = {
        "forename_prefix": pc.utf8_slice_codeunits(fn, 0, 3),
        # a forename given as an initial only, and every forename's initial (compared with each other)
        "forename_initial": pc.if_else(pc.equal(pc.utf8_length(fn), 1), fn, pa.scalar(None, pa.string())),
        "forename_letter": pc.utf8_slice_codeunits(fn, 0, 1),
        # decade of birth, and decade of birth + 5 years: years under 5 apart share at least one of the two,
        # years 10 or more apart share neither (the generation level, without revealing the year difference)
        "dob_decade": pc.divide(std.column("dob_year"), 10),
        "dob_decade_shifted": pc.divide(pc.add(std.column("dob_year"), 5), 10),
        "surname_prefix": pc.utf8_slice_codeunits(std.column("surname_nospace"), 0, 4),
    }
    for col, (domain, role) in HASHED_COLUMNS.items():
        if role not in roles:
            continue
        src = derived[col] if col in derived else std.column(col)
        if isinstance(src, pa.ChunkedArray):
            src = src.combine_chunks()
        cols[col] = _hmac_array(src, secret, domain)
    if bloom_filters:
        encoder = bloom.BloomEncoder(secret)
        for name, source in BLOOM_NAMES.items():
            role = "forename" if name == "forename" else "surname"
            if role not in roles:
                continue
            values = std.column(source).to_pylist()
            blocks, counts, valid = encoder.encode(values)
            for i, bc in enumerate(bloom.block_columns(name)):
                cols[bc] = pa.array(blocks[:, i], pa.int64(), mask=~valid)
            cols[bloom.count_column(name)] = pa.array(counts, pa.int64(), mask=~valid)
    table = pa.table(cols)
    assert table.num_rows == n
    return table


def hash_file(config: LinkConfig | str | os.PathLike, out_file: str | os.PathLike, *, overwrite: bool = False,
              side: str = "left", progress=None) -> dict[str, Any]:
    """``bold link hash``: standardise, derive and hash one side's file into a shareable Parquet file.

    Nothing is written unless the whole file was hashed (and never without the secret).
    """
    say = progress or (lambda _m: None)
    cfg = config if isinstance(config, LinkConfig) else load_config(config)
    if cfg.mode != "clear":
        raise InputError("`bold link hash` reads clear identifiers: its config must not say mode: hashed",
                         hint="give the partner's own file with `columns`, as for clear-text linkage")
    sc = cfg.left if side == "left" else cfg.right
    if sc is None:
        raise InputError(f"the config has no `{side}` file", hint="hash the left file, or add the right one")
    secret = linkage_secret(cfg.secret_env)
    out = Path(out_file)
    if out.exists() and not overwrite:
        raise InputError(f"output file {out} already exists", hint="pass --overwrite or choose another name")
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise InputError(f"hashed output {out.name} must be a .parquet file", hint="name the output FILE.parquet")
    from .run import _check_ids, _check_roles_have_values, read_file

    con = duckdb.connect()
    try:
        label = f"file {sc.path.name}"
        say(f"reading {sc.path.name}")
        read_file(con, sc.path, "__raw", label=label)
        n = _check_ids(con, "__raw", sc.id_column, label)
        say(f"standardising {n:,} records")
        standardise(con, "__raw", id_column=sc.id_column, columns=sc.columns, out="__std", options=sc.options(),
                    label=label)
        _check_roles_have_values(con, "__std", sc, label)
        std = con.sql("select * from __std").to_arrow_table()
    finally:
        con.close()
    roles = list(sc.columns)
    say("hashing identifiers and comparison keys")
    table = hash_standardised(std, roles, secret, bloom_filters=cfg.bloom_filters)
    meta = {"version": FORMAT_VERSION, "roles": roles, "key_check": key_check(secret),
            "bloom_filters": bool(cfg.bloom_filters), "records": n, "dataset": sc.name,
            "hash": f"HMAC-SHA256/{HASH_HEX * 4} bits", "bloom": {"bits": bloom.CLK_BITS, "hashes": bloom.CLK_HASHES}}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    with atomic_path(out, overwrite=overwrite) as tmp:
        pq.write_table(table, tmp)
    return {**meta, "path": str(out), "columns": table.column_names}


def read_hashed_metadata(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InputError(f"hashed file {path} not found", hint="check `path` in the config")
    try:
        md = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{path} is not a readable Parquet file: {e}", hint="give a file written by "
                         "`bold link hash`") from e
    if METADATA_KEY not in md:
        raise InputError(f"{path} was not written by `bold link hash`",
                         hint="with mode: hashed, give files written by `bold link hash` (or use mode: clear)")
    return json.loads(md[METADATA_KEY])


def load_hashed_inputs(con: duckdb.DuckDBPyConnection, cfg: LinkConfig) -> tuple[list[str], list[list[str]]]:
    """Load the hashed files of a ``mode: hashed`` config; they must share a secret. Returns (tables, roles)."""
    tables, roles, checks = [], [], set()
    for i, side in enumerate(cfg.sides):
        meta = read_hashed_metadata(side.path)
        checks.add(meta["key_check"])
        t = f"__raw_{i}"
        con.execute(f"create or replace table {t} as select * from read_parquet({sql_literal(side.path)})")
        tables.append(t)
        roles.append(list(meta["roles"]))
    if len(checks) > 1:
        raise InputError("the hashed files were made with different secrets, so nothing would match",
                         hint="ask every partner to hash with the same shared secret")
    return tables, roles
