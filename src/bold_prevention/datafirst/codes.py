"""Code lists used across the Data First model.

Sources and confidence are in ``shared/reference/datafirst.md`` (sections 1-12). Where Data First's own wording is
not public, the values follow MoJ statistics conventions and are tagged ``inferred``.
"""

from __future__ import annotations

from .model import codelist

SEX = codelist("sex", ("M", "Male"), ("F", "Female"), ("U", "Unknown"), confidence="confirmed",
               description="Probation uses F / M")

#: 2011-census-style labels seen in probation, plus refusal and dummy codes [confirmed, S7].
ETHNICITY_DESC = codelist(
    "ethnicity_desc",
    "White: British/English/Welsh/Scottish/Northern Irish",
    "White: Irish",
    "White: Gypsy or Irish Traveller",
    "White: Any other White background",
    "Mixed: White and Black Caribbean",
    "Mixed: White and Black African",
    "Mixed: White and Asian",
    "Mixed: Any other Mixed background",
    "Asian or Asian British: Indian",
    "Asian or Asian British: Pakistani",
    "Asian or Asian British: Bangladeshi",
    "Asian or Asian British: Any other Asian background",
    "Chinese",
    "Black or Black British: Caribbean",
    "Black or Black British: African",
    "Black or Black British: Any other Black background",
    "Arab",
    "Other Ethnic Group",
    "Refusal",
    "Z_Dummy Ethnicity 04",
    confidence="confirmed",
)

#: ONS five-group ethnicity (plus Unknown), used for analysis and linkage QA.
ETHNIC_GROUP = codelist("ethnic_group", "White", "Mixed", "Asian", "Black", "Other", "Unknown")


def ethnic_group_of(desc: str | None) -> str:
    """Map a detailed ethnicity label to its ONS group."""
    if not desc:
        return "Unknown"
    d = desc.lower()
    if d.startswith("white"):
        return "White"
    if d.startswith("mixed"):
        return "Mixed"
    if d.startswith("asian") or d == "chinese":
        return "Asian"
    if d.startswith("black"):
        return "Black"
    if d in ("arab", "other ethnic group"):
        return "Other"
    return "Unknown"


OFFENCE_TYPE = codelist(
    "offence_type",
    ("SNM", "Summary non-motoring"),
    ("SM", "Summary motoring"),
    ("EW", "Triable either way"),
    ("IO", "Indictable only"),
)

#: Home Office offence groups [confirmed as used with Data First probation mo_code, S7].
OFFENCE_GROUP = codelist(
    "offence_group",
    ("01", "Violence against the person"),
    ("02", "Sexual offences"),
    ("03", "Robbery"),
    ("04", "Theft offences"),
    ("05", "Criminal damage and arson"),
    ("06", "Drug offences"),
    ("07", "Possession of weapons"),
    ("08", "Public order offences"),
    ("09", "Miscellaneous crimes against society"),
    ("10", "Fraud offences"),
    ("11", "Summary non-motoring"),
    ("12", "Summary motoring"),
    ("99", "Not known"),
    confidence="confirmed",
)

MAGS_PLEA = codelist("mags_plea", ("G", "Guilty"), ("NG", "Not guilty"), ("N", "No plea"))
MAGS_OUTCOME = codelist(
    "mags_outcome",
    ("CONV", "Convicted"),
    ("ACQ", "Acquitted"),
    ("DIS", "Dismissed"),
    ("WD", "Withdrawn"),
    ("CFT", "Committed for trial"),
    ("CFS", "Committed for sentence"),
)
SENTENCE = codelist(
    "sentence",
    ("CUS", "Immediate custody"),
    ("SSO", "Suspended sentence"),
    ("CO", "Community order"),
    ("FINE", "Fine"),
    ("CD", "Conditional discharge"),
    ("AD", "Absolute discharge"),
    ("ODW", "Otherwise dealt with"),
)
PROCEEDINGS_TYPE = codelist(
    "proceedings_type_desc", "Criminal", "Breach", "Application for civil order",
    confidence="inferred",
)
BREACH_MARKER = codelist("breach_marker", ("Y", "Yes"), ("N", "No"))

