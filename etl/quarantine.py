"""Rows that break their contract: kept with where they were, the row as read and a reason a person can
act on, in ``etl.quarantine`` (docs/data-contracts.md). Nothing a job rejects is dropped silently."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from etl.queries import query


@dataclass
class Rejected:
    """One row not loaded: ``place`` is how a person finds it ("line 12", "feature 3"), ``raw`` the row as
    read (address columns already dropped), ``reason`` why."""

    place: str
    raw: dict[str, Any]
    reason: str

    @property
    def row_number(self) -> int:
        return int(self.place.split()[-1])


def write(conn: psycopg.Connection, batch_id: int, rejected: Sequence[Rejected]) -> None:
    """Quarantine ``rejected`` under ``batch_id``, in the caller's transaction (the publish's)."""
    with conn.cursor().copy(query("quarantine_copy")) as copy:
        for r in rejected:
            copy.write_row((batch_id, r.row_number, json.dumps(r.raw, default=str), f"{r.place}: {r.reason}"))
