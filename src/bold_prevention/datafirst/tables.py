"""Every table the toolkit knows: the seven Data First datasets, the XJS linking dataset and two later-wave sources.

Real table and column names are used where ``shared/reference/datafirst.md`` gives them (tagged ``confirmed`` or
``internal``); everything else is ``inferred``. Personal identifier columns (names, date of birth, postcode) are
marked ``identifier=True``: the real research extracts do not carry them (Data First releases de-identified data),
but the linkage step that builds XJS does, and so do later-wave partners' files. The loader keeps them in the
linkage layer only.
"""

from __future__ import annotations

from datetime import date

from . import codes as K
from .model import Column, DataFirstModel, Dataset, DateOrder, ForeignKey, Table

S, I, F, D, B = "string", "int", "float", "date", "bool"  # noqa: E741


def col(name, dtype, description, codes=None, *, nullable=True, confidence="inferred", value_range=None,
        min_completeness=None) -> Column:
    return Column(name=name, dtype=dtype, description=description, codes=codes, nullable=nullable,
                  confidence=confidence, value_range=value_range, min_completeness=min_completeness)


def key(name, description, confidence="inferred") -> Column:
    return Column(name=name, dtype="string", description=description, nullable=False, confidence=confidence)


def identifiers(*, completeness: float = 0.9, sex_column: str | None = None) -> tuple[Column, ...]:
    """The personal identifier block carried by person records (linkage-only)."""
    cols = [
        Column("forename", "string", "Forename (first given name)", identifier=True, role="forename",
               min_completeness=completeness),
        Column("middle_names", "string", "Other given names", identifier=True, role="middle_names"),
        Column("surname", "string", "Surname / family name", identifier=True, role="surname",
               min_completeness=completeness),
        Column("date_of_birth", "date", "Date of birth", identifier=True, role="date_of_birth",
               min_completeness=completeness),
        Column("postcode", "string", "Postcode of home address at the time of the record", identifier=True,
               role="postcode", min_completeness=completeness * 0.8),
    ]
    return tuple(cols)


def demographics(*, gender_col="gender", ethnicity_col="ethnicity_desc", completeness=0.9) -> tuple[Column, ...]:
    return (
        Column(gender_col, "string", "Sex / gender", codes=K.SEX, role="sex", min_completeness=completeness),
        col(ethnicity_col, S, "Self-declared ethnicity (2011 census style labels)", K.ETHNICITY_DESC),
        col("lsoa_residence", S, "LSOA (2011) of residence", confidence="confirmed"),
    )


# --------------------------------------------------------------------------------------------------- magistrates
MAGS_CASE = Table(
    name="mags_defendant_case",
    dataset="mags",
    description="Magistrates' courts case summary: one row per defendant per case, built around the principal "
    "offence (the offence with the most serious disposal).",
    grain="defendant x case",
    xjs_source="mags_hocas",
    record_id="row_id_hash",
    confidence="confirmed",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Record key; the XJS lookup joins on it", "confirmed"),
        key("case_id_hash", "Hashed case ID", "confirmed"),
        key("defendant_id_hash", "Hashed defendant ID within the case"),
        col("estimated_defendant_id", S, "Within-dataset estimated person ID (Splink defendant cluster)"),
        col("main_offence_date", D, "Date of the principal offence", confidence="confirmed"),
        col("first_hearing_date", D, "Date of the first hearing"),
        col("final_result_date", D, "Date of the final result", confidence="confirmed"),
        col("main_offence_code", S, "Home Office offence code of the principal offence"),
        col("offence_group", S, "Home Office offence group of the principal offence", K.OFFENCE_GROUP),
        col("offence_type", S, "Offence type", K.OFFENCE_TYPE),
        col("proceedings_type_desc", S, "Proceedings type", K.PROCEEDINGS_TYPE, confidence="confirmed"),
        col("breach_marker", S, "Breach of an order", K.BREACH_MARKER, confidence="confirmed"),
        col("plea", S, "Plea on the principal offence", K.MAGS_PLEA),
        col("outcome", S, "Outcome", K.MAGS_OUTCOME, min_completeness=0.95),
        col("sentence", S, "Sentence (most serious disposal)", K.SENTENCE),
        col("committed_to_crown", B, "Sent or committed to the Crown Court"),
        col("age_at_offence", I, "Age at the principal offence", value_range=(10, 100)),
        *demographics(),
        *identifiers(completeness=0.95),
    ),
    date_orders=(DateOrder("main_offence_date", "first_hearing_date"),
                 DateOrder("first_hearing_date", "final_result_date")),
)

MAGS_OFFENCE = Table(
    name="mags_defendant_offence",
    dataset="mags",
    description="Magistrates' courts offence-level table: one row per offence in a defendant's case.",
    grain="offence",
    primary_key=("offence_id_hash",),
    confidence="confirmed",
    columns=(
        key("offence_id_hash", "Offence key"),
        key("row_id_hash", "Defendant-case record this offence belongs to", "confirmed"),
        col("offence_seq", I, "Offence number within the case", nullable=False),
        col("offence_date", D, "Offence date", confidence="confirmed"),
        col("offence_code", S, "Home Office offence code"),
        col("offence_group", S, "Home Office offence group", K.OFFENCE_GROUP),
        col("plea", S, "Plea", K.MAGS_PLEA),
        col("outcome", S, "Outcome", K.MAGS_OUTCOME),
    ),
    foreign_keys=(ForeignKey(("row_id_hash",), "mags_defendant_case", ("row_id_hash",)),),
)

