"""Browser tests of the release pages: a release page and the index open from disk in Debian's chromium, are
axe-clean, stay under 5,000 px tall at 1280 px wide, and show at least one chart (``svg[role=img]``) per release."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from browser_support import AXE

from bold_prevention.outputs import check_counts, rate_table, survival_table
from bold_prevention.outputs.release import write_release, write_release_index

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    rng = np.random.default_rng(11)
    bands = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+", "Unknown"]
    df = pd.DataFrame({"Age band": bands, "k": rng.integers(20, 120, len(bands)),
                       "pop": rng.integers(400, 900, len(bands))})
    num = check_counts(df, "k", "Age band", title="Cohort by age band", value_label="Persons", population="c@1")
    den = check_counts(df, "pop", "Age band", title="Spine population by age band", value_label="Persons",
                       population="s@1")
    rate = rate_table(num, den, title="Cohort: persons per 100 in the spine, by age band", per=100)
    steps = pd.DataFrame({"Step": ["1. Everyone", "2. Adults", "3. Two or more needs"], "n": [2000, 1500, 400]})
    funnel = check_counts(steps, "n", "Step", title="Persons remaining after each step", margins=False,
                          levels={"Step": list(steps["Step"])}, value_label="Persons")
    deciles = pd.DataFrame({"IMD decile": [str(d) for d in range(1, 11)] * 2, "need": ["yes"] * 10 + ["no"] * 10,
                            "n": list(rng.integers(30, 90, 10)) + list(rng.integers(100, 200, 10))})
    places = check_counts(deciles, "n", "IMD decile", "need", title="Persons by deprivation decile and need",
                          levels={"IMD decile": [str(d) for d in range(1, 11)]})
    people = pd.DataFrame({"days": np.ceil(rng.exponential(250, 800)), "event": rng.random(800) < 0.6,
                           "group": rng.choice(["2021", "2022"], 800)})
    km = survival_table(people, "days", "event", group="group", title="Time to the next court case")
    cohort = write_release([funnel, num, den, rate], root / "cohort", title="Cohort x", index_href="../index.html",
                           question="Who is in cohort x, and how does it differ from the spine?")
    place = write_release([places], root / "places", title="Places", question="Where are needs most common?",
                          index_href="../index.html")
    path = write_release([km], root / "pathways", title="Pathways", question="How long until the next case?",
                         index_href="../index.html")
    index = write_release_index(root, [cohort, place, path], title="Step A releases")
    return index, [cohort.report, place.report, path.report]


def _axe(page) -> list[tuple[str, str, int]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"], len(v["nodes"])) for v in result["violations"]]


def test_release_pages_and_index_are_short_charted_and_axe_clean(browser, releases):
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run scripts/install-axe-core.sh")
    index, pages = releases
    context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=True)
    page = context.new_page()
    page.goto(index.as_uri())
    assert page.locator("h1").count() == 1
    assert _axe(page) == []
    assert page.locator("a[href$='report.html']").count() == len(pages)
    for report in pages:
        page.goto(report.as_uri())
        assert page.locator("svg[role=img]").count() >= 1, f"{report}: at least one chart"
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 5000, f"{report}: {height} px tall at 1280 px wide"
        assert _axe(page) == [], report
        page.locator("details > summary").first.click()  # the data behind a chart opens without JavaScript
        assert page.locator("details[open] table").count() >= 1
        assert page.get_by_role("link", name="All releases").count() == 1
    context.close()
