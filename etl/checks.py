"""Row checks, vectorised: each reads Arrow columns of a :class:`~etl.readers.SourceTable`, checks each
distinct value once (a million cells hold few distinct types, stages, dates or codes) and records the
first reason each row fails in :class:`Verdicts`; only failing rows' reasons are ever formatted.
The rules are docs/data-contracts.md's.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.errors import EtlError
from etl.quarantine import Rejected
from etl.readers import SourceTable, normalise_column

EARLIEST = date(2000, 1, 1)
MAX_COUNT = 2**31 - 1   # PostgreSQL integer


def require_columns(table: SourceTable, *groups: Sequence[str]) -> None:
    """Each group names one column or its alternatives (``("agree_count", "agree_pct")``); a file
    lacking one fails whole (EtlError), before any row is checked."""
    missing = [g[0] if len(g) == 1 else " or ".join(g) for g in groups
               if not any(c in table.columns for c in g)]
    if missing:
        raise EtlError(f"{table.path.name}: missing column(s) {', '.join(missing)}; "
                       f"found {', '.join(table.columns) or 'none'}")


class Verdicts:
    """The first reason each row fails, filled check by check; rows with no reason are good."""

    def __init__(self, n: int) -> None:
        self.failed = np.zeros(n, bool)
        self.reason: dict[int, str] = {}

    @property
    def ok(self) -> np.ndarray:
        return ~self.failed

    def fail(self, mask: np.ndarray, message: Any) -> None:
        """Give ``message`` (a string, or a function of the row index) to rows in ``mask`` not yet failed."""
        hit = np.flatnonzero(np.asarray(mask, dtype=bool) & ~self.failed)
        self.failed[hit] = True
        for i in hit:
            self.reason[int(i)] = message(i) if callable(message) else message

    def reject(self, i: int, message: str) -> None:
        """Row ``i`` fails with ``message`` (unless an earlier check already failed it)."""
        if not self.failed[i]:
            self.failed[i] = True
            self.reason[int(i)] = message

    def rejected(self, table: SourceTable) -> list[Rejected]:
        rows = np.flatnonzero(self.failed)
        return [Rejected(table.places[i], raw, self.reason[int(i)])
                for i, raw in zip(rows, table.raws(rows), strict=True)]


def text(table: SourceTable, name: str) -> pa.Array:
    """A column's cells as trimmed Arrow text ('' where empty); a column the file lacks is all ''."""
    if name not in table.columns:
        return pa.repeat(pa.scalar("", pa.string()), len(table))
    return table.text(name)


def filled(values: pa.Array) -> np.ndarray:
    """Which cells are not empty."""
    return pc.not_equal(values, "").to_numpy(zero_copy_only=False)


def cell(values: pa.Array, i: int) -> str:
    """One cell's text, for a failing row's reason."""
    return values[int(i)].as_py()


def map_distinct(values: pa.Array | np.ndarray, func: Any, dtype: Any = object) -> np.ndarray:
    """``func`` applied once per distinct value, then spread back (a million rows hold few distinct values)."""
    if isinstance(values, pa.Array):
        encoded = pc.dictionary_encode(values)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary.to_pylist()
    else:
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    mapped = np.array([func(u) for u in uniques], dtype=dtype)
    return mapped[codes] if len(mapped) else np.array([], dtype=dtype)


