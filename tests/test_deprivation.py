"""Deprivation and geography: the official layouts a user supplies, the warehouse reference, and the spine join."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.geography.official import (
    deciles_from_ranks,
    read_deprivation,
    read_iod_file1,
    read_iod_file7,
    read_region_lookup,
    read_wimd2019,
)
from bold_prevention.geography.reference import derived_region, geography_table, install_geography
from bold_prevention.linkage.pseudonym import pseudonymise
from bold_prevention.spine import build_spine
from test_spine_fixtures import AS_AT, RULES, mini_warehouse

F1_COLS = ["LSOA code (2011)", "LSOA name (2011)", "Local Authority District code (2019)",
           "Local Authority District name (2019)", "Index of Multiple Deprivation (IMD) Rank",
           "Index of Multiple Deprivation (IMD) Decile"]


def _file7(vintage: int, rows: list[tuple]) -> pd.DataFrame:
    la = 2019 if vintage == 2011 else 2024
    cols = [f"LSOA code ({vintage})", f"LSOA name ({vintage})", f"Local Authority District code ({la})",
            f"Local Authority District name ({la})", "Index of Multiple Deprivation (IMD) Score",
            "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
            "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
            "Income Score (rate)", "Income Rank (where 1 is most deprived)",
            "Income Decile (where 1 is most deprived 10% of LSOAs)",
            "Total population: mid 2015 (excluding prisoners)"]
    return pd.DataFrame([(c, f"{c} name", "E09000001", "City of London", s, r, dcl, 0.1, r, dcl, 1500)
                         for c, s, r, dcl in rows], columns=cols)


@pytest.fixture
def files(tmp_path):
    f1 = tmp_path / "File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx"
    with pd.ExcelWriter(f1, engine="openpyxl") as w:
        pd.DataFrame({"Notes": ["Cover sheet"]}).to_excel(w, sheet_name="Notes", index=False)
        pd.DataFrame([("E01000001", "City of London 001A", "E09000001", "City of London", 100, 1),
                      ("E01000002", "City of London 001B", "E09000001", "City of London", 32000, 10)],
                     columns=F1_COLS).to_excel(w, sheet_name="IMD2019", index=False)
    f7_19 = tmp_path / "File_7_IoD2019.csv"
    _file7(2011, [("E01000001", 50.1, 120, 1), ("E01000003", 5.2, 31000, 10)]).to_csv(f7_19, index=False)
    f7_25 = tmp_path / "File_7_IoD2025.csv"
    _file7(2021, [("E01000001", 40.0, 3000, 1), ("E01035000", 3.0, 33000, 10)]).to_csv(f7_25, index=False)
    wimd = tmp_path / "wimd-2019-ranks.ods"
    header = ["LSOA code", "LSOA name (Eng)", "Local Authority name (Eng)", "WIMD 2019", "Income ", "Employment",
              "Health", "Education", "Access to Services", "Housing", "Community Safety", "Physical Environment"]
    body = [[f"W010000{i:02d}", f"Area {i}", "Isle of Anglesey", i, *[i] * 8] for i in range(1, 21)]
    raw = [["Welsh Index of Multiple Deprivation 2019: ranks", *[None] * 11], [None] * 12, header, *body]
    with pd.ExcelWriter(wimd, engine="odf") as w:
        pd.DataFrame(raw).to_excel(w, sheet_name="WIMD_2019_ranks", index=False, header=False)
    scores = tmp_path / "wimd-2019-scores.ods"
    sbody = [[f"W010000{i:02d}", f"Area {i}", "Isle of Anglesey", 100 - i, *[1.0] * 8] for i in range(1, 21)]
    with pd.ExcelWriter(scores, engine="odf") as w:
        pd.DataFrame([["WIMD 2019 scores", *[None] * 11], [None] * 12, header, *sbody]).to_excel(
            w, sheet_name="Data", index=False, header=False)
    regions = tmp_path / "LAD23_RGN23_EN_LU.csv"
    pd.DataFrame({"LAD23CD": ["E09000001", "E06000001"], "LAD23NM": ["City of London", "Hartlepool"],
                  "RGN23CD": ["E12000007", "E12000001"], "RGN23NM": ["London", "North East"]}).to_csv(
        regions, index=False)
    return {"f1": f1, "f7_19": f7_19, "f7_25": f7_25, "wimd": wimd, "scores": scores, "regions": regions}


def test_iod2019_file1(files):
    t = read_iod_file1(files["f1"]).to_pylist()
    assert [r["lsoa_code"] for r in t] == ["E01000001", "E01000002"]
    assert t[0]["imd_decile"] == 1 and t[0]["imd_rank"] == 100 and t[0]["lad_code"] == "E09000001"
    assert t[0]["imd_source"] == "IoD2019" and t[0]["lsoa_vintage"] == 2011


def test_file7_both_vintages(files):
    t19 = read_iod_file7(files["f7_19"]).to_pylist()
    assert t19[0]["imd_score"] == pytest.approx(50.1) and t19[0]["imd_source"] == "IoD2019"
    assert t19[1]["imd_decile"] == 10
    t25 = read_iod_file7(files["f7_25"]).to_pylist()
    assert {r["imd_source"] for r in t25} == {"IoD2025"} and t25[0]["lsoa_vintage"] == 2021


def test_wimd_ranks_and_scores(files):
    t = read_wimd2019(files["wimd"]).to_pylist()
    assert len(t) == 20 and t[0]["lsoa_code"] == "W01000001"
    assert [r["imd_decile"] for r in t] == [k for k in range(1, 11) for _ in range(2)]
    assert t[0]["lad_name"] == "Isle of Anglesey" and t[0]["imd_source"] == "WIMD2019"
    s = read_wimd2019(files["scores"]).to_pylist()
    # the highest score is the most deprived: rank 1, decile 1
    assert s[0]["imd_rank"] == 1 and s[0]["imd_decile"] == 1 and s[-1]["imd_decile"] == 10
    assert read_deprivation(files["wimd"]).num_rows == 20


def test_wimd_published_deciles_are_preferred(tmp_path):
    path = tmp_path / "wimd.ods"
    header = ["LSOA code", "LSOA name (Eng)", "Local Authority name (Eng)", "WIMD 2019"]
    with pd.ExcelWriter(path, engine="odf") as w:
        pd.DataFrame([["t", None, None, None], [None] * 4, header,
                      *[[f"W010000{i:02d}", "a", "b", i] for i in range(1, 11)]]).to_excel(
            w, sheet_name="WIMD_2019_ranks", index=False, header=False)
        pd.DataFrame([header[:3] + ["WIMD 2019 overall decile"],
                      *[[f"W010000{i:02d}", "a", "b", 3] for i in range(1, 11)]]).to_excel(
            w, sheet_name="Deciles_quintiles_quartiles", index=False, header=False)
    assert {r["imd_decile"] for r in read_wimd2019(path).to_pylist()} == {3}


def test_region_lookup(files):
    t = {r["lad_code"]: r["region"] for r in read_region_lookup(files["regions"]).to_pylist()}
    assert t == {"E09000001": "London", "E06000001": "North East"}


@pytest.mark.parametrize(("writer", "message"), [
    (lambda p: pd.DataFrame({"LSOA code (2011)": ["E01000001"], "IMD Decile": [1]}).to_csv(p, index=False),
     "Index of Multiple Deprivation"),
    (lambda p: pd.DataFrame({"Area": ["x"]}).to_csv(p, index=False), "LSOA code"),
    (lambda p: _file7(2011, [("E01000001", 1.0, 1, 12)]).to_csv(p, index=False), "outside 1-10"),
    (lambda p: _file7(2011, [("E01000001", 1.0, 1, 1), ("E01000001", 1.0, 1, 1)]).to_csv(p, index=False),
     "twice"),
    (lambda p: pd.DataFrame({"LSOA code (2011)": ["Total"], "Index of Multiple Deprivation (IMD) Rank": [1],
                             "Index of Multiple Deprivation (IMD) Decile": [1]}).to_csv(p, index=False),
     "no LSOA rows"),
])
def test_bad_files_are_refused(tmp_path, writer, message):
    p = tmp_path / "file7.csv"
    writer(p)
    with pytest.raises(InputError, match=message):
        read_iod_file7(p)


def test_other_bad_inputs(tmp_path, files):
    with pytest.raises(InputError, match="not found"):
        read_deprivation(tmp_path / "missing.csv")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="unsupported file type"):
        read_deprivation(tmp_path / "x.txt")
    with pytest.raises(InputError, match="no sheet"):
        read_iod_file1(files["f1"], sheet="IMD2025")
    bad = tmp_path / "regions.csv"
    pd.DataFrame({"code": ["E09000001"]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="LADyyCD"):
        read_region_lookup(bad)


def test_regions_from_codes():
    assert derived_region("E09000033") == "London"
    assert derived_region("E08000025") == "England outside London"
    assert derived_region("W06000015") == "Wales"
    assert derived_region(None) is None


def test_shipped_reference_covers_england_and_wales():
    g = geography_table().to_pandas().set_index("lsoa_code")
    assert g.loc["E01000001", "imd_source"] == "IoD2019" and g.loc["E01000001", "region"] == "London"
    assert g.loc["W01000001", "imd_source"] == "WIMD2019"
    assert g["lad_code"].notna().all()
    eng = g[(g["lsoa_vintage"] == 2011) & (g["country"] == "England")]
    assert eng["imd_decile"].between(1, 10).all() and len(eng) == 32844


def test_user_files_override_the_shipped_copy(files):
    g = geography_table(deprivation=[files["f1"], files["f7_25"], files["wimd"]],
                        regions=files["regions"]).to_pandas().set_index("lsoa_code")
    assert g.loc["E01000001", "imd_decile"] == 1 and g.loc["E01000001", "imd2025_decile"] == 1
    assert g.loc["E01000002", "imd_decile"] == 10
    assert g.loc["W01000001", "imd_decile"] == 1
    assert g.loc["E01035000", "lsoa_vintage"] == 2021 and g.loc["E01035000", "imd_source"] == "IoD2025"
    assert g.loc["E01000001", "region"] == "London"
    assert g.loc["E01011949", "region"] == "North East"  # Hartlepool, from the lookup
    assert g.loc["E01033000", "region"] in ("England outside London", "London")  # no lookup row: derived


def test_spine_uses_the_installed_reference(files):
    con = mini_warehouse()
    install_geography(con, deprivation=[files["f1"]], regions=files["regions"])
    build_spine(con, as_at=AS_AT, register=RULES)
    a = con.sql(f"select imd_decile, imd_source, region from spine.person where person_id = '{pseudonymise('M1')}'"
                ).fetchall()
    assert a == [(1, "IoD2019", "London")]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=10, max_value=400))
def test_derived_wimd_deciles_are_balanced(n):
    """Deciles from ranks 1..n: monotone in the rank, 1 to 10, each decile within one LSOA of n/10."""
    ranks = pd.Series(range(1, n + 1), dtype=float).sample(frac=1, random_state=n)
    deciles = deciles_from_ranks(ranks)
    order = deciles[ranks.sort_values().index]
    assert order.is_monotonic_increasing and deciles.min() == 1 and deciles.max() == 10
    assert (deciles.value_counts() - n / 10).abs().max() <= 1
