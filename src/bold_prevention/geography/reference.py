"""The warehouse's place reference: one row per LSOA code with its local authority, region and deprivation.

:func:`geography_table` combines the shipped copy (``lsoa11.parquet``, ``lsoa21.parquet``) with any official files a
user supplies (read by :mod:`bold_prevention.geography.official`), and :func:`install_geography` writes it to the
warehouse as ``spine.geo_lsoa`` (plus ``spine.geo_lad``, one row per local authority).

``spine.geo_lsoa`` columns:

``lsoa_code``       an LSOA code as records carry it (Data First records carry 2011 LSOAs);
``lsoa_vintage``    2011, or 2021 for codes that exist only in the 2021 geography;
``lsoa11_code``, ``lsoa21_code``;
``lad_code``, ``lad_name``, ``country`` (England / Wales), ``region``;
``imd_decile``, ``imd_rank``, ``imd_source``: IoD2019 (English 2011 LSOAs), WIMD2019 (Welsh LSOAs), IoD2025
(English LSOAs that exist only in 2021);
``imd2025_decile``: the IoD2025 decile of the LSOA's 2021 successor (England).

Regions. The shipped lookups carry no regions. Without a user-supplied ONS district-to-region lookup, ``region`` is
derived honestly from the district code: London for London boroughs (``E09``), "England outside London" for other
English districts, Wales for Welsh ones. With the lookup (``bold places load-geography --regions FILE``) the ONS
region names are used.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from . import lsoa11_table, lsoa21_table
from .official import read_deprivation, read_region_lookup

__all__ = ["GEO_SCHEMA", "derived_region", "geography_table", "install_geography", "lad_table"]

GEO_SCHEMA = pa.schema([
    ("lsoa_code", pa.string()),
    ("lsoa_vintage", pa.int16()),
    ("lsoa11_code", pa.string()),
    ("lsoa21_code", pa.string()),
    ("lad_code", pa.string()),
    ("lad_name", pa.string()),
    ("country", pa.string()),
    ("region", pa.string()),
    ("imd_decile", pa.int8()),
    ("imd_rank", pa.int32()),
    ("imd_source", pa.string()),
    ("imd2025_decile", pa.int8()),
])

LONDON = "London"
REST_OF_ENGLAND = "England outside London"


def derived_region(lad_code: str | None) -> str | None:
    """The region that can be told from a district code alone: London (E09), England outside London, Wales."""
    if not lad_code:
        return None
    if lad_code.startswith("E09"):
        return LONDON
    if lad_code.startswith("E"):
        return REST_OF_ENGLAND
    if lad_code.startswith("W"):
        return "Wales"
    return None


def geography_table(*, deprivation: list[str | Path] | None = None, regions: str | Path | None = None
                    ) -> pa.Table:
    """The combined LSOA reference (see the module docstring), with user-supplied official files applied.

    ``deprivation``: official files (IoD File 1 or File 7, WIMD 2019) whose IMD values replace the shipped ones for
    the LSOAs they list (2011 files update 2011 codes; IoD2025 files update ``imd2025_decile`` and 2021-only codes).
    ``regions``: an ONS district-to-region lookup.
    """
    l11 = lsoa11_table().to_pylist()
    l21 = {r["lsoa21_code"]: r for r in lsoa21_table().to_pylist()}
    rows: dict[str, dict] = {}
    for r in l11:
        succ = l21.get(r["lsoa21_code"])
        rows[r["lsoa11_code"]] = {
            "lsoa_code": r["lsoa11_code"], "lsoa_vintage": 2011, "lsoa11_code": r["lsoa11_code"],
            "lsoa21_code": r["lsoa21_code"], "lad_code": r["lad_code"], "lad_name": r["lad_name"],
            "country": r["country"], "region": None, "imd_decile": r["imd_decile"], "imd_rank": r["imd_rank"],
            "imd_source": r["imd_source"], "imd2025_decile": succ["imd_decile"] if succ else None,
        }
    for code, r in l21.items():
        if code in rows:
            continue
        rows[code] = {
            "lsoa_code": code, "lsoa_vintage": 2021, "lsoa11_code": None, "lsoa21_code": code,
            "lad_code": r["lad_code"], "lad_name": r["lad_name"], "country": r["country"], "region": None,
            "imd_decile": r["imd_decile"], "imd_rank": r["imd_rank"], "imd_source": r["imd_source"],
            "imd2025_decile": r["imd_decile"],
        }
    by21: dict[str, list[dict]] = {}
    for row in rows.values():
        if row["lsoa21_code"]:
            by21.setdefault(row["lsoa21_code"], []).append(row)
    for f in deprivation or []:
        t = read_deprivation(f).to_pylist()
        for r in t:
            code = r["lsoa_code"]
            if r["imd_source"] == "IoD2025":
                # 2021 LSOAs: update every LSOA whose 2021 successor this is, and the 2021-only codes
                for row in by21.get(code, []):
                    row["imd2025_decile"] = r["imd_decile"]
                    if row["lsoa_vintage"] == 2021:
                        row.update(imd_decile=r["imd_decile"], imd_rank=r["imd_rank"], imd_source="IoD2025")
                if code not in rows:
                    rows[code] = {
                        "lsoa_code": code, "lsoa_vintage": 2021, "lsoa11_code": None, "lsoa21_code": code,
                        "lad_code": r["lad_code"], "lad_name": r["lad_name"],
                        "country": "Wales" if code.startswith("W") else "England", "region": None,
                        "imd_decile": r["imd_decile"], "imd_rank": r["imd_rank"], "imd_source": "IoD2025",
                        "imd2025_decile": r["imd_decile"],
                    }
                continue
            row = rows.get(code)
            if row is None:
                rows[code] = {
                    "lsoa_code": code, "lsoa_vintage": 2011, "lsoa11_code": code, "lsoa21_code": None,
                    "lad_code": r["lad_code"], "lad_name": r["lad_name"],
                    "country": "Wales" if code.startswith("W") else "England", "region": None,
                    "imd_decile": r["imd_decile"], "imd_rank": r["imd_rank"], "imd_source": r["imd_source"],
                    "imd2025_decile": None,
                }
            else:
                row.update(imd_decile=r["imd_decile"], imd_rank=r["imd_rank"], imd_source=r["imd_source"])
    region_of: dict[str, str] = {}
    if regions is not None:
        region_of = {r["lad_code"]: r["region"] for r in read_region_lookup(regions).to_pylist()}
    for row in rows.values():
        row["region"] = region_of.get(row["lad_code"]) or derived_region(row["lad_code"])
    out = pa.Table.from_pylist(list(rows.values()), schema=GEO_SCHEMA)
    return out.sort_by("lsoa_code")


def lad_table(geo: pa.Table) -> pa.Table:
    """One row per local authority of ``geo``: lad_code, lad_name, country, region, lsoas."""
    g = geo.group_by(["lad_code", "lad_name", "country", "region"]).aggregate([("lsoa_code", "count")])
    g = g.rename_columns(["lad_code", "lad_name", "country", "region", "lsoas"])
    # a district code may carry two names across vintages: keep the first name
    idx = pc.array_sort_indices(g["lad_code"])
    g = g.take(idx)
    seen, keep = set(), []
    for i, c in enumerate(g["lad_code"].to_pylist()):
        if c not in seen:
            seen.add(c)
            keep.append(i)
    return g.take(pa.array(keep))


def install_geography(con, *, deprivation: list[str | Path] | None = None, regions: str | Path | None = None
                      ) -> int:
    """Write ``spine.geo_lsoa`` and ``spine.geo_lad`` to the warehouse; returns the number of LSOA rows."""
    geo = geography_table(deprivation=deprivation, regions=regions)
    lad = lad_table(geo)
    con.register("_geo_lsoa_arrow", geo)
    con.register("_geo_lad_arrow", lad)
    con.execute("CREATE OR REPLACE TABLE spine.geo_lsoa AS SELECT * FROM _geo_lsoa_arrow")
    con.execute("CREATE OR REPLACE TABLE spine.geo_lad AS SELECT * FROM _geo_lad_arrow")
    if hasattr(con, "unregister"):
        con.unregister("_geo_lsoa_arrow")
        con.unregister("_geo_lad_arrow")
    return geo.num_rows