CROWN_CASE_TYPE = codelist("crown_case_type", ("T", "Trial"), ("S", "Committal for sentence"), ("A", "Appeal"))
CROWN_PLEA = codelist("crown_plea", ("G", "Guilty"), ("NG", "Not guilty"), ("MIX", "Mixed"))
CROWN_OUTCOME = codelist(
    "crown_outcome",
    ("CONV", "Convicted"),
    ("ACQ", "Acquitted"),
    ("DBJ", "Discharged by judge"),
    ("BO", "Bind-over"),
    ("WD", "Withdrawn"),
)

#: HMPPS admission and release reasons [confirmed for HMPPS systems, S21; unconfirmed for Data First].
ADMISSION_REASON = codelist("admission_reason", "SENTENCE", "REMAND", "RECALL", "HDC_RECALL")
RELEASE_REASON = codelist(
    "release_reason", "CRD", "HDC", "PAROLE", "ECSL", "DTO", "RECALL_RELEASE", "IMMIGRATION_BAIL", "ERS"
)
CUSTODY_INCIDENT = codelist("incident_type", "Self-harm", "Assault on staff", "Assault on prisoner",
                            "Fight", "Death")

PROBATION_DISPOSAL = codelist(
    "disposal_type_description",
    "Community Order",
    "Suspended Sentence Order",
    "CJA - Std Determinate Custody",
    "Licence",
    "Post Sentence Supervision",
    "Pre-Sentence Report",
    confidence="inferred",
)
PROBATION_AREA = codelist(
    "probation_area_desc",
    "CPA London", "NPS London", "NPS North West", "NPS North East", "NPS Midlands", "NPS South West & South Central",
    "NPS South East & Eastern", "NPS Wales", "Wales Probation Trust", "CPA Durham Tees Valley",
    "Bristol (HMP)",
    confidence="confirmed",
)
RQMNT_CATEGORY = codelist(
    "rqmnt_type_main_category",
    ("W", "Unpaid Work"),
    ("RAR", "Rehabilitation Activity Requirement"),
    ("P", "Programme"),
    ("PA", "Prohibited Activity"),
    ("J", "Curfew"),
    ("X", "Exclusion"),
    ("RES", "Residence"),
    ("MH", "Mental Health Treatment"),
    ("D", "Drug Rehabilitation"),
    ("AT", "Alcohol Treatment"),
    ("AAMR", "Alcohol Abstinence & Electronic Monitoring (AAMR)"),
    ("EM", "Electronic Monitoring"),
)
RQMNT_TERMINATION = codelist(
    "rqmnt_termination_reason_desc", "Requirement Completed", "Expired (Normal)", "Revoked", "Breached",
    "Transferred",
)

ASSESSMENT_TYPE = codelist("assessment_type", ("LAYER_1", "Layer 1"), ("LAYER_3", "Layer 3 (full)"),
                           ("BCS", "Basic Custody Screening"))
ASSESSMENT_CONTEXT = codelist("assessment_context", ("PRE", "Pre-sentence"), ("CUS", "Custody"),
                              ("COM", "Community"), ("REV", "Review"), ("TERM", "Termination"))

#: OASys value conventions, as the Values column of the published catalogue writes them [confirmed, S2].
YES_NO = codelist("yes_no", ("NO", "No"), ("YES", "Yes"), confidence="confirmed")
#: Flags that also record a missing answer (e.g. question_3_3, question_2_14).
YES_NO_M = codelist("yes_no_m", ("NO", "No"), ("YES", "Yes"), ("M", "Missing"), confidence="confirmed")
#: Tick-box flags recorded only when true (the older, pre-"v2" items): ``YES`` or blank.
YES_ONLY = codelist("yes_only", "YES", confidence="confirmed")
#: Transfer screening variants: ``NA = Not Applicable / NO / YES``, ``N/A / NO / YES``, ``DK / NO / YES``.
NA_NO_YES = codelist("na_no_yes", ("NA", "Not Applicable"), ("NO", "No"), ("YES", "Yes"), confidence="confirmed")
NSA_NO_YES = codelist("nslasha_no_yes", "N/A", "NO", "YES", confidence="confirmed")
DK_NO_YES = codelist("dk_no_yes", "DK", "NO", "YES", confidence="confirmed")
SCALE_012 = codelist("scale_012", ("0", "No problems"), ("1", "Some problems"), ("2", "Significant problems"),
                     ("M", "Missing"), confidence="confirmed")
