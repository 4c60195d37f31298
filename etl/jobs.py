"""Indicator jobs: read -> validate -> locate -> stage -> publish, one kind per source.

Each run is an ``etl.batch`` row. Bookkeeping goes through its own autocommit connection, so a failed
or killed run is visible as ``failed`` / ``running``. The records, the quarantine and the rebuilt
``harm.indicator_month`` rows are written in ONE transaction: a run that fails or is killed at any
point leaves the published data exactly as it was. See docs/data-contracts.md.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.types.json import Jsonb

from etl import copy_binary
from etl.common import (
    EtlError,
    Geography,
    Reject,
    Rejected,
    SourceTable,
    Verdicts,
    check_choice,
    check_dates,
    check_required_unique,
    column,
    locate_single,
    read_table,
    require_columns,
    row_locations,
    start_earlier_places,
    synthetic_flags,
    write_quarantine,
)
from harmmap import db
from harmmap.config import Settings


@dataclass
class Chunk:
    """Good records from one slice of a file: column -> values (Arrow text or numpy), and their rows."""

    columns: dict[str, Any]
    positions: np.ndarray  # row index in the source table

    def __len__(self) -> int:
        return len(self.positions)

    def without(self, drop: np.ndarray) -> Chunk:
        keep = ~drop
        return Chunk({k: _take(v, keep) for k, v in self.columns.items()}, self.positions[keep])


def _take(values: Any, mask: np.ndarray) -> Any:
    return values.filter(pa.array(mask)) if isinstance(values, pa.Array) else values[mask]


@dataclass
class Prepared:
    """A file checked and located: records ready to stage, and the rows that were not.

    Single-location kinds (closures, seizures) give ``chunks`` instead of ``records``: the file is
    checked a slice at a time *while* it is written, and ``rejected`` fills up as the chunks are read.
    """

    records: pd.DataFrame | None
    rejected: list[Rejected]
    children: pd.DataFrame | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    chunks: Iterator[Chunk] | None = None
    any_synthetic: bool = False

    @property
    def synthetic(self) -> bool:
        if self.records is None:
            return self.any_synthetic
        return bool("synthetic" in self.records and self.records["synthetic"].any())


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    prepare: Callable[[SourceTable, Geography, date], Prepared]
    publish: Callable[[psycopg.Connection, int, Prepared], list[Rejected]]


@dataclass
class BatchReport:
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


# --- copying and publishing helpers ------------------------------------------------------------------

def _loaded_before(conn: psycopg.Connection, table: str, ids: list[str]) -> dict[str, int]:
    """The batch that loaded each of ``ids`` that an earlier batch loaded."""
    query = sql.SQL("SELECT source_id, batch_id FROM {} WHERE source_id = ANY(%s)").format(sql.SQL(table))
    return {r["source_id"]: r["batch_id"] for r in conn.execute(query, (ids,))}


def _already_loaded(conn: psycopg.Connection, table: str, prepared: Prepared, source: SourceTable,
                    positions: np.ndarray) -> list[Rejected]:
    """Rows whose source_id an earlier batch loaded: quarantined, and dropped from the records."""
    earlier = _loaded_before(conn, table, prepared.records["source_id"].tolist())
    if not earlier:
        return []
    mask = prepared.records["source_id"].isin(earlier).to_numpy()
    rejected = [Rejected(source.places[p], source.raw(p),
                         f"duplicate source_id {sid!r}: already loaded by batch {earlier[sid]}")
                for p, sid in zip(positions[mask], prepared.records["source_id"][mask], strict=True)]
    prepared.records = prepared.records[~mask]
    return rejected


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
        sql.SQL(table), sql.SQL(", ").join(map(sql.Identifier, types)))
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


def _publish_chunks(conn: psycopg.Connection, batch_id: int, prepared: Prepared, table: str,
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
    source: SourceTable = prepared.notes["source"]
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


class MonthlyCounts:
    """A batch's counts (or sums) per indicator, month, borough and ward, added up chunk by chunk on
    small integer keys; :meth:`frame` names them for ``harm.indicator_month`` (ward NULL: borough only)."""

    KEYS = ["indicator", "month", "borough_code", "ward_code"]

    def __init__(self) -> None:
        self._numbers: dict[str, dict[str, int]] = {"indicator": {}, "borough_code": {}, "ward_code": {}}
        self._parts: list[pd.DataFrame] = []
        self._total: pd.DataFrame | None = None

    def add(self, records: Mapping[str, Any], indicator: pa.DictionaryArray | str, value: Any = None) -> None:
        """``records`` has event_date (datetime64[D]), borough_code and ward_code (Arrow dictionaries)
        and synthetic; ``value`` per record (default 1: a count)."""
        n = len(records["synthetic"])
        frame = pd.DataFrame({
            "indicator": self._number("indicator", indicator, n),
            "month": np.asarray(records["event_date"], "datetime64[D]").astype("datetime64[M]").astype(np.int64),
            "borough_code": self._number("borough_code", records["borough_code"], n),
            "ward_code": self._number("ward_code", records["ward_code"], n),
            "value": np.ones(n) if value is None else np.asarray(value, np.float64),
            "synthetic": np.asarray(records["synthetic"], bool)})
        self._parts.append(frame.groupby(self.KEYS, as_index=False, sort=False).agg(
            value=("value", "sum"), synthetic=("synthetic", "any")))
        self._total = None

    def _number(self, key: str, values: pa.DictionaryArray | str, n: int) -> np.ndarray:
        numbers = self._numbers[key]
        if isinstance(values, str):
            return np.full(n, numbers.setdefault(values, len(numbers)), np.int64)
        lookup = np.array([numbers.setdefault(v, len(numbers)) for v in values.dictionary.to_pylist()] + [-1], np.int64)
        return lookup[values.indices.fill_null(-1).to_numpy(zero_copy_only=False)]

    def frame(self) -> pd.DataFrame:
        if self._total is None:
            self._total = self._named()
        return self._total

    def _named(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=[*self.KEYS, "value", "synthetic"])
        out = pd.concat(self._parts).groupby(self.KEYS, as_index=False).agg(
            value=("value", "sum"), synthetic=("synthetic", "any"))
        for key, numbers in self._numbers.items():
            names = np.array([*numbers, None], dtype=object)  # number -1 picks the last: None
            out[key] = names[out[key].to_numpy()]
        out["month"] = out["month"].to_numpy().astype("datetime64[M]").astype("datetime64[D]")
        return out[[*self.KEYS, "value", "synthetic"]]


def _add_counts(conn: psycopg.Connection, counts: pd.DataFrame) -> None:
    """Add this batch's counts to the published rows (append-only kinds: a record is never replaced).

    ``counts`` has indicator, month, borough_code, ward_code, value, synthetic: a few thousand rows
    even for a million records, so this costs far less than rebuilding from every record. One range
    scan finds which of these rows are published already; those get the counts added (ON CONFLICT),
    and the rest, usually nearly all, are new rows COPYed straight in, sparing a conflict check per
    row. Should a new row meet one published meanwhile, everything goes through ON CONFLICT instead.
    """
    if counts.empty:
        return
    known = _published(conn, counts)
    try:
        with conn.transaction():
            _copy_counts(conn, "harm.indicator_month", counts[~known])
    except psycopg.errors.UniqueViolation:
        known[:] = True
    if not known.any():
        return
    conn.execute("CREATE TEMP TABLE add_stage (LIKE harm.indicator_month) ON COMMIT DROP")
    _copy_counts(conn, "add_stage", counts[known])
    conn.execute("""INSERT INTO harm.indicator_month AS m SELECT * FROM add_stage
                    ON CONFLICT (indicator, month, borough_code, ward_code) DO UPDATE
                    SET value = m.value + EXCLUDED.value, synthetic = m.synthetic OR EXCLUDED.synthetic""")
    conn.execute("DROP TABLE add_stage")


def _published(conn: psycopg.Connection, counts: pd.DataFrame) -> np.ndarray:
    """Which rows of ``counts`` have their (indicator, month, borough, ward) in harm.indicator_month."""
    months = counts["month"].dt.date
    published = {(r["indicator"], r["month"], r["borough_code"], r["ward_code"]) for r in conn.execute(
        "SELECT indicator, month, borough_code, ward_code FROM harm.indicator_month "
        "WHERE indicator = ANY(%s) AND month BETWEEN %s AND %s",
        (sorted(counts["indicator"].unique()), months.min(), months.max()))}
    return np.array([k in published for k in zip(counts["indicator"], months, counts["borough_code"],
                                                  counts["ward_code"], strict=True)], bool)


def _copy_counts(conn: psycopg.Connection, table: str, counts: pd.DataFrame) -> None:
    statement = sql.SQL("COPY {} (indicator, month, borough_code, ward_code, value, synthetic) "
                        "FROM STDIN (FORMAT binary)").format(sql.SQL(table))
    with conn.cursor().copy(statement) as copy:
        copy.write(copy_binary.SIGNATURE)
        copy.write(copy_binary.encode_rows([
            ("text", counts["indicator"].to_numpy(object)),
            ("date", counts["month"].to_numpy().astype("datetime64[D]")),
            ("text", counts["borough_code"].to_numpy(object)), ("text", counts["ward_code"].to_numpy(object)),
            ("float8", counts["value"].to_numpy(np.float64)), ("bool", counts["synthetic"].to_numpy(bool))]))
        copy.write(copy_binary.TRAILER)


def _refresh(conn: psycopg.Connection, indicators: tuple[str, ...], select_sql: str) -> None:
    """Rebuild the published monthly rows of these indicators from the records."""
    conn.execute("DELETE FROM harm.indicator_month WHERE indicator = ANY(%s)", (list(indicators),))
    conn.execute("INSERT INTO harm.indicator_month (indicator, month, borough_code, ward_code, value, synthetic) "
                 + select_sql)


# --- closures --------------------------------------------------------------------------------------------

STAGE_ALIASES = {"notice": "closure_notice", "order": "closure_order"}
LONDON = ZoneInfo("Europe/London")
MAX_COUNT = 2**31 - 1   # PostgreSQL integer
MAX_GBP = 1e12          # numeric(14, 2)


#: Rows checked, located and encoded at a time. The server stores one chunk while the next is
#: checked; a small first chunk starts the server sooner, larger ones cost less per chunk.
FIRST_CHUNK_ROWS, CHUNK_ROWS = 10_000, 50_000


def _single_location_records(table: SourceTable, geo: Geography, today: date,
                             checks: Callable[[Verdicts, SourceTable], dict[str, Any]]) -> Prepared:
    """Records with one location each, checked chunk by chunk as the publish step reads them.

    Every such kind has a unique source_id: the file-wide duplicate check starts now, on a thread,
    and is needed from the second chunk on (the first checks its own rows).
    """
    prepared = Prepared(None, [], notes={"dropped_columns": table.dropped})
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
            values["event_date"] = check_dates(v, part, "date", today)
            placed = locate_single(v, part, geo)
            ok = v.ok
            prepared.rejected.extend(v.rejected(part))
            synthetic = synthetic_flags(part)[ok]
            prepared.any_synthetic |= bool(synthetic.any())
            yield Chunk({**{k: _take(arr, ok) for k, arr in values.items()},
                         **{k: placed.column(k, geo, ok) for k in ("borough_code", "ward_code", "location_method")},
                         "x": placed.x[ok], "y": placed.y[ok], "synthetic": synthetic}, np.flatnonzero(ok) + start)

    prepared.chunks = chunks()
    return prepared


def prepare_closures(table: SourceTable, geo: Geography, today: date) -> Prepared:
    require_columns(table, ("source_id",), ("closure_type",), ("stage",), ("date",))

    def checks(v: Verdicts, t: SourceTable) -> dict[str, np.ndarray]:
        return {"source_id": check_required_unique(v, t, "source_id"),
                "closure_type": check_choice(v, t, "closure_type", ("crack_house", "cannabis_factory")),
                "stage": check_choice(v, t, "stage", ("closure_notice", "closure_order", "other"), STAGE_ALIASES)}
    return _single_location_records(table, geo, today, checks)


def _publish_located(conn: psycopg.Connection, batch_id: int, prepared: Prepared, source: SourceTable,
                     table: str, columns: list[str]) -> list[Rejected]:
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
    rejected = _already_loaded(conn, table, prepared, source, positions)
    frame = prepared.records[columns].copy()
    frame["batch_id"] = batch_id
    db.copy_frame(conn, table, frame)
    return rejected


#: Column types of the record tables, for binary COPY (see etl/copy_binary.py).
LOCATED = {"borough_code": "text", "ward_code": "text", "location_method": "text", "x": "float8", "y": "float8",
           "synthetic": "bool", "batch_id": "int8"}
CLOSURE_TYPES = {"source_id": "text", "closure_type": "text", "stage": "text", "event_date": "date", **LOCATED}


def publish_closures(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    def count(counts: MonthlyCounts, r: dict[str, Any]) -> None:
        kind = r["closure_type"]
        counts.add(r, pa.DictionaryArray.from_arrays(kind.indices, pa.array(
            [f"{k}_closures" for k in kind.dictionary.to_pylist()], pa.string())))

    rejected, counts = _publish_chunks(conn, batch_id, prepared, "etl.closure", CLOSURE_TYPES, count)
    _add_counts(conn, counts.frame())
    return rejected


# --- asset seizures ------------------------------------------------------------------------------------

def prepare_seizures(table: SourceTable, geo: Geography, today: date) -> Prepared:
    require_columns(table, ("source_id",), ("date",), ("seizure_count",), ("value_gbp",))

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
    return _single_location_records(table, geo, today, checks)


SEIZURE_TYPES = {"source_id": "text", "event_date": "date", "seizure_count": "int4", "value_gbp": "numeric2",
                 **LOCATED}


def publish_seizures(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    def count(counts: MonthlyCounts, r: dict[str, Any]) -> None:
        counts.add(r, "asset_seizures", r["seizure_count"])
        counts.add(r, "asset_seizure_value_gbp", r["value_gbp"])

    rejected, counts = _publish_chunks(conn, batch_id, prepared, "etl.asset_seizure", SEIZURE_TYPES, count)
    _add_counts(conn, counts.frame())
    return rejected


# --- network disruptions (one or more locations per row) ------------------------------------------

def prepare_disruptions(table: SourceTable, geo: Geography, today: date) -> Prepared:
    require_columns(table, ("source_id",), ("date",), ("network_ref",), ("level",), ("grading",))
    v = Verdicts(len(table))
    sid = check_required_unique(v, table, "source_id").to_numpy(zero_copy_only=False)
    ref = column(table, "network_ref")
    v.fail(ref == "", "network_ref is empty")
    level = check_choice(v, table, "level", ("local", "cross_borough", "county_lines", "international")
                         ).to_numpy(zero_copy_only=False)
    grading = check_choice(v, table, "grading", ("major", "moderate", "minor")).to_numpy(zero_copy_only=False)
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
    records = pd.DataFrame({"source_id": sid[ok], "event_date": when[ok], "network_ref": ref[ok],
                            "level": level[ok], "grading": grading[ok], "synthetic": synthetic_flags(table)[ok],
                            "_position": np.flatnonzero(ok)})
    kids = pd.DataFrame(children, columns=["source_id", "seq", "borough_code", "ward_code", "location_method", "x", "y"])
    return Prepared(records, v.rejected(table), kids, {"dropped_columns": table.dropped})


def publish_disruptions(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    rejected = _publish_located(conn, batch_id, prepared, prepared.notes["source"], "etl.disruption",
                                ["source_id", "event_date", "network_ref", "level", "grading", "synthetic"])
    kids = prepared.children
    assert kids is not None
    kids = kids[kids["source_id"].isin(prepared.records["source_id"])]
    db.copy_frame(conn, "etl.disruption_location", kids)
    # One disruption counts once in each ward it touched (and once per borough-only location).
    _refresh(conn, ("network_disruptions",), """
        SELECT 'network_disruptions', date_trunc('month', d.event_date)::date, l.borough_code, l.ward_code,
               count(DISTINCT d.source_id), bool_or(d.synthetic)
        FROM etl.disruption d JOIN etl.disruption_location l USING (source_id)
        GROUP BY 1, 2, 3, 4""")
    return rejected


# --- PAS -----------------------------------------------------------------------------------------------

def prepare_pas(table: SourceTable, geo: Geography, today: date) -> Prepared:
    require_columns(table, ("period_type",), ("period_end",), ("geography_level",), ("geography_code",),
                    ("measure",), ("respondents",), ("agree_count", "agree_pct"))
    v = Verdicts(len(table))
    ptype = check_choice(v, table, "period_type", ("quarter", "r12"), {"rolling_12_months": "r12", "q": "quarter"}
                         ).to_numpy(zero_copy_only=False)
    level = check_choice(v, table, "geography_level", ("ward", "borough")).to_numpy(zero_copy_only=False)
    measure = check_choice(v, table, "measure", ("drug_problem", "tackle_dealing")).to_numpy(zero_copy_only=False)
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
                            "synthetic": synthetic_flags(table)[ok], "_position": np.flatnonzero(ok)})
    return Prepared(records, v.rejected(table), notes={"dropped_columns": table.dropped})


def _number(text: str, column_name: str) -> float:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise Reject(f"{column_name} {text!r} is not a number") from None
    if not np.isfinite(value) or abs(value) > MAX_COUNT:
        raise Reject(f"{column_name} {text!r} is not a usable number")
    return value


def publish_pas(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    # A later file replaces the results it repeats (same period, geography and measure).
    frame = prepared.records.drop(columns="_position").copy()
    frame["synthetic"] = frame["synthetic"].map({True: "t", False: "f"})
    frame["batch_id"] = batch_id
    conn.execute("CREATE TEMP TABLE pas_stage (LIKE etl.pas_result) ON COMMIT DROP")
    db.copy_frame(conn, "pas_stage", frame)
    conn.execute("""INSERT INTO etl.pas_result SELECT * FROM pas_stage
                    ON CONFLICT (period_type, period_end, geography_level, geography_code, measure) DO UPDATE
                    SET respondents = EXCLUDED.respondents, agree_count = EXCLUDED.agree_count,
                        borough_code = EXCLUDED.borough_code, synthetic = EXCLUDED.synthetic,
                        batch_id = EXCLUDED.batch_id""")
    return []


# --- recorded crime: the MPS ward file (real data) -------------------------------------------------

MONTH_COLUMN = re.compile(r"^(20\d{2})(0[1-9]|1[0-2])$")
DRUG_MINOR = {"POSSESSION OF DRUGS": "drug_possession", "TRAFFICKING OF DRUGS": "drug_trafficking"}


def prepare_mps_ward_crime(table: SourceTable, geo: Geography, today: date) -> Prepared:
    require_columns(table, ("majortext",), ("minortext",), ("wardcode",))
    months = [c for c in table.frame.columns if MONTH_COLUMN.match(c)]
    if not months:
        raise EtlError(f"{table.path.name}: no month columns (YYYYMM) found")
    for c in months:
        if date(int(c[:4]), int(c[4:]), 1) > today:
            raise EtlError(f"{table.path.name}: month column {c} is in the future")
    v = Verdicts(len(table))
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
    return Prepared(long[["ward_code", "month", "major", "minor", "offences"]], v.rejected(table),
                    notes={"months": f"{months[0]}..{months[-1]}", "dropped_columns": table.dropped})


def publish_mps_ward_crime(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    # A later file replaces the cells it holds (the published file is a rolling 24 months).
    frame = prepared.records.copy()
    frame["batch_id"] = batch_id
    conn.execute("CREATE TEMP TABLE crime_stage (LIKE etl.recorded_crime) ON COMMIT DROP")
    db.copy_frame(conn, "crime_stage", frame)
    # Replace exactly the (ward, month, category) cells this file loaded. A row that was quarantined
    # keeps the values an earlier file published for it: one bad cell must not erase good months.
    conn.execute("""INSERT INTO etl.recorded_crime SELECT * FROM crime_stage
                    ON CONFLICT (ward_code, month, major, minor) DO UPDATE
                    SET offences = EXCLUDED.offences, batch_id = EXCLUDED.batch_id""")
    _refresh(conn, ("drug_possession", "drug_trafficking", "drug_offences"), """
        SELECT CASE WHEN i.total THEN 'drug_offences'
                    WHEN c.minor = 'POSSESSION OF DRUGS' THEN 'drug_possession' ELSE 'drug_trafficking' END,
               c.month, w.borough_code, c.ward_code, sum(c.offences), false
        FROM etl.recorded_crime c
        JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = c.ward_code
        CROSS JOIN (VALUES (false), (true)) AS i(total)
        WHERE c.major = 'DRUG OFFENCES' AND c.minor IN ('POSSESSION OF DRUGS', 'TRAFFICKING OF DRUGS')
        GROUP BY 1, 2, 3, 4""")
    return []


# --- recorded drug offences per LSOA 2011, 2011-2021 (real data) ------------------------------------

YEAR_COLUMN = re.compile(r"^(20\d{2})$")


def prepare_mps_lsoa_drug_annual(table: SourceTable, geo: Geography, today: date) -> Prepared:
    require_columns(table, ("lsoa11cd",))
    years = [c for c in table.frame.columns if YEAR_COLUMN.match(c)]
    if not years:
        raise EtlError(f"{table.path.name}: no year columns (YYYY) found")
    lookup: pd.DataFrame = geo.lsoa11_to_ward  # lsoa11_code, ward_code, weight (LSOA11 -> LSOA21 -> ward)
    v = Verdicts(len(table))
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
    return Prepared(annual, v.rejected(table), notes={"years": f"{years[0]}..{years[-1]}",
                                                      "total": float(long["offences"].sum()),
                                                      "dropped_columns": table.dropped})


def publish_mps_lsoa_drug_annual(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    # The file is the whole series: it replaces what an earlier file loaded, year by year.
    frame = prepared.records.copy()
    frame["batch_id"] = batch_id
    years = sorted({int(y) for y in frame["year"]})
    conn.execute("DELETE FROM etl.drug_offence_annual WHERE year = ANY(%s)", (years,))
    db.copy_frame(conn, "etl.drug_offence_annual", frame)
    conn.execute("DELETE FROM harm.indicator_year WHERE indicator = 'drug_offences'")
    conn.execute("""INSERT INTO harm.indicator_year (indicator, year, borough_code, ward_code, value, synthetic)
                    SELECT 'drug_offences', a.year, w.borough_code, a.ward_code, a.offences, false
                    FROM etl.drug_offence_annual a JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = a.ward_code""")
    return []


#: The messages ``run`` logs, in order: the CLI's progress bar counts them.
STAGES = ("reading", "checking and locating", "publishing")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("mps_ward_crime", "MPS Ward Level Crime, wide monthly file (real)", prepare_mps_ward_crime,
         publish_mps_ward_crime),
    Kind("mps_lsoa_drug_annual", "MPS drug offences per LSOA 2011, 2011-2021 (real)", prepare_mps_lsoa_drug_annual,
         publish_mps_lsoa_drug_annual),
    Kind("closures", "crack house and cannabis factory closures", prepare_closures, publish_closures),
    Kind("disruptions", "drug criminal network disruptions", prepare_disruptions, publish_disruptions),
    Kind("pas", "Public Attitude Survey results", prepare_pas, publish_pas),
    Kind("seizures", "asset seizures (POCA)", prepare_seizures, publish_seizures),
)}


# --- the runner -------------------------------------------------------------------------------------

def run(settings: Settings, kind_name: str, path: Path, *, today: date | None = None,
        log: Callable[[str], None] = lambda _: None) -> BatchReport:
    """Run one job. Raises EtlError (the file) or psycopg errors; the batch row says what happened."""
    if kind_name not in KINDS:
        raise EtlError(f"unknown kind {kind_name!r}: one of {', '.join(KINDS)}")
    kind = KINDS[kind_name]
    if not path.is_file():
        raise EtlError(f"{path}: no such file")
    today = today or datetime.now(LONDON).date()  # the date in London, not the server's UTC date
    sha = db.sha256_file(path)
    url = settings.database_url
    timings: dict[str, float] = {}
    with db.connect(url, timeout_s=settings.db_timeout_s, autocommit=True) as ctl:
        db.require_schema(ctl)
        prev = ctl.execute("""SELECT batch_id FROM etl.batch WHERE job = %s AND file_sha256 = %s AND status = 'published'
                              ORDER BY batch_id DESC LIMIT 1""", (kind.name, sha)).fetchone()
        if prev:
            batch_id = ctl.execute("""INSERT INTO etl.batch (job, file_name, file_sha256, status, finished_at, same_as)
                                      VALUES (%s, %s, %s, 'unchanged', clock_timestamp(), %s) RETURNING batch_id""",
                                   (kind.name, path.name, sha, prev["batch_id"])).fetchone()["batch_id"]
            return BatchReport(batch_id, kind.name, path.name, "unchanged", same_as=prev["batch_id"])
        batch_id = ctl.execute("INSERT INTO etl.batch (job, file_name, file_sha256) VALUES (%s, %s, %s) RETURNING batch_id",
                               (kind.name, path.name, sha)).fetchone()["batch_id"]
        try:
            with psycopg.connect(url, autocommit=False, row_factory=psycopg.rows.dict_row,
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
                prepared.notes["source"] = source
                streamed = prepared.chunks is not None  # checked while written, inside publish
                if not streamed:
                    timings["validate_locate"] = time.perf_counter() - t0
                    t0 = time.perf_counter()
                log("publishing")
                with conn.transaction():
                    # One run of a kind at a time: a second waits here, then sees the first's result.
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('harmmap-etl'), hashtext(%s))", (kind.name,))
                    # Single-location kinds are checked while they are written, so their rejects are
                    # complete only once publish has returned.
                    published_rejects = kind.publish(conn, batch_id, prepared)
                    rejected = source.unparsed + prepared.rejected + published_rejects
                    write_quarantine(conn, batch_id, rejected)
                    read, quarantined = source.rows_read, len(rejected)
                    timings["validate_locate_publish" if streamed else "publish"] = time.perf_counter() - t0
                    if geo.snapped:
                        prepared.notes["points_snapped_to_nearest_ward"] = geo.snapped
                    notes = {k: v for k, v in prepared.notes.items() if k != "source"}
                    if source.encoding and source.encoding != "utf-8-sig":
                        notes["encoding"] = f"read as {source.encoding} (not UTF-8)"
                    notes["seconds"] = {k: round(v, 3) for k, v in timings.items()}
                    conn.execute("""UPDATE etl.batch SET status = 'published', finished_at = clock_timestamp(),
                                        rows_read = %s, rows_loaded = %s, rows_quarantined = %s, synthetic = %s, notes = %s
                                    WHERE batch_id = %s""",
                                 (read, read - quarantined, quarantined, prepared.synthetic, Jsonb(notes), batch_id))
        except BaseException as e:
            ctl.execute("UPDATE etl.batch SET status = 'failed', finished_at = clock_timestamp(), error = %s "
                        "WHERE batch_id = %s", (f"{type(e).__name__}: {e}"[:2000], batch_id))
            raise
    return BatchReport(batch_id, kind.name, path.name, "published", read, read - quarantined, quarantined,
                       prepared.synthetic, dropped_columns=source.dropped, seconds=timings,
                       encoding=source.encoding if source.encoding not in ("", "utf-8-sig") else "")



def kind_of_file(path: Path) -> str | None:
    """``run-all`` picks a file's kind from its name: it must start with the kind (``closures_2025.csv``)."""
    stem = path.name.lower()
    for name in sorted(KINDS, key=len, reverse=True):
        if stem.startswith(name):
            return name
    if stem.startswith("mps_ward_level_crime"):
        return "mps_ward_crime"
    if stem.startswith("mps_lsoa_drug_offences"):
        return "mps_lsoa_drug_annual"
    return None
