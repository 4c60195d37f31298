"""MPS recorded drug offences per LSOA 2011, one column per year 2011-2021 (docs/data-contracts.md,
"mps_lsoa_drug_annual"; real data, OGL), carried to 2022 wards into ``etl.drug_offence_annual`` and
published as the yearly ``drug_offences`` series. The file is the whole series: it replaces what an
earlier file loaded, year by year."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from etl.checks import Verdicts, column, refuse_synthetic_ids, require_columns
from etl.errors import EtlError
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography
from etl.queries import query
from etl.quarantine import Rejected
from etl.readers import SourceTable
from harmmap import db

REQUIRED = (("lsoa11cd",),)
YEAR_COLUMN = re.compile(r"^(20\d{2})$")


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """Each LSOA 2011's yearly counts shared out to 2022 wards by the lookup's weights, summed per ward
    and year (fractions of offences: a weighted share, not a count of events)."""
    require_columns(table, *REQUIRED)
    years = [c for c in table.frame.columns if YEAR_COLUMN.match(c)]
    if not years:
        raise EtlError(f"{table.path.name}: no year columns (YYYY) found")
    lookup: pd.DataFrame = geo.lsoa11_to_ward  # lsoa11_code, ward_code, weight (LSOA11 -> LSOA21 -> ward)
    v = Verdicts(len(table))
    refuse_synthetic_ids(v, table, "lsoa11cd", why="is synthetic but MPS files are real by definition",
                         label="LSOA11CD")
    code = column(table, "lsoa11cd")
    v.fail(~np.isin(code, lookup["lsoa11_code"].unique()), lambda i: f"LSOA11CD {code[i]!r} is not in the LSOA 2011 lookup")
    raw = table.frame[years]
    values = raw.apply(lambda s: pd.to_numeric(s.str.replace(",", ""), errors="coerce")).to_numpy()
    bad = (raw.to_numpy() != "") & (np.isnan(values) | (values < 0))
    v.fail(bad.any(axis=1), lambda i: f"year {years[int(np.argmax(bad[i]))]} has "
                                      f"{raw.iloc[i, int(np.argmax(bad[i]))]!r}, not a count")
    v.fail(pd.Series(code, dtype=object).duplicated().to_numpy(), lambda i: f"duplicate LSOA11CD {code[i]}")
    ok = v.ok
    wide = pd.DataFrame(values[ok], columns=[int(y) for y in years])
    wide["lsoa11_code"] = code[ok]
    long = wide.melt(id_vars="lsoa11_code", var_name="year", value_name="offences").dropna()
    carried = long.merge(lookup, on="lsoa11_code")
    carried["offences"] = carried["offences"] * carried["weight"]
    annual = carried.groupby(["ward_code", "year"], as_index=False)["offences"].sum()
    return Prepared(table, annual, v.rejected(table), notes={"years": f"{years[0]}..{years[-1]}",
                                                             "total": float(long["offences"].sum())})


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Replace the years the file holds, then republish the whole yearly series."""
    frame = prepared.records.copy()
    frame["batch_id"] = batch_id
    years = sorted({int(y) for y in frame["year"]})
    conn.execute(query("mps_lsoa_drug_annual_delete"), {"years": years})
    db.copy_frame(conn, "etl.drug_offence_annual", frame)
    conn.execute(query("mps_lsoa_drug_annual_unpublish"))
    conn.execute(query("mps_lsoa_drug_annual_publish"))
    return []


KIND = Kind("mps_lsoa_drug_annual", "MPS drug offences per LSOA 2011, 2011-2021 (real)", prepare, publish,
            file_prefixes=("mps_lsoa_drug_offences",))