# --------------------------------------------------------------------------------------------------- Crown Court
CROWN_CASE = Table(
    name="crown_defendant_case",
    dataset="crown",
    description="Crown Court case summary: one row per defendant per case (trial, sentence and appeal cases), "
    "built around the principal offence.",
    grain="defendant x case",
    xjs_source="crown_xhibit",
    record_id="row_id_hash",
    confidence="confirmed",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Record key; the XJS lookup joins on it", "confirmed"),
        key("defendant_on_case_id_hash", "Hashed defendant-on-case ID (XHIBIT)", "internal"),
        col("estimated_defendant_id", S, "Within-dataset estimated person ID"),
        col("case_type", S, "Case type", K.CROWN_CASE_TYPE),
        col("receipt_date", D, "Date the case was received at the Crown Court"),
        col("main_offence_date", D, "Date of the principal offence"),
        col("main_offence_code", S, "Home Office offence code of the principal offence"),
        col("offence_group", S, "Home Office offence group", K.OFFENCE_GROUP),
        col("plea", S, "Plea", K.CROWN_PLEA),
        col("outcome", S, "Outcome", K.CROWN_OUTCOME, min_completeness=0.95),
        col("sentence", S, "Sentence (most serious disposal)", K.SENTENCE),
        col("sentence_date", D, "Date of sentence"),
        col("custodial_period_days", I, "Custodial period in days", confidence="internal",
            value_range=(0, 36500)),
        col("age_at_offence", I, "Age at the principal offence", value_range=(10, 100)),
        *demographics(),
        *identifiers(completeness=0.95),
    ),
    date_orders=(DateOrder("main_offence_date", "receipt_date"), DateOrder("receipt_date", "sentence_date")),
)

CROWN_OFFENCE = Table(
    name="crown_defendant_offence",
    dataset="crown",
    description="Crown Court offence-level table: one row per offence on a defendant's case.",
    grain="offence",
    primary_key=("defendant_on_offence_id_hash",),
    confidence="confirmed",
    columns=(
        key("defendant_on_offence_id_hash", "Offence key", "internal"),
        key("row_id_hash", "Defendant-case record this offence belongs to"),
        col("offence_seq", I, "Offence number", nullable=False),
        col("offence_code", S, "Home Office offence code", confidence="internal"),
        col("offence_group", S, "Home Office offence group", K.OFFENCE_GROUP),
        col("result", S, "Result", K.CROWN_OUTCOME),
    ),
    foreign_keys=(ForeignKey(("row_id_hash",), "crown_defendant_case", ("row_id_hash",)),),
)

# ------------------------------------------------------------------------------------------------- prisons
PRISON_JOURNEY = Table(
    name="prison_custodial_journey",
    dataset="prison",
    description="P-NOMIS custodial journeys: one row per prisoner per custodial journey (connected spells of "
    "remand, sentence and recall combined).",
    grain="prisoner x custodial journey",
    xjs_source="prison_nomis",
    record_id="row_id_hash",
    confidence="confirmed",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Record key; the XJS lookup joins on it"),
        col("estimated_offender_id", S, "Splink estimated offender ID (people returning to prison)",
            confidence="confirmed"),
        col("reception_date", D, "Date the journey began (first reception)", min_completeness=0.99),
        col("admission_reason", S, "Reason for the first admission", K.ADMISSION_REASON),
        col("sentence_date", D, "Date of sentence"),
        col("sentence_length_days", I, "Sentence length in days", value_range=(0, 36500)),
        col("main_offence_group", S, "Home Office offence group of the main offence", K.OFFENCE_GROUP),
        col("release_date", D, "Date of release (empty if still in custody)"),
        col("release_reason", S, "Release reason", K.RELEASE_REASON),
        col("establishment", S, "Prison of release or current prison"),
        col("age_at_reception", I, "Age at reception", value_range=(15, 100)),
        *demographics(),
        *identifiers(completeness=0.97),
    ),
    date_orders=(DateOrder("reception_date", "release_date"),),
)

PRISON_INCIDENT = Table(
    name="prison_safety_in_custody",
    dataset="prison",
    description="Safety in custody: one row per prisoner per incident.",
    grain="incident",
    primary_key=("incident_id_hash",),
    confidence="confirmed",
    columns=(
        key("incident_id_hash", "Incident key"),
        key("row_id_hash", "Custodial journey of the prisoner"),
        col("incident_date", D, "Date of the incident"),
        col("incident_type", S, "Incident type", K.CUSTODY_INCIDENT),
    ),
    foreign_keys=(ForeignKey(("row_id_hash",), "prison_custodial_journey", ("row_id_hash",)),),
)

