"""Renderers accept only checked outputs: the self-contained HTML report, GSS spreadsheets, the release folder and the
``bold outputs`` command."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from bold_prevention.errors import DisclosureError, OutputExistsError
from bold_prevention.outputs import (
    HtmlReport,
    check_counts,
    check_model,
    frequency_table,
    survival_table,
    write_release,
    write_spreadsheet,
)


@pytest.fixture(scope="module")
def outputs():
    rng = np.random.default_rng(7)
    n = 500
    people = pd.DataFrame({
        "local_authority": rng.choice(["Barnet", "Camden", "Ealing", "Hackney", "Isles of Scilly"], n,
                                      p=[0.3, 0.25, 0.25, 0.19, 0.01]),
        "risk_band": rng.choice(["low", "medium", "high"], n, p=[0.6, 0.3, 0.1]),
        "days": np.ceil(rng.exponential(250, n)),
        "event": rng.random(n) < 0.55,
    })
    table = frequency_table(people, "local_authority", "risk_band", title="People by local authority and risk band",
                            source="Synthetic Data First extract")
    survival = survival_table(people, "days", "event", group="risk_band", title="Time to reoffending")
    import statsmodels.api as sm

    X = sm.add_constant(pd.DataFrame({"age": rng.normal(35, 9, n), "prior": rng.poisson(2, n).astype(float)}))
    y = (0.03 * X.age + 0.4 * X.prior + rng.normal(size=n) > 2.5).astype(int)
    model = check_model(sm.Logit(y, X).fit(disp=0), title="Reoffending model")
    nothing = check_counts(pd.DataFrame({"la": ["Isles of Scilly", "Rutland"], "n": [2, 6]}), "n", "la",
                           title="People in the smallest areas")
    return {"table": table, "survival": survival, "model": model, "nothing": nothing}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_by_id: dict[str, str] = {}
        self._open_id: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self._open_id.append(a.get("id"))

    def handle_endtag(self, tag):
        if self._open_id:
            self._open_id.pop()

    def handle_data(self, data):
        for i in self._open_id:
            if i:
                self.text_by_id[i] = self.text_by_id.get(i, "") + data


def _report(outputs) -> str:
    r = HtmlReport("Multiple disadvantage in the justice population", subtitle="Step A evidence",
                   source="Synthetic data")
    r.add_text("About this report", "These figures come from synthetic data.\n\nThey are illustrative.")
    r.add_table(outputs["table"], chart=True)
    r.add_chart(outputs["survival"])
    r.add_table(outputs["model"], chart=True)
    r.add_table(outputs["nothing"], chart=True)
    return r.render()


def test_html_report_is_self_contained(outputs):
    text = _report(outputs)
    assert not re.search(r"https?://", text), "no URL of any kind: nothing can load from the network"
    assert not re.search(r"<(script|link|iframe|img|object|embed)\b", text)
    assert "@import" not in text
    assert not re.search(r"url\((?!#)", text), "only in-document references such as clip-path: url(#id)"
    p = _Tags()
    p.feed(text)
    for tag, attrs in p.tags:
        for k in ("src", "href"):
            v = attrs.get(k)
            assert v is None or v.startswith("#"), f"<{tag} {k}={v!r}> would load a resource"
    assert text.count("<svg") == 3  # table chart, survival chart, model chart; none for the empty table


def test_html_report_is_accessible(outputs):
    text = _report(outputs)
    p = _Tags()
    p.feed(text)
    tags = [t for t, _ in p.tags]
    assert ("html", {"lang": "en"}) in p.tags
    assert tags.count("h1") == 1 and tags.count("h2") >= 5 and "main" in tags and "nav" in tags
    assert tags.count("table") == tags.count("caption") >= 4
    for tag, attrs in p.tags:
        if tag == "th":
            assert attrs.get("scope") in ("col", "row")
        if tag == "svg":
            assert attrs.get("role") == "img"
            name = " ".join(p.text_by_id.get(i, "") for i in attrs["aria-labelledby"].split())
            desc = " ".join(p.text_by_id.get(i, "") for i in attrs["aria-describedby"].split())
            assert name and len(desc) > 20, "every chart has a name (<title>) and a text description (<desc>)"
    ids = [a["id"] for _, a in p.tags if a.get("id")]
    assert len(ids) == len(set(ids))
    for _, a in p.tags:
        if a.get("href", "").startswith("#"):
            assert a["href"][1:] in ids
    assert "[c]" in text and 'title="confidential' in text


def test_table_with_nothing_publishable_renders_with_its_reason(outputs):
    text = _report(outputs)
    section = text[text.index('id="people-in-the-smallest-areas"'):]
    section = section[:section.index("</section>")]
    assert "Nothing in this table can be published" in section
    assert "fewer than 10" in section
    assert section.count("[c]") >= 3


def test_unchecked_tables_are_refused_naming_the_rule(outputs, tmp_path):
    raw = pd.DataFrame({"n": [3, 40]}, index=["a", "b"])
    with pytest.raises(DisclosureError, match="checked-outputs-only") as e:
        HtmlReport("x").add_table(raw)
    assert "DataFrame" in str(e.value) and e.value.hint
    with pytest.raises(DisclosureError, match="checked-outputs-only"):
        HtmlReport("x").add_chart(raw.to_numpy())
    with pytest.raises(DisclosureError, match="checked-outputs-only"):
        write_spreadsheet([outputs["table"], raw], tmp_path / "t.xlsx", title="x")
    assert not (tmp_path / "t.xlsx").exists()
    with pytest.raises(DisclosureError, match="checked-outputs-only"):
        write_release([raw], tmp_path / "rel", title="x")
    assert not (tmp_path / "rel").exists()


def test_existing_report_is_not_overwritten_without_overwrite(outputs, tmp_path):
    path = tmp_path / "report.html"
    path.write_text("earlier report")
    r = HtmlReport("Report").add_table(outputs["table"])
    with pytest.raises(OutputExistsError):
        r.write(path)
    assert path.read_text() == "earlier report"
    r.write(path, overwrite=True)
    assert "<!DOCTYPE html>" in path.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_spreadsheet_follows_the_gss_layout(outputs, tmp_path):
    path = write_spreadsheet(list(outputs.values()), tmp_path / "tables.xlsx", title="Step A tables",
                             contact=["bold@example.org"])
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Cover", "Contents", "Notes", "Table 1", "Table 2", "Table 3", "Table 4"]
    assert wb["Cover"]["A1"].value == "Step A tables"
    for k, out in enumerate(outputs.values(), start=1):
        ws = wb[f"Table {k}"]
        assert ws["A1"].value.startswith(out.title) and "[note 1]" in ws["A1"].value
        assert len(ws.tables) == 1, "one named Excel table per sheet"
        name, ref = next(iter(ws.tables.items()))
        assert name.startswith(f"table_{k}_")
        cells = [c.value for row in ws[ref] for c in row]
        if out.n_suppressed:
            assert "[c]" in cells
    t1 = wb["Table 1"]
    ref = next(iter(t1.tables.values())).ref
    rows = [[c.value for c in row] for row in t1[ref]]
    header, body = rows[0], rows[1:]
    assert header == ["local_authority", "high", "low", "medium", "Total"]
    scilly = next(r for r in body if r[0] == "Isles of Scilly")
    assert scilly[1:4].count("[c]") >= 1
    published = [v for r in body for v in r[1:] if isinstance(v, int | float)]
    assert published and all(v % 5 == 0 for v in published)
    notes = [[c.value for c in row] for row in wb["Notes"].iter_rows()]
    assert any(r[0] == "Note number" for r in notes)
    assert any("[c] means confidential" in str(r[1]) for r in notes)
    empty = wb["Table 4"]
    texts = [c.value for row in empty.iter_rows() for c in row if isinstance(c.value, str)]
    assert any("Nothing in this table can be published" in t for t in texts)
    with pytest.raises(OutputExistsError):
        write_spreadsheet([outputs["table"]], path, title="again")


def test_release_folder_and_cli(outputs, tmp_path):
    paths = write_release(list(outputs.values()), tmp_path / "release", title="Step A")
    assert paths.report.exists() and paths.spreadsheet.exists() and (paths.checking / "results.json").exists()
    with pytest.raises(OutputExistsError):
        write_release([outputs["table"]], tmp_path / "release", title="again")

    csv = tmp_path / "counts.csv"
    pd.DataFrame({"la": ["Barnet", "Barnet", "Camden", "Camden", "Ealing", "Ealing"],
                  "band": ["high", "low"] * 3, "n": [3, 40, 25, 31, 12, 8]}).to_csv(csv, index=False)
    from bold_prevention.cli import app

    runner = CliRunner()
    args = ["outputs", "check", str(csv), "--count-column", "n", "--rows", "la", "--columns", "band",
            "--out", str(tmp_path / "cli")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cli" / "report.html").exists()
    published = (tmp_path / "cli" / "output-checking" / "counts.csv").read_text()
    assert published.count("[c]") == 4
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    bad = runner.invoke(app, ["outputs", "check", str(csv), "--count-column", "count", "--rows", "la", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "'count'" in bad.output
    rules = runner.invoke(app, ["outputs", "rules", "opensafely"])
    assert rules.exit_code == 0 and "threshold: 8" in rules.output


# --- release pages, the index and the long-format table -------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bold_prevention.errors import InputError  # noqa: E402
from bold_prevention.outputs import percentage_table, rate_table  # noqa: E402
from bold_prevention.outputs.release import write_release_index  # noqa: E402
from bold_prevention.outputs.tidy import tidy_frame  # noqa: E402


@pytest.fixture(scope="module")
def cohort_outputs():
    """A cohort profile as the cohort release builds it: cohort counts, population counts and the rate."""
    df = pd.DataFrame({"Age band": ["18-24", "25-34", "35-44", "45-54", "Unknown"],
                       "k": [40, 85, 60, 3, 25], "pop": [400, 700, 650, 300, 260]})
    num = check_counts(df, "k", "Age band", title="Cohort by age band", value_label="Persons",
                       population="cohort:x@1")
    den = check_counts(df, "pop", "Age band", title="Spine population by age band", value_label="Persons",
                       population="spine:persons@1")
    rate = rate_table(num, den, title="Cohort: persons per 100 in the spine, by age band", per=100)
    return [num, den, rate]


def test_derived_one_way_tables_are_headed_by_their_unit(cohort_outputs, tmp_path):
    num, den, rate = cohort_outputs
    assert list(num.data.columns) == ["Persons"]
    assert list(rate.data.columns) == ["Percentage"], "a rate is not labelled 'Persons'"
    per_1000 = rate_table(num, den, title="Per 1,000", per=1000)
    assert list(per_1000.data.columns) == ["Rate per 1,000"] and per_1000.units == "rate per 1,000"
    assert list(rate_table(num, den, title="Share", per=1, decimals=3).data.columns) == ["Proportion"]
    assert list(percentage_table(num).data.columns) == ["Percentage"]
    path = write_spreadsheet([rate], tmp_path / "t.xlsx", title="Rates")
    ws = openpyxl.load_workbook(path)["Table 1"]
    header = [c.value for c in next(iter(ws[next(iter(ws.tables.values())).ref]))]
    assert header == ["Age band", "Percentage"], "the workbook says the same as the page"


def test_release_page_is_one_short_page_with_findings_charts_and_data(cohort_outputs, outputs, tmp_path):
    paths = write_release([*cohort_outputs, outputs["survival"]], tmp_path / "rel", title="Cohort x",
                          question="Who is in cohort x?", texts=[("Method", "Counted from the spine.")])
    text = paths.report.read_text()
    assert not re.search(r"https?://", text) and "<script" not in text
    p = _Tags()
    p.feed(text)
    tags = [t for t, _ in p.tags]
    assert tags.count("h1") == 1 and "Who is in cohort x?" in text
    svgs = [a for t, a in p.tags if t == "svg"]
    assert len(svgs) == 2, "the rate (with its counts) is one figure; the survival curves another"
    for a in svgs:
        assert a["role"] == "img"
        assert p.text_by_id[a["aria-labelledby"]] and len(p.text_by_id[a["aria-describedby"]]) > 40
    assert "<title" in text and "<desc" in text
    assert tags.count("details") >= 2, "each chart's data sits behind a disclosure"
    assert tags.count("table") == tags.count("caption")
    findings = text[text.index('id="key-findings"'):text.index("</section>", text.index('id="key-findings"'))]
    assert "highest 25-34" in findings and "Unknown" not in findings.split("highest")[1].split(".")[0]
    assert "suppressed" in findings, "the suppression caveat"
    assert "have no recorded age band" in text, "unknown categories are explained"
    assert "Number at risk" in text
    assert "Percentage" in text and ">Persons</th>" in text
    doc = __import__("json").loads((paths.folder / "release.json").read_text())
    assert doc["question"] == "Who is in cohort x?" and doc["charts"] == 2 and doc["findings"]
    assert paths.tidy_csv.exists() and paths.tidy_parquet.exists()
    assert 'href="tables-long.csv"' in text


def test_release_index_links_the_releases(cohort_outputs, outputs, tmp_path):
    a = write_release(cohort_outputs, tmp_path / "a", title="Cohort x", question="Who is in cohort x?")
    b = write_release([outputs["survival"]], tmp_path / "b", title="Time to reoffending")
    index = write_release_index(tmp_path, [a, tmp_path / "b"], title="Step A releases")
    text = index.read_text()
    assert 'href="a/report.html"' in text and 'href="b/report.html"' in text
    assert "Who is in cohort x?" in text and b.title in text
    p = _Tags()
    p.feed(text)
    assert [t for t, _ in p.tags].count("h1") == 1
    with pytest.raises(InputError, match="not a release folder") as e:
        write_release_index(tmp_path, [tmp_path], title="x")
    assert e.value.hint
    with pytest.raises(InputError):
        write_release_index(tmp_path, [], title="x")


def test_long_table_of_a_release(cohort_outputs, outputs, tmp_path):
    paths = write_release([*cohort_outputs, outputs["survival"], outputs["table"]], tmp_path / "rel", title="x")
    csv = pd.read_csv(paths.tidy_csv, keep_default_na=True)
    assert pd.api.types.is_float_dtype(csv["value"]), "[c] never in the numeric column"
    assert set(csv["status"]) <= {"published", "suppressed", "not_applicable"}
    assert csv.loc[csv.status != "published", "value"].isna().all()
    assert csv.loc[csv.status == "published", "value"].notna().all()
    assert {"age_band", "local_authority", "risk_band", "time_days", "measure", "unit", "rule"} <= set(csv.columns)
    pq = pd.read_parquet(paths.tidy_parquet)
    assert len(pq) == len(csv) and list(pq.columns) == list(csv.columns)
    rate = csv[csv.table == cohort_outputs[2].name]
    assert set(rate["measure"]) == {"Percentage"} and len(rate) == cohort_outputs[2].n_cells


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 60), min_size=2, max_size=6), st.lists(st.integers(0, 60), min_size=2, max_size=6))
def test_long_table_holds_every_cell_and_nothing_unpublished(a, b):
    n = min(len(a), len(b))
    df = pd.DataFrame({"area": [f"A{k}" for k in range(n) for _ in (0, 1)], "sex": ["F", "M"] * n,
                       "n": [v for pair in zip(a[:n], b[:n], strict=True) for v in pair]})
    t = check_counts(df, "n", "area", "sex", title="People by area and sex")
    frame = tidy_frame([t])
    assert len(frame) == t.n_cells
    syms = t.symbols.to_numpy().ravel()
    assert (frame["status"].to_numpy() == ["suppressed" if s == "[c]" else "not_applicable" if s == "[z]"
                                           else "published" for s in syms]).all()
    assert frame.loc[frame.status != "published", "value"].isna().all()
    published = t.data.to_numpy().ravel()
    ok = frame.status.to_numpy() == "published"
    assert np.allclose(frame["value"].to_numpy()[ok], published[ok])
    # the rule never tells a small (primary) suppression from a protective (secondary) one
    assert frame.loc[frame.status == "suppressed", "rule"].nunique() <= 1
