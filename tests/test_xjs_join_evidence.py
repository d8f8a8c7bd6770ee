"""The evidence a high-confidence model pair needs before the improved XJS id joins two persons: family and civil
court parties with a name and no date of birth (namesakes, juniors and relatives at one address)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.linkage.standardise import StandardiseOptions
from bold_prevention.linkage.xjs_audit import JoinEvidence, tuned_joins

HIGH = 0.99
CIVIL, FAMILY, MAGS = "civil_caseman_pcol", "familyman", "mags_hocas"


def _warehouse(family: list[tuple[str, str, date]], civil: list[tuple[str, date]]):
    """A warehouse with the court parties' roles and case dates: family (row_id_hash, role, receipt date) and
    civil (row_id_hash, issue date) parties, one case each."""
    con = duckdb.connect()
    con.execute("create schema extract")
    con.execute("create table extract.family_parties (row_id_hash varchar, case_number_hash varchar, "
                "role_model varchar)")
    con.execute("create table extract.family_cases (case_number_hash varchar, receipt_date date)")
    con.execute("create table extract.civil_parties (row_id_hash varchar, case_number_hash varchar, "
                "is_company boolean)")
    con.execute("create table extract.civil_cases (case_number_hash varchar, issue_date date)")
    for rid, role, d in family:
        con.execute("insert into extract.family_parties values (?, ?, ?)", [rid, "k" + rid, role])
        con.execute("insert into extract.family_cases values (?, ?)", ["k" + rid, d])
    for rid, d in civil:
        con.execute("insert into extract.civil_parties values (?, ?, false)", [rid, "k" + rid])
        con.execute("insert into extract.civil_cases values (?, ?)", ["k" + rid, d])
    return con


def _scratch(records: list[tuple], pairs: list[tuple[str, str, float]]):
    """records: (record_key, person (starting cluster), forename, surname, dob or None, postcode or None)."""
    s = duckdb.connect()
    s.register("r", pa.table({
        "record_key": [r[0] for r in records], "forename": [r[2] for r in records],
        "middle_names": pa.nulls(len(records), pa.string()), "surname": [r[3] for r in records],
        "date_of_birth": [None if r[4] is None else r[4].isoformat() for r in records],
        "sex": pa.nulls(len(records), pa.string()), "postcode": [r[5] for r in records]}))
    s.execute("create table __raw_0 as select * from r")
    s.register("a", pa.table({"record_key": [r[0] for r in records], "base_medium": [r[1] for r in records]}))
    s.execute("create table __audit as select * from a")
    s.register("p", pa.table({"left_id": [p[0] for p in pairs], "right_id": [p[1] for p in pairs],
                              "match_probability": [p[2] for p in pairs]}, schema=pa.schema(
        [("left_id", pa.string()), ("right_id", pa.string()), ("match_probability", pa.float64())])))
    s.execute("create table __pairs as select * from p")
    return s


def _joins(con, s, evidence: JoinEvidence | None = None):
    rep = tuned_joins(con, s, "__pairs", high=HIGH, options=StandardiseOptions(), evidence=evidence or JoinEvidence(),
                      generation_years=10)
    edges = {tuple(sorted(e)) for e in s.execute("select c1, c2 from __join_edges").fetchall()}
    return rep, edges


def test_a_junior_of_the_same_name_at_one_address_makes_a_name_only_party_ambiguous():
    recs = [(f"{MAGS}:f", "F", "Terence", "Roberts", date(1965, 2, 28), "WO15 1NN"),
            (f"{MAGS}:s", "S", "Terence", "Roberts", date(1997, 6, 8), "WO15 1NN"),
            (f"{CIVIL}:c", "C", "TERENCE", "ROBERTS", None, "WO15 1NN")]
    s = _scratch(recs, [(f"{CIVIL}:c", f"{MAGS}:f", 0.9999), (f"{CIVIL}:c", f"{MAGS}:s", 0.9999)])
    rep, edges = _joins(_warehouse([], [("c", date(2023, 10, 28))]), s)
    assert edges == set()
    assert rep["refused"]["ambiguous"] == 2 and rep["kept"] == 0


def test_a_name_needs_the_full_postcode_and_the_forename_when_a_date_of_birth_is_missing():
    recs = [(f"{MAGS}:m", "M", "Sophie", "Graham", date(1980, 1, 2), "HA10 5EN"),
            (f"{FAMILY}:moved", "A", "Sophie", "Graham", None, "HA11 6EN"),   # another postcode
            (f"{FAMILY}:sister", "B", "Sarah", "Graham", None, "HA10 5EN"),   # a relative at the address
            (f"{FAMILY}:nopc", "D", "Sophie", "Graham", None, None),          # no postcode
            (f"{FAMILY}:same", "E", "Sophie", "Graham", None, "HA10 5EN")]    # name and postcode agree
    pairs = [(r[0], f"{MAGS}:m", 0.995) for r in recs[1:]]
    fam = [(k.split(":")[1], "APLZ", date(2015, 3, 1)) for k, *_ in recs[1:]]
    rep, edges = _joins(_warehouse(fam, []), _scratch(recs, pairs))
    assert edges == {("E", "M")}
    assert rep["refused"]["name_only"] == 3


def test_a_nickname_agrees_and_dated_pairs_need_no_postcode():
    recs = [(f"{MAGS}:m", "M", "Robert", "Bates", date(1975, 8, 17), "HI18 1PD"),
            (f"{FAMILY}:b", "B", "Bob", "Bates", None, "HI18 1PD"),
            (f"{MAGS}:d", "D", "Robert", "Bates", date(1975, 8, 17), "ZZ1 1ZZ")]
    pairs = [(f"{FAMILY}:b", f"{MAGS}:m", 0.995), (f"{MAGS}:d", f"{MAGS}:m", 0.999)]
    _rep, edges = _joins(_warehouse([("b", "RSPZ", date(2021, 8, 5))], []), _scratch(recs, pairs))
    assert edges == {("B", "M"), ("D", "M")}


def test_court_roles_imply_ages():
    recs = [(f"{MAGS}:dad", "DAD", "Sean", "Doyle", date(1967, 4, 2), "HA18 4TX"),
            (f"{FAMILY}:child", "CH", "Sean", "Doyle", None, "HA18 4TX"),      # a child party in 2014
            (f"{MAGS}:kid", "KID", "Joshua", "Campbell", date(2007, 6, 19), "SO10 9LG"),
            (f"{CIVIL}:adult", "AD", "Joshua", "Campbell", None, "SO10 9LG"),  # a civil defendant in 2014
            (f"{MAGS}:ok", "OK", "Emily", "Wheeler", date(1985, 3, 20), "NE16 4XD"),
            (f"{FAMILY}:mum", "MUM", "Emily", "Wheeler", None, "NE16 4XD")]    # an applicant in 2022, aged 37
    pairs = [(f"{FAMILY}:child", f"{MAGS}:dad", 0.9999), (f"{CIVIL}:adult", f"{MAGS}:kid", 0.9999),
             (f"{FAMILY}:mum", f"{MAGS}:ok", 0.9999)]
    con = _warehouse([("child", "CHLDZ", date(2014, 3, 4)), ("mum", "APLZ", date(2022, 9, 16))],
                     [("adult", date(2014, 3, 17))])
    rep, edges = _joins(con, _scratch(recs, pairs))
    assert edges == {("MUM", "OK")}
    assert rep["refused"]["ages"] == 2


def test_a_name_only_person_between_a_parent_and_a_child_party_joins_neither():
    # the mother (applicant in 2010) and her daughter of the same name (child party in 2018): each alone fits a
    # name-only record at their address, which therefore cannot say whose it is
    recs = [(f"{FAMILY}:mum", "MUM", "Amy", "Hale", None, "B1 1AA"),
            (f"{FAMILY}:girl", "GIRL", "Amy", "Hale", None, "B1 1AA"),
            (f"{CIVIL}:x", "X", "Amy", "Hale", None, "B1 1AA")]
    pairs = [(f"{FAMILY}:mum", f"{CIVIL}:x", 0.9999), (f"{FAMILY}:girl", f"{CIVIL}:x", 0.9995)]
    con = _warehouse([("mum", "APLC", date(2010, 1, 1)), ("girl", "CHLDC", date(2018, 1, 1))], [])
    rep, edges = _joins(con, _scratch(recs, pairs))
    assert edges == set() and rep["refused"]["ambiguous"] == 2


def test_a_chain_of_joins_cannot_spread_one_person_over_a_generation():
    recs = [(f"{MAGS}:a", "A", "Jack", "Walsh", date(1980, 1, 1), "BA16 5NY"),
            (f"{MAGS}:x", "X", "Jack", "Walsh", date(1988, 1, 1), "BA16 5NY"),
            (f"{MAGS}:b", "B", "Jack", "Walsh", date(1996, 1, 1), "BA16 5NY")]
    pairs = [(f"{MAGS}:a", f"{MAGS}:x", 0.9999), (f"{MAGS}:x", f"{MAGS}:b", 0.9995)]
    rep, edges = _joins(_warehouse([], []), _scratch(recs, pairs))
    assert edges == {("A", "X")} and rep["refused"]["dates_of_birth"] == 1


def test_one_wrong_date_of_birth_in_a_published_person_does_not_block_its_joins():
    recs = [(f"{MAGS}:a{i}", "A", "Jack", "Walsh", date(1970, 5, 1), "BA16 5NY") for i in range(3)]
    recs += [(f"{MAGS}:wrong", "A", "Jack", "Walsh", date(2001, 9, 27), "BA16 5NY"),
             (f"{MAGS}:b", "B", "Jack", "Walsh", date(1970, 5, 1), "BA16 5NY")]
    _rep, edges = _joins(_warehouse([], []), _scratch(recs, [(f"{MAGS}:a0", f"{MAGS}:b", 0.9999)]))
    assert edges == {("A", "B")}


_FORENAMES = ("Amy", "Amelia", "Sean")
_POSTCODES = ("B1 1AA", "B2 2BB", None)
_ROLES = ("APLZ", "RSPZ", "CHLDZ", None)


@st.composite
def _populations(draw):
    n = draw(st.integers(2, 7))
    recs, fam, civ = [], [], []
    for i in range(n):
        src = draw(st.sampled_from((MAGS, FAMILY, CIVIL)))
        dob = draw(st.one_of(st.none(), st.dates(date(1950, 1, 1), date(2015, 1, 1))))
        recs.append((f"{src}:r{i}", f"P{draw(st.integers(0, n - 1))}", draw(st.sampled_from(_FORENAMES)), "Hale",
                     dob, draw(st.sampled_from(_POSTCODES))))
        when = date(2010, 1, 1) + timedelta(days=draw(st.integers(0, 5000)))
        if src == FAMILY:
            role = draw(st.sampled_from(_ROLES))
            if role:
                fam.append((f"r{i}", role, when))
        elif src == CIVIL:
            civ.append((f"r{i}", when))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from((0.5, 0.995))),
                          max_size=12))
    pairs = [(recs[a][0], recs[b][0], p) for a, b, p in pairs if a != b]
    return recs, fam, civ, pairs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_populations(), st.randoms(use_true_random=False))
def test_joins_are_high_confidence_with_evidence_and_do_not_depend_on_order(pop, rnd):
    recs, fam, civ, pairs = pop
    con = _warehouse(fam, civ)
    rep, edges = _joins(con, _scratch(recs, pairs))
    person = {r[0]: r[1] for r in recs}
    by_key = {r[0]: r for r in recs}
    # every join is a high-confidence pair between two persons, with a date of birth on both records or the
    # forename (or its canonical form: AMY / AMELIA) and the full postcode agreeing
    for a, b in edges:
        assert a != b
        assert any({person[x], person[y]} == {a, b} and p >= HIGH and (
            (by_key[x][4] is not None and by_key[y][4] is not None)
            or (by_key[x][5] is not None and by_key[x][5] == by_key[y][5])) for x, y, p in pairs)
    assert rep["kept"] >= len(edges)
    # the same joins whatever the order of the pairs
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    _rep2, edges2 = _joins(con, _scratch(list(reversed(recs)), shuffled))
    assert edges2 == edges


def test_a_part_of_a_published_person_that_contradicts_the_rest_is_split_off():
    from bold_prevention.linkage.xjs_audit import contradiction_splits, evidence_tables

    # XJS put a civil party and the magistrates' record of one man (born 1960) with another man (born 1991); the
    # model's low band holds them apart; a part with no date of birth and no court role contradicts nothing
    recs = [(f"{MAGS}:j{i}", "X1", "Jack", "Douglas", date(1991, 9, 2), "LE4 4AY") for i in range(4)]
    recs += [(f"{MAGS}:k", "X1", "Krish", "Zaman", date(1960, 3, 31), "LI18 1AP"),
             (f"{CIVIL}:k", "X1", "Krish", "Zaman", None, "LI18 1AP"),
             (f"{MAGS}:n", "X1", "J", "Douglas", None, None)]
    s = _scratch(recs, [])
    low = {f"{MAGS}:k": "K", f"{CIVIL}:k": "K", f"{MAGS}:n": "N"}
    s.execute("create table __a2 as select record_key, base_medium as xjs_medium, "
              "coalesce(map_extract(map(['" + "', '".join(low) + "'], ['" + "', '".join(low.values()) + "']), "
              "record_key)[1], 'J') as model_low from __audit")
    s.execute("drop table __audit")
    s.execute("alter table __a2 rename to __audit")
    evidence_tables(_warehouse([], [("k", date(2020, 1, 1))]), s, StandardiseOptions(), JoinEvidence())
    assert contradiction_splits(s, 10) == 1
    assert s.execute("select * from __contradicted").fetchall() == [("X1", "K")]


def test_an_unknown_split_mode_is_refused_before_any_linking():
    import pytest

    from bold_prevention.errors import InputError
    from bold_prevention.linkage.xjs_audit import audit_xjs

    with pytest.raises(InputError, match="split mode") as e:
        audit_xjs(duckdb.connect(), split="sometimes")
    assert "contradictions" in e.value.hint
