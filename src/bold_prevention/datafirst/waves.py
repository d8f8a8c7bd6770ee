"""The Wave 1 and Wave 2 source models (annex A5): what each partner's extract looks like.

Wave 1 adds the National Pupil Database modules beyond the pupil, attendance, exclusion and children-in-need tables
of :data:`~bold_prevention.datafirst.tables.MODEL` (``education``): the school census by year (with SEND), key stage
attainment, looked-after episodes (CLA) and child protection plans. Wave 2 adds DWP benefit spells and employment
programme starts, HMRC PAYE real-time-information employments and Child Benefit, NHS hospital episodes (admitted
care, A&E, mental-health contacts), the National Drug Treatment Monitoring System and ONS death registrations.

These sources are kept out of ``MODEL`` (the Data First model that every default load, catalogue and synthetic
population covers): :data:`WAVE_MODEL` holds them together with the Data First datasets so that foreign keys to
Data First tables resolve, and :data:`WAVE_SOURCES` names the sources that ``bold synth --sources`` and ``bold link
wave`` accept. Every wave dataset is non-critical (a broken or missing wave source degrades a load, never blocks it).

Identifiers are those each source really carries (see ``docs/waves.md`` for what is known and what is assumed):
a National Insurance number (``nino``) on DWP and HMRC records, the NHS number on hospital and death records, names,
date of birth and postcode on NPD, initials, date of birth, sex and local authority on NDTMS (the attributor, a
notoriously weak key). Every identifier column is ``identifier=True`` (linkage layer only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from . import codes as K
from .model import Column, DataFirstModel, Dataset, DateOrder, ForeignKey, Table, codelist
from .tables import MODEL

S, I, F, D, B = "string", "int", "float", "date", "bool"  # noqa: E741


def _col(name, dtype, description, codes=None, *, nullable=True, value_range=None, min_completeness=None) -> Column:
    return Column(name=name, dtype=dtype, description=description, codes=codes, nullable=nullable,
                  value_range=value_range, min_completeness=min_completeness)


def _key(name, description) -> Column:
    return Column(name=name, dtype="string", description=description, nullable=False)


def _ident(name, dtype, description, role=None, completeness=None) -> Column:
    return Column(name=name, dtype=dtype, description=description, identifier=True, role=role,
                  min_completeness=completeness)


def _person_ids(completeness: float = 0.95, *, postcode: bool = True) -> tuple[Column, ...]:
    cols = [_ident("forename", S, "Forename", "forename", completeness),
            _ident("surname", S, "Surname", "surname", completeness),
            _ident("date_of_birth", D, "Date of birth", "date_of_birth", completeness)]
    if postcode:
        cols.append(_ident("postcode", S, "Postcode of the address held", "postcode", completeness * 0.8))
    return tuple(cols)


def _sex() -> Column:
    return Column("sex", "string", "Sex", codes=K.SEX, role="sex")


NINO = _ident("nino", S, "National Insurance number (two letters, six digits, a suffix letter)")
NHS_NUMBER = _ident("nhs_number", S, "NHS number (ten digits, the last a modulus-11 check digit)")

# ---------------------------------------------------------------------------------------------------- code lists
SEN_STATUS = codelist("sen_status", ("N", "No special educational need"), ("K", "SEN support"),
                      ("E", "Education, health and care plan"))
SEN_NEED = codelist("sen_primary_need", ("SPLD", "Specific learning difficulty"),
                    ("MLD", "Moderate learning difficulty"), ("SLCN", "Speech, language and communication needs"),
                    ("SEMH", "Social, emotional and mental health"), ("ASD", "Autistic spectrum disorder"),
                    ("PD", "Physical disability"), ("OTH", "Other difficulty"))
KEY_STAGE = codelist("key_stage", ("KS2", "Key stage 2 (end of primary, age 11)"),
                     ("KS4", "Key stage 4 (GCSE, age 16)"))
CLA_LEGAL = codelist("cla_legal_status", ("C1", "Interim care order"), ("C2", "Full care order"),
                     ("V2", "Accommodated under section 20"), ("E1", "Placement order"),
                     ("L2", "Emergency protection order"))
CLA_REASON_END = codelist("cla_reason_ceased", ("E11", "Adopted"), ("E13", "Left care to live with parents"),
                          ("E41", "Residence or child arrangements order"), ("E45", "Special guardianship order"),
                          ("E8", "Period of care ended for any other reason"))
CP_CATEGORY = codelist("cp_category", ("NEG", "Neglect"), ("PHY", "Physical abuse"), ("EMO", "Emotional abuse"),
                       ("SAB", "Sexual abuse"), ("MUL", "Multiple categories"))
BENEFIT = codelist("benefit_type", ("UC", "Universal Credit"), ("ESA", "Employment and Support Allowance"),
                   ("JSA", "Jobseeker's Allowance"), ("PIP", "Personal Independence Payment"))
PROGRAMME = codelist("employment_programme", ("WP", "Work Programme"), ("WHP", "Work and Health Programme"),
                     ("RESTART", "Restart"), ("KICKSTART", "Kickstart"),
                     ("SWAP", "Sector-based work academy programme"))
ADMISSION_METHOD = codelist("admission_method", ("EL", "Elective"), ("EM", "Emergency"), ("MAT", "Maternity"))
ICD10_CHAPTER = codelist(
    "icd10_chapter",
    ("II", "Neoplasms (C00-D48)"), ("IV", "Endocrine, nutritional and metabolic (E00-E90)"),
    ("V", "Mental and behavioural disorders (F00-F99)"), ("VI", "Nervous system (G00-G99)"),
    ("IX", "Circulatory system (I00-I99)"), ("X", "Respiratory system (J00-J99)"),
    ("XI", "Digestive system (K00-K93)"), ("XIII", "Musculoskeletal system (M00-M99)"),
    ("XV", "Pregnancy and childbirth (O00-O99)"), ("XVIII", "Symptoms and signs (R00-R99)"),
    ("XIX", "Injury and poisoning (S00-T98)"), ("XX", "External causes of mortality (V01-Y98)"),
    description="ICD-10 chapters (roman numerals) used in HES and ONS mortality")
AE_CATEGORY = codelist("ae_category", ("1", "First attendance"), ("2", "Planned follow-up"),
                       ("3", "Unplanned follow-up"))
MH_SERVICE = codelist("mh_service", ("CMHT", "Community mental health team"), ("CRISIS", "Crisis resolution"),
                      ("TALK", "NHS Talking Therapies"), ("EIP", "Early intervention in psychosis"),
                      ("LIAISON", "Liaison psychiatry"))
NDTMS_SOURCE = codelist("ndtms_referral_source", ("SELF", "Self, family or friends"), ("GP", "GP"),
                        ("PROB", "Probation service"), ("PRISON", "Prison"), ("CJIT", "Arrest referral / CJIT"),
                        ("LA", "Children's or adult social care"), ("HOSP", "Hospital"), ("OTHER", "Other"))
NDTMS_EXIT = codelist("ndtms_discharge_reason", ("CFREE", "Treatment completed, drug-free"),
                      ("COCC", "Treatment completed, occasional user (not opiates or crack)"),
                      ("DROP", "Dropped out / left"), ("TRANS", "Transferred"), ("PRIS", "Transferred to prison"),
                      ("DIED", "Died"), ("DECL", "Treatment declined"))
NDTMS_SUBSTANCE = codelist("ndtms_substance", ("OPIATE", "Heroin and other opiates"), ("CRACK", "Crack cocaine"),
                           ("COCAINE", "Powder cocaine"), ("CANNABIS", "Cannabis"), ("ALCOHOL", "Alcohol"),
                           ("BENZO", "Benzodiazepines"), ("AMPHET", "Amphetamines"), ("OTHER", "Other"))
NDTMS_ATTRIBUTOR_LA = "local_authority"

# --------------------------------------------------------------------------------------------------- Wave 1: NPD
_PMR = "pupil_matching_reference"
_PUPIL_FK = ForeignKey((_PMR,), "npd_pupil", (_PMR,))
NPD_CENSUS = Table(
    name="npd_census", dataset="npd_modules", grain="pupil x census year",
    description="School census (January): one row per pupil per academic year, with free school meals and SEND.",
    primary_key=(_PMR, "academic_year"), foreign_keys=(_PUPIL_FK,),
    columns=(
        _key(_PMR, "Pupil matching reference"),
        _col("academic_year", I, "Academic year (starting calendar year)", nullable=False, value_range=(2000, 2030)),
        _col("la_code", S, "Local authority of the school (ONS code)"),
        _col("year_group", I, "National curriculum year (0 = reception)", value_range=(0, 13)),
        _col("fsm_eligible", B, "Eligible for free school meals on census day"),
        _col("sen_status", S, "SEN provision on census day", SEN_STATUS),
        _col("sen_primary_need", S, "Primary type of special educational need", SEN_NEED),
    ))
NPD_KEY_STAGE = Table(
    name="npd_key_stage", dataset="npd_modules", grain="pupil x key stage",
    description="Key stage attainment: KS2 (reading, writing and maths at the expected standard) and KS4 "
                "(Attainment 8).",
    primary_key=(_PMR, "key_stage"), foreign_keys=(_PUPIL_FK,),
    columns=(
        _key(_PMR, "Pupil matching reference"),
        _col("key_stage", S, "Key stage", KEY_STAGE, nullable=False),
        _col("academic_year", I, "Academic year of the assessment", value_range=(2000, 2030)),
        _col("ks2_rwm_expected", B, "KS2: reading, writing and maths at the expected standard"),
        _col("ks4_attainment8", F, "KS4: Attainment 8 score", value_range=(0, 90)),
    ))
NPD_CLA = Table(
    name="npd_cla_episodes", dataset="npd_modules", grain="episode of care",
    description="Children looked after (SSDA903): one row per episode of care.",
    primary_key=("cla_episode_id",), foreign_keys=(_PUPIL_FK,),
    date_orders=(DateOrder("episode_start_date", "episode_end_date"),),
    columns=(
        _key("cla_episode_id", "Episode reference"),
        _key(_PMR, "Pupil matching reference (matched by DfE)"),
        _col("episode_start_date", D, "Start of the episode", min_completeness=0.99),
        _col("episode_end_date", D, "End of the episode (empty while looked after)"),
        _col("legal_status", S, "Legal status", CLA_LEGAL),
        _col("reason_ceased", S, "Reason the episode ceased", CLA_REASON_END),
    ))
NPD_CP = Table(
    name="npd_cp_plans", dataset="npd_modules", grain="child protection plan",
    description="Child protection plans (children in need census): one row per plan.",
    primary_key=("cp_plan_id",), foreign_keys=(_PUPIL_FK,),
    date_orders=(DateOrder("plan_start_date", "plan_end_date"),),
    columns=(
        _key("cp_plan_id", "Plan reference"),
        _key(_PMR, "Pupil matching reference"),
        _col("plan_start_date", D, "Start of the plan", min_completeness=0.99),
        _col("plan_end_date", D, "End of the plan (empty while open)"),
        _col("initial_category", S, "Initial category of abuse", CP_CATEGORY),
    ))

# ---------------------------------------------------------------------------------------------------- Wave 2: DWP
DWP_CUSTOMERS = Table(
    name="dwp_customers", dataset="dwp", grain="customer (Customer Information System record)",
    description="DWP customers: the Customer Information System's demographics for each NINO seen in the spells.",
    primary_key=("customer_ref",), record_id="customer_ref",
    columns=(_key("customer_ref", "Customer reference"), NINO, *_person_ids(0.97), _sex()))
DWP_SPELLS = Table(
    name="dwp_benefit_spells", dataset="dwp", grain="benefit spell",
    description="Benefit spells (like the Work and Pensions Longitudinal Study): one row per spell of a benefit.",
    primary_key=("spell_id",), date_orders=(DateOrder("spell_start_date", "spell_end_date"),),
    columns=(
        _key("spell_id", "Spell reference"), NINO,
        _col("benefit_type", S, "Benefit", BENEFIT, min_completeness=0.99),
        _col("spell_start_date", D, "Start of the spell", min_completeness=0.99),
        _col("spell_end_date", D, "End of the spell (empty while in payment)"),
    ))
DWP_PROGRAMMES = Table(
    name="dwp_employment_programmes", dataset="dwp", grain="programme start",
    description="Employment programme starts (Work Programme, Work and Health Programme, Restart, ...).",
    primary_key=("programme_start_id",), date_orders=(DateOrder("referral_date", "start_date"),),
    columns=(
        _key("programme_start_id", "Programme start reference"), NINO,
        _col("programme", S, "Programme", PROGRAMME),
        _col("referral_date", D, "Referral date"),
        _col("start_date", D, "Start date", min_completeness=0.99),
    ))

# --------------------------------------------------------------------------------------------------- Wave 2: HMRC
HMRC_INDIVIDUALS = Table(
    name="hmrc_individuals", dataset="hmrc", grain="individual",
    description="HMRC individuals: the demographics HMRC holds for each NINO seen in PAYE or Child Benefit.",
    primary_key=("individual_ref",), record_id="individual_ref",
    columns=(_key("individual_ref", "Individual reference"), NINO, *_person_ids(0.97), _sex()))
HMRC_EMPLOYMENTS = Table(
    name="hmrc_paye_employments", dataset="hmrc", grain="employment",
    description="PAYE real-time-information employments: one row per employment (employer, start, leaving date).",
    primary_key=("employment_id",), date_orders=(DateOrder("start_date", "end_date"),),
    columns=(
        _key("employment_id", "Employment reference"), NINO,
        _col("employer_paye_ref", S, "Employer PAYE reference (pseudonymised)", min_completeness=0.99),
        _col("start_date", D, "Start of the employment"),
        _col("end_date", D, "Leaving date (empty while employed)"),
    ))
HMRC_PAY = Table(
    name="hmrc_paye_pay", dataset="hmrc", grain="employment x month",
    description="Monthly taxable pay of each employment (RTI full payment submissions summed by month).",
    primary_key=("employment_id", "pay_month"),
    foreign_keys=(ForeignKey(("employment_id",), "hmrc_paye_employments", ("employment_id",)),),
    columns=(
        _key("employment_id", "Employment reference"),
        _col("pay_month", D, "Month (its first day)", nullable=False),
        _col("taxable_pay", F, "Taxable pay in the month (GBP)", value_range=(0, 1_000_000)),
    ))
HMRC_CB_CLAIMS = Table(
    name="hmrc_child_benefit_claims", dataset="hmrc", grain="claim",
    description="Child Benefit claims: one row per claimant's claim.",
    primary_key=("claim_id",), date_orders=(DateOrder("claim_start_date", "claim_end_date"),),
    columns=(
        _key("claim_id", "Claim reference"), NINO,
        _col("claim_start_date", D, "Start of the award"),
        _col("claim_end_date", D, "End of the award (empty while in payment)"),
        _col("children", I, "Children on the claim", value_range=(1, 15)),
    ))
HMRC_CB_CHILDREN = Table(
    name="hmrc_child_benefit_children", dataset="hmrc", grain="child on a claim",
    description="Children on Child Benefit claims (the claimant-child pairs).",
    primary_key=("child_ref",), record_id="child_ref",
    foreign_keys=(ForeignKey(("claim_id",), "hmrc_child_benefit_claims", ("claim_id",)),),
    columns=(
        _key("child_ref", "Child reference"), _key("claim_id", "Claim"),
        *_person_ids(0.97, postcode=False), _sex(),
        _col("child_start_date", D, "Date the child was added to the claim"),
    ))

# ----------------------------------------------------------------------------------------------- Wave 2: NHS (HES)
NHS_PATIENTS = Table(
    name="nhs_patients", dataset="nhs", grain="patient",
    description="Patients of the hospital and mental-health extracts: NHS number with the demographics of the "
                "Personal Demographics Service trace done in the linkage step.",
    primary_key=("patient_ref",), record_id="patient_ref",
    columns=(_key("patient_ref", "Patient reference (like HESID)"), NHS_NUMBER, *_person_ids(0.97), _sex()))
HES_APC = Table(
    name="hes_apc_episodes", dataset="nhs", grain="admitted patient care episode",
    description="Hospital Episode Statistics admitted patient care: one row per admission.",
    primary_key=("episode_id",), date_orders=(DateOrder("admission_date", "discharge_date"),),
    columns=(
        _key("episode_id", "Episode reference"), NHS_NUMBER,
        _col("admission_date", D, "Admission date", min_completeness=0.99),
        _col("discharge_date", D, "Discharge date"),
        _col("admission_method", S, "Admission method", ADMISSION_METHOD),
        _col("diagnosis_chapter", S, "ICD-10 chapter of the primary diagnosis", ICD10_CHAPTER),
        _col("primary_diagnosis", S, "Primary diagnosis (ICD-10, 3 characters)"),
    ))
HES_AE = Table(
    name="hes_ae_attendances", dataset="nhs", grain="A&E attendance",
    description="Accident and emergency attendances (HES A&E / ECDS).",
    primary_key=("attendance_id",),
    columns=(
        _key("attendance_id", "Attendance reference"), NHS_NUMBER,
        _col("arrival_date", D, "Arrival date", min_completeness=0.99),
        _col("attendance_category", S, "Attendance category", AE_CATEGORY),
        _col("diagnosis_chapter", S, "ICD-10 chapter of the diagnosis (where coded)", ICD10_CHAPTER),
    ))
MH_CONTACTS = Table(
    name="mhsds_contacts", dataset="nhs", grain="care contact",
    description="Mental-health service contacts (Mental Health Services Data Set).",
    primary_key=("contact_id",),
    columns=(
        _key("contact_id", "Contact reference"), NHS_NUMBER,
        _col("contact_date", D, "Contact date", min_completeness=0.99),
        _col("service_type", S, "Service", MH_SERVICE),
    ))

# -------------------------------------------------------------------------------------------------- Wave 2: NDTMS
NDTMS = Table(
    name="ndtms_episodes", dataset="ndtms", grain="treatment journey episode",
    description="National Drug Treatment Monitoring System: one row per episode (referral, triage, treatment, "
                "exit). Clients are identified by the attributor: initials, date of birth, sex and local authority.",
    primary_key=("episode_id",), record_id="episode_id",
    date_orders=(DateOrder("referral_date", "triage_date"), DateOrder("triage_date", "treatment_start_date"),
                 DateOrder("treatment_start_date", "discharge_date")),
    columns=(
        _key("episode_id", "Episode reference"),
        _ident("forename_initial", S, "First initial of the forename", "forename", 0.95),
        _ident("surname_initial", S, "First initial of the surname", "surname", 0.95),
        _ident("date_of_birth", D, "Date of birth", "date_of_birth", 0.95),
        _sex(),
        _ident(NDTMS_ATTRIBUTOR_LA, S, "Local authority of residence (ONS code)", None, 0.9),
        _col("referral_date", D, "Referral date", min_completeness=0.95),
        _col("referral_source", S, "Referral source", NDTMS_SOURCE),
        _col("triage_date", D, "Triage (assessment) date"),
        _col("treatment_start_date", D, "Start of structured treatment"),
        _col("discharge_date", D, "Discharge date (empty while in treatment)"),
        _col("discharge_reason", S, "Reason for discharge", NDTMS_EXIT),
        _col("primary_substance", S, "Primary substance", NDTMS_SUBSTANCE),
        _col("secondary_substance", S, "Secondary substance", NDTMS_SUBSTANCE),
    ))

# --------------------------------------------------------------------------------------------- Wave 2: ONS deaths
ONS_DEATHS = Table(
    name="ons_death_registrations", dataset="ons_deaths", grain="death registration",
    description="ONS death registrations: date of death and underlying cause (ICD-10).",
    primary_key=("registration_id",), record_id="registration_id",
    date_orders=(DateOrder("date_of_death", "date_of_registration"),),
    columns=(
        _key("registration_id", "Registration reference"), NHS_NUMBER, *_person_ids(0.97), _sex(),
        _col("date_of_death", D, "Date of death", min_completeness=0.99),
        _col("date_of_registration", D, "Date the death was registered"),
        _col("underlying_cause", S, "Underlying cause of death (ICD-10, 3 characters)"),
        _col("cause_chapter", S, "ICD-10 chapter of the underlying cause", ICD10_CHAPTER),
    ))

# ------------------------------------------------------------------------------- Wave 3: victim support service
SUPPORT_SOURCE = codelist("support_referral_source", ("POLICE", "Police (victim referral)"),
                          ("SELF", "Self-referral"), ("HEALTH", "Health service (GP, hospital, SARC)"),
                          ("AGENCY", "Other agency (local authority, charity)"))
SUPPORT_CRIME = codelist("support_crime_type", ("SV", "Sexual violence"), ("DA", "Domestic abuse"),
                         ("VIOL", "Other violence"), ("OTHER", "Other crime"))
SUPPORT_EXIT = codelist("support_exit_reason", ("COMPLETED", "Support plan completed"),
                        ("DISENGAGED", "Disengaged (stopped responding or declined further support)"),
                        ("REFERRED", "Referred on to another service"), ("MOVED", "Moved out of the area"))
SUPPORT_CONTACT = codelist("support_contact_type", ("PHONE", "Telephone"), ("F2F", "Face to face"),
                           ("ISVA", "Independent sexual violence adviser session"), ("GROUP", "Group session"))
SUPPORT_REFERRALS = Table(
    name="support_referrals", dataset="support_service", grain="referral",
    description="A victims' support service's case records: one row per referral (referral, assessment, exit and "
                "its reason), with the identifiers a service holds (name, date of birth, postcode; often partial).",
    primary_key=("referral_id",), record_id="referral_id",
    date_orders=(DateOrder("referral_date", "assessment_date"), DateOrder("referral_date", "exit_date")),
    columns=(
        _key("referral_id", "Referral reference"),
        *_person_ids(0.85), _sex(),
        _col("age_at_referral", I, "Age at referral (years)", value_range=(0, 110)),
        _col("referral_date", D, "Date the referral was received", min_completeness=0.99),
        _col("referral_source", S, "Who referred", SUPPORT_SOURCE),
        _col("crime_type", S, "Crime the support relates to", SUPPORT_CRIME),
        _col("assessment_date", D, "Date of the needs assessment (empty: never assessed)"),
        _col("exit_date", D, "Date the case was closed (empty while open)"),
        _col("exit_reason", S, "Reason the case was closed", SUPPORT_EXIT),
    ))
SUPPORT_CONTACTS = Table(
    name="support_contacts", dataset="support_service", grain="contact",
    description="Contacts between the support service and the person referred (calls, sessions).",
    primary_key=("contact_id",),
    foreign_keys=(ForeignKey(("referral_id",), "support_referrals", ("referral_id",)),),
    columns=(
        _key("contact_id", "Contact reference"), _key("referral_id", "Referral"),
        _col("contact_date", D, "Date of the contact", min_completeness=0.99),
        _col("contact_type", S, "Kind of contact", SUPPORT_CONTACT),
    ))

_PERIOD = (date(2011, 1, 1), date(2024, 12, 31))
WAVE_DATASETS: tuple[Dataset, ...] = (
    Dataset("npd_modules", "National Pupil Database modules: census, SEND, key stages, CLA, CP (Wave 1)", "NPD",
            None, (NPD_CENSUS, NPD_KEY_STAGE, NPD_CLA, NPD_CP), (date(2006, 9, 1), date(2024, 8, 31)), wave=1,
            critical=False),
    Dataset("dwp", "DWP benefit spells and employment programmes (Wave 2)", "DWP CIS / WPLS", None,
            (DWP_CUSTOMERS, DWP_SPELLS, DWP_PROGRAMMES), _PERIOD, wave=2, critical=False),
    Dataset("hmrc", "HMRC PAYE employments and Child Benefit (Wave 2)", "HMRC RTI / Child Benefit", None,
            (HMRC_INDIVIDUALS, HMRC_EMPLOYMENTS, HMRC_PAY, HMRC_CB_CLAIMS, HMRC_CB_CHILDREN), _PERIOD, wave=2,
            critical=False),
    Dataset("nhs", "NHS hospital episodes, A&E and mental-health contacts (Wave 2)", "HES / ECDS / MHSDS", None,
            (NHS_PATIENTS, HES_APC, HES_AE, MH_CONTACTS), _PERIOD, wave=2, critical=False),
    Dataset("ndtms", "National Drug Treatment Monitoring System (Wave 2)", "NDTMS", None, (NDTMS,), _PERIOD,
            wave=2, critical=False, weak_identifiers=True),
    Dataset("ons_deaths", "ONS death registrations (Wave 2)", "ONS mortality", None, (ONS_DEATHS,), _PERIOD,
            wave=2, critical=False),
    Dataset("support_service", "A victims' support service's referrals and contacts (Wave 3)", "Support service "
            "case management system", None, (SUPPORT_REFERRALS, SUPPORT_CONTACTS), _PERIOD, wave=3, critical=False,
            weak_identifiers=True),
)

#: The Data First model with the Wave 1-2 sources added (foreign keys to Data First tables resolve here).
WAVE_MODEL = DataFirstModel(datasets=MODEL.datasets + WAVE_DATASETS)


@dataclass(frozen=True)
class WaveSource:
    """One wave source as ``bold synth --sources`` and ``bold link wave`` name it."""

    key: str
    wave: int
    title: str
    #: The dataset(s) it writes.
    datasets: tuple[str, ...]
    #: The person table linked to the spine.
    person_table: str
    #: The key that attaches event tables to the person table (``nino``, ``nhs_number``) or None.
    person_key: str | None = None
    #: Event tables attached through ``person_key`` (or by foreign key to the person table).
    event_tables: tuple[str, ...] = ()
    #: Identifier strength: ``strong`` (a national number or traced demographics) or ``weak`` (NDTMS attributor).
    strength: str = "strong"


WAVE_SOURCES: dict[str, WaveSource] = {s.key: s for s in (
    WaveSource("npd", 1, "National Pupil Database (pupils and modules)", ("npd_modules",), "npd_pupil",
               event_tables=("npd_census", "npd_key_stage", "npd_cla_episodes", "npd_cp_plans")),
    WaveSource("dwp", 2, "DWP benefits and employment programmes", ("dwp",), "dwp_customers", "nino",
               ("dwp_benefit_spells", "dwp_employment_programmes")),
    WaveSource("hmrc", 2, "HMRC PAYE and Child Benefit", ("hmrc",), "hmrc_individuals", "nino",
               ("hmrc_paye_employments", "hmrc_child_benefit_claims")),
    WaveSource("hes", 2, "NHS hospital episodes and mental-health contacts", ("nhs",), "nhs_patients", "nhs_number",
               ("hes_apc_episodes", "hes_ae_attendances", "mhsds_contacts")),
    WaveSource("ndtms", 2, "National Drug Treatment Monitoring System", ("ndtms",), "ndtms_episodes",
               strength="weak"),
    WaveSource("deaths", 2, "ONS death registrations", ("ons_deaths",), "ons_death_registrations"),
    WaveSource("support", 3, "A victims' support service (referrals, assessment, contacts, exit)",
               ("support_service",), "support_referrals", event_tables=("support_contacts",)),
)}
WAVES: dict[int, tuple[str, ...]] = {w: tuple(k for k, s in WAVE_SOURCES.items() if s.wave == w) for w in (1, 2, 3)}


def wave_table(name: str) -> Table:
    """A table of :data:`WAVE_MODEL` (Data First tables included)."""
    return WAVE_MODEL.table(name)


def wave_tables() -> tuple[Table, ...]:
    """Every table of the wave datasets (not the Data First ones)."""
    return tuple(t for d in WAVE_DATASETS for t in d.tables)


def resolve_sources(sources=None, waves=None) -> tuple[str, ...]:
    """The source keys asked for by ``--sources a,b`` and/or ``--waves 1,2`` (in :data:`WAVE_SOURCES` order).

    Raises ``KeyError`` naming an unknown source or wave (the CLI turns it into an InputError).
    """
    chosen: set[str] = set()
    for w in waves or ():
        if int(w) not in WAVES:
            raise KeyError(f"wave {w}")
        chosen.update(WAVES[int(w)])
    for s in sources or ():
        if s not in WAVE_SOURCES:
            raise KeyError(f"source {s}")
        chosen.add(s)
    return tuple(k for k in WAVE_SOURCES if k in chosen)