# ------------------------------------------------------------------------------------------------- probation
PROBATION = Table(
    name="moj_probation_flatfile",
    dataset="probation",
    description="nDelius probation events: one row per event (sentence or pre-sentence), with its disposal.",
    grain="event",
    xjs_source="probation_delius",
    record_id="row_id_hash",
    confidence="confirmed",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Record key; the XJS lookup joins on it", "confirmed"),
        key("event_id_hash", "Event key; joins to requirements", "confirmed"),
        col("estimated_offender_id", S, "Person cluster ID", confidence="confirmed"),
        col("referral_date", D, "Referral to probation", confidence="confirmed", min_completeness=0.99),
        col("disposal_type_description", S, "Disposal", K.PROBATION_DISPOSAL, confidence="confirmed"),
        col("disposal_date", D, "Disposal (sentence) date", confidence="confirmed"),
        col("disposal_termination_date", D, "Disposal termination date", confidence="confirmed"),
        col("length_in_days", I, "Length of the disposal in days", confidence="confirmed", value_range=(0, 36500)),
        col("mo_code", S, "Main offence Home Office code", confidence="confirmed"),
        col("mo_category_description", S, "Main offence category", K.OFFENCE_GROUP, confidence="confirmed"),
        col("recall_count", I, "Number of recalls", confidence="confirmed", value_range=(0, 50)),
        col("probation_area_desc", S, "Probation area", K.PROBATION_AREA, confidence="confirmed"),
        col("age_at_offence", I, "Age at offence (with outliers)", confidence="confirmed"),
        *demographics(),
        *identifiers(completeness=0.95),
    ),
    date_orders=(DateOrder("referral_date", "disposal_termination_date"),
                 DateOrder("disposal_date", "disposal_termination_date")),
)

PROBATION_RQMNTS = Table(
    name="moj_probation_rqmnts",
    dataset="probation",
    description="Community order and suspended sentence order requirements: one row per requirement.",
    grain="requirement",
    primary_key=("rqmnt_id_hash",),
    confidence="confirmed",
    columns=(
        key("rqmnt_id_hash", "Requirement key"),
        key("event_id_hash", "Event the requirement belongs to", "confirmed"),
        col("estimated_offender_id", S, "Person cluster ID", confidence="confirmed"),
        col("rqmnt_type_main_category_code", S, "Requirement category code", K.RQMNT_CATEGORY,
            confidence="confirmed"),
        col("rqmnt_type_main_category_desc", S, "Requirement category", confidence="confirmed"),
        col("rqmnt_start_date", D, "Date the requirement was imposed", confidence="confirmed"),
        col("rqmnt_commencement_date", D, "Commencement date (often missing)", confidence="confirmed"),
        col("rqmnt_termination_date", D, "Termination date", confidence="confirmed"),
        col("rqmnt_termination_reason_desc", S, "Termination reason", K.RQMNT_TERMINATION, confidence="confirmed"),
        col("length", I, "Length; units vary by requirement type", confidence="confirmed"),
    ),
    foreign_keys=(ForeignKey(("event_id_hash",), "moj_probation_flatfile", ("event_id_hash",)),),
    date_orders=(DateOrder("rqmnt_start_date", "rqmnt_termination_date"),),
)

# ------------------------------------------------------------------------------------------------- OASys
OASYS_META = Table(
    name="oasys_assessments_metadata",
    dataset="oasys",
    description="OASys assessments: one row per assessment, with dates, type and context.",
    grain="assessment",
    xjs_source="prison_oasys",
    record_id="row_id_hash",
    confidence="confirmed",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Assessment record key; the XJS lookup joins on it"),
        col("estimated_offender_id", S, "Within-dataset estimated person ID"),
        col("assessment_date", D, "Date the assessment was completed", min_completeness=0.99),
        col("assessment_type", S, "Assessment type", K.ASSESSMENT_TYPE),
        col("assessment_context", S, "Context (pre-sentence, custody, community, review)", K.ASSESSMENT_CONTEXT),
        col("level_healthcare_req_elm", S, "Offender's level of healthcare required", K.HEALTHCARE_LEVEL,
            confidence="confirmed"),
        *demographics(),
        *identifiers(completeness=0.95),
    ),
)


def _q(name, description, codes, confidence="inferred", value_range=None) -> Column:
    return col(name, "int" if value_range else S, description, codes, confidence=confidence,
               value_range=value_range)


_ASSESSMENT_FK = (ForeignKey(("row_id_hash",), "oasys_assessments_metadata", ("row_id_hash",)),)


def _detail(name: str, description: str, questions: tuple[Column, ...]) -> Table:
    return Table(
        name=name, dataset="oasys", description=description, grain="assessment", primary_key=("row_id_hash",),
        confidence="confirmed", foreign_keys=_ASSESSMENT_FK,
        columns=(key("row_id_hash", "Assessment the answers belong to"), *questions),
    )


C = "confirmed"


def _flags(prefix: str, items: tuple[tuple[str, str], ...], codes) -> tuple[Column, ...]:
    return tuple(_q(f"{prefix}{suffix}", desc, codes, C) for suffix, desc in items)


#: Section 10 item 7 (psychiatric history) in the older tick-box form (``YES`` or blank) and the later ``_v2_``
#: form (``NO`` / ``YES``); an assessment carries one or the other.
_Q10_7 = (("childhood", "Evidence of a childhood-related factor"),
          ("histheadinj", "History of serious head injury"),
          ("histpsych", "History of psychiatric problems"),
          ("medication", "Ever been on medication for mental health"),
          ("patient", "Ever been a psychiatric patient"),
          ("psychtreat", "Currently receiving psychiatric treatment"))
