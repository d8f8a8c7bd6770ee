"""The configuration layer: a safe YAML reader (lines, duplicate keys, alias limits) and strict typed schemas that
report every problem of a file at once, each with its file and line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.config import (
    MAX_ALIASES,
    ConfigError,
    ConfigModel,
    load_config,
    parse_config,
    parse_yaml,
)
from bold_prevention.errors import InputError
from bold_prevention.linkage.config import load_config as load_link_config


class Side(ConfigModel):
    path: str
    date_format: str | None = None
    one_record_per_person: bool = False
    keep: list[str] | None = None


class Job(ConfigModel):
    left: Side
    right: Side | None = None
    threshold: float = 0.5
    seed: int = 42


def _problems(text: str, model=Job) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(text, model, source="job.yaml")
    return [p.render("job.yaml") for p in e.value.problems]


def test_a_valid_file_validates():
    job = parse_config("left: {path: a.csv, keep: [x, y]}\nthreshold: 1\nseed: 7\n", Job, source="job.yaml")
    assert job.left.path == "a.csv" and job.left.keep == ["x", "y"] and job.threshold == 1.0 and job.seed == 7


def test_unknown_key_names_the_key_and_the_allowed_ones():
    (p,) = _problems("left:\n  path: a.csv\n  colour: blue\n")
    assert p.startswith("job.yaml:3: left: unknown key `colour`")
    assert "allowed keys: path, date_format, one_record_per_person, keep" in p


def test_wrong_types_are_refused():
    probs = _problems("left:\n  path: 5\n  keep: x\nthreshold: high\nseed: 4.5\n")
    assert probs == [
        "job.yaml:2: left.path: must be text, got the number 5; put the value in quotes",
        "job.yaml:3: left.keep: must be a list, got the text 'x'",
        "job.yaml:4: threshold: must be a number, got the text 'high'",
        "job.yaml:5: seed: must be a whole number, got the number 4.5",
    ]


@pytest.mark.parametrize("written", ['"false"', "'no'", '"true"', "'off'"])
def test_a_quoted_boolean_is_not_a_boolean(written):
    (p,) = _problems(f"left: {{path: a.csv, one_record_per_person: {written}}}\n")
    assert p.startswith("job.yaml:1: left.one_record_per_person: must be true or false, got the text")
    assert "without quotes" in p


def test_yes_no_for_text_says_to_quote_it():
    (p,) = _problems("left: {path: no}\n")
    assert "must be text, got false (true/false)" in p and "put the value in quotes" in p


def test_numbers_in_quotes_are_not_numbers():
    (p,) = _problems('left: {path: a}\nseed: "12"\n')
    assert p == "job.yaml:2: seed: must be a whole number, got the text '12'; write the number without quotes"


def test_link_config_booleans_and_date_format(tmp_path):
    f = tmp_path / "link.yaml"
    f.write_text("left:\n  path: a.csv\n  id: rid\n  columns: {forename: fn}\n  date_format: 12\n"
                 "  one_record_per_person: \"false\"\nguards: {twins: 'no'}\nbloom_filters: \"false\"\n")
    with pytest.raises(InputError) as e:
        load_link_config(f)
    msg = str(e.value)
    assert f"{f}:5: left.date_format: must be text, got the number 12" in msg
    assert f"{f}:6: left.one_record_per_person: must be true or false" in msg
    assert f"{f}:7: guards.twins: must be true or false" in msg
    assert f"{f}:8: bloom_filters: must be true or false" in msg
    # a mapping of name roles only is a valid config
    f.write_text("left:\n  path: a.csv\n  id: rid\n  columns: {forename: fn, surname: sn}\n"
                 "  date_format: '%d/%m/%Y'\n  one_record_per_person: false\nbloom_filters: false\n")
    cfg = load_link_config(f)
    assert cfg.left.columns == {"forename": "fn", "surname": "sn"} and cfg.left.date_format == "%d/%m/%Y"
    assert cfg.left.one_record_per_person is False and cfg.bloom_filters is False


def test_duplicate_keys_are_reported_with_both_lines():
    (p,) = _problems("left: {path: a}\nseed: 1\nseed: 2\n")
    assert p == "job.yaml:3: the key `seed` appears twice in one mapping (first on line 2); remove one"


def test_every_problem_is_reported_at_once_with_lines():
    probs = _problems("right:\n  path: b\n  date_format: 12\n  extra: 1\nthreshold: x\nthreshold: 2\nodd: 1\n")
    assert [p.split(":")[1] for p in probs] == ["1", "3", "4", "5", "6", "7"]
    assert "left` is missing" in probs[0]


def _bomb(levels: int, width: int, items: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * items) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_expansion():
    # 9 levels of 9 aliases: 81 aliases, 9^10 values if expanded
    with pytest.raises(InputError, match=f"more than {MAX_ALIASES} aliases"):
        parse_yaml(_bomb(9, 9), source="bomb.yaml")


def test_few_aliases_that_expand_hugely_are_refused_before_expansion():
    # 2 aliases a level for 24 levels: 48 aliases, 100 * 2^24 values if expanded (never built: the test would not
    # finish if they were)
    with pytest.raises(InputError, match="would expand the file to more than"):
        parse_yaml(_bomb(24, 2, items=100), source="bomb.yaml")


def test_a_few_small_aliases_are_fine():
    doc = parse_yaml("base: &b {x: 1}\none: *b\ntwo: *b\n", source="a.yaml")
    assert doc.data == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}
    assert doc.data["one"] is not doc.data["two"]


@pytest.mark.parametrize(("text", "message"), [
    ("a: &a [*a]\n", "refers to a list or mapping it is inside"),
    ("a: !!python/object/apply:os.system [ls]\n", "is not allowed"),
    ("a: !!binary aGVsbG8=\n", "is not allowed"),
    ("a: !custom x\n", "is not allowed"),
    ("base: &b {x: 1}\nc:\n  <<: *b\n", "merge keys"),
    ("? [a, b]\n: 1\n", "plain name"),
    ("a: [unclosed\n", "is not valid YAML"),
    ("a: 1\n---\nb: 2\n", "is not valid YAML"),
    ("a: 2024-13-45\n", "cannot be read"),
    ("[" * 500 + "]" * 500, "nested more than"),
])
def test_unsafe_or_broken_yaml_is_refused(text, message):
    with pytest.raises(InputError, match=message):
        parse_yaml(text, source="x.yaml")


def test_keys_yaml_would_read_as_booleans_stay_names():
    assert parse_yaml("on: 1\nno: 2\nnull: 3\n", source="k.yaml").data == {"on": 1, "no": 2, "null": 3}


def test_documents_that_are_not_mappings(tmp_path):
    for text, what in (("- a\n- b\n", "got a list"), ("just text\n", "got the text"), ("12\n", "got the number")):
        with pytest.raises(InputError, match=f"must be a mapping of key: value lines, {what}"):
            parse_config(text, Job, source="x.yaml")
    for text in ("", "# only a comment\n", "---\n"):
        with pytest.raises(InputError, match="x.yaml: the configuration is empty"):
            parse_config(text, Job, source="x.yaml")


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "none.yaml", Job)
    with pytest.raises(InputError, match="is a folder"):
        load_config(tmp_path, Job)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("left: {path: a}\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.yaml:2: the file is not UTF-8 text") as e:
        load_config(bad, Job)
    assert "UTF-8" in e.value.hint
    ok = tmp_path / "bom.yaml"
    ok.write_bytes("\ufeffleft: {path: a}\n".encode())
    assert load_config(ok, Job).left.path == "a"


_PIECES = ["a", "b", "left", "path", ":", ": ", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!!str ",
           "!t ", "'", '"', "#", "? ", "|", ">", "1", "1.5", "true", "'no'", "~", "<<: ", "\t", "---\n", "...",
           "%YAML 1.1\n", "\\", "2024-01-01", "0x1F", "\xe9", "\x00", "\x85", "\ufeff", "@", "`"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200),
                 st.lists(st.sampled_from(_PIECES), max_size=40).map(lambda xs: "".join(xs).encode("utf-8",
                                                                                                   "surrogatepass"))))
def test_any_bytes_give_a_config_or_an_input_error(data):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "c.yaml"
        f.write_bytes(data)
        try:
            job = load_config(f, Job)
        except InputError as e:
            assert str(e) and e.hint
        else:
            assert isinstance(job, Job)
