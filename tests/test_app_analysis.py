"""Analysts' pages and the person page on a project built by the library layers: aggregates only, through
disclosure control, with [c] for suppressed cells; no identifier on any analyst's page; refusals recorded."""

from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pytest

from bold_prevention.app.released import table_view
from bold_prevention.errors import BoldError
from test_app_support import (  # noqa: F401
    csrf_of,
    make_client,
    person_with_score,
    real_project,
    sign_in,
    small_project,
)


def main_of(html: str) -> str:
    return html.split('id="main-content"', 1)[1].split("</main>", 1)[0]


ANALYSIS_PAGES = ["/analysis", "/analysis/catalogue?driver=accommodation", "/analysis/register", "/analysis/quality",
                  "/analysis/linkage", "/analysis/cohorts", "/analysis/cohorts/hard_edges_smd2",
                  "/analysis/places", "/analysis/places?driver=substance_misuse"]


@pytest.fixture(scope="module")
def project(synth_dir):
    return real_project(synth_dir)


@pytest.fixture(scope="module")
def analyst(project):
    with make_client(project) as c:
        sign_in(c, "ann")
        yield c


def identifiers(project, n=300) -> set[str]:
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        rows = con.execute("select surname, postcode, cast(date_of_birth as varchar) from "
                           f"linkage.identity_moj_probation_flatfile limit {n}").fetchall()
    finally:
        con.close()
    return {v for r in rows for v in r if v and len(v) > 4}


def test_every_analysis_page_renders_aggregates_without_identifiers(project, analyst):
    secret = identifiers(project)
    suppressed_seen = 0
    for path in ANALYSIS_PAGES:
        r = analyst.get(path)
        assert r.status_code == 200, path
        main = main_of(r.text)
        found = [v for v in secret if re.search(rf"\b{re.escape(v)}\b", main)]
        assert not found, (path, found[:3])
        assert not re.search(r"\b[0-9a-f]{20}\b", main), f"a person id on {path}"
        suppressed_seen += main.count("<abbr title=\"confidential: suppressed to protect confidentiality\">[c]")
    assert suppressed_seen > 0  # small cells of a 2,000-person population are suppressed, and shown as [c]


def test_cohort_page_uses_checked_outputs_and_serves_charts_as_images(analyst):
    r = analyst.get("/analysis/cohorts/hard_edges_smd2")
    assert "Hard Edges" in r.text and "persons remaining after each step" in r.text
    tokens = []
    for path in ("/analysis/cohorts/hard_edges_smd2", "/analysis/cohorts/possession_claim",
                 *(f"/analysis/places?driver={d}" for d in ("accommodation", "substance_misuse", "employment",
                                                            "education", "low_income", "mental_health"))):
        tokens += re.findall(r'src="/analysis/charts/([^"]+)\.svg"', analyst.get(path).text)
    assert tokens  # a chart is drawn for every publishable rate table
    chart = analyst.get(f"/analysis/charts/{tokens[0]}.svg")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert "<script" not in chart.text
    assert analyst.get("/analysis/charts/not-a-token.svg").status_code == 404
    assert analyst.get("/analysis/cohorts/no_such_cohort").status_code == 404
    assert analyst.get("/analysis/cohorts/..%2Fsecrets").status_code == 404


def test_published_counts_are_rounded_and_small_cells_suppressed(analyst):
    r = analyst.get("/analysis/linkage")
    tables = re.findall(r"<table.*?</table>", r.text, flags=re.S)
    counts = [t for t in tables if "Share of" not in t]
    assert len(counts) >= 4 and len(tables) > len(counts)  # count tables, and shares computed from them
    numbers = []
    for t in counts:
        cells = re.findall(r'govuk-table__cell--numeric"[^>]*>([^<]*)<', t)
        numbers += [int(c.replace(",", "")) for c in cells if c.strip().replace(",", "").isdigit()]
    assert numbers and all(n % 5 == 0 for n in numbers)  # rounded to base 5
    assert all(n >= 10 for n in numbers if n)  # nothing below the threshold is published
    assert "not linked" in r.text


