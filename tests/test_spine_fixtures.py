"""A small hand-made warehouse (a few persons with known answers) and a register rules fixture for spine tests.

Imported by the spine, cohort and deprivation tests; it holds no tests itself.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from bold_prevention.datafirst import MODEL, arrow_schema
from bold_prevention.warehouse.engine import SCHEMAS

AS_AT = date(2023, 12, 31)
SNAP = date(2024, 6, 30)


def _table(name: str, rows: list[dict]) -> pa.Table:
    schema = arrow_schema(name, analysis_only=True)
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    t = pa.table(cols, schema=schema)
    return t.append_column("snapshot_date", pa.array([SNAP] * len(rows), type=pa.date32()))


def create_extracts(con, data: dict[str, list[dict]], *, all_tables: bool = True) -> None:
    """Create ``extract.<table>`` for every model table (empty unless ``data`` has rows for it)."""
    for s in SCHEMAS:
        con.execute(f"create schema if not exists {s}")
    names = MODEL.table_names if all_tables else tuple(data)
    for name in names:
        t = _table(name, data.get(name, []))
        con.register("_fixture", t)
        con.execute(f"create or replace table extract.{name} as select * from _fixture")
        con.unregister("_fixture")


def d(s: str) -> date:
    return date.fromisoformat(s)


def xjs(ds: str, rid: str, high: str, medium: str, low: str, score: float = 0.99) -> dict:
    return {"source_dataset": ds, "row_id_hash": rid, "estimated_xjs_id": medium, "match_score": score,
            "cluster_high": high, "cluster_medium": medium, "cluster_low": low}


WHITE = "White: British/English/Welsh/Scottish/Northern Irish"
BLACK = "Black or Black British: Caribbean"


def mini_data() -> dict[str, list[dict]]:
    """Six persons (A-F) at the medium band; see the comments for what each tests."""
    data: dict[str, list[dict]] = {}
    add = lambda t, **r: data.setdefault(t, []).append(r)  # noqa: E731

    # A: male, White, 30 at a 2023-05-01 offence; latest LSOA E01000001 (City of London, IoD2019 decile 9)
    add("mags_defendant_case", row_id_hash="mA1", case_id_hash="cA1", defendant_id_hash="dA1",
        main_offence_date=d("2023-05-01"), first_hearing_date=d("2023-06-01"), outcome="CONV",
        age_at_offence=30, gender="M", ethnicity_desc=WHITE, lsoa_residence="E01000001")
    add("mags_defendant_offence", offence_id_hash="oA1", row_id_hash="mA1", offence_seq=1,
        offence_date=d("2023-05-01"), offence_group="04")
    add("prison_custodial_journey", row_id_hash="pA1", reception_date=d("2022-01-01"),
        release_date=d("2023-03-01"), age_at_reception=28, gender="M", ethnicity_desc=WHITE,
        lsoa_residence="E01000002")
    add("oasys_assessments_metadata", row_id_hash="oaA1", assessment_date=d("2023-02-01"), gender="M",
        ethnicity_desc=WHITE)
    add("oasys_assessments_details_core_risk", row_id_hash="oaA1", question_3_3="YES",
        question_8_4="2", question_10_6="0", question_6_7_da_victim="NO")
    # an assessment after the as-at date: ignored
    add("oasys_assessments_metadata", row_id_hash="oaA2", assessment_date=d("2024-03-01"), gender="M")
    add("oasys_assessments_details_core_risk", row_id_hash="oaA2", question_3_3="NO",
        question_8_4="0", question_10_6="2")
    add("civil_parties", row_id_hash="cvA1", case_number_hash="C1", party_role="DEFT", gender="M")
    add("civil_parties", row_id_hash="cvL1", case_number_hash="C1", party_role="CLMT", is_company=True)
    add("civil_cases", case_number_hash="C1", claim_type="PSL", issue_date=d("2023-09-01"))
    for eid, et, dt in (("e1", "CLAIM", "2023-09-01"), ("e2", "ORDER_OUTRIGHT", "2023-10-01"),
                        ("e3", "WARRANT", "2023-11-15"), ("e4", "REPOSSESSION", "2024-01-10")):
        add("civil_events", event_id_hash=eid, case_number_hash="C1", event_type=et, event_date=d(dt))

    # B: one medium cluster M2 over three high clusters (H2 with two records, H3, H4)
    for rid, dt in (("mB1", "2021-01-10"), ("mB2", "2021-06-10"), ("mB3", "2022-02-10"), ("mB4", "2019-02-10")):
        add("mags_defendant_case", row_id_hash=rid, case_id_hash="c" + rid, defendant_id_hash="d" + rid,
            first_hearing_date=d(dt), main_offence_date=d(dt), age_at_offence=20, gender="F",
            ethnicity_desc=BLACK if rid != "mB4" else "Refusal", lsoa_residence="W01000001")
    add("moj_probation_flatfile", row_id_hash="prB1", event_id_hash="evB1", referral_date=d("2022-03-01"),
        gender="F", ethnicity_desc=BLACK)
    add("moj_probation_rqmnts", rqmnt_id_hash="rqB1", event_id_hash="evB1", rqmnt_type_main_category_code="MH",
        rqmnt_start_date=d("2022-03-02"))

    # C and D: two medium clusters that one low cluster joins
    add("crown_defendant_case", row_id_hash="crC1", defendant_on_case_id_hash="x", receipt_date=d("2020-01-01"),
        age_at_offence=40, gender="M", lsoa_residence="E01000003")
    add("crown_defendant_case", row_id_hash="crC2", defendant_on_case_id_hash="y", receipt_date=d("2020-02-01"),
        age_at_offence=40, gender="M")
    add("crown_defendant_case", row_id_hash="crD1", defendant_on_case_id_hash="z", receipt_date=d("2018-01-01"),
        age_at_offence=50, gender="M")

    # E: female respondent in a Family Law Act case with harm alleged, and a child in a public law case
    add("family_parties", row_id_hash="fE1", case_number_hash="F1", role_model="RSPZ", gender="F",
        lsoa_residence="E01000005")
    add("family_parties", row_id_hash="fX1", case_number_hash="F1", role_model="APLZ", gender="M")
    add("family_cases", case_number_hash="F1", case_type="FLA", receipt_date=d("2023-04-01"), harm_alleged=True)
    add("family_events", event_id_hash="fev1", case_number_hash="F1", event_model="FL401",
        event_date=d("2023-04-01"))
    add("family_parties", row_id_hash="fE2", case_number_hash="F2", role_model="CHLDC", gender="F")
    add("family_cases", case_number_hash="F2", case_type="C", receipt_date=d("2010-04-01"), harm_alleged=False)

    # F: only records after the as-at date
    add("mags_defendant_case", row_id_hash="mF1", case_id_hash="cF1", defendant_id_hash="dF1",
        first_hearing_date=d("2024-02-01"), gender="M")

    data["xjs_link"] = [
        xjs("mags_hocas", "mA1", "H1", "M1", "L1"),
        xjs("prison_nomis", "pA1", "H1", "M1", "L1"),
        xjs("prison_oasys", "oaA1", "H1", "M1", "L1"),
        xjs("prison_oasys", "oaA2", "H1", "M1", "L1"),
        xjs("civil_caseman_pcol", "cvA1", "H1", "M1", "L1", 0.9),
        xjs("mags_hocas", "mB1", "H2", "M2", "L2"),
        xjs("mags_hocas", "mB2", "H2", "M2", "L2"),
        xjs("mags_hocas", "mB3", "H3", "M2", "L2", 0.7),
        xjs("mags_hocas", "mB4", "H4", "M2", "L2", 0.6),
        xjs("probation_delius", "prB1", "H2", "M2", "L2"),
        xjs("crown_xhibit", "crC1", "H5", "M3", "L3"),
        xjs("crown_xhibit", "crC2", "H5", "M3", "L3"),
        xjs("crown_xhibit", "crD1", "H6", "M4", "L3", 0.4),
        xjs("familyman", "fE1", "H7", "M5", "L5"),
        xjs("familyman", "fE2", "H7", "M5", "L5"),
        xjs("familyman", "fX1", "H8", "M6", "L6"),
        xjs("mags_hocas", "mF1", "H9", "M9", "L9"),
    ]
    return data


def mini_warehouse(path=":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    create_extracts(con, mini_data())
    return con


#: A register rules fixture in the register's derivation format.
RULES = {
    "drivers": [
        {"key": "accommodation", "label": "Accommodation", "derivation": {
            "kind": "flag", "combine": "any", "evidence": [
                {"table": "oasys_assessments_details_core_risk", "expression": "question_3_3 = 'YES'",
                 "variables": ["question_3_3"], "when": "latest"}]}},
        {"key": "substance_misuse", "label": "Substance misuse", "derivation": {
            "kind": "score", "threshold": 2, "combine": "max", "evidence": [
                {"table": "oasys_assessments_details_core_risk",
                 "expression": "CASE question_8_4 WHEN '2' THEN 2 WHEN '1' THEN 1 ELSE 0 END",
                 "variables": ["question_8_4"], "when": "latest"}]}},
        {"key": "domestic_abuse", "label": "Domestic abuse", "derivation": {
            "kind": "flag", "combine": "any", "evidence": [
                {"table": "oasys_assessments_details_core_risk", "expression": "question_6_7_da_victim = 'YES'",
                 "variables": ["question_6_7_da_victim"], "when": "latest"},
                {"table": "family_cases", "expression": "harm_alleged", "variables": ["harm_alleged"],
                 "when": "window", "lookback_months": 24}]}},
        {"key": "mental_health", "label": "Mental health", "derivation": {
            "kind": "flag", "combine": "any", "evidence": [
                {"table": "oasys_assessments_details_core_risk", "expression": "question_10_6 = '2'",
                 "variables": ["question_10_6"], "when": "latest"},
                {"table": "moj_probation_rqmnts", "expression": "rqmnt_type_main_category_code = 'MH'",
                 "variables": ["rqmnt_type_main_category_code"], "when": "ever"}]}},
        {"key": "family", "label": "Family", "derivation": {
            "kind": "score", "threshold": 2, "combine": "sum", "evidence": [
                {"table": "family_cases", "expression": "CASE WHEN case_type IN ('C', 'FLA') THEN 1 ELSE 0 END",
                 "variables": ["case_type"], "when": "ever"}]}},
    ]
}
