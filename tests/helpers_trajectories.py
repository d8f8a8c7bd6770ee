"""Small hand-built warehouses for the timeline, pathway and early-warning tests.

``Warehouse`` creates ``extract.<table>`` tables with exactly the model's analysis columns (plus ``snapshot_date``)
and a ``spine.person_record`` table as the spine layer writes it, so the code under test reads the same shapes it
reads in a project. ``ew_world`` builds a population with known true outcome probabilities for the two shipped
early-warning use cases (release from prison -> new offence; first possession claim -> repossession).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from bold_prevention.datafirst import MODEL, arrow_schema

SNAPSHOT = date(2025, 3, 31)
#: The extracts of the early-warning world end here: later events are not in the data.
DATA_END = date(2024, 12, 31)
XJS_SOURCE = {t.name: t.xjs_source for t in MODEL.xjs_tables()}


class Warehouse:
    """An in-memory warehouse with the project's schemas."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        for s in ("extract", "linkage", "spine", "results", "meta", "catalogue"):
            self.con.execute(f"create schema {s}")

    def extract(self, name: str, rows: list[dict] | pd.DataFrame) -> None:
        """Create ``extract.<name>`` holding ``rows`` (missing columns are null)."""
        schema = arrow_schema(name, analysis_only=True)
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        data = {}
        for f in schema:
            vals = df[f.name].tolist() if f.name in df.columns else [None] * len(df)
            vals = [None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT) else v
                    for v in vals]
            if pa.types.is_date(f.type):
                vals = [v.date() if isinstance(v, pd.Timestamp) else v for v in vals]
            data[f.name] = pa.array(vals, type=f.type)
        data["snapshot_date"] = pa.array([SNAPSHOT] * len(df), type=pa.date32())
        tbl = pa.table(data)  # noqa: F841  (read by DuckDB below)
        self.con.execute(f"create or replace table extract.{name} as select * from tbl")

    def person_records(self, rows: list[dict] | pd.DataFrame, band: str = "medium") -> None:
        """Create ``spine.person_record`` (person_id, source_dataset, source_table, record_id, ...)."""
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        df = df.copy()
        if "source_dataset" not in df:
            df["source_dataset"] = df["source_table"].map(lambda t: XJS_SOURCE.get(t, MODEL.table(t).dataset))
        df["match_score"] = df["match_score"].fillna(0.99) if "match_score" in df else 0.99
        df["band_joined"] = df["band_joined"].fillna("high") if "band_joined" in df else "high"
        df["band"] = band
        df["person_record_id"] = (df["person_record_id"].fillna(df["record_id"]) if "person_record_id" in df
                                  else df["record_id"])
        df = df[["person_id", "source_dataset", "source_table", "record_id", "match_score", "band_joined", "band",
                 "person_record_id"]]
        self.con.register("_pr", df)
        self.con.execute("create or replace table spine.person_record as select * from _pr")
        self.con.unregister("_pr")


