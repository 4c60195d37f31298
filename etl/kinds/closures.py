"""Crack house and cannabis factory closures (docs/data-contracts.md, "closures"): one row per closure
with one location, appended to ``etl.closure``; the batch's counts are added to
``crack_house_closures`` and ``cannabis_factory_closures``."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa

from etl.checks import Verdicts, check_choice, check_required_unique, require_columns
from etl.kinds import monthly, records
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography
from etl.quarantine import Rejected
from etl.readers import SourceTable

REQUIRED = (("source_id",), ("closure_type",), ("stage",), ("date",))
CLOSURE_TYPES = ("crack_house", "cannabis_factory")
STAGES = ("closure_notice", "closure_order", "other")
STAGE_ALIASES = {"notice": "closure_notice", "order": "closure_order"}
#: Column types of etl.closure, for binary COPY (see etl/copy_binary.py).
TYPES = {"source_id": "text", "closure_type": "text", "stage": "text", "event_date": "date", **records.LOCATED}


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """Checked and placed a chunk at a time, as :func:`publish` writes them."""
    require_columns(table, *REQUIRED)

    def checks(v: Verdicts, t: SourceTable) -> dict[str, np.ndarray]:
        return {"source_id": check_required_unique(v, t, "source_id"),
                "closure_type": check_choice(v, t, "closure_type", CLOSURE_TYPES),
                "stage": check_choice(v, t, "stage", STAGES, STAGE_ALIASES)}
    return records.single_location_records(table, geo, today, checks)


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Append the records; add the batch's counts per closure type, month and ward."""
    def count(counts: monthly.MonthlyCounts, r: dict[str, Any]) -> None:
        kind = r["closure_type"]
        counts.add(r, pa.DictionaryArray.from_arrays(kind.indices, pa.array(
            [f"{k}_closures" for k in kind.dictionary.to_pylist()], pa.string())))

    rejected, counts = records.publish_chunks(conn, batch_id, prepared, "etl.closure", TYPES, count)
    monthly.add_counts(conn, counts.frame())
    return rejected


KIND = Kind("closures", "crack house and cannabis factory closures", prepare, publish)
