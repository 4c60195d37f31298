"""Rows for PostgreSQL's binary ``COPY``, built from whole columns with numpy (no per-row Python).

Binary COPY spares the server parsing text (numbers, dates); see ``bench/RESULTS.md`` for what it
saves on the closures benchmark. The format (PostgreSQL 15 docs, ``COPY``, "Binary Format") is a
signature, then per row an int16 field count and per field an int32 byte length (-1 for NULL)
followed by the value in the type's ``send`` format, then an int16 -1.

How rows are built without a loop: each column becomes ``n`` rows of equal width (its widest value,
length word included) and a mask of the bytes that are real. The columns side by side make an
``n x width`` byte matrix; its real bytes in row-major order are exactly row 1's fields, then row
2's, and so on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")  # no OIDs, no extension
TRAILER = (-1).to_bytes(2, "big", signed=True)
_POSTGRES_EPOCH_DAYS = 10_957  # 2000-01-01 minus 1970-01-01
_FIXED = {"int4": ">i4", "int8": ">i8", "float8": ">f8", "bool": "u1", "date": ">i4"}
#: numeric(p, 2) values are sent as four base-10000 digits, so amounts must be below 10^12.
_NUMERIC_LIMIT = 10**12


def encode_rows(fields: Sequence[tuple[str, Any]]) -> memoryview:
    """The binary COPY rows (no signature or trailer) for columns given as ``(type, values)``.

    Types and values (all columns of one length):

    - ``text``: a pyarrow string or dictionary array (nulls are NULL) or a numpy object array of
      ``str`` / ``None`` (few distinct values expected: each is encoded once).
    - ``date``: numpy ``datetime64[D]`` (NaT is NULL); ``float8``: float64 (NaN is NULL);
      ``bool``, ``int4``, ``int8``: numpy arrays (no NULLs).
    - ``numeric2``: float64 amounts with at most two decimals, for a ``numeric(p, 2)`` column (NaN is NULL).
    """
    n = len(fields[0][1]) if fields else 0
    columns = [_text(values) if kind == "text" else _fixed(kind, values) for kind, values in fields]
    if any(c.rows != n for c in columns):
        raise ValueError("columns differ in length")
    width = 2 + sum(c.width for c in columns)
    matrix = np.empty((n, width), np.uint8)
    matrix[:, :2] = np.frombuffer(len(fields).to_bytes(2, "big"), np.uint8)
    keep = None if all(c.real is None for c in columns) else np.ones((n, width), bool)
    at = 2
    for c in columns:
        c.fill(matrix[:, at:at + c.width], None if keep is None else keep[:, at:at + c.width])
        at += c.width
    return memoryview(matrix.reshape(-1) if keep is None else matrix[keep])


@dataclass
class _Column:
    """A column's bytes, one padded row per value: ``data`` (m x width) and which bytes are real
    (``real``, or None when all are). ``pick`` gives the data row of each table row when values
    were encoded once per distinct value; else data row i is table row i."""

    data: np.ndarray
    real: np.ndarray | None
    pick: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.data) if self.pick is None else len(self.pick)

    @property
    def width(self) -> int:
        return self.data.shape[1]

    def fill(self, out: np.ndarray, keep: np.ndarray | None) -> None:
        out[...] = self.data if self.pick is None else np.take(self.data, self.pick, axis=0)
        if keep is not None and self.real is not None:
            keep[...] = self.real if self.pick is None else np.take(self.real, self.pick, axis=0)


def _fixed(kind: str, values: Any) -> _Column:
    values = np.asarray(values)
    if kind == "numeric2":
        return _numeric2(values.astype(np.float64))
    if kind not in _FIXED:
        raise ValueError(f"no binary encoding for column type {kind!r}")
    null = None
    if kind == "date":
        null = np.isnat(values)
        values = np.where(null, 0, values.astype("datetime64[D]").astype(np.int64) - _POSTGRES_EPOCH_DAYS)
    elif kind == "float8":
        null = np.isnan(values)
    rec = np.empty(len(values), [("length", ">i4"), ("value", _FIXED[kind])])
    rec["length"] = np.dtype(_FIXED[kind]).itemsize
    rec["value"] = values
    return _with_nulls(rec, null)


def _numeric2(values: np.ndarray) -> _Column:
    """numeric's send format: ndigits, weight, sign, dscale (int16 each), then base-10000 digits."""
    null = np.isnan(values)
    cents = np.rint(np.where(null, 0, values) * 100).astype(np.int64)
    if (np.abs(cents) >= _NUMERIC_LIMIT * 100).any():
        raise ValueError("numeric2 values must be below 10^12 in magnitude")
    whole, part = np.divmod(np.abs(cents), 100)
    rec = np.empty(len(values), [("length", ">i4"), ("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"),
                                 ("dscale", ">i2"), ("digits", ">i2", 4)])
    rec["length"], rec["ndigits"], rec["weight"], rec["dscale"] = 16, 4, 2, 2
    rec["sign"] = np.where(cents < 0, 0x4000, 0)
    rec["digits"] = np.stack([whole // 10**8, whole // 10**4 % 10**4, whole % 10**4, part * 100], axis=1)
    return _with_nulls(rec, null)


def _with_nulls(rec: np.ndarray, null: np.ndarray | None) -> _Column:
    data = rec.view(np.uint8).reshape(len(rec), rec.dtype.itemsize)
    if null is None or not null.any():
        return _Column(data, None)
    rec["length"][null] = -1
    real = np.ones(data.shape, bool)
    real[null, 4:] = False
    return _Column(data, real)


def _text(values: Any) -> _Column:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.DictionaryArray):
        return _by_value(values.indices.fill_null(-1).to_numpy(zero_copy_only=False), values.dictionary)
    if isinstance(values, pa.Array):
        return _strings(values)
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return _by_value(codes, pa.array(list(uniques), pa.string()))


def _by_value(codes: np.ndarray, dictionary: pa.Array) -> _Column:
    """Encode each distinct value once; code -1 is NULL. When every value the rows use has the same
    length (ward codes, one location method), no byte is padding and the mask is skipped."""
    once = _strings(pa.concat_arrays([dictionary.cast(pa.string()), pa.nulls(1, pa.string())]))
    pick = np.where(codes < 0, len(dictionary), codes)
    used = np.zeros(len(once.data), bool)
    used[pick] = True
    sizes = once.real[used].sum(axis=1)
    if len(sizes) and (sizes == sizes[0]).all():
        return _Column(np.ascontiguousarray(once.data[:, :sizes[0]]), None, pick)
    return _Column(once.data, once.real, pick)


def _strings(values: pa.Array) -> _Column:
    """Length word plus UTF-8 bytes per value, padded to the widest; NULL has length -1 and no bytes."""
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    null = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
    if null is not None:
        values = values.fill_null("")  # a null slot may span bytes (Arrow allows it): rebuild first
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset:values.offset + n + 1]
    data = np.frombuffer(values.buffers()[2], np.uint8) if values.buffers()[2] is not None \
        else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = int(lengths.max()) if n else 0
    out = np.zeros((n, 4 + width), np.uint8)
    out[:, :4] = (lengths if null is None else np.where(null, -1, lengths)).astype(">i4").view(np.uint8).reshape(n, 4)
    if n and null is None and (lengths == width).all():  # no padding: the bytes are the rows
        out[:, 4:] = data[offsets[0]:offsets[-1]].reshape(n, width)
        return _Column(out, None)
    real = np.ones((n, 4 + width), bool)
    real[:, 4:] = np.arange(width) < lengths[:, None]
    out[:, 4:][real[:, 4:]] = data[offsets[0]:offsets[-1]] if n else data[:0]
    return _Column(out, real)
