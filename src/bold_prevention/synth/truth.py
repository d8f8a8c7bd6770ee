"""The truth tables, written apart from the extracts and read only by evaluation code.

* ``truth_person``: each person's demographics, first home (LSOA, local authority, IMD decile), latent needs
  (``need_<d>`` flag and ``need_<d>_score``) and twin status;
* ``truth_record``: every person record of every person table -> its true person;
* ``truth_outcomes``: true probabilities and realised outcomes of the use cases
  (``reoffending_12m_after_release``, ``possession_12m_after_claim``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .common import date_array, numbered_ids
from .params import NEEDS
from .population import GROUPS, Population

USE_CASES = ("reoffending_12m_after_release", "possession_12m_after_claim")


def person_ids(pop: Population) -> pa.Array:
    width = max(8, len(str(pop.n)))
    return numbered_ids(np.arange(pop.n), "P", width)


def truth_person(pop: Population, ids: pa.Array) -> pa.Table:
    home = pop.addr_lsoa[pop.household, 0]
    g = pop.geo
    cols: dict[str, pa.Array] = {
        "person_id": ids,
        "sex": pa.DictionaryArray.from_arrays(pa.array(np.where(pop.male, 0, 1).astype(np.int32)),
                                              pa.array(["M", "F"])).cast(pa.string()),
        "date_of_birth": date_array(pop.dob),
        "ethnic_group": pa.DictionaryArray.from_arrays(pa.array(pop.group.astype(np.int32)),
                                                       pa.array(list(GROUPS))).cast(pa.string()),
        "lsoa11_code": g.lsoa_code.take(pa.array(home)),
        "lad_code": g.lad_code.take(pa.array(g.lad_index[home])),
        "imd_decile": pa.array(g.imd_decile[home].astype(np.int64)),
    }
    for i, d in enumerate(NEEDS):
        cols[f"need_{d}"] = pa.array(pop.need[:, i])
        cols[f"need_{d}_score"] = pa.array(np.round(pop.score[:, i].astype(np.float64), 6))
    twin = pop.twin_of >= 0
    cols["is_twin"] = pa.array(twin)
    cols["twin_of"] = pc.if_else(pa.array(twin), ids.take(pa.array(np.where(twin, pop.twin_of, 0))),
                                 pa.nulls(pop.n, pa.string()))
    return pa.table(cols)


def truth_record(parts: list[tuple[str, pa.Array, np.ndarray]], ids: pa.Array) -> pa.Table:
    """``parts``: (table name, record id strings, true person index) per person table."""
    recs = [p[1] for p in parts]
    persons = [p[2] for p in parts]
    names = [p[0] for p in parts]
    tab = pa.concat_arrays([pa.DictionaryArray.from_arrays(pa.array(np.full(len(p[1]), i, np.int32)),
                                                           pa.array(names)).cast(pa.string())
                            for i, p in enumerate(parts)]) if parts else pa.array([], pa.string())
    rec = pa.concat_arrays(recs) if recs else pa.array([], pa.string())
    per = np.concatenate(persons) if persons else np.zeros(0, np.int64)
    return pa.table({"table": tab, "record_id": rec, "person_id": ids.take(pa.array(per))})


def truth_outcomes(parts: list[tuple[str, str, pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                   ids: pa.Array) -> pa.Table:
    """``parts``: (use case, table, record ids, person index, t0 day, probability, outcome)."""
    cols: dict[str, list] = {k: [] for k in ("use_case", "table", "record_id", "person_id", "t0", "probability",
                                             "outcome")}
    for use_case, table, rec, person, t0, prob, outcome in parts:
        n = len(rec)
        cols["use_case"].append(pa.array([use_case] * 1, pa.string()).take(pa.array(np.zeros(n, np.int32))))
        cols["table"].append(pa.array([table], pa.string()).take(pa.array(np.zeros(n, np.int32))))
        cols["record_id"].append(rec)
        cols["person_id"].append(ids.take(pa.array(person)))
        cols["t0"].append(date_array(t0))
        cols["probability"].append(pa.array(np.round(np.asarray(prob, dtype=np.float64), 6)))
        cols["outcome"].append(pa.array(np.asarray(outcome, dtype=bool)))
    return pa.table({k: pa.concat_arrays(v) for k, v in cols.items()})
