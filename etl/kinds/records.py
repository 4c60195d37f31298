"""Record tables (``etl.closure``, ``etl.asset_seizure``, ``etl.disruption``): checking, encoding and
writing records, and quarantining a source_id that an earlier batch already loaded.

Single-location kinds (closures, seizures) are checked a chunk at a time *while* they are written: each
chunk is encoded as binary COPY rows (:mod:`etl.copy_binary`) and handed to psycopg's writer thread, so
the server stores one chunk while Python checks the next (docs/architecture.md, "Streaming").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from etl import copy_binary
from etl.checks import Verdicts, check_dates, check_synthetic, require_synthetic, start_earlier_places
from etl.kinds.base import Chunk, Prepared, take
from etl.kinds.monthly import MonthlyCounts
from etl.placing import Geography, locate_single
from etl.queries import query
from etl.quarantine import Rejected
from etl.readers import SourceTable
from harmmap import db

#: Rows checked, located and encoded at a time. The server stores one chunk while the next is
#: checked; a small first chunk starts the server sooner, larger ones cost less per chunk.
FIRST_CHUNK_ROWS, CHUNK_ROWS = 10_000, 50_000

#: Column types of the location columns every record table has, for binary COPY (see etl/copy_binary.py).
LOCATED = {"borough_code": "text", "ward_code": "text", "location_method": "text", "x": "float8", "y": "float8",
           "synthetic": "bool", "batch_id": "int8"}


def _table(name: str) -> sql.Identifier:
    """``"etl.closure"`` as a qualified identifier."""
    return sql.Identifier(*name.split("."))


def single_location_records(table: SourceTable, geo: Geography, today: date,
                            checks: Callable[[Verdicts, SourceTable], dict[str, Any]]) -> Prepared:
    """Records with one location each, checked chunk by chunk as the publish step reads them.

    Every such kind has a unique source_id: the file-wide duplicate check starts now, on a thread,
    and is needed from the second chunk on (the first checks its own rows).
    """
    require_synthetic(table)
    prepared = Prepared(table, None, [])
    if len(table) > FIRST_CHUNK_ROWS:
        start_earlier_places(table, "source_id")

    def chunks() -> Iterator[Chunk]:
        starts = [0, *range(min(FIRST_CHUNK_ROWS, len(table)), len(table), CHUNK_ROWS)]
        for start, stop in zip(starts, [*starts[1:], len(table)], strict=True):
            if start == stop:
                continue
            part = table.slice(start, stop)
            v = Verdicts(len(part))
            values = checks(v, part)
            flags = check_synthetic(v, part, "source_id")
            values["event_date"] = check_dates(v, part, "date", today)
            placed = locate_single(v, part, geo)
            ok = v.ok
            prepared.rejected.extend(v.rejected(part))
            synthetic = flags[ok]
            prepared.any_synthetic |= bool(synthetic.any())
            yield Chunk({**{k: take(arr, ok) for k, arr in values.items()},
                         **{k: placed.column(k, geo, ok) for k in ("borough_code", "ward_code", "location_method")},
                         "x": placed.x[ok], "y": placed.y[ok], "synthetic": synthetic}, np.flatnonzero(ok) + start)

    prepared.chunks = chunks()
    return prepared


def _copy_chunks(conn: psycopg.Connection, table: str, types: dict[str, str], batch_id: int,
                 chunks: Iterable[Chunk], after: Callable[[Chunk], None] = lambda _: None,
                 last: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Binary COPY of the chunks' records, each encoded as it comes, sent by psycopg's writer thread.

    The writer thread blocks on the socket without the GIL, so this thread checks and encodes the
    next chunk while the server stores the last one: the two cores work at once. ``after`` runs on
    each chunk once it is queued (the monthly counts), ``last`` once all are (while the server
    finishes). Returns the seconds this thread spent on them (the rest of the COPY's time it waited).
    """
    from psycopg.copy import QueuedLibpqWriter

    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        _table(table), sql.SQL(", ").join(map(sql.Identifier, types)))
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(copy_binary.SIGNATURE)
        t0 = time.perf_counter()
        for chunk in chunks:
            n = len(chunk)
            copy.write(copy_binary.encode_rows(
                [(kind, np.full(n, batch_id, np.int64) if name == "batch_id" else chunk.columns[name])
                 for name, kind in types.items()]))
            after(chunk)
        copy.write(copy_binary.TRAILER)
        last()
        busy = time.perf_counter() - t0
    return {"python": busy}