# ------------------------------------------------------------------------------------------- early-warning world
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class World:
    """A built warehouse plus the truth about it."""

    wh: Warehouse
    truth_outcomes: pd.DataFrame
    persons: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def ew_world(n: int = 3000, seed: int = 1, *, false_merge_rate: float = 0.0) -> World:
    """A population with prison releases and possession claims whose outcomes follow known probabilities.

    Reoffending after release depends on age, sex, the number of earlier court cases, time since the last case and
    OASys drug and accommodation needs; repossession after a first claim depends on arrears, claim type and OASys
    accommodation and finance needs. Every record is linked (XJS clusters equal the true person at the high and
    medium bands; at the low band ``false_merge_rate`` of persons are merged with another person).
    """
    rng = np.random.default_rng(seed)
    pid = np.array([f"P{i:06d}" for i in range(n)])
    sex = np.where(rng.random(n) < 0.8, "M", "F")
    birth = np.array([date(1960, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365 * 40, n)])
    drugs = rng.random(n) < 0.4
    accom = rng.random(n) < 0.3
    finance = rng.random(n) < 0.35
    ethn = rng.choice(["White: British/English/Welsh/Scottish/Northern Irish", "Black or Black British: African",
                       "Asian or Asian British: Indian", "Mixed: White and Asian"], n, p=[0.7, 0.12, 0.12, 0.06])
    persons = pd.DataFrame({"person": pid, "sex": sex, "birth": birth, "drugs": drugs, "accom": accom,
                            "finance": finance, "ethnicity_desc": ethn})

    mags, prison, oasys_meta, oasys_core, civil_cases, civil_parties, civil_events, truth = ([] for _ in range(8))
    recs: list[dict] = []
    uid = iter(range(10**9))

    def rid(prefix):
        return f"{prefix}{next(uid):08d}"

    for i in range(n):
        p = pid[i]
        # ----------------------------------------------------------------- custody journey and its history
        if rng.random() < 0.6:
            release = date(2014, 1, 1) + timedelta(days=int(rng.integers(0, 3900)))
            reception = release - timedelta(days=int(rng.integers(30, 700)))
            age = (release - birth[i]).days / 365.25
            n_prior = int(rng.poisson(1.0 + 2.5 * drugs[i] + 1.0 * (age < 30)))
            last_gap = int(rng.integers(30, 2000))
            prior_dates = sorted(reception - timedelta(days=last_gap + int(rng.integers(0, 3000)))
                                 for _ in range(max(n_prior - 1, 0)))
            prior_dates += [reception - timedelta(days=last_gap)] if n_prior else []
            for d in prior_dates:
                r = rid("M")
                mags.append({"row_id_hash": r, "case_id_hash": rid("C"), "defendant_id_hash": rid("D"),
                             "main_offence_date": d - timedelta(days=20), "first_hearing_date": d,
                             "final_result_date": d + timedelta(days=10), "offence_group": "04",
                             "outcome": "CONV", "sentence": "FINE", "age_at_offence": int((d - birth[i]).days / 365.25),
                             "gender": sex[i], "ethnicity_desc": ethn[i]})
                recs.append({"person": p, "source_table": "mags_defendant_case", "record_id": r})
            jr = rid("J")
            prison.append({"row_id_hash": jr, "reception_date": reception, "admission_reason": "SENTENCE",
                           "sentence_date": reception, "sentence_length_days": 365,
                           "main_offence_group": rng.choice(["01", "04", "06"]), "release_date": release,
                           "release_reason": "CRD", "age_at_reception": int((reception - birth[i]).days / 365.25),
                           "gender": sex[i], "ethnicity_desc": ethn[i]})
            recs.append({"person": p, "source_table": "prison_custodial_journey", "record_id": jr})
            if rng.random() < 0.85:
                ar = rid("A")
                oasys_meta.append({"row_id_hash": ar, "assessment_date": reception + timedelta(days=20),
                                   "assessment_type": "LAYER_3", "assessment_context": "CUS",
                                   "gender": sex[i], "ethnicity_desc": ethn[i]})
                oasys_core.append({"row_id_hash": ar,
                                   "question_8_tot": int(rng.integers(4, 11) if drugs[i] else rng.integers(0, 3)),
                                   "question_3_tot": int(rng.integers(3, 9) if accom[i] else rng.integers(0, 2)),
                                   "question_5_tot": int(rng.integers(4, 10) if finance[i] else rng.integers(0, 3)),
                                   "question_1_10": n_prior})
                recs.append({"person": p, "source_table": "oasys_assessments_metadata", "record_id": ar})
            gap_years = last_gap / 365.25
            lin = (-1.4 + 0.9 * (age < 25) + 0.4 * (age < 35) - 0.5 * (age > 50) + 0.35 * (sex[i] == "M")
                   + 0.55 * np.log1p(n_prior) + 0.9 * drugs[i] + 0.6 * accom[i] - 0.35 * min(gap_years, 4))
            prob = float(_sigmoid(lin))
            y = bool(rng.random() < prob)
            truth.append({"use_case": "reoffending_12m_after_release", "table": "prison_custodial_journey",
                          "record_id": jr, "person_id": p, "t0": release, "probability": prob, "outcome": y})
            if y:
                d = release + timedelta(days=int(rng.integers(1, 365)))
            elif rng.random() < 0.5:
                d = release + timedelta(days=int(rng.integers(380, 1500)))
            else:
                d = None
            if d is not None:
                r = rid("M")
                mags.append({"row_id_hash": r, "case_id_hash": rid("C"), "defendant_id_hash": rid("D"),
                             "main_offence_date": d, "first_hearing_date": d + timedelta(days=25),
                             "final_result_date": d + timedelta(days=40), "offence_group": "04",
                             "outcome": "CONV", "sentence": "CO", "age_at_offence": int((d - birth[i]).days / 365.25),
                             "gender": sex[i], "ethnicity_desc": ethn[i]})
                recs.append({"person": p, "source_table": "mags_defendant_case", "record_id": r})
        # ----------------------------------------------------------------- possession claim
        if rng.random() < 0.35:
            claim = date(2013, 6, 1) + timedelta(days=int(rng.integers(0, 365 * 10)))
            ctype = rng.choice(["PSL", "PPL", "PMO"], p=[0.5, 0.35, 0.15])
            arrears = float(np.round(rng.lognormal(7.2 + 0.5 * finance[i] + 0.3 * accom[i], 0.7), 2))
            case = rid("K")
            civil_cases.append({"case_number_hash": case, "claim_type": ctype, "issue_date": claim,
                                "online_claim": True, "arrears_amount": arrears})
            for role, is_co in (("CLMT", True), ("DEFT", False)):
                r = rid("Q")
                civil_parties.append({"row_id_hash": r, "case_number_hash": case, "party_role": role,
                                      "is_company": is_co, "gender": sex[i] if role == "DEFT" else None})
                if role == "DEFT":
                    recs.append({"person": p, "source_table": "civil_parties", "record_id": r})
                    deft = r
            lin = (-1.6 + 0.9 * (np.log(arrears) - 7.4) + 0.7 * (ctype == "PPL") + 0.4 * (ctype == "PMO")
                   + 0.8 * accom[i] + 0.5 * finance[i])
            prob = float(_sigmoid(lin))
            y = bool(rng.random() < prob)
            truth.append({"use_case": "possession_12m_after_claim", "table": "civil_parties", "record_id": deft,
                          "person_id": p, "t0": claim, "probability": prob, "outcome": y})
            civil_events.append({"event_id_hash": rid("E"), "case_number_hash": case, "event_type": "CLAIM",
                                 "event_date": claim})
            if y or rng.random() < 0.5:
                o = claim + timedelta(days=int(rng.integers(30, 120)))
                civil_events.append({"event_id_hash": rid("E"), "case_number_hash": case,
                                     "event_type": "ORDER_OUTRIGHT" if y else "ORDER_SUSPENDED", "event_date": o})
                if y:
                    w = o + timedelta(days=int(rng.integers(20, 120)))
                    civil_events.append({"event_id_hash": rid("E"), "case_number_hash": case, "event_type": "WARRANT",
                                         "event_date": w})
                    civil_events.append({"event_id_hash": rid("E"), "case_number_hash": case,
                                         "event_type": "REPOSSESSION",
                                         "event_date": min(w + timedelta(days=30), claim + timedelta(days=360))})

    wh = Warehouse()
    tables = {
        "mags_defendant_case": pd.DataFrame(mags), "prison_custodial_journey": pd.DataFrame(prison),
        "oasys_assessments_metadata": pd.DataFrame(oasys_meta),
        "oasys_assessments_details_core_risk": pd.DataFrame(oasys_core),
        "civil_cases": pd.DataFrame(civil_cases), "civil_parties": pd.DataFrame(civil_parties),
        "civil_events": pd.DataFrame(civil_events),
    }
    for name, df in tables.items():
        for c in [c for c in df.columns if c.endswith("_date")]:
            df = df[df[c].isna() | (df[c] <= DATA_END)] if c in ("main_offence_date", "event_date",
                                                                  "release_date") else df
        tables[name] = df
        wh.extract(name, df)
    rec = pd.DataFrame(recs)
    # XJS: clusters at three bands; the low band merges some persons with a neighbour (false merges)
    merge = rng.random(n) < false_merge_rate
    low_of = {p: (pid[i - 1] if (merge[i] and i > 0) else p) for i, p in enumerate(pid)}
    xjs = pd.DataFrame({
        "source_dataset": rec["source_table"].map(XJS_SOURCE), "row_id_hash": rec["record_id"],
        "estimated_xjs_id": "X" + rec["person"], "match_score": 0.98,
        "cluster_high": "H" + rec["person"], "cluster_medium": "X" + rec["person"],
        "cluster_low": "L" + rec["person"].map(low_of)})
    wh.extract("xjs_link", xjs)
    tables["xjs_link"] = xjs
    wh.person_records(pd.DataFrame({"person_id": "X" + rec["person"], "source_table": rec["source_table"],
                                    "record_id": rec["record_id"]}))
    return World(wh=wh, truth_outcomes=pd.DataFrame(truth), persons=persons, tables=tables)
