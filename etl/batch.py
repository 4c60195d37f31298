"""The life of one batch: open it (keyed on the file's SHA-256, so a file already published is not read
again), read, check and place the rows, then in ONE transaction publish the records and aggregates,
quarantine the rows that were not loaded and mark the batch published; or mark it failed with the error.

The batch row is written through its own autocommit connection, so a failed or killed run stays visible
as ``failed`` / ``running``. Everything else is written in one transaction on a second connection, under
an advisory lock per kind: a run that fails or is killed at any point leaves the published data exactly
as it was (``tests/test_etl_kill.py`` kills one for real). See docs/data-contracts.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from etl import kinds, quarantine
from etl.errors import EtlError
from etl.kinds.base import Kind
from etl.placing import Geography
from etl.queries import query
from etl.readers import read_table
from harmmap import db
from harmmap.config import Settings

#: The messages ``run`` logs, in order: the CLI's progress bar counts them.
STAGES = ("reading", "checking and locating", "publishing")
#: "Today" for the checks (no date in the future) is the date in London, not the server's UTC date.
LONDON = ZoneInfo("Europe/London")


@dataclass
class BatchReport:
    """What one run did, as ``harmmap etl run`` reports it (and ``etl.batch`` records it)."""

    batch_id: int
    kind: str
    file_name: str
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    synthetic: bool = False
    same_as: int | None = None
    dropped_columns: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    encoding: str = ""

    def lines(self) -> list[str]:
        if self.status == "unchanged":
            return [f"{self.kind} {self.file_name}: unchanged (same file as batch {self.same_as}); nothing to do"]
        out = [f"{self.kind} {self.file_name}: batch {self.batch_id} {self.status}: read {self.rows_read:,} = "
               f"loaded {self.rows_loaded:,} + quarantined {self.rows_quarantined:,}"
               f"{' (SYNTHETIC data)' if self.synthetic else ''} in {sum(self.seconds.values()):.1f} s"]
        if self.encoding:
            out.append(f"  read as {self.encoding}: the file is not UTF-8 (Excel's 'CSV (Comma delimited)' writes this)")
        if self.dropped_columns:
            out.append(f"  dropped column(s) {', '.join(self.dropped_columns)}: addresses are never stored")
        if self.rows_quarantined:
            out.append(f"  see why: harmmap etl quarantine --batch {self.batch_id}")
        return out




# --- the batch row (its own autocommit connection) ----------------------------------------------------

def open_batch(ctl: psycopg.Connection, job: str, file_name: str, sha: str) -> tuple[int, int | None]:
    """A new batch for the file: (its id, None) to run it, or (its id, the batch that published this
    very file) when there is one, recorded as ``unchanged``: re-running a file is a no-op."""
    same = ctl.execute(query("batch_published_before"), {"job": job, "sha": sha}).fetchone()
    params = {"job": job, "file_name": file_name, "sha": sha}
    if same:
        row = ctl.execute(query("batch_unchanged"), {**params, "same_as": same["batch_id"]}).fetchone()
        return row["batch_id"], same["batch_id"]
    return ctl.execute(query("batch_open"), params).fetchone()["batch_id"], None


def record_failed(ctl: psycopg.Connection, batch_id: int, error: BaseException) -> None:
    """The batch failed: its row says why (the type and message, cut to 2,000 characters)."""
    ctl.execute(query("batch_failed"), {"error": f"{type(error).__name__}: {error}"[:2000], "batch_id": batch_id})


# --- the publish (one transaction on the job's connection) ----------------------------------------------

def record_published(conn: psycopg.Connection, batch_id: int, *, read: int, quarantined: int, synthetic: bool,
                     notes: dict[str, Any]) -> None:
    """The batch published: read = loaded + quarantined rows, in the publish's own transaction."""
    conn.execute(query("batch_published"), {"read": read, "loaded": read - quarantined, "quarantined": quarantined,
                                            "synthetic": synthetic, "notes": Jsonb(notes), "batch_id": batch_id})


def _load(settings: Settings, kind: Kind, path: Path, batch_id: int, today: date,
          log: Callable[[str], None]) -> BatchReport:
    """Read, check and place, then publish, quarantine and record the batch in one transaction."""
    timings: dict[str, float] = {}
    with psycopg.connect(settings.database_url, autocommit=False, row_factory=psycopg.rows.dict_row,
                         application_name=f"harmmap-etl-{batch_id}") as conn:
        t0 = time.perf_counter()
        log("reading")
        # The reference geography comes from the database while the file is read (both wait
        # on I/O or run in C++ without the GIL); nothing else uses the connection meanwhile.
        with ThreadPoolExecutor(1) as pool:
            loading = pool.submit(Geography, conn)
            source = read_table(path)
        geo = loading.result()
        timings["read"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        log("checking and locating")
        prepared = kind.prepare(source, geo, today)
        streamed = prepared.chunks is not None  # checked while written, inside publish
        if not streamed:
            timings["validate_locate"] = time.perf_counter() - t0
            t0 = time.perf_counter()
        log("publishing")
        with conn.transaction():
            conn.execute(query("batch_lock"), {"job": kind.name})
            # Single-location kinds are checked while they are written, so their rejects are
            # complete only once publish has returned.
            published_rejects = kind.publish(conn, batch_id, prepared)
            rejected = source.unparsed + prepared.rejected + published_rejects
            quarantine.write(conn, batch_id, rejected)
            read, quarantined = source.rows_read, len(rejected)
            timings["validate_locate_publish" if streamed else "publish"] = time.perf_counter() - t0
            notes = {"dropped_columns": source.dropped, **prepared.notes}
            if geo.snapped:
                notes["points_snapped_to_nearest_ward"] = geo.snapped
            if source.encoding and source.encoding != "utf-8-sig":
                notes["encoding"] = f"read as {source.encoding} (not UTF-8)"
            notes["seconds"] = {k: round(v, 3) for k, v in timings.items()}
            record_published(conn, batch_id, read=read, quarantined=quarantined, synthetic=prepared.synthetic,
                             notes=notes)
    return BatchReport(batch_id, kind.name, path.name, "published", read, read - quarantined, quarantined,
                       prepared.synthetic, dropped_columns=source.dropped, seconds=timings,
                       encoding=source.encoding if source.encoding not in ("", "utf-8-sig") else "")


def run(settings: Settings, kind_name: str, path: Path, *, today: date | None = None,
        log: Callable[[str], None] = lambda _: None) -> BatchReport:
    """Run one job. Raises EtlError (the file) or psycopg errors; the batch row says what happened."""
    kind = kinds.kind(kind_name)
    if not path.is_file():
        raise EtlError(f"{path}: no such file")
    today = today or datetime.now(LONDON).date()
    sha = db.sha256_file(path)
    with db.connect(settings.database_url, timeout_s=settings.db_timeout_s, autocommit=True) as ctl:
        db.require_schema(ctl)
        batch_id, same_as = open_batch(ctl, kind.name, path.name, sha)
        if same_as is not None:
            return BatchReport(batch_id, kind.name, path.name, "unchanged", same_as=same_as)
        try:
            return _load(settings, kind, path, batch_id, today, log)
        except BaseException as e:
            record_failed(ctl, batch_id, e)
            raise
