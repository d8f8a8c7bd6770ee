"""The parts of the person page that come from the spine and the early-warning results: current status, needs with
their evidence, and early-warning scores. Each says plainly when its tables have not been built.

Sources (all pseudonymised): ``spine.person`` (status as at the spine's as-at date), ``spine.person_need`` (one row
per person and driver: flag, score, evidence table, dataset, variable and date) and
``results.early_warning_scores`` (person, use case, T0, score, model version), with each use case's model card under
``<project>/models/early_warning/<use case>/``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..datafirst import MODEL
from ..project import Project
from .single_view import LinkedRecord, PersonPage
from .warehouse import Capabilities

_PERSON_TABLES = {t.name for t in MODEL.person_tables()}

DRIVER_LABELS = {
    "mental_health": "Mental health", "physical_health": "Physical health", "low_income": "Low income and debt",
    "substance_misuse": "Substance misuse", "employment": "Employment", "education": "Education and skills",
    "accommodation": "Accommodation", "family": "Family and relationships", "domestic_abuse": "Domestic abuse",
}


def driver_label(driver: str) -> str:
    return DRIVER_LABELS.get(driver, driver.replace("_", " ").capitalize())


@dataclass
class Evidence:
    dataset: str
    variable: str
    date: dt.date | None


@dataclass
class NeedFlag:
    driver: str
    label: str
    flag: bool
    score: float | None
    evidence: list[Evidence] = field(default_factory=list)
    #: False when the loaded extract could not measure the need for this person (the flag is then unknown)
    measured: bool = True
    unmeasured_reason: str | None = None


@dataclass
class Score:
    use_case: str
    label: str
    t0: dt.date | None
    score: float
    level: str | None
    model_card: bool
    model_version: str | None = None


@dataclass
class PersonExtras:
    person_level_records: list[LinkedRecord]
    status: list[tuple[str, str]] = field(default_factory=list)
    status_note: str = "Current status is not available: the spine has not been built in this warehouse."
    needs: list[NeedFlag] = field(default_factory=list)
    needs_note: str = "Needs are not available: the spine has not been built in this warehouse."
    as_at: dt.date | None = None
    scores: list[Score] = field(default_factory=list)
    scores_note: str = "No early-warning scores have been produced in this warehouse."


def _d(value) -> str:
    return "None recorded" if value is None else f"{value.day} {value:%B %Y}"


def _yes(value) -> str:
    return "Yes" if value else "No"


def status_rows(row: dict) -> list[tuple[str, str]]:
    """Plain-words status lines from one ``spine.person`` row."""
    out: list[tuple[str, str]] = []
    if row.get("in_custody") is not None:
        out.append(("In custody", _yes(row["in_custody"])))
    if "last_release_date" in row:
        out.append(("Last release from custody", _d(row["last_release_date"])))
    if row.get("cj_contact_12m") is not None:
        out.append(("Criminal justice contact in the last 12 months", _yes(row["cj_contact_12m"])))
    if "last_cj_date" in row:
        out.append(("Latest criminal justice contact", _d(row["last_cj_date"])))
    if "last_oasys_date" in row:
        out.append(("Latest OASys assessment", _d(row["last_oasys_date"])))
    if row.get("n_possession_claims_12m") is not None:
        out.append(("Possession claims in the last 12 months", str(int(row["n_possession_claims_12m"]))))
    if row.get("n_family_cases_12m") is not None:
        out.append(("Family court cases in the last 12 months", str(int(row["n_family_cases_12m"]))))
    if row.get("lad_name"):
        out.append(("Local authority (latest record)", str(row["lad_name"])))
    if row.get("need_count") is not None:
        out.append(("Needs flagged", str(int(row["need_count"]))))
    return out


def _card_info(project: Project, use_case: str) -> tuple[str, bool]:
    """(title, whether a model card exists) for a use case."""
    card = latest_card(project, use_case)
    if card:
        return str(card.get("use_case", {}).get("title") or use_case.replace("_", " ").capitalize()), True
    return use_case.replace("_", " ").capitalize(), False


def latest_card(project: Project, use_case: str) -> dict | None:
    """The latest model card (``model_card.json``) of an early-warning use case, or None."""
    folder = project.models_dir / "early_warning" / use_case
    latest = folder / "latest.json"
    try:
        version = json.loads(latest.read_text(encoding="utf-8"))["model_version"]
        path = Path(folder / version / "model_card.json")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def collect(con, caps: Capabilities, project: Project, person_id: str, page: PersonPage) -> PersonExtras:
    """Status, needs and scores of one person (each empty, with a note, when its tables are missing)."""
    records = [r for r in page.records if r.source_table in _PERSON_TABLES]
    extras = PersonExtras(person_level_records=records)
    if caps.has("spine.person"):
        cur = con.execute("select * from memory.main.person_status where person_id = ?", [person_id])
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        if row is None:
            extras.status_note = ("This person is not in the spine as at its date (no record dated on or before "
                                  "it at the spine's band).")
            extras.needs_note = extras.status_note
        else:
            r = dict(zip(names, row, strict=True))
            extras.as_at = r.get("as_at_date")
            extras.status = [("As at", _d(extras.as_at))] + status_rows(r) if extras.as_at else status_rows(r)
    if caps.has("spine.person_need"):
        rows = con.execute(
            "select driver, value, score, evidence_dataset, evidence_variable, evidence_date, measured, "
            "unmeasured_reason from memory.main.person_need where person_id = ? order by driver",
            [person_id]).fetchall()
        needs = []
        for driver, value, score, ds, var, when, measured, reason in rows:
            ev = [Evidence(ds, var, when)] if ds or var else []
            needs.append(NeedFlag(driver, driver_label(driver), bool(value),
                                  None if score is None else float(score), ev, measured is not False, reason))
        needs.sort(key=lambda n: (not n.flag, not n.measured, n.label))
        extras.needs = needs
        if not needs:
            extras.needs_note = "No record held for this person gives evidence about any need."
    if caps.has("results.early_warning_scores"):
        rows = con.execute(
            "select use_case, t0, score, model_version from ("
            "  select *, row_number() over (partition by use_case order by t0 desc) as rn "
            "  from memory.main.ew_scores where person_id = ?) where rn = 1 order by use_case",
            [person_id]).fetchall()
        for use_case, t0, score, version in rows:
            title, has_card = _card_info(project, use_case)
            extras.scores.append(Score(use_case, title, t0, float(score), None, has_card, version))
        if not rows:
            extras.scores_note = ("This person has no early-warning score: they have had none of the events the "
                                  "models score (for example a release from custody or a first possession claim).")
    return extras