def test_only_checked_outputs_can_be_rendered():
    with pytest.raises(BoldError):
        table_view(pd.DataFrame({"n": [1, 2]}), table_id="x")  # type: ignore[arg-type]


def test_practitioner_and_admin_cannot_reach_any_aggregate(project):
    with make_client(project) as c:
        for account in ("pat", "adam"):
            sign_in(c, account)
            for path in ANALYSIS_PAGES + ["/analysis/charts/anything.svg"]:
                r = c.get(path)
                assert r.status_code == 403, (account, path)
                assert "[c]" not in main_of(r.text) and "<table" not in main_of(r.text)
    log = [json.loads(x) for x in (project.audit_dir / "audit.log").read_text().splitlines()]
    refusals = [e for e in log if e["action"] == "refusal" and e["actor"] in ("pat", "adam")]
    assert len(refusals) >= 2 * len(ANALYSIS_PAGES)


def test_model_card_for_practitioners_and_analysts(project, analyst):
    use_case = person_with_score(project)[4]
    r = analyst.get(f"/model-cards/{use_case}")
    assert r.status_code == 200
    assert "decides nothing" in r.text and "What it must not be used for" in r.text
    assert analyst.get("/model-cards/no_such_model").status_code == 404
    with make_client(project) as c:
        sign_in(c, "adam")
        assert c.get(f"/model-cards/{use_case}").status_code == 403
        sign_in(c, "pat")
        assert c.get(f"/model-cards/{use_case}").status_code == 200


def test_person_page_on_a_built_project(project):
    pid, forename, surname, dob, use_case = person_with_score(project)
    with make_client(project) as c:
        sign_in(c, "pat")
        page = c.get("/search")
        r = c.post("/search", data={"csrf_token": csrf_of(page.text), "forename": forename, "surname": surname,
                                    "dob-day": str(dob.day), "dob-month": str(dob.month),
                                    "dob-year": str(dob.year)})
        assert pid in r.text
        page = c.get(f"/people/{pid}/reason")
        r = c.post(f"/people/{pid}/reason", data={"csrf_token": csrf_of(page.text), "reason": "release_planning"})
        html = r.text
    assert r.status_code == 200
    assert "moj-timeline__item" in html
    assert f'href="/model-cards/{use_case}"' in html
    assert "do not decide anything" in html
    assert "Estimated probability" in html
    needs = html.split('id="needs"', 1)[1].split('id="early-warning"', 1)[0]
    assert "OASys" in needs and not re.search(r"\boasys_[a-z_]+|question_\d", needs)  # evidence in plain English
    assert re.search(r"\d{1,2} [A-Z][a-z]+ \d{4}", needs)  # and date
    status = html.split('id="current-position"', 1)[1].split('id="needs"', 1)[0]
    assert "As at" in status
    assert re.search(r"In custody|On licence|order|Under supervision|None known", status)


def test_pages_say_what_is_missing_on_a_partial_warehouse(small_project):  # noqa: F811
    with make_client(small_project) as c:
        sign_in(c, "ann")
        for path, text in (("/analysis/catalogue", "No catalogue has been loaded"),
                           ("/analysis/quality", "No extracts have been loaded"),
                           ("/analysis/cohorts", "No cohort has been built"),
                           ("/analysis/places", "spine has not been built")):
            r = c.get(path)
            assert r.status_code == 200 and text in r.text, path
        sign_in(c, "pat")
        page = c.get("/search")
        r = c.post("/search", data={"csrf_token": csrf_of(page.text), "forename": "Aisha", "surname": "Khan",
                                    "dob-year": "1990"})
        pid = re.findall(r"/people/([0-9a-f]{20})/reason", r.text)[0]
        page = c.get(f"/people/{pid}/reason")
        r = c.post(f"/people/{pid}/reason", data={"csrf_token": csrf_of(page.text), "reason": "supervision"})
        assert "the spine has not been built" in r.text and "No early-warning scores" in r.text
