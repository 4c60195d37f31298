"""MPS Ward Level Crime, the wide monthly file (docs/data-contracts.md, "mps_ward_crime"; real data, OGL):
every category into ``etl.recorded_crime``; ``drug_possession``, ``drug_trafficking`` and
``drug_offences`` are rebuilt from it. The published file is a rolling 24 months, so a later file
replaces the cells it holds and keeps the months it no longer does."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from etl.checks import MAX_COUNT, Verdicts, column, refuse_synthetic_ids, require_columns
from etl.errors import EtlError
from etl.kinds import monthly
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography
from etl.queries import query
from etl.quarantine import Rejected
from etl.readers import SourceTable
from harmmap import db

REQUIRED = (("majortext",), ("minortext",), ("wardcode",))
MONTH_COLUMN = re.compile(r"^(20\d{2})(0[1-9]|1[0-2])$")
INDICATORS = ("drug_possession", "drug_trafficking", "drug_offences")


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """The wide file (one YYYYMM column per month) as long records per ward, month and category. A
    month column in the future fails the whole file; a bad cell quarantines its row."""
    require_columns(table, *REQUIRED)
    months = [c for c in table.frame.columns if MONTH_COLUMN.match(c)]
    if not months:
        raise EtlError(f"{table.path.name}: no month columns (YYYYMM) found")
    for c in months:
        if date(int(c[:4]), int(c[4:]), 1) > today:
            raise EtlError(f"{table.path.name}: month column {c} is in the future")
    v = Verdicts(len(table))
    # Real by definition: a SYN- code is a synthetic record in a real file, refused (docs/data-contracts.md).
    refuse_synthetic_ids(v, table, "wardcode", why="is synthetic but MPS files are real by definition",
                         label="WardCode")
    code = column(table, "wardcode")
    v.fail(~np.isin(code, list(geo.ward_borough)), lambda i: f"WardCode {code[i]!r} is not a 2022 ward")
    major, minor = column(table, "majortext"), column(table, "minortext")
    v.fail((major == "") | (minor == ""), "MajorText or MinorText is empty")
    counts = table.frame[months].apply(lambda s: pd.to_numeric(s.str.replace(",", ""), errors="coerce"))
    values = counts.to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values)) | (values > MAX_COUNT)
    v.fail(bad.any(axis=1), lambda i: f"month {months[int(np.argmax(bad[i]))]} has {table.frame[months].iloc[i, int(np.argmax(bad[i]))]!r}, "
                                      "not a whole number of offences")
    keys = pd.DataFrame({"w": code, "a": major, "b": minor})
    dup = keys.duplicated(keep="first").to_numpy()
    v.fail(dup, lambda i: f"duplicate row for ward {code[i]}, {major[i]} / {minor[i]}")
    ok = v.ok
    wide = pd.DataFrame(values[ok], columns=[f"{c[:4]}-{c[4:]}-01" for c in months])
    wide["ward_code"], wide["major"], wide["minor"] = code[ok], major[ok], minor[ok]
    long = wide.melt(id_vars=["ward_code", "major", "minor"], var_name="month", value_name="offences")
    long["offences"] = long["offences"].astype(np.int64)
    return Prepared(table, long[["ward_code", "month", "major", "minor", "offences"]], v.rejected(table),
                    notes={"months": f"{months[0]}..{months[-1]}"})


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Stage the records, replace the cells they hold, then rebuild the drug offence indicators."""
    frame = prepared.records.copy()
    frame["batch_id"] = batch_id
    conn.execute(query("mps_ward_crime_stage"))
    db.copy_frame(conn, "crime_stage", frame)
    conn.execute(query("mps_ward_crime_upsert"))
    monthly.replace(conn, INDICATORS, "mps_ward_crime_monthly")
    return []


KIND = Kind("mps_ward_crime", "MPS Ward Level Crime, wide monthly file (real)", prepare, publish,
            file_prefixes=("mps_ward_level_crime",))