def publish_chunks(conn: psycopg.Connection, batch_id: int, prepared: Prepared, table: str,
                   types: dict[str, str], count: Callable[[MonthlyCounts, dict[str, Any]], None]
                   ) -> tuple[list[Rejected], MonthlyCounts]:
    """COPY the records into the record table as they are checked; if a source_id was loaded by an
    earlier batch, undo that (a savepoint) and load all but those rows, which are quarantined with the
    batch that has them. Returns those rejects and the batch's monthly counts (``count`` adds a chunk's)."""
    assert prepared.chunks is not None
    sent: list[Chunk] = []  # kept, in case the COPY must be done again without some rows
    counts = MonthlyCounts()

    def sending() -> Iterator[Chunk]:
        for chunk in prepared.chunks:  # type: ignore[union-attr]
            sent.append(chunk)
            yield chunk

    t0 = time.perf_counter()
    try:
        with conn.transaction():
            timing = _copy_chunks(conn, table, types, batch_id, sending(), lambda c: count(counts, c.columns),
                                  counts.frame)
        timing["copy"] = time.perf_counter() - t0
        # How much of the COPY this process spent checking and encoding (the rest it waited for the server).
        prepared.notes["seconds_copy"] = {k: round(v, 3) for k, v in timing.items()}
        return [], counts
    except psycopg.errors.UniqueViolation:
        pass
    sent.extend(prepared.chunks)  # the rest, if the server ended the COPY early
    earlier = _loaded_before(conn, table, [sid for c in sent for sid in c.columns["source_id"].to_pylist()])
    source = prepared.source
    rejected, kept, counts = [], [], MonthlyCounts()
    for chunk in sent:
        ids = chunk.columns["source_id"].to_pylist()
        drop = np.array([sid in earlier for sid in ids], bool)
        rows = chunk.positions[drop]
        rejected += [Rejected(source.places[p], raw,
                              f"duplicate source_id {sid!r}: already loaded by batch {earlier[sid]}")
                     for p, raw, sid in zip(rows, source.raws(rows), np.array(ids, object)[drop], strict=True)]
        kept.append(chunk.without(drop))
        count(counts, kept[-1].columns)
    _copy_chunks(conn, table, types, batch_id, kept)
    return rejected, counts


def publish_frame(conn: psycopg.Connection, batch_id: int, prepared: Prepared, table: str,
                  columns: list[str]) -> list[Rejected]:
    """COPY a frame of records straight into the record table; if a source_id was loaded by an earlier
    batch, undo that (a savepoint) and load all but those rows, which are quarantined with the batch
    that has them."""
    frame = prepared.records[columns].copy()
    frame["batch_id"] = batch_id
    try:
        with conn.transaction():
            db.copy_frame(conn, table, frame)
        return []
    except psycopg.errors.UniqueViolation:
        pass
    positions = prepared.records["_position"].to_numpy()
    rejected = _already_loaded(conn, table, prepared, positions)
    frame = prepared.records[columns].copy()
    frame["batch_id"] = batch_id
    db.copy_frame(conn, table, frame)
    return rejected


def _loaded_before(conn: psycopg.Connection, table: str, ids: list[str]) -> dict[str, int]:
    """The batch that loaded each of ``ids`` that an earlier batch loaded."""
    statement = sql.SQL(query("records_loaded_before")).format(table=_table(table))
    return {r["source_id"]: r["batch_id"] for r in conn.execute(statement, {"ids": ids})}


def _already_loaded(conn: psycopg.Connection, table: str, prepared: Prepared,
                    positions: np.ndarray) -> list[Rejected]:
    """Rows whose source_id an earlier batch loaded: quarantined, and dropped from the records."""
    earlier = _loaded_before(conn, table, prepared.records["source_id"].tolist())
    if not earlier:
        return []
    mask = prepared.records["source_id"].isin(earlier).to_numpy()
    source = prepared.source
    rejected = [Rejected(source.places[p], source.raw(p),
                         f"duplicate source_id {sid!r}: already loaded by batch {earlier[sid]}")
                for p, sid in zip(positions[mask], prepared.records["source_id"][mask], strict=True)]
    prepared.records = prepared.records[~mask]
    return rejected