def to_float(values: pa.Array | np.ndarray) -> np.ndarray:
    """Text to float64, NaN where a cell is empty or not a number as pandas reads numbers.

    Arrow parses plain numbers (what nearly every cell is) in C++; it accepts a subset of what pandas
    does, with the same values, so anything it refuses goes to pandas.
    """
    if isinstance(values, pa.Array):
        try:  # empty cells (rows placed another way) are NaN, as pandas makes them
            present = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
            return pc.cast(present, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = values.to_numpy(zero_copy_only=False)
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def column(table: SourceTable, name: str) -> np.ndarray:
    """A column as Python strings ('' where empty): for checks that go row by row."""
    return text(table, name).to_numpy(zero_copy_only=False).astype(object)


def earlier_places(table: SourceTable, name: str) -> np.ndarray:
    """For each row, the place of the first row of the whole file with the same non-empty ``name``
    when that is an earlier row, else None.

    Only rows up to the end of ``table`` matter, so until the answer for the whole file is ready
    (:func:`start_earlier_places` works it out on a thread while the first slices are checked), a
    slice is answered from the file's rows up to its end.
    """
    root, offset = table.origin or (table, 0)
    whole = root._cache.get(f"earlier:{name}")
    if offset == 0 or whole is None or not whole.done():
        upto = root if offset + len(table) == len(root) else root.slice(0, offset + len(table))
        return _earlier_places(upto, name)[offset:]
    return whole.result()[offset:offset + len(table)]


def start_earlier_places(table: SourceTable, name: str) -> Future:
    """:func:`earlier_places` for the whole of ``table``, worked out on a thread (Arrow hashes the
    million values without the GIL), once."""
    key = f"earlier:{name}"
    if key not in table._cache:
        pool = ThreadPoolExecutor(1)
        table._cache[key] = pool.submit(_earlier_places, table, name)
        pool.shutdown(wait=False)  # the task runs on; its thread ends with it
    return table._cache[key]


def _earlier_places(table: SourceTable, name: str) -> np.ndarray:
    values = text(table, name)
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # Codes are given in order of first appearance: a row is a first occurrence when its code is
    # above every code before it.
    seen_max = np.maximum.accumulate(codes)
    first = np.ones(len(codes), bool)
    first[1:] = codes[1:] > seen_max[:-1]
    first_row = np.flatnonzero(first)[codes]
    out = np.full(len(codes), None, object)
    for i in np.flatnonzero(~first & filled(values)):
        out[i] = table.places[first_row[i]]
    return out


def check_required_unique(v: Verdicts, table: SourceTable, name: str) -> pa.Array:
    """A key column (``source_id``): empty fails, and so does every repeat after the first in the file."""
    values = text(table, name)
    v.fail(~filled(values), f"{name} is empty")
    earlier = earlier_places(table, name)
    v.fail(np.not_equal(earlier, None), lambda i: f"duplicate {name} {cell(values, i)!r} (also at {earlier[i]})")
    return values


def check_choice(v: Verdicts, table: SourceTable, name: str, allowed: Sequence[str],
                 aliases: dict[str, str] | None = None) -> pa.DictionaryArray:
    """The column normalised (aliases applied), as an Arrow dictionary array: ``.to_numpy(zero_copy_only=False)``
    gives Python strings. Rows whose value is not one of ``allowed`` fail."""
    raw = text(table, name)
    encoded = pc.dictionary_encode(raw)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    # Normalise each distinct spelling once, then map: a million rows hold only a few spellings.
    spelt = [(aliases or {}).get(normalise_column(d), normalise_column(d)) for d in encoded.dictionary.to_pylist()]
    names = list(dict.fromkeys(spelt))
    number = np.array([names.index(x) for x in spelt], np.int32)
    valid = np.array([x in allowed for x in spelt], bool)
    v.fail(~valid[codes] if len(valid) else np.zeros(0, bool),
           lambda i: f"{name} {cell(raw, i)!r} is not one of {', '.join(allowed)}" if cell(raw, i)
           else f"{name} is empty")
    return pa.DictionaryArray.from_arrays(pa.array(number[codes] if len(number) else np.zeros(0, np.int32)),
                                          pa.array(names, pa.string()))


def _parse_dates(texts: pd.Series) -> np.ndarray:
    parsed = pd.to_datetime(texts, format="%Y-%m-%d", errors="coerce")
    other = parsed.isna() & (texts != "")
    if other.any():
        parsed[other] = pd.to_datetime(texts[other], format="%d/%m/%Y", errors="coerce")
    return parsed.to_numpy().astype("datetime64[D]")


def check_dates(v: Verdicts, table: SourceTable, name: str, today: date) -> np.ndarray:
    """Dates as numpy datetime64[D] (NaT where bad); each distinct text is parsed once."""
    raw = text(table, name)
    encoded = pc.dictionary_encode(raw)
    uniques = pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    values = _parse_dates(uniques)[encoded.indices.to_numpy(zero_copy_only=False)] if len(uniques) \
        else np.array([], "datetime64[D]")
    v.fail(~filled(raw), f"{name} is empty")
    bad = np.isnat(values)
    v.fail(bad, lambda i: f"{name} {cell(raw, i)!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
    v.fail(~bad & (values > np.datetime64(today, "D")), lambda i: f"{name} {values[i]} is in the future")
    v.fail(~bad & (values < np.datetime64(EARLIEST, "D")), lambda i: f"{name} {values[i]} is before 2000")
    return values


#: How a ``synthetic`` cell may say true or false (case ignored).
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
#: Source ids HarmMap's synthetic generator gives (``SYN-CL-000123``): never a real record's.
SYNTHETIC_ID = "SYN-"


def require_synthetic(table: SourceTable) -> None:
    """Every HarmMap-defined contract (closures, disruptions, pas, seizures) needs a ``synthetic`` column: a
    file that does not say whether its rows are made up is refused whole (EtlError), before any row is read,
    so synthetic data can never be loaded as real by leaving the column out."""
    if "synthetic" not in table.columns:
        raise EtlError(f"{table.path.name}: no synthetic column: every row must say whether it is synthetic "
                       "(true or false); a file without it is refused (docs/data-contracts.md, 'Synthetic data')")


def check_synthetic(v: Verdicts, table: SourceTable, id_column: str | None = None) -> np.ndarray:
    """The ``synthetic`` column as booleans. A cell that is not true or false fails its row, and so does a row
    whose ``id_column`` starts ``SYN-`` (an id the synthetic generator made) while it claims to be real."""
    raw = text(table, "synthetic")
    word = map_distinct(raw, lambda d: 1 if d.lower() in TRUE_WORDS else 0 if d.lower() in FALSE_WORDS else -1,
                        np.int8)
    v.fail(word < 0, lambda i: f"synthetic {cell(raw, i)!r} is not true or false" if cell(raw, i)
           else "synthetic is empty: say true or false")
    flags = word == 1
    if id_column is not None:
        refuse_synthetic_ids(v, table, id_column, claims_real=~flags,
                             why="is synthetic but the row claims to be real")
    return flags


def refuse_synthetic_ids(v: Verdicts, table: SourceTable, column_name: str, claims_real: np.ndarray | None = None,
                         why: str = "is synthetic but this format is real by definition", label: str = "") -> None:
    """Rows whose ``column_name`` starts ``SYN-`` fail (only those in ``claims_real``, when given): a record
    the synthetic generator made must never be loaded as real."""
    values = text(table, column_name)
    syn = pc.starts_with(pc.utf8_upper(values), SYNTHETIC_ID).to_numpy(zero_copy_only=False)
    if claims_real is not None:
        syn &= claims_real
    label = label or column_name.replace("_", " ")
    v.fail(syn, lambda i: f"{label} {cell(values, i)} {why}")
