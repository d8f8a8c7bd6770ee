"""Plain-English names for the Data First model: datasets, tables, columns (OASys items included), the XJS source
codes, the timeline's event types and the drivers of the register.

One glossary for everything a person reads (the web application, reports, the command line), so that nobody is shown
``mags_hocas``, ``oasys_assessments_metadata`` or ``question_13_3_10_1``:

>>> from bold_prevention.datafirst.glossary import GLOSSARY
>>> GLOSSARY.table("oasys_assessments_metadata")
'OASys assessments'
>>> GLOSSARY.source("mags_hocas")
"Magistrates' courts"
>>> GLOSSARY.column("question_13_3_10_1")
'Drug misuse affects risks or needs (OASys section 13, health)'

Dataset names come from the model's own titles (shortened where the title carries a note for analysts); table names
are written out below for every table of the model (a test checks none is missing); column names come from each
column's description in the model, OASys questions with their section. Anything the glossary does not know is
turned into words (``some_new_thing`` -> ``Some new thing``) rather than shown raw, and :func:`Glossary.known`
says whether a name is covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from .model import DataFirstModel
from .tables import MODEL

__all__ = ["GLOSSARY", "Glossary", "humanise"]

#: Short dataset names for people reading a page (the model's titles carry notes for analysts).
DATASETS: dict[str, str] = {
    "mags": "Magistrates' courts",
    "crown": "Crown Court",
    "prison": "Prison",
    "probation": "Probation",
    "oasys": "OASys assessments",
    "family": "Family court",
    "civil": "County court (civil)",
    "linking": "Cross-justice linking",
    "local_authority": "Local authority",
    "education": "Education",
}

#: Every table of the model in plain words.
TABLES: dict[str, str] = {
    "mags_defendant_case": "Magistrates' court cases",
    "mags_defendant_offence": "Magistrates' court offences",
    "crown_defendant_case": "Crown Court cases",
    "crown_defendant_offence": "Crown Court offences",
    "prison_custodial_journey": "Prison custody spells",
    "prison_safety_in_custody": "Incidents in custody",
    "moj_probation_flatfile": "Probation sentences and supervision",
    "moj_probation_rqmnts": "Requirements of community and suspended sentence orders",
    "oasys_assessments_metadata": "OASys assessments",
    "oasys_assessments_details_core_risk": "OASys assessment answers (sections 1 to 13)",
    "oasys_assessments_details_bcs": "OASys basic custody screening",
    "oasys_assessments_details_tr_bcs": "OASys resettlement screening",
    "oasys_assessments_details_sara": "OASys spousal assault risk assessment",
    "oasys_assessments_details_rmp": "OASys risk management plan",
    "oasys_assessments_details_saq": "OASys self-assessment questionnaire",
    "oasys_assessments_details_skillschecker": "OASys skills checker",
    "family_cases": "Family court cases",
    "family_events": "Family court hearings and orders",
    "family_parties": "Parties to family court cases",
    "civil_cases": "County court claims",
    "civil_parties": "Parties to county court claims",
    "civil_events": "County court orders and warrants",
    "xjs_link": "Cross-justice person links",
    "mags_crown_journey": "Cases sent from magistrates' courts to the Crown Court",
    "la_residents": "Local authority residents",
    "la_service_contacts": "Local authority service contacts",
    "npd_pupil": "School pupils",
    "npd_attendance": "School attendance",
    "npd_exclusions": "School suspensions and exclusions",
    "npd_children_in_need": "Children in need referrals",
}

#: The XJS ``source_dataset`` codes (the system each person-level record came from).
SOURCES: dict[str, str] = {
    "mags_hocas": "Magistrates' courts",
    "crown_xhibit": "Crown Court",
    "prison_nomis": "Prison",
    "prison_oasys": "OASys assessments",
    "probation_delius": "Probation",
    "familyman": "Family court",
    "civil_caseman_pcol": "County court (civil)",
}

#: The timeline's event types (``spine.timeline.event_type``; ``trajectories.timeline.EVENT_SPECS``).
EVENTS: dict[str, str] = {
    "mags_case": "Magistrates' court case",
    "crown_case": "Crown Court case",
    "custody_start": "Received into prison",
    "custody_incident": "Incident in custody",
    "custody_release": "Released from prison",
    "pre_sentence_report": "Pre-sentence report",
    "probation_start": "Probation supervision started",
    "requirement_start": "Requirement imposed",
    "requirement_end": "Requirement ended",
    "probation_end": "Probation supervision ended",
    "oasys_assessment": "OASys assessment",
    "family_case": "Family court case",
    "family_order": "Family court order",
    "civil_claim": "Possession claim",
    "money_claim": "Money or damages claim",
    "civil_order": "Possession order",
    "civil_no_order": "Possession claim ended with no order",
    "civil_judgment": "County court judgment",
    "civil_warrant": "Warrant of possession",
    "civil_repossession": "Repossession",
    "la_contact": "Local authority contact",
    "school_exclusion": "School exclusion",
    "cin_referral": "Children in need referral",
    "persistent_absence": "Persistent absence from school",
}

#: Drivers of the risk factor register, by the register's own names (``name`` of each driver entry of
#: ``register/data/register.yaml``). The register is the source: the web application and the reports read them
#: through :func:`bold_prevention.register.driver_labels`; this copy serves the layers below the register, and
#: ``tests/test_driver_labels.py`` refuses any difference.
DRIVERS: dict[str, str] = {
    "mental_health": "Poor mental health", "physical_health": "Poor physical health, disability and nutrition",
    "low_income": "Low income", "substance_misuse": "Substance misuse", "employment": "Employment",
    "education": "Early years and education", "accommodation": "Accommodation", "family": "Family and marital",
    "domestic_abuse": "Domestic abuse",
}

#: Columns of the spine and of analysts' tables that are not columns of a Data First table.
COLUMNS: dict[str, str] = {
    "person_id": "Person reference",
    "as_at_date": "As at",
    "band": "Linkage band",
    "band_joined": "Linked with confidence",
    "weakest_band_joined": "Weakest link",
    "age": "Age",
    "age_band": "Age band",
    "sex": "Sex",
    "ethnic_group": "Ethnic group",
    "region": "Region",
    "country": "Country",
    "lad_name": "Local authority",
    "lad_code": "Local authority code",
    "lsoa11_code": "Neighbourhood (LSOA 2011)",
    "lsoa21_code": "Neighbourhood (LSOA 2021)",
    "imd_decile": "Deprivation decile (1 = most deprived)",
    "imd2025_decile": "Deprivation decile, 2025 index (1 = most deprived)",
    "local_authority": "Local authority",
    "driver": "Need",
    "need_count": "Needs flagged",
    "in_custody": "In custody",
    "last_release_date": "Last release from prison",
    "last_cj_date": "Latest criminal justice contact",
    "last_oasys_date": "Latest OASys assessment",
    "cj_contact_12m": "Criminal justice contact in the last 12 months",
    "n_possession_claims_12m": "Possession claims in the last 12 months",
    "n_family_cases_12m": "Family court cases in the last 12 months",
    "source_dataset": "Source",
    "source_table": "Table",
    "record_id": "Record reference",
    "dataset": "Dataset",
    "event_type": "Event",
    "event_date": "Date",
    "match_score": "Match probability",
    "use_case": "Use case",
    "t0": "Scored at",
    "score": "Score",
    "cohort": "Cohort",
    "persons": "Persons",
    "n": "Count",
    "check": "Check",
    "measure": "Measure",
    "grp": "Group",
    "category": "Category",
}

#: OASys section of a ``question_<section>_...`` item, for the core sections 1-13.
OASYS_SECTIONS: dict[str, str] = {
    "1": "offending history", "2": "current offence", "3": "accommodation",
    "4": "education, training and employability", "5": "finance", "6": "relationships",
    "7": "lifestyle and associates", "8": "drug misuse", "9": "alcohol misuse", "10": "emotional well-being",
    "11": "thinking and behaviour", "12": "attitudes", "13": "health",
}

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")


def humanise(name: str) -> str:
    """``some_new_thing`` -> ``Some new thing`` (the fallback for a name the glossary does not know)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def looks_like_code(text: str) -> bool:
    """True for a snake_case name such as ``oasys_assessments_metadata`` (what a page must not show)."""
    return bool(_SNAKE.match(text or ""))