_Q10_7_V2 = tuple((f"v2_{k}", f"{d} (v2)") for k, d in _Q10_7 if k != "histheadinj")

#: Names, descriptions and values of the ``confirmed`` columns are those of the published OASys catalogue
#: (``OASys_ONS_data_catalogue_NOV25_External.ods``, data_dictionary sheet, as listed in
#: ``catalogue/data/oasys_reference.csv``). The ``inferred`` columns fill measures that list does not give
#: (section 4 education, training and employability, section 6 relationships and domestic abuse, the current drug
#: and alcohol items of sections 8 and 9, and section totals); their names are none of the published ones.
OASYS_CORE = _detail(
    "oasys_assessments_details_core_risk",
    "Core OASys sections 1-13 (offending history to health), as question_<section>_<n>.",
    (
        # section 1: offending history
        _q("question_1_10", "Number of previous custodial sentences", None, C, (0, 9)),
        _q("question_1_10_1", "Weighted score for previous custodial sentences", K.WEIGHTED_012, C),
        _q("question_1_11", "Breaches indicator", K.BREACHES, C),
        _q("question_1_12", "Number of categories of offences or convictions", None, C, (0, 9)),
        _q("question_1_12_1", "Weighted score for categories of offences or convictions", K.WEIGHTED_012, C),
        col("question_1_29", D, "Date of current conviction", confidence=C),
        # section 2: the current offence
        _q("question_2_2_weapon", "Offence involved a weapon", K.YES_ONLY, C),
        *_flags("question_2_3_", (("directcont", "Offence involved direct contact with the victim"),
                                  ("physicalviol", "Offence involved physical violence"),
                                  ("repeatvict", "Repeat victimisation"),
                                  ("resptovictim", "Response to the victim")), K.YES_ONLY),
        _q("question_2_9_addiction", "Motivation for the offence: addiction or perceived needs", K.YES_ONLY, C),
        _q("question_2_9_financial", "Motivation for the offence: financial", K.YES_ONLY, C),
        _q("question_2_9_v2_addiction", "Motivation for the offence: addiction or perceived needs (v2)", K.YES_NO,
           C),
        _q("question_2_9_v2_financial", "Motivation for the offence: financial (v2)", K.YES_NO, C),
        _q("question_2_10_alcho", "Alcohol acted as a disinhibitor at the offence", K.YES_ONLY, C),
        _q("question_2_10_drugs", "Drugs acted as a disinhibitor at the offence", K.YES_ONLY, C),
        _q("question_2_11", "Accepts responsibility for the current offence", K.YES_NO, C),
        _q("question_2_13", "Escalation in the seriousness of offending", K.YES_NO, C),
        _q("question_2_14", "Part of an established pattern of similar offending", K.YES_NO_M, C),
        # section 3: accommodation
        _q("question_3_1_1", "Records details of the type of accommodation", K.ACCOMMODATION_TYPE, C),
        _q("question_3_1_2", "Accommodation status", K.ACCOMMODATION_PLAN, C),
        _q("question_3_3", "Currently of no fixed abode or in transient accommodation", K.YES_NO_M, C),
        _q("question_3_4", "Living in suitable accommodation", K.SCALE_012, C),
        _q("question_3_5", "Issues with permanence of accommodation", K.SCALE_012, C),
        _q("question_3_6", "Suitability of the location of accommodation", K.SCALE_012, C),
        _q("question_3_98", "Accommodation issues linked to risk of serious harm or other risks", K.YES_NO, C),
        _q("question_3_99", "Accommodation issues linked to offending behaviour", K.YES_NO, C),
        _q("question_3_tot", "Total score for section 3: accommodation", None, C, (0, 8)),
        # section 4: education, training and employability (inferred: not in the published list)
        _q("question_4_2", "Unemployed, or will be unemployed on release", K.YES_NO),
        _q("question_4_3", "Problems with employment history", K.SCALE_012),
        _q("question_4_7", "Problems with reading, writing or numeracy", K.SCALE_012),
        _q("question_4_tot", "Total score for section 4: education, training and employability", None,
           value_range=(0, 10)),
        # section 5: financial management and income
        _q("question_5_1", "Main source of income before custody", K.INCOME_SOURCE, C),
        _q("question_5_2", "Problems with financial situation", K.SCALE_012, C),
        _q("question_5_3", "Financial management problems", K.SCALE_012, C),
        _q("question_5_4", "Problems with illegal earnings as a source of income", K.SCALE_012, C),
        _q("question_5_5", "Over-reliance on others for financial support", K.SCALE_012, C),
        _q("question_5_98", "Financial issues linked to risk of serious harm or other risks", K.YES_NO, C),
        _q("question_5_99", "Financial issues linked to offending behaviour", K.YES_NO, C),
        _q("question_5_tot", "Total score for section 5: financial management and income", None, C, (0, 9)),
        # section 6: relationships (inferred)
        _q("question_6_1", "Problems with current relationships with close family members", K.SCALE_012),
        _q("question_6_7_da_victim", "Evidence of being a victim of domestic violence or partner abuse", K.YES_NO),
        _q("question_6_7_da_perpetrator", "Evidence of perpetrating domestic violence or partner abuse", K.YES_NO),
        _q("question_6_tot", "Total score for section 6: relationships", None, value_range=(0, 10)),
        # section 7: lifestyle and associates (inferred)
        _q("question_7_tot", "Total score for section 7: lifestyle and associates", None, value_range=(0, 10)),
        # section 8: drug misuse (question_8_1 published; the current-use item and total inferred)
        _q("question_8_1", "Ever misused drugs", K.YES_NO, C),
        _q("question_8_4", "Problems with current use of the main drug", K.SCALE_012),
        _q("question_8_tot", "Total score for section 8: drug misuse", None, value_range=(0, 10)),
        # section 9: alcohol misuse (inferred)
        _q("question_9_1", "Problems with current use of alcohol", K.SCALE_012),
        _q("question_9_tot", "Total score for section 9: alcohol misuse", None, value_range=(0, 10)),
        # section 10: emotional well-being
        _q("question_10_5", "Self-harm, attempted suicide, suicidal thoughts or feelings", K.YES_NO, C),
        _q("question_10_6", "Current psychiatric problems", K.SCALE_012, C),
        *_flags("question_10_7_", _Q10_7, K.YES_ONLY),
        *_flags("question_10_7_", _Q10_7_V2, K.YES_NO),
        _q("question_10_tot", "Total score for section 10: emotional well-being", None, value_range=(0, 10)),
        # sections 11 and 12 (inferred totals)
        _q("question_11_tot", "Total score for section 11: thinking and behaviour", None, value_range=(0, 20)),
        _q("question_12_tot", "Total score for section 12: attitudes", None, value_range=(0, 10)),
        # section 13: health and other considerations (three answers per consideration)
        *(_q(f"question_13_3_{row}_{k}", desc, K.YES_ONLY, C) for row, desc in (
            ("1", "Chronic health problem"), ("9", "Alcohol misuse affects risks or needs"),
            ("10", "Drug misuse affects risks or needs")) for k in (1, 2, 3)),
    ),
)
_YN = K.YES_NO
OASYS_BCS = _detail(
    "oasys_assessments_details_bcs",
    "Basic Custody Screening (BCS) part 1, at reception into custody.",
    (
        _q("question_bcs24", "Number of court appearances at which convicted", None, C, (0, 99)),
        _q("question_bcs25", "Number of court appearances at which convicted", None, C, (0, 99)),
        _q("question_bcs28", "Age at first conviction", None, C, (0, 99)),
        _q("question_bcs33", "Offender's accommodation status before prison", K.ACCOMMODATION_STATUS, C),
        _q("question_bcs36", "Type of accommodation lived in before prison", K.ACCOMMODATION_TENURE, C),
        *_flags("question_bcs", (
            ("37", "Suitability of accommodation before prison"),
            ("38", "Claiming housing benefit"),
            ("39", "Has the offender got somewhere to live when they are released"),
            ("43", "Accommodation is a problem issue"),
            ("45", "Offender has an income"),
            ("46", "Offender has a pension"),
            ("47", "Offender has any private income"),
            ("48", "Partner has an income"),
            ("49", "Financial family support"),
            ("52", "Receives income support"),
            ("53", "Other finance in receipt of"),
            ("55", "Has a bank account"),
            ("56", "Finance is a problem issue"),
            ("78", "Whether there are any health concerns"),
            ("80", "Whether the offender has been seen by health care")), _YN),
        _q("question_bcs81", "Current problems with drug misuse", K.SCALE_012, C),
        _q("question_bcs82", "Alcohol is a problem area", _YN, C),
        _q("question_bcs84", "Ever misused drugs", _YN, C),
        _q("question_bcs86", "Ever injected drugs", K.INJECTING, C),
        col("question_bcs87", S, "Main drug used", K.DRUG_LOOKUP, confidence=C),
        _q("question_bcs88", "Ever had any concerns about drug use", _YN, C),
        _q("question_bcs90", "On a drug maintenance programme", _YN, C),
        _q("question_bcs91", "Whether health and well-being is an issue", _YN, C),
    ),
)
OASYS_TR_BCS = _detail(
    "oasys_assessments_details_tr_bcs",
    "Basic Custody Screening part 2 (transfer / resettlement screening).",
    (
        _q("question_tr_bcs309", "Tenancy or rental issues", K.NA_NO_YES, C),
        _q("question_tr_bcs33", "Accommodation status on reception", K.ACCOMMODATION_STATUS, C),
        _q("question_tr_bcs37", "Suitability of accommodation before prison", K.NSA_NO_YES, C),
        _q("question_tr_bcs38", "Claiming housing benefit", K.DK_NO_YES, C),
        _q("question_tr_bcs43", "Accommodation needs or issues", _YN, C),
        _q("question_tr_bcs45", "Gets money every week", _YN, C),
        _q("question_tr_bcs801", "Whether health care screening has been completed", K.DK_NO_YES, C),
        _q("question_tr_bcs807", "Whether there are care or health concerns", _YN, C),
        _q("question_tr_bcs91", "Whether health and well-being is an issue", _YN, C),
    ),
)
OASYS_SARA = _detail(
    "oasys_assessments_details_sara",
    "Spousal Assault Risk Assessment (SARA).",
    (
        _q("question_sr45_1_1", "Rating of the offender's past spousal physical violence", K.SARA_RATING, C),
        _q("question_sr45_1_2", "Whether the offender's past spousal physical violence is present", _YN, C),
        _q("question_sr89_1", "Questionnaire or psychological assessment item", K.SARA_RATING, C),
        _q("question_sr93_1", "Questionnaire or psychological assessment item", K.SARA_RATING, C),
    ),
)
OASYS_RMP = _detail(
    "oasys_assessments_details_rmp",
    "Risk management plan.",
    (
        _q("question_rmp_15", "Conditionally discharged", K.YES_ONLY, C),
        _q("question_rmp_28_0_3_1", "Accommodation taken into account in the risk management plan", K.YES_ONLY, C),
    ),
)
OASYS_SAQ = _detail(
    "oasys_assessments_details_saq",
    "Self-assessment questionnaire.",
    (
        _q("question_saqc20_1", "Indicates if the following is a problem for the offender: debt", _YN, C),
        _q("question_saqc20_2", "Indicates if this problem is linked to the offending: debt", _YN, C),
    ),
)
OASYS_SKILLS = _detail(
    "oasys_assessments_details_skillschecker",
    "Skills checker.",
    (_q("question_sc8", "Feels confident in handling money", K.CONFIDENCE_4, C),),
)

