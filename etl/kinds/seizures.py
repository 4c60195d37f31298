"""Asset seizures under POCA (docs/data-contracts.md, "seizures"): one row per seizure record with one
location (most are known only by borough), appended to ``etl.asset_seizure``; the batch's counts and
pounds are added to ``asset_seizures`` and ``asset_seizure_value_gbp``."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from etl.checks import MAX_COUNT, Verdicts, check_required_unique, column, require_columns
from etl.kinds import monthly, records
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography
from etl.quarantine import Rejected
from etl.readers import SourceTable

REQUIRED = (("source_id",), ("date",), ("seizure_count",), ("value_gbp",))
MAX_GBP = 1e12          # numeric(14, 2)
#: Column types of etl.asset_seizure, for binary COPY (see etl/copy_binary.py).
TYPES = {"source_id": "text", "event_date": "date", "seizure_count": "int4", "value_gbp": "numeric2",
         **records.LOCATED}


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """Checked and placed a chunk at a time, as :func:`publish` writes them. Values may be written as
    text (``£12,500.50``)."""
    require_columns(table, *REQUIRED)

    def checks(v: Verdicts, t: SourceTable) -> dict[str, np.ndarray]:
        sid = check_required_unique(v, t, "source_id")
        raw_n, raw_value = column(t, "seizure_count"), column(t, "value_gbp")
        n = pd.to_numeric(pd.Series(raw_n, dtype=object).str.replace(",", ""), errors="coerce").to_numpy(dtype=float)
        v.fail(~np.isfinite(n) | (n != np.round(n)), lambda i: f"seizure_count {raw_n[i]!r} is not a whole number")
        v.fail(n < 1, lambda i: f"seizure_count {raw_n[i]} is below 1")
        v.fail(n > MAX_COUNT, lambda i: f"seizure_count {raw_n[i]} is implausibly large")
        value = pd.to_numeric(pd.Series(raw_value, dtype=object).str.replace(r"[£,\s]", "", regex=True),
                              errors="coerce").to_numpy(dtype=float)
        v.fail(~np.isfinite(value), lambda i: f"value_gbp {raw_value[i]!r} is not an amount in pounds")
        v.fail(value < 0, lambda i: f"value_gbp {raw_value[i]!r} is negative")
        v.fail(value >= MAX_GBP, lambda i: f"value_gbp {raw_value[i]!r} is implausibly large (£1 trillion or more)")
        n = np.where(np.isfinite(n) & (n <= MAX_COUNT), n, 0)
        return {"source_id": sid, "seizure_count": np.nan_to_num(n).astype(int), "value_gbp": np.round(value, 2)}
    return records.single_location_records(table, geo, today, checks)


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Append the records; add the batch's seizures and pounds per month and ward."""
    def count(counts: monthly.MonthlyCounts, r: dict[str, Any]) -> None:
        counts.add(r, "asset_seizures", r["seizure_count"])
        counts.add(r, "asset_seizure_value_gbp", r["value_gbp"])

    rejected, counts = records.publish_chunks(conn, batch_id, prepared, "etl.asset_seizure", TYPES, count)
    monthly.add_counts(conn, counts.frame())
    return rejected


KIND = Kind("seizures", "asset seizures (POCA)", prepare, publish)
