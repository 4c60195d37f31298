"""Public Attitude Survey results (docs/data-contracts.md, "pas"): respondents and how many agreed, per
quarter or rolling 12 months, for a 2022 ward or a borough, into ``etl.pas_result`` (the harm index
publish turns them into estimates). A later file replaces the results it repeats."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from etl.checks import (MAX_COUNT, Verdicts, check_choice, check_synthetic, column, require_columns,
                        require_synthetic)
from etl.errors import Reject
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography
from etl.queries import query
from etl.quarantine import Rejected
from etl.readers import SourceTable
from harmmap import db

REQUIRED = (("period_type",), ("period_end",), ("geography_level",), ("geography_code",), ("measure",),
            ("respondents",), ("agree_count", "agree_pct"))
PERIOD_TYPES = ("quarter", "r12")
PERIOD_ALIASES = {"rolling_12_months": "r12", "q": "quarter"}
LEVELS = ("ward", "borough")
MEASURES = ("drug_problem", "tackle_dealing")


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """Results by count or percentage (turned into a count of the respondents), checked row by row."""
    require_columns(table, *REQUIRED)
    require_synthetic(table)
    v = Verdicts(len(table))
    synthetic = check_synthetic(v, table)
    ptype = check_choice(v, table, "period_type", PERIOD_TYPES, PERIOD_ALIASES).to_numpy(zero_copy_only=False)
    level = check_choice(v, table, "geography_level", LEVELS).to_numpy(zero_copy_only=False)
    measure = check_choice(v, table, "measure", MEASURES).to_numpy(zero_copy_only=False)
    end_raw, code_raw = column(table, "period_end"), column(table, "geography_code")
    vintage = column(table, "ward_vintage")
    resp_raw, count_raw, pct_raw = column(table, "respondents"), column(table, "agree_count"), column(table, "agree_pct")
    n = len(table)
    period_end = np.full(n, None, object)
    geo_code, borough = np.full(n, None, object), np.full(n, None, object)
    respondents, agree = np.zeros(n, int), np.zeros(n, int)
    for i in np.flatnonzero(v.ok):
        try:
            m = re.fullmatch(r"(\d{4})-(\d{2})(?:-01)?", end_raw[i].strip()) if end_raw[i] else None
            if not m or not 1 <= int(m.group(2)) <= 12:
                raise Reject(f"period_end {end_raw[i]!r} is not a month (YYYY-MM)")
            end = date(int(m.group(1)), int(m.group(2)), 1)
            if ptype[i] == "quarter" and end.month not in (3, 6, 9, 12):
                raise Reject(f"period_end {end_raw[i]} does not end a calendar quarter (Mar, Jun, Sep, Dec)")
            if end > today.replace(day=1) or end.year < 2000:
                raise Reject(f"period_end {end_raw[i]} is {'in the future' if end.year >= 2000 else 'before 2000'}")
            if level[i] == "ward" and vintage[i].strip() not in ("", "2022"):
                raise Reject(f"PAS ward results must use 2022 ward codes ({code_raw[i]} is given as {vintage[i]}): "
                             "a survey percentage cannot be carried across boundary changes")
            place = (geo.ward(code_raw[i], vintage[i]) if level[i] == "ward" else geo.borough(code_raw[i]))
            r = int(_number(resp_raw[i], "respondents"))
            if r <= 0 or r != _number(resp_raw[i], "respondents"):
                raise Reject(f"respondents {resp_raw[i]!r} must be a whole number above 0")
            if count_raw[i]:
                a = _number(count_raw[i], "agree_count")
                if a != int(a) or a < 0:
                    raise Reject(f"agree_count {count_raw[i]!r} must be a whole number, 0 or more")
                if a > r:
                    raise Reject(f"respondents {r} < agree_count {int(a)}")
                a = int(a)
            elif pct_raw[i]:
                pct = _number(pct_raw[i].rstrip("%"), "agree_pct")
                if not 0 <= pct <= 100:
                    raise Reject(f"agree_pct {pct_raw[i]} is outside 0-100")
                a = int(round(pct * r / 100))
            else:
                raise Reject("both agree_count and agree_pct are empty")
        except Reject as e:
            v.reject(i, str(e))
            continue
        period_end[i], geo_code[i], borough[i] = end, place.ward_code or place.borough_code, place.borough_code
        respondents[i], agree[i] = r, a
    keys = pd.DataFrame({"t": ptype, "e": period_end, "l": level, "c": geo_code, "m": measure})
    dup = keys.duplicated(keep="first").to_numpy() & v.ok
    v.fail(dup, lambda i: f"duplicate result for {ptype[i]} ending {period_end[i]:%Y-%m}, {level[i]} {geo_code[i]}, "
                          f"{measure[i]}")
    ok = v.ok
    records = pd.DataFrame({"period_type": ptype[ok], "period_end": period_end[ok], "geography_level": level[ok],
                            "geography_code": geo_code[ok], "borough_code": borough[ok], "measure": measure[ok],
                            "respondents": respondents[ok], "agree_count": agree[ok],
                            "synthetic": synthetic[ok], "_position": np.flatnonzero(ok)})
    return Prepared(table, records, v.rejected(table))


def _number(text: str, column_name: str) -> float:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise Reject(f"{column_name} {text!r} is not a number") from None
    if not np.isfinite(value) or abs(value) > MAX_COUNT:
        raise Reject(f"{column_name} {text!r} is not a usable number")
    return value


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Stage the results, then insert them, replacing any an earlier file gave for the same key."""
    frame = prepared.records.drop(columns="_position").copy()
    frame["synthetic"] = frame["synthetic"].map({True: "t", False: "f"})
    frame["batch_id"] = batch_id
    conn.execute(query("pas_stage"))
    db.copy_frame(conn, "pas_stage", frame)
    conn.execute(query("pas_upsert"))
    return []


KIND = Kind("pas", "Public Attitude Survey results", prepare, publish)