@dataclass(frozen=True)
class Glossary:
    """Plain-English names over one Data First model."""

    model: DataFirstModel = field(default=MODEL)

    @cached_property
    def _columns(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in self.model.tables:
            for c in t.columns:
                if c.name in out:
                    continue
                out[c.name] = self._column_words(t.name, t.dataset, c.name, c.description)
        out.update(COLUMNS)
        return out

    @staticmethod
    def _column_words(table: str, dataset: str, column: str, description: str) -> str:
        text = description.strip().rstrip(".")
        if dataset == "oasys" and column.startswith("question_"):
            m = re.match(r"^question_(\d+)_", column)
            if m and m.group(1) in OASYS_SECTIONS and table == "oasys_assessments_details_core_risk":
                return f"{text} (OASys section {m.group(1)}, {OASYS_SECTIONS[m.group(1)]})"
            return f"{text} ({TABLES.get(table, 'OASys')})"
        return text

    def dataset(self, key: str | None) -> str:
        """A dataset key (``mags``) or an XJS source code (``mags_hocas``) in words."""
        if not key:
            return "Not recorded"
        if key in DATASETS:
            return DATASETS[key]
        if key in SOURCES:
            return SOURCES[key]
        try:
            return self.model.dataset(key).title
        except KeyError:
            return humanise(key)

    def source(self, code: str | None) -> str:
        """An XJS ``source_dataset`` code in words."""
        if not code:
            return "Not recorded"
        return SOURCES.get(code) or self.dataset(code)

    def table(self, name: str | None) -> str:
        if not name:
            return "Not recorded"
        if name in TABLES:
            return TABLES[name]
        try:
            return self.model.table(name).description.split(":")[0].rstrip(".")
        except KeyError:
            return humanise(name)

    def dataset_of_table(self, name: str) -> str:
        """The dataset (in words) that holds a table."""
        try:
            return self.dataset(self.model.table(name).dataset)
        except KeyError:
            return humanise(name)

    def event(self, event_type: str | None) -> str:
        if not event_type:
            return "Event"
        return EVENTS.get(event_type, humanise(event_type))

    def driver(self, driver: str | None) -> str:
        if not driver:
            return "Not recorded"
        return DRIVERS.get(driver, humanise(driver))

    def column(self, name: str | None) -> str:
        """A column (an OASys item, a Data First column, a spine or analysis column) in words."""
        if name is None or name == "":
            return ""
        return self._columns.get(str(name), humanise(str(name)) if looks_like_code(str(name)) else str(name))

    def variables(self, names: str | list[str] | tuple[str, ...] | None) -> str:
        """A comma-separated list of variables (``question_3_3, question_3_4``) in words, joined by semicolons."""
        if not names:
            return ""
        items = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        return "; ".join(dict.fromkeys(self.column(n) for n in items if n))

    def term(self, name: str | None) -> str:
        """Any name the toolkit shows (dataset, source, table, event, driver or column), in words."""
        if not name:
            return ""
        for lookup in (DATASETS, SOURCES, TABLES, EVENTS, DRIVERS):
            if name in lookup:
                return lookup[name]
        if name in self._columns:
            return self._columns[name]
        return humanise(name) if looks_like_code(name) else name

    def known(self, name: str) -> bool:
        """Whether the glossary holds ``name`` (in any of its lists)."""
        return any(name in lookup for lookup in (DATASETS, SOURCES, TABLES, EVENTS, DRIVERS, self._columns))


GLOSSARY = Glossary()
