"""The practitioner's person page: the summary comes first, the current position from prison, probation and court
records, old evidence marked, plain-English names only, a timeline whose order toggles without JavaScript, link
confidence in words, and search terms that survive going back (with only a random search id in any URL)."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.app.person_extras import (
    CourtCase,
    CustodySpell,
    ProbationEvent,
    RequirementRow,
    current_position,
)
from bold_prevention.datafirst import MODEL, codes
from bold_prevention.datafirst.glossary import EVENTS
from test_app_support import (
    PEOPLE,
    add_accounts,
    build_small_warehouse,
    csrf_of,
    make_client,
    person_id,
    record_id,
)

AS_AT = dt.date(2024, 12, 31)
PID = person_id(0)


def _add_position_and_needs(project) -> None:
    """Prison, probation, OASys, spine and early-warning rows for person 0 (Aisha Khan) of the small warehouse."""
    con = duckdb.connect(str(project.warehouse_path))
    pris, prob = record_id("prison_custodial_journey", 0), record_id("moj_probation_flatfile", 0)
    con.execute("create table extract.prison_custodial_journey (row_id_hash varchar, reception_date date, "
                "admission_reason varchar, sentence_date date, sentence_length_days bigint, release_date date, "
                "release_reason varchar, establishment varchar)")
    con.execute("insert into extract.prison_custodial_journey values "
                "(?, '2020-01-10', 'SENTENCE', '2020-01-05', 1000, '2021-06-01', 'CRD', 'HMP Example')", [pris])
    con.execute("create table extract.moj_probation_flatfile (row_id_hash varchar, event_id_hash varchar, "
                "referral_date date, disposal_type_description varchar, disposal_date date, "
                "disposal_termination_date date, length_in_days bigint, probation_area_desc varchar)")
    con.execute("insert into extract.moj_probation_flatfile values "
                "(?, 'ev0', '2024-02-01', 'Community Order', '2024-03-01', null, 730, 'NPS London')", [prob])
    con.execute("create table extract.moj_probation_rqmnts (rqmnt_id_hash varchar, event_id_hash varchar, "
                "rqmnt_type_main_category_code varchar, rqmnt_type_main_category_desc varchar, rqmnt_start_date date, "
                "rqmnt_commencement_date date, rqmnt_termination_date date, rqmnt_termination_reason_desc varchar, "
                "length bigint)")
    con.execute("insert into extract.moj_probation_rqmnts values "
                "('r1', 'ev0', 'W', 'Unpaid Work', '2024-03-10', null, null, null, 120), "
                "('r2', 'ev0', 'J', 'Curfew', '2024-03-10', null, '2024-06-10', 'Requirement Completed', 90)")
    con.execute("create table extract.oasys_assessments_metadata (row_id_hash varchar, assessment_date date, "
                "assessment_type varchar, assessment_context varchar)")
    con.execute("insert into extract.oasys_assessments_metadata values ('oasy00000', '2014-05-01', 'LAYER_3', 'COM'), "
                "('oasy00001', '2017-05-01', 'LAYER_3', 'REV')")
    for rid in ("oasy00000", "oasy00001"):
        con.execute("insert into spine.person_record values (?, 'prison_oasys', 'oasys_assessments_metadata', ?, "
                    "0.99, 'high', 'medium', ?)", [PID, rid, rid])
    con.execute("create table spine.person as select ? as person_id, date '2024-12-31' as as_at_date, "
                "false as in_custody, date '2021-06-01' as last_release_date, 2 as need_count", [PID])
    con.execute("create table spine.spine_info as select date '2024-12-31' as as_at_date")
    con.execute("create table spine.person_need (person_id varchar, driver varchar, value boolean, score double, "
                "evidence_table varchar, evidence_dataset varchar, evidence_variable varchar, evidence_date date, "
                "assessed boolean, measured boolean, unmeasured_reason varchar)")
    con.execute("insert into spine.person_need values "
                "(?, 'accommodation', true, 1, 'oasys_assessments_details_core_risk', 'oasys', 'question_3_3', "
                "'2014-05-01', true, true, null), "
                "(?, 'substance_misuse', true, 2, 'oasys_assessments_details_core_risk', 'oasys', "
                "'question_8_4, question_13_3_10_1', '2017-05-01', true, true, null), "
                "(?, 'employment', false, 0, 'oasys_assessments_details_core_risk', 'oasys', 'question_4_2', "
                "'2017-05-01', true, true, null)", [PID, PID, PID])
    con.execute("create table results.early_warning_scores (person_id varchar, use_case varchar, t0 date, "
                "score double, model_version varchar)")
    con.execute("insert into results.early_warning_scores values "
                "(?, 'reoffending_12m_after_release', '2016-03-01', 0.2, 'v1'), "
                "(?, 'reoffending_12m_after_release', '2017-03-01', 0.4, 'v1')", [PID, PID])
    con.close()
    card = project.models_dir / "early_warning" / "reoffending_12m_after_release"
    (card / "v1").mkdir(parents=True)
    (card / "latest.json").write_text(json.dumps({"model_version": "v1"}))
    (card / "v1" / "model_card.json").write_text(json.dumps(
        {"use_case": {"title": "New offence within 12 months of release from prison", "window_months": 12}}))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    p = build_small_warehouse(tmp_path_factory.mktemp("person-page") / "project")
    _add_position_and_needs(p)
    add_accounts(p)
    return p


@pytest.fixture()
def client(project):
    """A test client signed in as the practitioner pat (the session is made on the server directly: this module
    tests the pages, not the sign-in)."""
    with make_client(project, search_per_minute=1000) as c:
        c.session = signed_in_session(c)
        yield c


def signed_in_session(c, user: str = "pat"):
    st_ = c.app.state.bold
    s = st_.sessions.new()
    s.user, s.role, s.fresh = user, "practitioner", False
    s.signed_in_at = st_.sessions.clock()
    current = getattr(st_.accounts, "current", None)
    if current is not None:  # sessions follow their account (role, epoch) on every request
        acc = current(user)
        s.epoch, s.via = getattr(acc, "epoch", 0), "sso"
    c.cookies.set("bold_session", s.id)
    return s


def open_page(client, pid=PID, query=""):
    client.session.grant(pid, "supervision", "", 30)
    r = client.get(f"/people/{pid}{query}")
    assert r.status_code == 200, r.text[:500]
    return r.text


def visible_text(html: str) -> str:
    """The text of the main part of the page, record references (data, not names of the model) left out."""
    body = html.split('id="main-content"', 1)[1]
    body = re.sub(r'<(td|span) class="[^"]*app-reference[^"]*"[^>]*>[^<]*</\1>', " ", body)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_summary_comes_before_anything_else(client):
    html = open_page(client)
    main = html.split('id="main-content"', 1)[1]
    positions = {k: main.find(v) for k, v in {
        "name": "id=\"person-name\">Aisha Khan</h1>", "summary": 'id="summary"',
        "position": "Current position", "needs": "Current needs", "recent": "Recent events",
        "links": "Linked records</dt>", "contents": "On this page", "filters": "Apply filters",
        "pseudonym": PID, "timeline": 'class="moj-timeline"'}.items()}
    assert all(v > 0 for v in positions.values()), positions
    assert positions["name"] < positions["summary"] < positions["position"] < positions["needs"] < positions["recent"]
    assert positions["links"] < positions["contents"] < positions["filters"]
    assert positions["links"] < positions["pseudonym"] and positions["links"] < positions["timeline"]
    summary = main[positions["summary"]:main.find("</dl>", positions["summary"])]
    today = dt.date.today()
    age = today.year - 1990 - ((today.month, today.day) < (3, 27))
    assert f"27 March 1990 (age {age})" in summary
    for text in ("Community order", "since 1 March 2024", "ends 1 March 2026", "Unpaid Work", "NPS London",
                 "As at 31 December 2024", "Substance misuse", "1 is an uncertain link"):
        assert text in summary, text


def test_current_position_from_prison_and_probation_records(client):
    text = visible_text(open_page(client))
    assert "Curfew (ended 10 Jun 2024)" in text
    assert "planned end (date given plus length of the order)" in text
    assert "On licence" not in text.split("Current position in detail")[1].split("Needs and their evidence")[0]


def test_old_evidence_and_out_of_date_scores_are_marked(client):
    html = open_page(client)
    current = html.split("Needs flagged by the register", 1)[1].split('id="earlier-needs"', 1)[0]
    earlier = html.split('id="earlier-needs"', 1)[1].split('id="early-warning"', 1)[0]
    assert "Substance misuse" in current and "Accommodation" not in current
    assert "Accommodation" in earlier and "Earlier assessment" in earlier and "Substance misuse" not in earlier
    assert "1 May 2017" in html and "Latest OASys assessment: 1 May 2017" in html
    assert "Old evidence" in current  # 2017 evidence at a 2024 as-at date
    scores = html.split('id="early-warning"', 1)[1].split('id="identity"', 1)[0]
    assert "Out of date" in scores and "window closed on 1 March 2018" in scores
    assert "1 March 2017" in scores and "1 March 2016" not in scores


def test_no_raw_data_model_names_on_the_page(client):
    html = open_page(client)
    text = visible_text(html)
    raw = set(MODEL.table_names) | {d.key for d in MODEL.datasets if "_" in d.key} | set(
        codes.XJS_SOURCE_DATASET.values) | {e for e in EVENTS if "_" in e}
    for name in raw:
        assert name not in text, name
    assert not re.findall(r"\b[a-z]+_[a-z0-9_]+\b", text), re.findall(r"\b[a-z]+_[a-z0-9_]+\b", text)
    assert "question_" not in html and "mags_hocas" not in html


def test_link_confidence_reads_the_same_everywhere(client):
    text = visible_text(open_page(client))
    assert "Possible match (low band)" in text and "Confident match (high band)" in text
    assert not re.search(r"\b(High|Medium|Low)\b(?! band)", text.split("Link confidence", 1)[1])


def test_timeline_newest_first_and_the_order_toggles_without_javascript(client):
    html = open_page(client)
    dates = re.findall(r'<time datetime="([0-9-]+)">', html)
    assert len(dates) == 3 and dates == sorted(dates, reverse=True)
    link = re.search(r'id="order-oldest" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "order=oldest" in link
    older = client.get(link).text
    assert re.findall(r'<time datetime="([0-9-]+)">', older) == sorted(dates)
    # filters and order travel together
    filtered = client.get(f"/people/{PID}?band=high&band=medium&order=oldest").text
    link = re.search(r'id="order-newest" href="([^"]+)"', filtered).group(1).replace("&amp;", "&")
    assert "band=high" in link and "band=medium" in link and "order" not in link
    assert 'name="order" value="oldest"' in filtered


def test_needs_table_keeps_the_server_order(client):
    html = open_page(client)
    needs = html.split('id="needs"', 1)[1].split('id="early-warning"', 1)[0]
    assert "moj-sortable-table" not in needs and "aria-sort" not in needs


def test_search_terms_survive_going_back_with_only_a_random_id_in_urls(client, project):
    page = client.get("/search")
    r = client.post("/search", data={"csrf_token": csrf_of(page.text), "forename": "Aisha", "surname": "Khan",
                                     "dob-day": "27", "dob-month": "3", "dob-year": "1990"})
    assert r.status_code == 200 and r.history and r.history[0].status_code == 303
    m = re.search(r"/search\?s=([A-Za-z0-9_-]+)", str(r.url))
    assert m, r.url
    sid = m.group(1)
    assert PID in r.text and 'value="Khan"' in r.text  # the results, with the terms back in the form
    reason_link = re.search(rf'href="(/people/{PID}/reason\?s={sid})"', r.text)
    assert reason_link
    reason = client.get(reason_link.group(1))
    assert f'href="/search?s={sid}"' in reason.text
    client.session.grant(PID, "supervision", "", 30)
    person = client.get(f"/people/{PID}?s={sid}")
    assert f'href="/search?s={sid}"' in person.text
    again = client.get(f"/search?s={sid}")
    assert again.status_code == 200 and PID in again.text and 'value="Aisha"' in again.text
    urls = [str(h.url) for h in r.history] + [str(r.url), reason_link.group(1), f"/search?s={sid}"]
    for p in PEOPLE[:1]:
        for value in (p[0], p[2], "1990", "27"):
            assert all(value.lower() not in u.lower() for u in urls if "?s=" in u or "/search" in u), value
    # another session cannot use the id
    with make_client(project) as other:
        signed_in_session(other)
        assert PID not in other.get(f"/search?s={sid}").text


# -- the current position, over generated records ---------------------------------------------------------------

dates = st.dates(min_value=dt.date(2005, 1, 1), max_value=dt.date(2030, 12, 31))
bands = st.sampled_from(["high", "medium", "low"])


@st.composite
def spells(draw):
    reception = draw(dates)
    released = draw(st.one_of(st.none(), st.dates(min_value=reception, max_value=dt.date(2031, 1, 1))))
    return CustodySpell(draw(bands), reception, draw(st.sampled_from(codes.ADMISSION_REASON.values)),
                        draw(st.one_of(st.none(), st.just(reception))), draw(st.one_of(st.none(), st.integers(0, 5000))),
                        released, draw(st.one_of(st.none(), st.sampled_from(codes.RELEASE_REASON.values))), None)


@st.composite
def events(draw):
    start = draw(dates)
    return ProbationEvent(draw(bands), draw(st.sampled_from(["e1", "e2"])), start,
                          draw(st.sampled_from(codes.PROBATION_DISPOSAL.values)), start,
                          draw(st.one_of(st.none(), st.dates(min_value=start, max_value=dt.date(2032, 1, 1)))),
                          draw(st.one_of(st.none(), st.integers(0, 3000))), "NPS Wales")


@settings(max_examples=150, deadline=None)
@given(st.lists(spells(), max_size=4), st.lists(events(), max_size=4), dates)
def test_position_uses_only_records_in_force_at_the_as_at_date(custody, probation, as_at):
    reqs = [RequirementRow("high", "e1", "W", "Unpaid Work", as_at, None, None, None, 10)]
    courts = [CourtCase("high", "mags", as_at + dt.timedelta(days=1), "CUS", None)]
    pos = current_position(as_at, custody, probation, reqs, courts)
    in_custody = any(c.reception_date <= as_at and (c.release_date is None or c.release_date > as_at)
                     for c in custody)
    assert in_custody == any(p.kind == "custody" for p in pos.positions)
    for p in pos.positions:
        assert p.start is None or p.start <= as_at
        assert p.end is None or p.end > as_at
    assert pos.latest_court is None  # a court case after the as-at date does not count
    assert (pos.last_ended is None) or not pos.positions
    assert pos.headline


# -- analysts' places chart and headings ----------------------------------------------------------------------------

def test_places_chart_draws_at_most_twenty_published_bars_with_readable_headings():
    import pandas as pd

    from bold_prevention.app.released import ranked_bars_svg, table_view
    from bold_prevention.outputs import check_counts, rate_table

    areas = [f"Area {i:03d}" for i in range(120)]
    df = pd.DataFrame({"Local authority": areas * 1, "Driver": ["accommodation"] * 120,
                       "k": [(i * 7) % 90 + (3 if i % 5 else 0) for i in range(120)],
                       "assessed": [400 + i for i in range(120)]})
    levels = {"Local authority": areas, "Driver": ["accommodation"]}
    num = check_counts(df, "k", "Local authority", "Driver", title="Persons with each need", name="t_need",
                       levels=levels, margins="row", measure_dims=["Driver"])
    den = check_counts(df, "assessed", "Local authority", "Driver", title="Persons assessed", name="t_assessed",
                       levels=levels, margins="row", measure_dims=["Driver"])
    rate = rate_table(num, den, title="Needs prevalence", name="t_rate", per=100)
    svg, desc = ranked_bars_svg(rate, num, top=20)
    assert svg.count("<rect") == 20 and "20 areas" in desc
    published = {r.head[-1]: float(r.cells[0].sort) for r in table_view(num, table_id="n").rows
                 if not r.cells[0].suppressed and r.head[-1] != "Total"}
    drawn = re.findall(r">(Area \d{3})<", svg)
    assert drawn == sorted(drawn, key=lambda a: (-published[a], a))  # most persons first
    assert "[c]" not in svg
    view = table_view(rate, table_id="r")
    assert "Accommodation" in view.columns and "accommodation" not in view.columns


def test_model_cards_are_read_once_and_again_after_retraining(tmp_path, monkeypatch):
    """The person page shows each score's model card: the card is read from disk once, not on every page, and read
    again when the model is retrained (its latest.json changes)."""
    import os

    from bold_prevention.app import person_extras
    from bold_prevention.project import Project

    project = Project(tmp_path / "p")
    folder = project.models_dir / "early_warning" / "reoffending_12m_after_release"
    for version, months in (("v1", 12), ("v2", 24)):
        (folder / version).mkdir(parents=True)
        (folder / version / "model_card.json").write_text(json.dumps(
            {"use_case": {"title": f"Model {version}", "window_months": months}}))
    (folder / "latest.json").write_text(json.dumps({"model_version": "v1"}))
    reads = []
    real = person_extras._card_info
    monkeypatch.setattr(person_extras, "_card_info", lambda p, u: reads.append(u) or real(p, u))
    for _ in range(5):
        assert person_extras._card_info_cached(project, "reoffending_12m_after_release") == ("Model v1", True, 12)
    assert len(reads) == 1
    (folder / "latest.json").write_text(json.dumps({"model_version": "v2"}))
    stamp = (folder / "latest.json").stat().st_mtime_ns
    os.utime(folder / "latest.json", ns=(stamp + 10**9, stamp + 10**9))  # a later time, whatever the clock's grain
    assert person_extras._card_info_cached(project, "reoffending_12m_after_release") == ("Model v2", True, 24)
    assert len(reads) == 2
    (folder / "latest.json").unlink()  # the model was withdrawn: no card, and no stale one either
    assert person_extras._card_info_cached(project, "reoffending_12m_after_release")[1] is False