INJECTING = codelist("injecting", ("0", "Never"), ("1", "Previously"), ("2", "Current"), ("M", "Missing"),
                     confidence="confirmed")
#: Weighted scores of section 1 (``0/1/2``).
WEIGHTED_012 = codelist("weighted_012", "0", "1", "2", confidence="confirmed")
#: question_1_11, breaches indicator: ``0 = No / 2 = Yes``.
BREACHES = codelist("breaches", ("0", "No"), ("2", "Yes"), confidence="confirmed")
#: question_3_1_2: whether section 3 describes the current or the planned accommodation.
ACCOMMODATION_PLAN = codelist("accommodation_plan", ("CURRENT", "Current accommodation"),
                              ("PLANNED", "Planned accommodation"), confidence="confirmed")
#: Accommodation status before prison / on reception (question_bcs33, question_tr_bcs33). The catalogue gives
#: "coded categories including permanent, temporary and rough sleeping" (BCS) and "... no fixed abode (NFA)"
#: (transfer screening); the codes themselves are not public.
ACCOMMODATION_STATUS = codelist(
    "accommodation_status", ("PERM", "Permanent"), ("TEMP", "Temporary"), ("NFA", "No fixed abode"),
    ("ROUGH", "Rough sleeping"),
    description="codes inferred; the categories are the catalogue's", confidence="inferred")
#: Type of accommodation lived in before prison (question_bcs36): council, housing association, private, other.
ACCOMMODATION_TENURE = codelist(
    "accommodation_tenure", ("COUNCIL", "Council"), ("HA", "Housing association"), ("PRIVATE", "Private"),
    ("OTHER", "Other"), description="codes inferred; the categories are the catalogue's", confidence="inferred")
#: Type of accommodation (question_3_1_1): the catalogue says only "coded categories (type of accommodation)".
ACCOMMODATION_TYPE = codelist(
    "accommodation_type", ("01", "Owner occupier"), ("02", "Social housing tenant"), ("03", "Private tenant"),
    ("04", "Living with family or friends"), ("05", "Supported housing or hostel"), ("06", "Approved premises"),
    ("07", "Temporary or short-term accommodation"), ("08", "No fixed abode or rough sleeping"), ("09", "Other"),
    description="codes and categories inferred", confidence="inferred")
#: Main source of income before custody (question_5_1): "coded list including wages, benefits, loans and no
#: income"; the other categories and all codes are inferred.
INCOME_SOURCE = codelist(
    "income_source", ("WAGES", "Wages or salary"), ("BENEFITS", "Benefits"), ("PENSION", "Pension"),
    ("LOANS", "Loans"), ("FAMILY", "Family or friends"), ("NONE", "No income"), ("OTHER", "Other"),
    description="wages, benefits, loans and no income are the catalogue's; the rest inferred",
    confidence="inferred")
#: SARA item ratings (0 absent, 1 partially present, 2 present): the SARA convention; the catalogue gives no values.
SARA_RATING = codelist("sara_rating", ("0", "Absent"), ("1", "Possibly or partially present"), ("2", "Present"),
                       confidence="inferred")
#: Skills checker question_sc8 ("ordered categories"); the categories are inferred.
CONFIDENCE_4 = codelist("confidence_4", ("1", "Very confident"), ("2", "Fairly confident"),
                        ("3", "Not very confident"), ("4", "Not at all confident"), confidence="inferred")
HEALTHCARE_LEVEL = codelist("level_healthcare_req", ("0", "None"), ("1", "Low"), ("2", "Medium"), ("3", "High"))

#: Drug codes used by coded OASys questions; published in the catalogue's ``drug_lookup`` sheet.
DRUG_LOOKUP = codelist(
    "drug_lookup",
    ("01", "Heroin"), ("02", "Methadone (not prescribed)"), ("03", "Other opiates"), ("04", "Crack cocaine"),
    ("05", "Cocaine hydrochloride"), ("06", "Misused prescribed drugs"), ("07", "Benzodiazepines"),
    ("08", "Amphetamines"), ("09", "Hallucinogens"), ("10", "Ecstasy"), ("11", "Cannabis"),
    ("12", "Solvents"), ("13", "Steroids"), ("14", "Spice / synthetic cannabinoids"), ("15", "Other"),
    confidence="confirmed", description="drug_lookup sheet of the OASys catalogue",
)

