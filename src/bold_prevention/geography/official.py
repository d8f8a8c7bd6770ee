"""Readers for the official published deprivation and geography files, in the layouts their publishers use.

A user in a secure setting brings the official files; each reader returns a small, uniform Arrow table:

``lsoa_code, lsoa_name, lsoa_vintage (2011 | 2021), lad_code, lad_name, imd_score, imd_rank, imd_decile, imd_source``

* English Indices of Deprivation 2019, File 1 (XLSX, sheet ``IMD2019``): :func:`read_iod_file1`.
* English Indices of Deprivation 2019 or 2025, File 7 (CSV, every domain's score, rank and decile):
  :func:`read_iod_file7` (the vintage is read from the ``LSOA code (2011)`` / ``LSOA code (2021)`` heading).
* Welsh Index of Multiple Deprivation 2019 (ODS; sheet ``WIMD_2019_ranks`` of the ranks file, or sheet ``Data`` of
  the scores file): :func:`read_wimd2019`. WIMD publishes ranks; deciles are derived from the rank
  (``decile = floor((rank - 1) * 10 / n) + 1``, 1 = most deprived) unless the workbook's
  ``Deciles_quintiles_quartiles`` sheet is present, whose published deciles are then used.
* An ONS local authority district to region lookup (CSV, ``LADyyCD`` / ``RGNyyNM`` columns of any year):
  :func:`read_region_lookup`.

Headings are matched on their official wording, ignoring case and surrounding spaces; a file in another layout is
refused with a message naming the heading that was not found.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..errors import InputError

__all__ = ["IMD_SCHEMA", "deciles_from_ranks", "read_iod_file1", "read_iod_file7", "read_region_lookup", "read_wimd2019",
           "read_deprivation"]

IMD_SCHEMA = pa.schema([
    ("lsoa_code", pa.string()),
    ("lsoa_name", pa.string()),
    ("lsoa_vintage", pa.int16()),
    ("lad_code", pa.string()),
    ("lad_name", pa.string()),
    ("imd_score", pa.float64()),
    ("imd_rank", pa.int32()),
    ("imd_decile", pa.int8()),
    ("imd_source", pa.string()),
])


def _norm(s) -> str:
    return re.sub(r"\s+", " ", str(s)).strip().lower()


def _find(columns, *prefixes: str, path: Path, what: str, required: bool = True) -> str | None:
    for p in prefixes:
        pn = _norm(p)
        for c in columns:
            if _norm(c).startswith(pn):
                return c
    if required:
        raise InputError(
            f"{path.name}: no column headed {prefixes[0]!r} ({what})",
            hint="supply the official published file unchanged (see docs/spine-and-cohorts.md for the layouts)")
    return None


def _header_row(raw: pd.DataFrame, token: str, path: Path, sheet: str) -> int:
    t = _norm(token)
    for i in range(min(len(raw), 25)):
        if any(_norm(v).startswith(t) for v in raw.iloc[i].tolist() if isinstance(v, str)):
            return i
    raise InputError(f"{path.name}, sheet {sheet}: no heading row with {token!r} in the first 25 rows",
                     hint="supply the official published file unchanged")


def _frame_with_header(raw: pd.DataFrame, token: str, path: Path, sheet: str) -> pd.DataFrame:
    h = _header_row(raw, token, path, sheet)
    cols = [str(c).strip() if c is not None and not (isinstance(c, float) and math.isnan(c)) else f"_col{i}"
            for i, c in enumerate(raw.iloc[h].tolist())]
    df = raw.iloc[h + 1:].copy()
    df.columns = cols
    return df


def _to_table(df: pd.DataFrame, source: str, vintage: int) -> pa.Table:
    df = df[df["lsoa_code"].astype(str).str.match(r"^[EW]0\d{7}$", na=False)].copy()
    if df.empty:
        raise InputError(f"no LSOA rows found in the {source} file",
                         hint="supply the official published file unchanged")
    if df["lsoa_code"].duplicated().any():
        dup = df.loc[df["lsoa_code"].duplicated(), "lsoa_code"].iloc[0]
        raise InputError(f"the {source} file lists LSOA {dup} twice", hint="supply the official file unchanged")
    for c in ("imd_score", "imd_rank", "imd_decile"):
        df[c] = pd.to_numeric(df[c], errors="coerce") if c in df else float("nan")
    bad = df["imd_decile"].notna() & ~df["imd_decile"].between(1, 10)
    if bad.any():
        raise InputError(f"the {source} file has IMD deciles outside 1-10 (LSOA {df.loc[bad, 'lsoa_code'].iloc[0]})",
                         hint="check the decile column is the IMD decile (1 = most deprived 10%)")
    out = {
        "lsoa_code": df["lsoa_code"].astype(str).str.strip().tolist(),
        "lsoa_name": [None if pd.isna(v) else str(v).strip() for v in df.get("lsoa_name", [None] * len(df))],
        "lsoa_vintage": [vintage] * len(df),
        "lad_code": [None if pd.isna(v) else str(v).strip() for v in df.get("lad_code", [None] * len(df))],
        "lad_name": [None if pd.isna(v) else str(v).strip() for v in df.get("lad_name", [None] * len(df))],
        "imd_score": [None if pd.isna(v) else float(v) for v in df["imd_score"]],
        "imd_rank": [None if pd.isna(v) else int(v) for v in df["imd_rank"]],
        "imd_decile": [None if pd.isna(v) else int(v) for v in df["imd_decile"]],
        "imd_source": [source] * len(df),
    }
    return pa.table(out, schema=IMD_SCHEMA)


def _vintage_of(heading: str) -> int:
    m = re.search(r"\((20\d\d)\)", heading)
    return int(m.group(1)) if m else 2011


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError(f"file {path} not found", hint="check the path")


def read_iod_file1(path: str | Path, *, sheet: str = "IMD2019") -> pa.Table:
    """IoD2019 File 1 (XLSX): ``LSOA code (2011)`` ... ``Index of Multiple Deprivation (IMD) Decile``."""
    path = Path(path)
    _check_exists(path)
    try:
        raw = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
    except ValueError as e:
        raise InputError(f"{path.name}: no sheet {sheet!r}",
                         hint="supply IoD2019 File 1 (File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx)") from e
    except Exception as e:  # openpyxl raises several kinds
        raise InputError(f"{path.name} cannot be read as an XLSX workbook: {e}",
                         hint="supply IoD2019 File 1 as published (XLSX)") from e
    df = _frame_with_header(raw, "LSOA code", path, sheet)
    lsoa = _find(df.columns, "LSOA code", path=path, what="the LSOA code")
    cols = {
        lsoa: "lsoa_code",
        _find(df.columns, "LSOA name", path=path, what="the LSOA name", required=False): "lsoa_name",
        _find(df.columns, "Local Authority District code", path=path, what="the district code",
              required=False): "lad_code",
        _find(df.columns, "Local Authority District name", path=path, what="the district name",
              required=False): "lad_name",
        _find(df.columns, "Index of Multiple Deprivation (IMD) Rank", path=path, what="the IMD rank"): "imd_rank",
        _find(df.columns, "Index of Multiple Deprivation (IMD) Decile", path=path, what="the IMD decile"):
            "imd_decile",
    }
    df = df[[c for c in cols if c]].rename(columns={k: v for k, v in cols.items() if k})
    vintage = _vintage_of(lsoa)
    return _to_table(df, "IoD2019" if vintage == 2011 else "IoD2025", vintage)


def read_iod_file7(path: str | Path) -> pa.Table:
    """IoD2019 or IoD2025 File 7 (CSV): scores, ranks and deciles of the IMD and its domains."""
    path = Path(path)
    _check_exists(path)
    try:
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError) as e:
        try:
            df = pd.read_csv(path, dtype=str, encoding="latin-1")
        except Exception:
            raise InputError(f"{path.name} cannot be read as CSV: {e}", hint="supply File 7 as published (CSV)") from e
    lsoa = _find(df.columns, "LSOA code", path=path, what="the LSOA code")
    cols = {
        lsoa: "lsoa_code",
        _find(df.columns, "LSOA name", path=path, what="the LSOA name", required=False): "lsoa_name",
        _find(df.columns, "Local Authority District code", path=path, what="the district code",
              required=False): "lad_code",
        _find(df.columns, "Local Authority District name", path=path, what="the district name",
              required=False): "lad_name",
        _find(df.columns, "Index of Multiple Deprivation (IMD) Score", path=path, what="the IMD score",
              required=False): "imd_score",
        _find(df.columns, "Index of Multiple Deprivation (IMD) Rank", path=path, what="the IMD rank"): "imd_rank",
        _find(df.columns, "Index of Multiple Deprivation (IMD) Decile", path=path, what="the IMD decile"):
            "imd_decile",
    }
    df = df[[c for c in cols if c]].rename(columns={k: v for k, v in cols.items() if k})
    vintage = _vintage_of(lsoa)
    return _to_table(df, "IoD2019" if vintage == 2011 else "IoD2025", vintage)


def _read_sheets(path: Path) -> dict[str, pd.DataFrame]:
    engine = "odf" if path.suffix.lower() == ".ods" else None
    try:
        return pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine=engine)
    except Exception as e:  # odfpy and openpyxl raise several kinds
        raise InputError(f"{path.name} cannot be read as a spreadsheet: {e}",
                         hint="supply the WIMD 2019 workbook as published (ODS)") from e


def _sheet(sheets: dict[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    for k, v in sheets.items():
        if _norm(k) == _norm(name):
            return v
    return None


def deciles_from_ranks(ranks: pd.Series) -> pd.Series:
    """Deciles (1 = most deprived 10%) from ranks 1..n (1 = most deprived): ``floor((rank - 1) * 10 / n) + 1``."""
    r = pd.to_numeric(ranks, errors="coerce")
    n = int(r.notna().sum())
    if n == 0:
        return r
    return ((r - 1) * 10 // n + 1).where(r.notna())


def read_wimd2019(path: str | Path) -> pa.Table:
    """WIMD 2019 (ODS): sheet ``WIMD_2019_ranks`` (ranks) or ``Data`` (scores; ranks derived from them)."""
    path = Path(path)
    _check_exists(path)
    sheets = _read_sheets(path)
    ranks = _sheet(sheets, "WIMD_2019_ranks")
    if ranks is not None:
        df = _frame_with_header(ranks, "LSOA code", path, "WIMD_2019_ranks")
        value_kind = "rank"
    else:
        data = _sheet(sheets, "Data")
        if data is None:
            raise InputError(f"{path.name}: neither a WIMD_2019_ranks nor a Data sheet",
                             hint="supply the WIMD 2019 ranks workbook (sheet WIMD_2019_ranks) or the scores "
                             "workbook (sheet Data)")
        df = _frame_with_header(data, "LSOA code", path, "Data")
        value_kind = "score"
    lsoa = _find(df.columns, "LSOA code", path=path, what="the LSOA code")
    wimd = _find(df.columns, "WIMD 2019", "WIMD", path=path, what="the overall WIMD 2019 " + value_kind)
    name = _find(df.columns, "LSOA name", path=path, what="the LSOA name", required=False)
    la = _find(df.columns, "Local Authority name", "Local authority", path=path, what="the local authority",
               required=False)
    out = pd.DataFrame({
        "lsoa_code": df[lsoa].astype(str).str.strip(),
        "lsoa_name": df[name] if name else None,
        "lad_name": df[la] if la else None,
        "lad_code": None,
    })
    out = out[out["lsoa_code"].str.match(r"^W0\d{7}$", na=False)].copy()
    vals = pd.to_numeric(df.loc[out.index, wimd], errors="coerce")
    if vals.isna().all():
        raise InputError(f"{path.name}: the {wimd!r} column holds no numbers",
                         hint="supply the WIMD 2019 workbook as published")
    if value_kind == "rank":
        out["imd_rank"] = vals
        out["imd_score"] = None
    else:
        out["imd_score"] = vals
        out["imd_rank"] = vals.rank(ascending=False, method="min")
    out["imd_decile"] = deciles_from_ranks(out["imd_rank"])
    dec = _sheet(sheets, "Deciles_quintiles_quartiles")
    if dec is not None:
        try:
            d = _frame_with_header(dec, "LSOA code", path, "Deciles_quintiles_quartiles")
            dl = _find(d.columns, "LSOA code", path=path, what="the LSOA code")
            dd = _find(d.columns, "WIMD 2019 overall decile", "WIMD 2019 Decile", "Decile", path=path,
                       what="the WIMD decile", required=False)
            if dd:
                published = dict(zip(d[dl].astype(str).str.strip(), pd.to_numeric(d[dd], errors="coerce"),
                                     strict=True))
                out["imd_decile"] = [published.get(c, v) for c, v in zip(out["lsoa_code"], out["imd_decile"],
                                                                        strict=True)]
        except InputError:
            pass
    return _to_table(out, "WIMD2019", 2011)


def read_region_lookup(path: str | Path) -> pa.Table:
    """An ONS local authority district to region lookup (CSV): ``lad_code, lad_name, region_code, region``.

    Reads the ONS headings of any year (``LAD24CD``, ``LAD24NM``, ``RGN24CD``, ``RGN24NM``) or plain
    ``lad_code`` / ``region`` columns.
    """
    path = Path(path)
    _check_exists(path)
    try:
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except Exception as e:
        raise InputError(f"{path.name} cannot be read as CSV: {e}", hint="supply the ONS lookup as CSV") from e

    def pick(pattern: str, *plain: str) -> str | None:
        for c in df.columns:
            if re.fullmatch(pattern, c.strip(), flags=re.I) or c.strip().lower() in plain:
                return c
        return None

    lad = pick(r"LAD\d{2}CD", "lad_code")
    rgn = pick(r"RGN\d{2}NM", "region", "region_name")
    if not lad or not rgn:
        raise InputError(f"{path.name}: needs a district code column (LADyyCD) and a region name column (RGNyyNM)",
                         hint="supply the ONS 'Local Authority District to Region' lookup")
    lad_nm = pick(r"LAD\d{2}NM", "lad_name")
    rgn_cd = pick(r"RGN\d{2}CD", "region_code")
    out = pd.DataFrame({
        "lad_code": df[lad].str.strip(),
        "lad_name": df[lad_nm].str.strip() if lad_nm else None,
        "region_code": df[rgn_cd].str.strip() if rgn_cd else None,
        "region": df[rgn].str.strip(),
    }).dropna(subset=["lad_code", "region"]).drop_duplicates("lad_code")
    return pa.Table.from_pandas(out, preserve_index=False)


def read_deprivation(path: str | Path) -> pa.Table:
    """Read any of the supported official deprivation files, chosen by extension and headings."""
    path = Path(path)
    _check_exists(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_iod_file7(path)
    if suffix == ".ods":
        return read_wimd2019(path)
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            names = openpyxl.load_workbook(path, read_only=True).sheetnames
        except Exception as e:
            raise InputError(f"{path.name} cannot be read as an XLSX workbook: {e}",
                             hint="supply the official file as published") from e
        if any(_norm(n) in ("wimd_2019_ranks", "data") for n in names):
            return read_wimd2019(path)
        return read_iod_file1(path, sheet=next((n for n in names if _norm(n) == "imd2019"), names[0]))
    raise InputError(f"{path.name}: unsupported file type {suffix or '(none)'}",
                     hint="supply IoD File 1 (.xlsx), File 7 (.csv) or WIMD 2019 (.ods)")