# ------------------------------------------------------------------------------------------------- family
FAMILY_CASES = Table(
    name="family_cases",
    dataset="family",
    description="FamilyMan cases: one row per case.",
    grain="case",
    primary_key=("case_number_hash",),
    confidence="confirmed",
    columns=(
        key("case_number_hash", "Hashed case number", "confirmed"),
        col("case_type", S, "Case type", K.FAMILY_CASE_TYPE, min_completeness=0.99),
        col("receipt_date", D, "Date the case was received"),
        col("disposal_date", D, "Date the case was disposed"),
        col("creating_court", S, "Originating court"),
        col("number_of_children", I, "Children involved in the case", value_range=(0, 15)),
        col("harm_alleged", B, "Harm (domestic abuse or child abuse) alleged"),
        col("fee_exempt", B, "Applicant exempt from court fees (low-income proxy)"),
    ),
    date_orders=(DateOrder("receipt_date", "disposal_date"),),
)
FAMILY_EVENTS = Table(
    name="family_events",
    dataset="family",
    description="FamilyMan events: hearings, applications, orders and administrative steps within a case.",
    grain="event",
    primary_key=("event_id_hash",),
    confidence="confirmed",
    columns=(
        key("event_id_hash", "Event key"),
        key("case_number_hash", "Case the event belongs to", "confirmed"),
        col("event_model", S, "Event (form) code", K.FAMILY_EVENT, confidence="internal"),
        col("event_date", D, "Date of the event"),
    ),
    foreign_keys=(ForeignKey(("case_number_hash",), "family_cases", ("case_number_hash",)),),
)
FAMILY_PARTIES = Table(
    name="family_parties",
    dataset="family",
    description="FamilyMan parties: one row per party per case (applicant, respondent, child).",
    grain="party x case",
    xjs_source="familyman",
    record_id="row_id_hash",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Party-on-case record key; the XJS lookup joins on it"),
        key("case_number_hash", "Case", "confirmed"),
        col("party_id_hash", S, "Hashed party ID"),
        col("role_model", S, "Role in the case", K.FAMILY_ROLE, confidence="internal"),
        Column("gender", "string", "Sex", codes=K.SEX, role="sex", min_completeness=0.6),
        col("lsoa_residence", S, "LSOA (2011) of residence"),
        col("legally_represented", B, "A representative is recorded"),
        *identifiers(completeness=0.7),
    ),
    foreign_keys=(ForeignKey(("case_number_hash",), "family_cases", ("case_number_hash",)),),
)

