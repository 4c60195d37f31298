"""Reading a source file of any accepted format (CSV, XLSX, GeoJSON, GeoPackage) into a
:class:`SourceTable`: every cell as text, with where a person finds each row. Address columns are dropped
here, so they never reach the checks, the quarantine or the database (docs/data-contracts.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely

from etl.errors import EtlError
from etl.quarantine import Rejected

ADDRESS_COLUMNS = re.compile(r"address|^postcode$|^post_code$|^street$|^premises$|^house_number$")


def normalise_column(name: str) -> str:
    """``"Source ID"`` and ``source-id`` are ``source_id``: people name columns as they like."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


class Places(Sequence[str]):
    """Where a person finds each row ("line 12", "feature 3"): the text is made only for the rows
    that are reported, not for the million that load."""

    def __init__(self, noun: str, numbers: np.ndarray | Sequence[int]) -> None:
        self.noun = noun
        self.numbers = np.asarray(numbers, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, i: Any) -> Any:  # an int gives its place; a slice gives Places
        if isinstance(i, slice):
            return Places(self.noun, self.numbers[i])
        return f"{self.noun} {self.numbers[i]}"


@dataclass
class SourceTable:
    """A source file as text: one row per record, with where a person finds each row.

    ``cells`` holds every column as Arrow text as read; :meth:`text` gives a column trimmed ('' for
    empty), so the vectorised checks read a million cells without making a million Python strings.
    ``frame`` is the trimmed cells as Python objects, made on first use for the kinds checked row
    by row.
    """

    path: Path
    cells: pa.Table
    places: Places
    geometry: list[Any] | None = None  # shapely geometry per row (vector files), else None
    epsg: int | None = None
    dropped: list[str] = field(default_factory=list)
    #: Rows that could not even be split into the header's columns: quarantined as they are.
    unparsed: list[Rejected] = field(default_factory=list)
    encoding: str = ""
    #: For a slice (see :meth:`slice`): the whole table and where the slice starts in it.
    origin: tuple["SourceTable", int] | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def text(self, name: str) -> pa.Array:
        """Column ``name`` trimmed, as one Arrow string array (trimmed once per table or slice)."""
        key = f"text:{name}"
        if key not in self._cache:
            self._cache[key] = pc.utf8_trim_whitespace(self.cells.column(name).combine_chunks())
        return self._cache[key]

    @property
    def frame(self) -> pd.DataFrame:
        if "frame" not in self._cache:
            self._cache["frame"] = pd.DataFrame(
                {n: self.text(n).to_numpy(zero_copy_only=False) for n in self.columns},
                index=pd.RangeIndex(len(self)), columns=self.columns, dtype=object)
        return self._cache["frame"]

    @property
    def columns(self) -> list[str]:
        return self.cells.column_names

    def raw(self, i: int) -> dict[str, Any]:
        """The row as read, trimmed (address columns were dropped on reading, so they are never stored)."""
        return self.raws(np.array([i]))[0]

    def raws(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """:meth:`raw` for many rows at once."""
        rows = np.asarray(rows, dtype=np.int64)
        picked = self.cells.take(pa.array(rows))
        trimmed = pa.Table.from_arrays([pc.utf8_trim_whitespace(c) for c in picked.columns], names=self.columns)
        out = []
        for i, row in zip(rows, trimmed.to_pylist(), strict=True):
            row = {k: v for k, v in row.items() if v != ""}
            if self.geometry is not None and self.geometry[i] is not None:
                row["geometry"] = shapely.to_wkt(self.geometry[i], rounding_precision=6)
            out.append(row)
        return out

    def slice(self, start: int, stop: int) -> SourceTable:
        """Rows ``start:stop`` as a table of their own (no copy); checks that need the whole file
        (duplicates) still see it through ``origin``."""
        root, offset = self.origin or (self, 0)
        return SourceTable(self.path, self.cells.slice(start, stop - start), self.places[start:stop],
                           None if self.geometry is None else self.geometry[start:stop], self.epsg, self.dropped,
                           [], self.encoding, origin=(root, offset + start))

    def __len__(self) -> int:
        """Rows parsed into columns (what the checks run over)."""
        return self.cells.num_rows

    @property
    def rows_read(self) -> int:
        """Every source row: parsed, or not parseable (quarantined as is)."""
        return len(self) + len(self.unparsed)


def read_table(path: Path) -> SourceTable:
    """The file as text cells, by its suffix. Raises EtlError (naming the file) when it cannot be read
    at all, or its column names repeat once normalised."""
    suffix = path.suffix.lower()
    geometry, epsg = None, None
    unparsed: list[Rejected] = []
    encoding = ""
    try:
        if suffix == ".csv":
            cells, places, unparsed, encoding = _read_csv(path)
        elif suffix in (".xlsx", ".xlsm"):
            frame, lines = _read_xlsx(path)
            cells, places = _text_cells(frame), Places("line", lines)
        elif suffix in (".geojson", ".json", ".gpkg"):
            gdf = pyogrio.read_dataframe(path)
            epsg = gdf.crs.to_epsg() if gdf.crs is not None else None
            geometry = list(gdf.geometry.values) if "geometry" in gdf else None
            frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore")).apply(lambda col: col.map(_cell_text))
            cells, places = _text_cells(frame), Places("feature", np.arange(len(frame)) + 1)
            if geometry is not None and any(g is not None for g in geometry) and epsg not in (4326, 27700):
                raise EtlError(f"{path.name}: geometry CRS must be EPSG:4326 or EPSG:27700 (found "
                               f"{gdf.crs.name if gdf.crs else 'none'})")
        else:
            raise EtlError(f"{path.name}: unsupported file type {suffix!r} (use CSV, XLSX, GeoJSON or GeoPackage)")
    except EtlError:
        raise
    except Exception as e:  # noqa: BLE001 - each reader raises its own kinds; the person needs the file and why
        raise EtlError(f"{path.name}: cannot read it: {e}") from None
    names = [normalise_column(c) for c in cells.column_names]
    if len(set(names)) != len(names):
        raise EtlError(f"{path.name}: column names repeat after normalising: {names}")
    cells = cells.rename_columns(names)
    dropped = [c for c in names if ADDRESS_COLUMNS.search(c)]
    cells = cells.drop_columns(dropped)
    return SourceTable(path, cells, places, geometry, epsg, dropped, unparsed, encoding)


def _text_cells(frame: pd.DataFrame) -> pa.Table:
    """A frame of cells (any types) as a table of trimmed text, '' for empty (columns by position, so
    a repeated name is still seen and refused)."""
    return pa.Table.from_arrays([pa.array([str(v).strip() for v in frame.iloc[:, j].fillna("")], pa.string())
                                 for j in range(frame.shape[1])], names=[str(c) for c in frame.columns])


def _read_csv(path: Path) -> tuple[pa.Table, Places, list[Rejected], str]:
    """Every cell as text, where each row is, the rows that could not be parsed (wrong number of
    fields: quarantined, not fatal), and the encoding used.

    UTF-8 first; a file that is not UTF-8 is read as Windows-1252, which is what Excel's
    "CSV (Comma delimited)" writes (a £ sign is the usual giveaway).
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            cells, places, ragged = _read_csv_fast(path, encoding)
        except UnicodeDecodeError:
            continue
        except Exception as e:  # noqa: BLE001 - Arrow reports bad UTF-8 as ArrowInvalid
            if "utf" in str(e).lower() and encoding != "cp1252":
                continue
            raise
        if ragged:  # Arrow cannot say where the ragged rows are: read again, slowly but exactly
            frame, lines, unparsed = _read_csv_slow(path, encoding)
            return _text_cells(frame), Places("line", lines), unparsed, encoding
        return cells, places, [], encoding
    raise EtlError(f"{path.name}: cannot decode it as UTF-8 or Windows-1252 text")


def _read_csv_fast(path: Path, encoding: str) -> tuple[pa.Table, Places, int]:
    """Read in Arrow (C++, on every core): a million rows in a few tenths of a second. Cells are
    trimmed later, a slice at a time (:meth:`SourceTable.text`).

    Blank lines are skipped but still counted, so "line n" is the line a person sees in an editor.
    If a quoted value holds a line break, lines and rows no longer match one to one, and rows are
    named "row n" (n-th data row) instead. Returns the count of ragged rows (skipped here).
    """
    import csv as csv_text

    from pyarrow import csv

    data = path.read_bytes()
    start = 0
    if encoding == "utf-8-sig":  # Arrow reads UTF-8 natively; any other name goes through Python codecs
        start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        encoding = "utf8"
    body = memoryview(data)[start:]
    end = data.find(b"\n", start)
    names = next(csv_text.reader([data[start:end if end >= 0 else None].decode(encoding)]), [])
    ragged = 0

    def skip(_row: Any) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    table = csv.read_csv(pa.BufferReader(body), read_options=csv.ReadOptions(encoding=encoding),
                         # A value can only hold a line break inside quotes; parsing is faster without.
                         parse_options=csv.ParseOptions(newlines_in_values=b'"' in data, ignore_empty_lines=False,
                                                        invalid_row_handler=skip),
                         convert_options=csv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                            strings_can_be_null=False, quoted_strings_can_be_null=False))
    if ragged:
        return pa.table({}), Places("line", []), ragged
    # A row is blank when every cell is empty after trimming, i.e. empty or all whitespace (Arrow's
    # utf8_is_space and utf8_trim_whitespace agree on every code point).
    blank = np.ones(table.num_rows, bool)
    for c in table.columns:
        blank &= pc.or_(pc.equal(c, ""), pc.utf8_is_space(c)).to_numpy(zero_copy_only=False)
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if physical == len(blank) + 1 or (physical == len(blank) + 2 and blank[-1:].all()):
        places = Places("line", (np.arange(len(blank)) + 2)[~blank])
    else:
        places = Places("row", np.arange(int((~blank).sum())) + 1)
    if blank.any():
        table = table.filter(pa.array(~blank))
    return table, places, 0


def _read_csv_slow(path: Path, encoding: str) -> tuple[pd.DataFrame, list[int], list[Rejected]]:
    """Python's csv module, which knows each record's line: used when some rows are ragged."""
    import csv as csv_text

    rows, lines, unparsed = [], [], []
    with path.open(newline="", encoding=encoding) as f:
        reader = csv_text.reader(f)
        header = next(reader, [])
        start = reader.line_num + 1
        for record in reader:
            line = start
            start = reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                unparsed.append(Rejected(f"line {line}", {"line": ",".join(record)[:2000]},
                                         f"{len(record)} fields where the header has {len(header)}"))
                continue
            rows.append([cell.strip() for cell in record])
            lines.append(line)
    return pd.DataFrame(rows, columns=header, dtype=object), lines, unparsed


def _read_xlsx(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """The first sheet, with each row's spreadsheet row number. A number shown as a percentage
    (cell format with %) is taken as shown: 45% is 45, not 0.45."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows()
        header = [_cell_text(c.value) for c in next(rows, [])]
        width = len(header)
        data, lines = [], []
        for number, row in enumerate(rows, start=2):
            cells = []
            for c in list(row)[:width]:
                value = c.value
                if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (c.number_format or ""):
                    value = round(value * 100, 10)
                cells.append(_cell_text(value))
            cells += [""] * (width - len(cells))
            if any(cells):
                data.append(cells)
                lines.append(number)
    finally:
        book.close()
    return pd.DataFrame(data, columns=header, dtype=object), lines


def _cell_text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (datetime, pd.Timestamp)):
        if value.tzinfo is not None:  # a local time with an offset: the date is the date in London
            value = pd.Timestamp(value).tz_convert("Europe/London")
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
