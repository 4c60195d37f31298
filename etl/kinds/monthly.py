"""The monthly indicator rows (``harm.indicator_month``) a batch publishes: counts (or sums) per
indicator, month, borough and 2022 ward (ward NULL: known only at borough level).

Append-only kinds (closures, seizures) add their batch's counts (:func:`add_counts`); kinds whose file
restates what it holds (disruptions, MPS ward crime) rebuild their indicators from the record tables
(:func:`replace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from etl import copy_binary
from etl.queries import query

COLUMNS = ("indicator", "month", "borough_code", "ward_code", "value", "synthetic")


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


def add_counts(conn: psycopg.Connection, counts: pd.DataFrame) -> None:
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
    conn.execute(query("monthly_add_stage"))
    _copy_counts(conn, "add_stage", counts[known])
    conn.execute(query("monthly_add"))
    conn.execute(query("monthly_add_done"))


def _published(conn: psycopg.Connection, counts: pd.DataFrame) -> np.ndarray:
    """Which rows of ``counts`` have their (indicator, month, borough, ward) in harm.indicator_month."""
    months = counts["month"].dt.date
    published = {(r["indicator"], r["month"], r["borough_code"], r["ward_code"]) for r in conn.execute(
        query("monthly_published"),
        {"indicators": sorted(counts["indicator"].unique()), "first": months.min(), "last": months.max()})}
    return np.array([k in published for k in zip(counts["indicator"], months, counts["borough_code"],
                                                  counts["ward_code"], strict=True)], bool)


def _copy_counts(conn: psycopg.Connection, table: str, counts: pd.DataFrame) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    with conn.cursor().copy(statement) as copy:
        copy.write(copy_binary.SIGNATURE)
        copy.write(copy_binary.encode_rows([
            ("text", counts["indicator"].to_numpy(object)),
            ("date", counts["month"].to_numpy().astype("datetime64[D]")),
            ("text", counts["borough_code"].to_numpy(object)), ("text", counts["ward_code"].to_numpy(object)),
            ("float8", counts["value"].to_numpy(np.float64)), ("bool", counts["synthetic"].to_numpy(bool))]))
        copy.write(copy_binary.TRAILER)


def replace(conn: psycopg.Connection, indicators: tuple[str, ...], query_name: str) -> None:
    """Rebuild the published monthly rows of ``indicators`` from the records: delete them, then run
    ``etl/queries/<query_name>.sql`` (an INSERT INTO harm.indicator_month ... SELECT from the records)."""
    conn.execute(query("monthly_delete"), {"indicators": list(indicators)})
    conn.execute(query(query_name))
