"""bold_prevention.api: the package root stays fast to import, Project's methods refuse bad input before touching
the warehouse, checked outputs render in notebooks without leaking markup, and a release through the API is
audited into the project's ledger."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bold_prevention as bold
from bold_prevention.errors import BoldError, InputError
from bold_prevention.outputs import check_counts


def test_importing_the_package_loads_neither_the_api_nor_pandas():
    code = ("import sys, bold_prevention as b; print('bold_prevention.api' in sys.modules, 'pandas' in sys.modules);"
            "b.Project; print('bold_prevention.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]


def test_the_root_re_exports_the_api():
    from bold_prevention import api

    assert bold.Project is api.Project and bold.DEFAULT_SEED == 42
    assert "Project" in dir(bold)
    with pytest.raises(AttributeError):
        _ = bold.NoSuchThing  # type: ignore[attr-defined]


def test_a_project_without_a_warehouse_says_so(tmp_path):
    p = bold.Project(tmp_path / "empty")
    assert p.root == tmp_path / "empty" and "empty" in repr(p)
    with pytest.raises(InputError) as e:
        p.persons()
    assert "no warehouse" in e.value.message and e.value.hint


def test_bad_pathway_names_are_refused_before_the_warehouse_is_opened(tmp_path):
    p = bold.Project(tmp_path / "p")
    with pytest.raises(InputError, match="unknown pathway table"):
        p.pathways("sankey")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="time-to-event"):
        p.pathways("survival", "no_such_analysis")
    assert not (tmp_path / "p").exists()


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_dates_are_read_or_refused_with_a_hint(text):
    from datetime import date

    from bold_prevention.api import _date

    try:
        d = date.fromisoformat(text)
    except ValueError:
        with pytest.raises(InputError) as e:
            _date(text)
        assert e.value.hint
    else:
        assert _date(text) == d


def test_checked_outputs_show_in_a_notebook_as_published():
    df = pd.DataFrame({"area": ["<b>North</b>", "South", "East"], "n": [40, 2, 55]})
    out = check_counts(df, "n", "area", title="Persons by <area> & band")
    html = out._repr_html_()
    assert "<b>North</b>" not in html and "&lt;b&gt;North&lt;/b&gt;" in html
    assert "Persons by &lt;area&gt; &amp; band" in html
    assert "[c]" in html and ">2<" not in html  # the small count is suppressed, not shown
    assert "<table" in html


def test_a_release_through_the_api_is_audited_into_the_ledger(tmp_path):
    p = bold.Project(tmp_path / "proj")
    df = pd.DataFrame({"area": ["a", "b", "c"], "n": [40, 25, 55]})
    folder = p.release([check_counts(df, "n", "area", title="Tiny")], title="A tiny release")
    assert folder == tmp_path / "proj" / "outputs" / "a-tiny-release" and (folder / "report.html").is_file()
    ledger = p.releases()
    assert len(ledger) == 1 and ledger["command"][0] == "bold.Project.release"
    with pytest.raises(BoldError):
        p.release([check_counts(df, "n", "area", title="Tiny")], title="A tiny release")  # exists: not replaced
    assert len(p.releases()) == 1
