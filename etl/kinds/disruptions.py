"""Drug criminal network disruptions (docs/data-contracts.md, "disruptions"): one row per disruption
with one or more locations (``;``-separated ward codes or coordinates, or a MultiPoint), into
``etl.disruption`` and ``etl.disruption_location``; ``network_disruptions`` is rebuilt from them.
Small files with complex rows, so checked row by row."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from etl.checks import (Verdicts, check_choice, check_dates, check_required_unique, check_synthetic, column,
                        require_columns, require_synthetic)
from etl.errors import Reject
from etl.kinds import monthly, records
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography, row_locations
from etl.quarantine import Rejected
from etl.readers import SourceTable
from harmmap import db

REQUIRED = (("source_id",), ("date",), ("network_ref",), ("level",), ("grading",))
LEVELS = ("local", "cross_borough", "county_lines", "international")
GRADINGS = ("major", "moderate", "minor")
COLUMNS = ["source_id", "event_date", "network_ref", "level", "grading", "synthetic"]
LOCATION_COLUMNS = ["source_id", "seq", "borough_code", "ward_code", "location_method", "x", "y"]


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """Records, and their locations as ``children`` (one row per place, numbered ``seq`` from 1)."""
    require_columns(table, *REQUIRED)
    require_synthetic(table)
    v = Verdicts(len(table))
    sid = check_required_unique(v, table, "source_id").to_numpy(zero_copy_only=False)
    synthetic = check_synthetic(v, table, "source_id")
    ref = column(table, "network_ref")
    v.fail(ref == "", "network_ref is empty")
    level = check_choice(v, table, "level", LEVELS).to_numpy(zero_copy_only=False)
    grading = check_choice(v, table, "grading", GRADINGS).to_numpy(zero_copy_only=False)
    when = check_dates(v, table, "date", today)
    children: list[tuple[Any, ...]] = []
    for i in np.flatnonzero(v.ok):
        try:
            places = row_locations(table, i, geo, many=True)
        except Reject as e:
            v.reject(i, str(e))
            continue
        for seq, p in enumerate(places, start=1):
            children.append((sid[i], seq, p.borough_code, p.ward_code, p.method, p.x, p.y))
    ok = v.ok
    frame = pd.DataFrame({"source_id": sid[ok], "event_date": when[ok], "network_ref": ref[ok],
                          "level": level[ok], "grading": grading[ok], "synthetic": synthetic[ok],
                          "_position": np.flatnonzero(ok)})
    kids = pd.DataFrame(children, columns=LOCATION_COLUMNS)
    return Prepared(table, frame, v.rejected(table), kids)


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Append the records and their locations; rebuild ``network_disruptions`` from all of them."""
    rejected = records.publish_frame(conn, batch_id, prepared, "etl.disruption", COLUMNS)
    kids = prepared.children
    assert kids is not None
    kids = kids[kids["source_id"].isin(prepared.records["source_id"])]
    db.copy_frame(conn, "etl.disruption_location", kids)
    monthly.replace(conn, ("network_disruptions",), "disruptions_monthly")
    return rejected


KIND = Kind("disruptions", "drug criminal network disruptions", prepare, publish)
