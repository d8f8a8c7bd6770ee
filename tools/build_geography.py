"""Build the compact geography copy shipped in ``bold_prevention/geography/data``.

Reads the public tables in ``../shared/reference/geography`` (Open Government Licence v3; see
``src/bold_prevention/geography/data/ATTRIBUTION.md``) and writes two small Parquet files:

* ``lsoa11.parquet``: 2011 LSOAs of England and Wales with their 2021 local authority, the IoD2019 (England)
  or WIMD 2019 (Wales) IMD decile and rank, and the 2021 LSOA they map to.
* ``lsoa21.parquet``: 2021 LSOAs with their 2024 local authority and the IoD2025 IMD decile (England).

Run: ``.venv/bin/python tools/build_geography.py [REFERENCE_DIR]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "bold_prevention" / "geography" / "data"


def main(ref: Path) -> None:
    con = duckdb.connect()
    f = lambda name: str(ref / name)  # noqa: E731
    con.execute(
        f"""
        create table lsoa11 as
        with lk as (select * from read_csv_auto('{f("lookup_lsoa11_ltla21.csv")}')),
        to21 as (
            select lsoa11_code, min(lsoa21_code) as lsoa21_code, min(change_code) as change_code
            from read_csv_auto('{f("lookup_lsoa11_lsoa21_ltla22.csv")}') group by 1
        ),
        eng as (select lsoa11_code, cast(IMD_decile as tinyint) as imd_decile, cast(IMD_rank as integer) as imd_rank
                from read_csv_auto('{f("imd2019_england_lsoa11.csv")}')),
        wal as (select lsoa11_code, cast(IMD_decile as tinyint) as imd_decile, cast(IMD_rank as integer) as imd_rank
                from read_csv_auto('{f("imd2019_wales_lsoa11.csv")}'))
        select lk.lsoa11_code, lk.lsoa11_name, lk.ltla21_code as lad_code, lk.ltla21_name as lad_name,
               case when lk.lsoa11_code like 'W%' then 'Wales' else 'England' end as country,
               coalesce(eng.imd_decile, wal.imd_decile) as imd_decile,
               coalesce(eng.imd_rank, wal.imd_rank) as imd_rank,
               case when eng.imd_decile is not null then 'IoD2019' when wal.imd_decile is not null then 'WIMD2019' end
                   as imd_source,
               to21.lsoa21_code, to21.change_code
        from lk left join eng using (lsoa11_code) left join wal using (lsoa11_code)
        left join to21 using (lsoa11_code)
        order by lk.lsoa11_code
        """
    )
    con.execute(
        f"""
        create table lsoa21 as
        select lk.lsoa21_code, lk.lsoa21_name, lk.ltla24_code as lad_code, lk.ltla24_name as lad_name,
               case when lk.lsoa21_code like 'W%' then 'Wales' else 'England' end as country,
               cast(i.IMD_decile as tinyint) as imd_decile, cast(i.IMD_rank as integer) as imd_rank,
               case when i.IMD_decile is not null then 'IoD2025' end as imd_source
        from (select lsoa21_code, min(lsoa21_name) as lsoa21_name, min(ltla24_code) as ltla24_code,
                     min(ltla24_name) as ltla24_name
              from read_csv_auto('{f("lookup_lsoa21_ward24_ltla24.csv")}') group by 1) lk
        left join read_csv_auto('{f("imd2025_england_lsoa21.csv")}') i using (lsoa21_code)
        order by lk.lsoa21_code
        """
    )
    OUT.mkdir(parents=True, exist_ok=True)
    for t in ("lsoa11", "lsoa21"):
        con.execute(f"copy {t} to '{OUT / (t + '.parquet')}' (format parquet, compression zstd)")
        n = con.execute(f"select count(*), count(imd_decile) from {t}").fetchone()
        print(t, n)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "reference" / "geography")
