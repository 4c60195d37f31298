"""Binary COPY rows built from columns (etl/copy_binary.py) read back exactly as the values they encode."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from etl import copy_binary

pytestmark = pytest.mark.db


def copy_in(conn, columns: str, fields) -> list[tuple]:
    """COPY the encoded rows into a new table with ``columns`` (named a, b, c, ...) and read them back."""
    conn.execute(f"CREATE TEMP TABLE t (n serial, {columns})")
    names = ", ".join("abcdefghijklmnopqrstuvwxyz"[:len(fields)])
    with conn.cursor().copy(f"COPY t ({names}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(copy_binary.SIGNATURE + bytes(copy_binary.encode_rows(fields)) + copy_binary.TRAILER)
    return [tuple(r.values())[1:] for r in conn.execute("SELECT * FROM t ORDER BY n")]


def test_every_type_and_null_reads_back_as_written(conn):
    rows = copy_in(conn, "a text, b text, c text, d date, e float8, f bool, g int8, h int4, i numeric(14, 2)", [
        ("text", pa.array(["plain", "", None, "héllo ✓", "tab\tnew\nline"])),
        ("text", pa.array(["x", None, "yy", "x", "x"]).dictionary_encode()),
        ("text", np.array(["E05", None, "E09", "E05", "é"], dtype=object)),
        ("date", np.array(["2024-01-31", "NaT", "1999-12-31", "2000-01-01", "1970-01-01"], dtype="datetime64[D]")),
        ("float8", np.array([1.5, np.nan, -0.0, 531220.0939458, 176521.65625956608])),
        ("bool", np.array([True, False, True, False, True])),
        ("int8", np.full(5, 2**40)),
        ("int4", np.array([1, -1, 2**31 - 1, -2**31, 0])),
        ("numeric2", np.array([12500.5, 0.01, np.nan, 999_999_999_999.99, 1250.0])),
    ])
    assert rows == [
        ("plain", "x", "E05", date(2024, 1, 31), 1.5, True, 2**40, 1, Decimal("12500.50")),
        ("", None, None, None, None, False, 2**40, -1, Decimal("0.01")),
        (None, "yy", "E09", date(1999, 12, 31), -0.0, True, 2**40, 2**31 - 1, None),
        ("héllo ✓", "x", "E05", date(2000, 1, 1), 531220.0939458, False, 2**40, -2**31, Decimal("999999999999.99")),
        ("tab\tnew\nline", "x", "é", date(1970, 1, 1), 176521.65625956608, True, 2**40, 0, Decimal("1250.00")),
    ]


def test_columns_of_only_nulls_or_empty_text_keep_their_length_words(conn):
    rows = copy_in(conn, "a text, b text, c text, d text", [
        ("text", np.array([None, None], dtype=object)), ("text", pa.array([None, ""])),
        ("text", pa.array(["", ""])), ("text", pa.array([None, None], pa.string()).dictionary_encode())])
    assert rows == [(None, None, "", None), (None, "", "", None)]


def test_a_sliced_arrow_column_and_no_rows_are_encoded_right(conn):
    ids = pa.array([f"B{i:07d}" for i in range(10)]).slice(3, 4)  # offsets not starting at 0
    assert copy_in(conn, "a text", [("text", ids)]) == [("B0000003",), ("B0000004",), ("B0000005",), ("B0000006",)]
    conn.execute("DROP TABLE t")
    assert copy_in(conn, "a text, b float8", [("text", pa.array([], pa.string())), ("float8", np.zeros(0))]) == []


def test_amounts_beyond_the_numeric_column_are_refused_before_sending():
    with pytest.raises(ValueError, match="below 10"):
        copy_binary.encode_rows([("numeric2", np.array([1e12]))])