# ------------------------------------------------------------------------------------------------- civil
CIVIL_CASES = Table(
    name="civil_cases",
    dataset="civil",
    description="CaseMan / PCOL county court cases: one row per case (possession, money and damages claims).",
    grain="case",
    primary_key=("case_number_hash",),
    columns=(
        key("case_number_hash", "Hashed case number"),
        col("claim_type", S, "Claim type", K.CIVIL_CLAIM_TYPE, min_completeness=0.99),
        col("issue_date", D, "Date the claim was issued"),
        col("court", S, "County court hearing centre"),
        col("online_claim", B, "Issued through Possession Claim Online (PCOL)"),
        col("arrears_amount", F, "Arrears claimed (GBP)", value_range=(0, 1_000_000)),
    ),
)
CIVIL_PARTIES = Table(
    name="civil_parties",
    dataset="civil",
    description="Parties to civil cases: people and companies, as claimants or defendants.",
    grain="party x case",
    xjs_source="civil_caseman_pcol",
    record_id="row_id_hash",
    primary_key=("row_id_hash",),
    columns=(
        key("row_id_hash", "Party-on-case record key; the XJS lookup joins on it"),
        key("case_number_hash", "Case"),
        col("party_role", S, "Role", K.CIVIL_PARTY_ROLE),
        col("is_company", B, "Party is an organisation (not a person)"),
        Column("gender", "string", "Sex (rarely recorded)", codes=K.SEX, role="sex"),
        col("lsoa_residence", S, "LSOA (2011) of the address for service"),
        *identifiers(completeness=0.6),
    ),
    foreign_keys=(ForeignKey(("case_number_hash",), "civil_cases", ("case_number_hash",)),),
)
CIVIL_EVENTS = Table(
    name="civil_events",
    dataset="civil",
    description="Case events: claims, orders, warrants, repossessions and judgments.",
    grain="event",
    primary_key=("event_id_hash",),
    columns=(
        key("event_id_hash", "Event key"),
        key("case_number_hash", "Case"),
        col("event_type", S, "Event", K.CIVIL_EVENT, min_completeness=0.99),
        col("event_date", D, "Date of the event"),
    ),
    foreign_keys=(ForeignKey(("case_number_hash",), "civil_cases", ("case_number_hash",)),),
)