FAMILY_CASE_TYPE = codelist(
    "family_case_type",
    ("C", "Public law"),
    ("P", "Private law"),
    ("A", "Adoption"),
    ("FLA", "Family Law Act (domestic abuse)"),
    ("D", "Divorce"),
    ("FR", "Financial remedy"),
    confidence="confirmed",
)
FAMILY_ROLE = codelist(
    "role_model",
    ("APLZ", "Applicant"), ("APLC", "Applicant (Children Act)"), ("APLA", "Applicant (adoption)"),
    ("RSPZ", "Respondent"), ("RSPC", "Respondent (Children Act)"), ("RSPA", "Respondent (adoption)"),
    ("CHLDZ", "Child"), ("CHLDC", "Child (Children Act)"),
    confidence="internal",
)
FAMILY_EVENT = codelist(
    "event_model",
    ("C1", "Application (Children Act)"), ("C100", "Application (private law)"), ("FL401", "Application (FLA)"),
    ("FL404", "Occupation order"), ("FL406", "Power of arrest"), ("G63", "Hearing"), ("C43", "Child arrangements order"),
    ("C32", "Care order"), ("C35", "Supervision order"), ("ORDNOM", "Non-molestation order"),
    ("ORDREF", "Order refused"), ("A76", "Adoption order"), ("D36", "Decree nisi"), ("D37", "Decree absolute"),
    confidence="internal",
)

CIVIL_CLAIM_TYPE = codelist(
    "claim_type",
    ("PSL", "Possession: social landlord"),
    ("PPL", "Possession: private landlord"),
    ("PAC", "Possession: accelerated procedure"),
    ("PMO", "Possession: mortgage"),
    ("MON", "Money claim"),
    ("DAM", "Damages"),
)
CIVIL_PARTY_ROLE = codelist("party_role", ("CLMT", "Claimant"), ("DEFT", "Defendant"))
#: Possession funnel events [confirmed as MoJ's official statistics model, S30].
CIVIL_EVENT = codelist(
    "civil_event_type",
    ("CLAIM", "Claim issued"),
    ("ORDER_OUTRIGHT", "Outright possession order"),
    ("ORDER_SUSPENDED", "Suspended possession order"),
    ("NO_ORDER", "No order"),
    ("WARRANT", "Warrant of possession issued"),
    ("REPOSSESSION", "Repossession by county court bailiffs"),
    ("JUDGMENT", "Judgment"),
    confidence="confirmed",
)

XJS_SOURCE_DATASET = codelist(
    "source_dataset",
    "mags_hocas", "crown_xhibit", "prison_nomis", "prison_oasys", "probation_delius", "familyman",
    "civil_caseman_pcol",
    confidence="confirmed",
)

LA_SERVICE = codelist(
    "la_service",
    ("HOUS", "Housing options"),
    ("TA", "Temporary accommodation"),
    ("HPR", "Homelessness prevention and relief"),
    ("EH", "Early help"),
    ("ASC", "Adult social care"),
    ("CSC", "Children's social care"),
    ("ASB", "Anti-social behaviour"),
    ("CTS", "Council tax support"),
    ("RENT", "Rent arrears (council tenancy)"),
    ("DA", "Domestic abuse service"),
)

SEN_PROVISION = codelist("sen_provision", ("N", "No special educational need"), ("K", "SEN support"),
                         ("E", "Education, health and care plan"), confidence="inferred")
EXCLUSION_TYPE = codelist("exclusion_category", ("FIXD", "Suspension (fixed period)"), ("PERM", "Permanent exclusion"))
CIN_NEED = codelist(
    "cin_primary_need",
    ("N1", "Abuse or neglect"), ("N2", "Child's disability or illness"), ("N3", "Parental disability or illness"),
    ("N4", "Family in acute stress"), ("N5", "Family dysfunction"), ("N6", "Socially unacceptable behaviour"),
    ("N7", "Low income"), ("N8", "Absent parenting"), ("N9", "Cases other than children in need"),
    confidence="inferred",
)
