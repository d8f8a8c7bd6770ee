"""Identifiers on each person record, with realistic error (all vectorised over records).

From the true person and the day a record describes: the name in use then (maiden name before a marriage), the
address then (sometimes the previous one: a stale address), and recording error at the rates of the source group's
quality profile (``SynthParams.identifier_quality``): nicknames, initials, typos (substitution, deletion,
transposition, doubled letter), day/month transposition and other date-of-birth errors, missing values, unknown or
wrong sex. Hard cases come from the population itself: twins (same date of birth, surname and address) and juniors
(same forename and surname as the father, at the same address).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..datafirst import Table
from ..datafirst import codes as K
from .common import NA, Frame, date_array, day, rng_for
from .params import SynthParams
from .population import GROUPS, Population

_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_INWARD = np.frombuffer(b"ABDEFGHJLNPQRSTUWXYZ", dtype=np.uint8)


def to_matrix(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """ASCII strings as a (rows x width) byte matrix and their lengths (nulls become empty)."""
    arr = pc.fill_null(arr, "").cast(pa.binary())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(1, np.uint8)
    start = offsets[:-1].astype(np.int64)
    length = np.minimum(offsets[1:] - offsets[:-1], width).astype(np.int64)
    j = np.arange(width)
    idx = np.clip(start[:, None] + j[None, :], 0, max(len(data) - 1, 0))
    mat = np.where(j[None, :] < length[:, None], data[idx], 0).astype(np.uint8)
    return mat, length


def from_matrix(mat: np.ndarray) -> pa.Array:
    mat = np.ascontiguousarray(mat)
    return pa.array(mat.view(f"S{mat.shape[1]}").ravel()).cast(pa.string())


def typos(arr: pa.Array, rng: np.random.Generator) -> pa.Array:
    """One keying error per string: substitution, deletion, transposition or a doubled letter (not the first)."""
    if len(arr) == 0:
        return arr
    width = 32
    mat, length = to_matrix(arr, width - 1)
    n = len(length)
    op = rng.integers(0, 4, n)
    k = 1 + (rng.random(n) * np.maximum(length - 1, 1)).astype(np.int64)
    k = np.minimum(k, np.maximum(length - 1, 0))
    j = np.arange(width)[None, :]
    kk = k[:, None]
    src = np.broadcast_to(j, (n, width)).copy()
    dele = (op == 1)[:, None] & (j >= kk)
    src = np.where(dele, j + 1, src)
    swap = (op == 2)[:, None] & (length[:, None] > kk + 1)
    src = np.where(swap & (j == kk), kk + 1, src)
    src = np.where(swap & (j == kk + 1), kk, src)
    dup = (op == 3)[:, None] & (j > kk)
    src = np.where(dup, j - 1, src)
    padded = np.concatenate([mat, np.zeros((n, 1), np.uint8)], axis=1)
    out = np.take_along_axis(padded, np.clip(src, 0, width - 1), axis=1)
    sub = (op == 0) & (length > 1)
    letter = _LETTERS[rng.integers(0, 26, n)]
    upper = (out[np.arange(n), k] >= ord("A")) & (out[np.arange(n), k] <= ord("Z"))
    letter = np.where(upper, letter - 32, letter)
    out[sub, k[sub]] = letter[sub]
    newlen = np.where(op == 1, np.maximum(length - 1, 1), np.where(op == 3, length + 1, length))
    out = np.where(j < newlen[:, None], out, 0).astype(np.uint8)
    return from_matrix(out)


def _with_typos(arr: pa.Array, p: float, rng: np.random.Generator) -> pa.Array:
    sel = np.flatnonzero(rng.random(len(arr)) < p)
    if len(sel) == 0:
        return arr
    changed = typos(arr.take(pa.array(sel)), rng)
    mask = np.zeros(len(arr), dtype=bool)
    mask[sel] = True
    return pc.replace_with_mask(arr, pa.array(mask), changed)


def _null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return arr
    return pc.if_else(pa.array(mask), pa.nulls(len(arr), arr.type), arr)


def _dob(pop: Population, person: np.ndarray, q: dict, rng: np.random.Generator) -> np.ndarray:
    dob = pop.dob[person].astype("datetime64[D]")
    y = dob.astype("datetime64[Y]")
    mth = dob.astype("datetime64[M]")
    month = (mth - y.astype("datetime64[M]")).astype(np.int64) + 1
    dd = (dob - mth.astype("datetime64[D]")).astype(np.int64) + 1
    n = len(person)
    out = pop.dob[person].astype(np.int64).copy()
    u = rng.random(n)
    tr = (u < q["dob_transposed"]) & (dd <= 12) & (dd != month)
    swapped = (y.astype("datetime64[M]") + (dd - 1)).astype("datetime64[D]") + (month - 1)
    out[tr] = swapped[tr].astype(np.int64)
    de = (u >= q["dob_transposed"]) & (u < q["dob_transposed"] + q["dob_day_error"])
    out[de] += rng.choice(np.array([-2, -1, 1, 2]), int(de.sum()))
    lo = q["dob_transposed"] + q["dob_day_error"]
    ye = (u >= lo) & (u < lo + q["dob_year_error"])
    out[ye] += np.where(rng.random(int(ye.sum())) < 0.7, rng.choice(np.array([-365, 365]), int(ye.sum())),
                        rng.choice(np.array([-3652, 3652]), int(ye.sum())))
    out[rng.random(n) < q["dob_missing"]] = NA
    return out.astype(np.int32)


def person_columns(pop: Population, frame: Frame, table: Table, P: SynthParams, seed: int) -> dict[str, pa.Array]:
    """The demographic and identifier columns of a person table that the frame does not already hold."""
    rng = rng_for(seed, f"identifiers-{table.name}")
    q = P.identifier_quality[frame.group]
    person = frame.person
    n = len(person)
    when = np.where(frame.when == NA, day(P.start), frame.when).astype(np.int32)
    want = [c for c in table.columns if c.name not in frame.columns]
    out: dict[str, pa.Array] = {}
    names = pop.names
    non_person = frame.non_person if frame.non_person is not None else np.zeros(n, dtype=bool)

    slot = pop.slot_at(person, when)
    stale = (rng.random(n) < q["postcode_stale"]) & (slot > 0)
    rslot = (slot - stale).astype(np.int8)
    lsoa = pop.addr_lsoa[pop.household[person], rslot]

    for c in want:
        name = c.name
        if c.role == "sex":
            sex = np.where(pop.male[person], 0, 1)
            err = rng.random(n) < q["sex_error"]
            sex = np.where(err, 1 - sex, sex)
            sex = np.where(rng.random(n) < q["sex_unknown"], 2, sex)
            arr = pa.DictionaryArray.from_arrays(pa.array(sex.astype(np.int32)),
                                                 pa.array(list(K.SEX.values))).cast(pa.string())
            out[name] = _null_where(arr, non_person)
        elif name == "ethnicity_desc":
            eth = pop.ethnicity[person].astype(np.int32)
            u = rng.random(n)
            miss = u < q["ethnicity_missing"]
            eth = np.where(miss & (u < q["ethnicity_missing"] * 0.4), 18, eth)  # Refusal
            eth = np.where(miss & (u >= q["ethnicity_missing"] * 0.4) & (u < q["ethnicity_missing"] * 0.5), 19, eth)
            arr = pa.DictionaryArray.from_arrays(pa.array(eth), pa.array(list(K.ETHNICITY_DESC.values))).cast(
                pa.string())
            out[name] = _null_where(arr, miss & (u >= q["ethnicity_missing"] * 0.5))
        elif name == "ethnic_group":
            g = pop.group[person].astype(np.int32)
            g = np.where(rng.random(n) < q["ethnicity_missing"], 5, g)
            out[name] = pa.DictionaryArray.from_arrays(pa.array(g), pa.array(list(GROUPS) + ["Unknown"])).cast(
                pa.string())
        elif name == "lsoa_residence":
            arr = pop.geo.lsoa_code.take(pa.array(lsoa))
            out[name] = _null_where(arr, non_person | (rng.random(n) < q["postcode_missing"] * 0.5))
        elif c.role == "forename":
            fore = pop.forename[person].copy()
            nick = rng.random(n) < q["forename_nickname"]
            fore[nick] = names.nickname_of(rng, fore[nick])
            arr = names.vocab.take(pa.array(fore))
            arr = _with_typos(arr, q["forename_typo"], rng)
            init = rng.random(n) < q["forename_initial"]
            if init.any():
                arr = pc.if_else(pa.array(init), pc.utf8_slice_codeunits(arr, 0, 1), arr)
            if frame.group == "civil":
                arr = pc.utf8_upper(arr)
            out[name] = _null_where(arr, non_person | (rng.random(n) < q["forename_missing"]))
        elif c.role == "middle_names":
            mid = pop.middle[person]
            has = mid >= 0
            arr = names.vocab.take(pa.array(np.where(has, mid, 0)))
            if frame.group == "civil":
                arr = pc.utf8_upper(arr)
            out[name] = _null_where(arr, non_person | ~has | (rng.random(n) < q["middle_missing"]))
        elif c.role == "surname":
            sur = pop.surname[person].copy()
            maiden = pop.maiden[person]
            md = pop.marriage_day[person]
            has_m = maiden >= 0
            before = has_m & (when < md)
            old_after = has_m & ~before & (rng.random(n) < q["surname_old"])
            use_m = before | old_after
            sur[use_m] = maiden[use_m]
            arr = names.vocab.take(pa.array(sur))
            arr = _with_typos(arr, q["surname_typo"], rng)
            if frame.group == "civil":
                arr = pc.utf8_upper(arr)
            if "company_name" in frame.columns:
                arr = pc.if_else(pa.array(non_person), frame.columns["company_name"], arr)
            out[name] = _null_where(arr, ~non_person & (rng.random(n) < q["surname_missing"]))
        elif c.role == "date_of_birth":
            d = _dob(pop, person, q, rng)
            d[non_person] = NA
            out[name] = date_array(d)
        elif c.role == "postcode":
            outward, inward = pop.postcodes(person, rslot)
            ty = rng.random(n) < q["postcode_typo"]
            if ty.any():
                pos = rng.integers(1, 3, n)
                r = np.flatnonzero(ty)
                inward[r, pos[r]] = _INWARD[rng.integers(0, len(_INWARD), len(r))]
            inw = from_matrix(inward)
            arr = pc.binary_join_element_wise(outward, inw, " ")
            out[name] = _null_where(arr, non_person | (rng.random(n) < q["postcode_missing"]))
        else:
            raise KeyError(f"the generator produces no values for {table.name}.{name}")
    return out