# ------------------------------------------------------------------------------------------------- linking (XJS)
XJS_LINK = Table(
    name="xjs_link",
    dataset="linking",
    description="Cross-justice system person link table: one row per record in every linked dataset, with the "
    "estimated cross-justice person ID and cluster IDs at three match thresholds.",
    grain="source record",
    primary_key=("source_dataset", "row_id_hash"),
    confidence="confirmed",
    columns=(
        col("source_dataset", S, "Data First dataset of the record", K.XJS_SOURCE_DATASET, nullable=False,
            confidence="confirmed"),
        key("row_id_hash", "Record reference; equals row_id_hash in the source table", "confirmed"),
        col("estimated_xjs_id", S, "Estimated cross-justice person ID (the default, medium, threshold)",
            nullable=False, confidence="confirmed"),
        col("match_score", F, "Match probability of the record's best link into its cluster",
            value_range=(0, 1)),
        col("cluster_high", S, "Person cluster at the high-confidence threshold", confidence="internal"),
        col("cluster_medium", S, "Person cluster at the medium-confidence threshold", confidence="internal"),
        col("cluster_low", S, "Person cluster at the low-confidence threshold", confidence="internal"),
    ),
)
MAGS_CROWN_JOURNEY = Table(
    name="mags_crown_journey",
    dataset="linking",
    description="Magistrates' to Crown Court case journeys: one row per linked magistrates' defendant-case and "
    "Crown Court defendant-on-case.",
    grain="case journey",
    primary_key=("mags_row_id_hash", "crown_row_id_hash"),
    confidence="confirmed",
    columns=(
        key("mags_row_id_hash", "Magistrates' defendant-case record"),
        key("crown_row_id_hash", "Crown Court defendant-case record"),
        col("mc_case_id_hash", S, "Magistrates' case ID", confidence="internal"),
        col("cc_defendant_on_case_id_hash", S, "Crown defendant-on-case ID", confidence="internal"),
        col("estimated_match_score", F, "Journey match score", confidence="internal", value_range=(0, 1)),
    ),
    foreign_keys=(
        ForeignKey(("mags_row_id_hash",), "mags_defendant_case", ("row_id_hash",)),
        ForeignKey(("crown_row_id_hash",), "crown_defendant_case", ("row_id_hash",)),
    ),
)

# ------------------------------------------------------------------------------------------------- Wave 3: LA
LA_RESIDENTS = Table(
    name="la_residents",
    dataset="local_authority",
    description="Local authority resident index (like the Barking and Dagenham pilot): one row per resident.",
    grain="resident",
    record_id="resident_id",
    primary_key=("resident_id",),
    columns=(
        key("resident_id", "Local resident reference"),
        col("household_id", S, "Household reference"),
        Column("sex", "string", "Sex", codes=K.SEX, role="sex"),
        col("ethnic_group", S, "Ethnic group (ONS 5 groups)", K.ETHNIC_GROUP),
        col("lsoa_residence", S, "LSOA (2011) of the address"),
        *identifiers(completeness=0.9),
    ),
)
LA_CONTACTS = Table(
    name="la_service_contacts",
    dataset="local_authority",
    description="Local authority service contacts: housing, homelessness, early help, social care and others.",
    grain="contact",
    primary_key=("contact_id",),
    columns=(
        key("contact_id", "Contact reference"),
        key("resident_id", "Resident"),
        col("service", S, "Service", K.LA_SERVICE),
        col("contact_date", D, "Date of contact"),
        col("outcome", S, "Outcome recorded"),
    ),
    foreign_keys=(ForeignKey(("resident_id",), "la_residents", ("resident_id",)),),
)

# ------------------------------------------------------------------------------------------------- Wave 1: NPD
NPD_PUPIL = Table(
    name="npd_pupil",
    dataset="education",
    description="Pupil-level education extract (like the National Pupil Database): one row per pupil.",
    grain="pupil",
    record_id="pupil_matching_reference",
    primary_key=("pupil_matching_reference",),
    columns=(
        key("pupil_matching_reference", "Pupil matching reference (PMR)"),
        Column("sex", "string", "Sex", codes=K.SEX, role="sex"),
        col("ethnic_group", S, "Ethnic group (ONS 5 groups)", K.ETHNIC_GROUP),
        col("lsoa_residence", S, "LSOA (2011) of home address at last census"),
        col("fsm_ever", B, "Ever eligible for free school meals"),
        col("sen_provision", S, "Highest special educational needs provision", K.SEN_PROVISION),
        *identifiers(completeness=0.98),
    ),
)
NPD_ATTENDANCE = Table(
    name="npd_attendance",
    dataset="education",
    description="Absence: one row per pupil per academic year.",
    grain="pupil x year",
    primary_key=("pupil_matching_reference", "academic_year"),
    columns=(
        key("pupil_matching_reference", "Pupil"),
        col("academic_year", I, "Academic year (starting calendar year)", nullable=False, value_range=(2000, 2030)),
        col("sessions_possible", I, "Sessions possible", value_range=(0, 400)),
        col("sessions_absent", I, "Sessions absent", value_range=(0, 400)),
        col("persistent_absence", B, "Persistently absent (10% or more of sessions)"),
    ),
    foreign_keys=(ForeignKey(("pupil_matching_reference",), "npd_pupil", ("pupil_matching_reference",)),),
)
NPD_EXCLUSIONS = Table(
    name="npd_exclusions",
    dataset="education",
    description="Suspensions and permanent exclusions: one row per exclusion.",
    grain="exclusion",
    primary_key=("exclusion_id",),
    columns=(
        key("exclusion_id", "Exclusion reference"),
        key("pupil_matching_reference", "Pupil"),
        col("exclusion_start_date", D, "Start date"),
        col("exclusion_category", S, "Category", K.EXCLUSION_TYPE),
    ),
    foreign_keys=(ForeignKey(("pupil_matching_reference",), "npd_pupil", ("pupil_matching_reference",)),),
)
NPD_CIN = Table(
    name="npd_children_in_need",
    dataset="education",
    description="Children in need episodes: one row per referral.",
    grain="episode",
    primary_key=("cin_episode_id",),
    columns=(
        key("cin_episode_id", "Episode reference"),
        key("pupil_matching_reference", "Pupil"),
        col("referral_date", D, "Referral date"),
        col("primary_need_code", S, "Primary need", K.CIN_NEED),
        col("child_protection_plan", B, "Child protection plan during the episode"),
    ),
    foreign_keys=(ForeignKey(("pupil_matching_reference",), "npd_pupil", ("pupil_matching_reference",)),),
)

MODEL = DataFirstModel(
    datasets=(
        Dataset("mags", "Magistrates' courts (defendant level)", "Libra / HOCAS", "ONS_mags_gov_uk_v2.ods",
                (MAGS_CASE, MAGS_OFFENCE), (date(2011, 1, 1), date(2024, 12, 31)), confidence="confirmed"),
        Dataset("crown", "Crown Court (defendant level)", "XHIBIT", "ONS_CR_1.ODS",
                (CROWN_CASE, CROWN_OFFENCE), (date(2013, 1, 1), date(2024, 12, 31)), confidence="confirmed"),
        Dataset("prison", "Prisoner custodial journeys", "P-NOMIS", "ONS_prison_gov_uk_v2.ods",
                (PRISON_JOURNEY, PRISON_INCIDENT), (date(2011, 1, 1), date(2024, 12, 31)), confidence="confirmed"),
        Dataset("probation", "Probation", "nDelius", "ONS_PR_1.ODS",
                (PROBATION, PROBATION_RQMNTS), (date(2014, 1, 1), date(2024, 12, 31)), confidence="confirmed"),
        Dataset("oasys", "Offender assessments (OASys)", "OASys", "OASys_ONS_data_catalogue_NOV25_External.ods",
                (OASYS_META, OASYS_CORE, OASYS_BCS, OASYS_TR_BCS, OASYS_SARA, OASYS_RMP, OASYS_SAQ, OASYS_SKILLS),
                (date(2011, 1, 1), date(2024, 12, 31)), confidence="confirmed"),
        Dataset("family", "Family court", "FamilyMan", "ONS_family_gov_uk_v1.ods",
                (FAMILY_CASES, FAMILY_EVENTS, FAMILY_PARTIES), (date(2011, 1, 1), date(2024, 12, 31)),
                critical=False, weak_identifiers=True, confidence="confirmed"),
        Dataset("civil", "Civil court (possession)", "CaseMan / PCOL", "ONS_civil_gov_uk_v1.ods",
                (CIVIL_CASES, CIVIL_PARTIES, CIVIL_EVENTS), (date(2012, 1, 1), date(2024, 12, 31)),
                critical=False, weak_identifiers=True, confidence="confirmed"),
        Dataset("linking", "Cross-justice system linking (XJS)", "Splink", "ONS_linking_gov_uk_v1.ods",
                (XJS_LINK, MAGS_CROWN_JOURNEY), (date(2011, 1, 1), date(2024, 12, 31)), confidence="confirmed"),
        Dataset("local_authority", "Local authority residents and service contacts (Wave 3)", "LA systems", None,
                (LA_RESIDENTS, LA_CONTACTS), (date(2011, 1, 1), date(2024, 12, 31)), wave=3, critical=False),
        Dataset("education", "Pupil-level education (Wave 1, like the NPD)", "NPD", None,
                (NPD_PUPIL, NPD_ATTENDANCE, NPD_EXCLUSIONS, NPD_CIN), (date(2006, 9, 1), date(2024, 8, 31)),
                wave=1, critical=False),
    )
)
