"""What every indicator job shares: reading a file of any accepted format, row-level checks,
placing rows in wards, and the batch / quarantine bookkeeping. See docs/data-contracts.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from pyproj import Transformer

from harmmap.domain import CURRENT_VINTAGE, VINTAGES
from harmmap.locate import WardLocator

WARD_CODE = re.compile(r"^E05\d{6}$")
BOROUGH_CODE = re.compile(r"^E09\d{6}$")
ADDRESS_COLUMNS = re.compile(r"address|^postcode$|^post_code$|^street$|^premises$|^house_number$")
EARLIEST = date(2000, 1, 1)
#: The 2022 wards are clipped to the river bank: a point on a bridge or the Thames lies in no ward.
#: Such a point within this many metres of a ward goes to the nearest ward (counted in batch notes).
SNAP_M = 200.0
# Generous boxes: a WGS84 point in London, and British National Grid's valid range.
LONDON_LONLAT = (-0.6, 51.25, 0.4, 51.75)
BNG_RANGE = (0, 0, 700_000, 1_300_000)
_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


class EtlError(ValueError):
    """The file as a whole cannot be loaded (unreadable, a required column missing): nothing is written."""


class Reject(ValueError):  # noqa: N818 - a row verdict, raised inside row checks
    """One row breaks its contract; the message is the quarantine reason."""


# --- reading -------------------------------------------------------------------------------------

def normalise_column(name: str) -> str:
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
    unparsed: list["Rejected"] = field(default_factory=list)
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


def require_columns(table: SourceTable, *groups: Sequence[str]) -> None:
    missing = [g[0] if len(g) == 1 else " or ".join(g) for g in groups
               if not any(c in table.columns for c in g)]
    if missing:
        raise EtlError(f"{table.path.name}: missing column(s) {', '.join(missing)}; "
                       f"found {', '.join(table.columns) or 'none'}")


# --- row checks (raise Reject with the reason) ---------------------------------------------------------





# --- geography ------------------------------------------------------------------------------------

@dataclass
class Location:
    borough_code: str
    ward_code: str | None  # 2022 vintage; None = known only at borough level
    method: str            # ward_code | point | borough
    x: float | None = None  # EPSG:27700
    y: float | None = None


class Geography:
    """Reference geography a job places rows with, read once per job from geo.*."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.ward_codes: dict[int, set[str]] = {v: set() for v in VINTAGES}
        self.ward_borough: dict[str, str] = {}
        for r in conn.execute("SELECT vintage, ward_code, borough_code FROM geo.ward"):
            self.ward_codes.setdefault(r["vintage"], set()).add(r["ward_code"])
            if r["vintage"] == CURRENT_VINTAGE:
                self.ward_borough[r["ward_code"]] = r["borough_code"]
        if not self.ward_borough:
            raise EtlError("no 2022 wards are loaded: run `harmmap geo load` first")
        # An older ward code goes whole to the 2022 ward with most of its residents.
        self.to_current: dict[tuple[int, str], str] = {}
        best = conn.execute("""
            WITH chain AS (
                SELECT 2018 AS vintage, from_code, to_code, population_weight AS w
                FROM geo.crosswalk WHERE from_vintage = 2018 AND to_vintage = 2022
                UNION ALL
                SELECT 2014, a.from_code, b.to_code, sum(a.population_weight * b.population_weight)
                FROM geo.crosswalk a
                CROSS JOIN LATERAL (  -- OFFSET 0: a keyed lookup per row, even on never-analysed tables
                    SELECT b.to_code, b.population_weight FROM geo.crosswalk b
                    WHERE b.from_vintage = 2018 AND b.to_vintage = 2022 AND b.from_code = a.to_code OFFSET 0) b
                WHERE a.from_vintage = 2014 AND a.to_vintage = 2018
                GROUP BY 1, 2, 3)
            SELECT DISTINCT ON (vintage, from_code) vintage, from_code, to_code
            FROM chain ORDER BY vintage, from_code, w DESC, to_code""")
        for r in best:
            self.to_current[(r["vintage"], r["from_code"])] = r["to_code"]
        self.boroughs = {r["borough_code"]: r["borough_name"] for r in
                         conn.execute("SELECT borough_code, borough_name FROM geo.borough")}
        self.borough_by_name = {_name_key(n): c for c, n in self.boroughs.items()}
        self.locator = WardLocator.from_db(conn, CURRENT_VINTAGE)
        # The nearest-ward fallback searches the locator's own polygons: no second read of geo.ward.
        self._codes = np.asarray(self.locator.codes, dtype=object)
        self._tree = shapely.STRtree(self.locator.geoms)
        self.snapped = 0
        # The vectorised path names wards and boroughs by their place in these lists (as Arrow
        # dictionaries, so a million records hold small integers, not a million strings).
        self.ward_list = pa.array([str(c) for c in self.locator.codes], pa.string())
        self.ward_number = {c: i for i, c in enumerate(self.ward_list.to_pylist())}
        self.borough_list = pa.array(sorted(self.boroughs), pa.string())
        self.borough_number = {c: i for i, c in enumerate(self.borough_list.to_pylist())}
        self.ward_borough_number = np.array([self.borough_number[self.ward_borough[c]]
                                             for c in self.ward_list.to_pylist()], np.int32)
        # LSOA 2011 -> LSOA 2021 -> 2022 ward, for the annual MPS series (about 5,000 rows).
        self.lsoa11_to_ward = pd.DataFrame(conn.execute("""
            SELECT k.lsoa11_code, l.ward_code_2022 AS ward_code, k.weight
            FROM geo.lsoa11_lsoa21 k JOIN geo.lsoa21 l ON l.lsoa_code = k.lsoa21_code""").fetchall(),
            columns=["lsoa11_code", "ward_code", "weight"])

    def locate_numbers(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """2022 wards of BNG points as places in ``ward_list``; -1 where a point is neither in a ward
        nor within SNAP_M of one."""
        found = self.locator.locate(x, y).astype(np.int32)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            pts = shapely.points(x[missing], y[missing])
            near, dist = self._tree.query_nearest(pts, max_distance=SNAP_M, return_distance=True, all_matches=False)
            found[missing[near[0]]] = near[1]
            self.snapped += len(near[0])
        return found

    def locate_codes(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """2022 ward codes of BNG points; None where a point is neither in a ward nor within SNAP_M of one."""
        found = self.locate_numbers(x, y)
        codes = np.full(len(found), None, object)
        codes[found >= 0] = self._codes[found[found >= 0]]
        return codes

    # -- one location, from its parts ---------------------------------------------------------------
    def ward(self, code: str, vintage_text: str) -> Location:
        code = code.strip().upper()
        try:
            vintage = int(vintage_text) if vintage_text.strip() else CURRENT_VINTAGE
        except ValueError:
            raise Reject(f"ward_vintage {vintage_text!r} is not one of {', '.join(map(str, VINTAGES))}") from None
        if vintage not in VINTAGES:
            raise Reject(f"ward_vintage {vintage} is not one of {', '.join(map(str, VINTAGES))}")
        if not WARD_CODE.match(code):
            raise Reject(f"ward_code {code!r} is not a GSS ward code (E05 and six digits)")
        if code not in self.ward_codes.get(vintage, ()):
            raise Reject(f"ward_code {code} is not a {vintage} ward")
        current = code if vintage == CURRENT_VINTAGE else self.to_current.get((vintage, code))
        if current is None:
            raise Reject(f"ward_code {code} ({vintage}) has no 2022 successor in the crosswalk")
        return Location(self.ward_borough[current], current, "ward_code")

    def borough(self, code: str = "", name: str = "") -> Location:
        if code:
            code = code.strip().upper()
            if code not in self.boroughs:
                raise Reject(f"borough_code {code!r} is not a London borough")
            return Location(code, None, "borough")
        found = self.borough_by_name.get(_name_key(name))
        if not found:
            raise Reject(f"borough {name!r} is not a London borough name")
        return Location(found, None, "borough")

    def points(self, x: np.ndarray, y: np.ndarray) -> list[Location | str]:
        """Place BNG points; a string in the result is the reject reason for that point."""
        codes = self.locate_codes(np.asarray(x, float), np.asarray(y, float))
        out: list[Location | str] = []
        for xi, yi, code in zip(x, y, codes, strict=True):
            if code is None:
                lon, lat = _TO_BNG.transform(xi, yi, direction="INVERSE")
                out.append(f"point ({lon:.5f}, {lat:.5f}) is outside London")
            else:
                out.append(Location(self.ward_borough[code], code, "point", float(xi), float(yi)))
        return out


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower().replace("&", "and"))


def lonlat_to_bng(lon: float, lat: float) -> tuple[float, float]:
    """Check a WGS84 pair a person typed, then transform it. Raises Reject naming the likely mistake."""
    if abs(lon) > 1000 or abs(lat) > 1000:
        raise Reject(f"lon/lat ({lon:g}, {lat:g}) look like British National Grid easting/northing: "
                     "put them in easting/northing columns")
    minx, miny, maxx, maxy = LONDON_LONLAT
    if miny <= lon <= maxy and minx <= lat <= maxx:
        raise Reject(f"lon/lat ({lon:g}, {lat:g}) look swapped: longitude is about -0.1 in London, latitude about 51.5")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Reject(f"lon/lat ({lon:g}, {lat:g}) are not WGS84 degrees")
    return _TO_BNG.transform(lon, lat)


def check_bng(x: float, y: float) -> tuple[float, float]:
    if abs(x) <= 180 and abs(y) <= 90:
        raise Reject(f"easting/northing ({x:g}, {y:g}) look like lon/lat degrees: put them in lon/lat columns")
    minx, miny, maxx, maxy = BNG_RANGE
    if not (minx <= x <= maxx and miny <= y <= maxy):
        raise Reject(f"easting/northing ({x:g}, {y:g}) are not British National Grid coordinates")
    return x, y


def _floats(text: str, column: str) -> list[float]:
    parts = [p.strip() for p in text.split(";") if p.strip()]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise Reject(f"{column} {text!r} is not a number") from None


def row_locations(table: SourceTable, i: int, geo: Geography, *, many: bool = False) -> list[Location]:
    """The row's location(s), by the contract's order of preference. Raises Reject."""
    row = table.frame.iloc[i]
    get = lambda c: row.get(c, "")  # noqa: E731
    if get("ward_code"):
        codes = [c for c in get("ward_code").split(";") if c.strip()] if many else [get("ward_code")]
        if len(codes) > 1 and not many:
            raise Reject("ward_code holds several codes; this kind takes one location")
        return [geo.ward(c, get("ward_vintage")) for c in codes]
    points: list[tuple[float, float]] = []
    if get("lon") or get("lat"):
        lons, lats = _floats(get("lon"), "lon"), _floats(get("lat"), "lat")
        if len(lons) != len(lats) or not lons:
            raise Reject(f"lon and lat hold {len(lons)} and {len(lats)} numbers: they must pair up")
        points = [lonlat_to_bng(lo, la) for lo, la in zip(lons, lats, strict=True)]
    elif get("easting") or get("northing"):
        xs, ys = _floats(get("easting"), "easting"), _floats(get("northing"), "northing")
        if len(xs) != len(ys) or not xs:
            raise Reject(f"easting and northing hold {len(xs)} and {len(ys)} numbers: they must pair up")
        points = [check_bng(x, y) for x, y in zip(xs, ys, strict=True)]
    elif table.geometry is not None and table.geometry[i] is not None:
        g = table.geometry[i]
        parts = list(g.geoms) if g.geom_type == "MultiPoint" else [g]
        if any(p.geom_type != "Point" for p in parts):
            raise Reject(f"geometry is a {g.geom_type}; a location must be a point")
        coords = [(p.x, p.y) for p in parts]
        points = ([lonlat_to_bng(x, y) for x, y in coords] if table.epsg == 4326
                  else [check_bng(x, y) for x, y in coords])
    if points:
        if len(points) > 1 and not many:
            raise Reject("the row holds several points; this kind takes one location")
        xs = np.array([p[0] for p in points])
        ys = np.array([p[1] for p in points])
        placed = geo.points(xs, ys)
        for p in placed:
            if isinstance(p, str):
                raise Reject(p)
        return placed  # type: ignore[return-value]
    if get("borough_code") or get("borough"):
        return [geo.borough(get("borough_code"), get("borough"))]
    raise Reject("no location: give ward_code (+ ward_vintage), lon/lat, easting/northing or borough_code")


# --- quarantine and batches ---------------------------------------------------------------------------

@dataclass
class Rejected:
    place: str
    raw: dict[str, Any]
    reason: str

    @property
    def row_number(self) -> int:
        return int(self.place.split()[-1])


def write_quarantine(conn: psycopg.Connection, batch_id: int, rejected: Sequence[Rejected]) -> None:
    with conn.cursor().copy("COPY etl.quarantine (batch_id, row_number, raw, reason) FROM STDIN") as copy:
        for r in rejected:
            copy.write_row((batch_id, r.row_number, json.dumps(r.raw, default=str), f"{r.place}: {r.reason}"))


# --- vectorised checks and location (the fast path for large single-location files) ----------------
#
# These read the cells as Arrow arrays. A column of a million cells usually holds few distinct
# values (types, stages, dates, ward codes), so each distinct value is checked once and the answer
# spread back over the rows; only the reasons of failing rows are ever formatted.

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


def synthetic_flags(table: SourceTable) -> np.ndarray:
    return map_distinct(text(table, "synthetic"), lambda d: d.lower() in ("true", "1", "yes", "y", "t"), bool)


#: How a record was placed (etl.location_method), in the order ``Placed.method`` numbers them.
METHODS = pa.array(["ward_code", "point", "borough"], pa.string())


@dataclass
class Placed:
    """Per-row locations as numbers: places in ``Geography.ward_list`` / ``borough_list`` and in
    METHODS (-1 for none), and EPSG:27700 points (NaN where no point)."""

    borough: np.ndarray
    ward: np.ndarray
    method: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def column(self, name: str, geo: Geography, rows: np.ndarray) -> pa.DictionaryArray:
        """``borough_code``, ``ward_code`` or ``location_method`` of ``rows`` (a mask), NULL for -1."""
        numbers, names = {"borough_code": (self.borough, geo.borough_list), "ward_code": (self.ward, geo.ward_list),
                          "location_method": (self.method, METHODS)}[name]
        picked = numbers[rows]
        return pa.DictionaryArray.from_arrays(pa.array(picked, pa.int32(), mask=picked < 0), names)


def locate_single(v: Verdicts, table: SourceTable, geo: Geography) -> Placed:
    """One location per row, by the contract's order of preference, vectorised over the file."""
    n = len(table)
    out = Placed(np.full(n, -1, np.int32), np.full(n, -1, np.int32), np.full(n, -1, np.int8),
                 np.full(n, np.nan), np.full(n, np.nan))
    ward, vintage = text(table, "ward_code"), text(table, "ward_vintage")
    lon, lat = text(table, "lon"), text(table, "lat")
    east, north = text(table, "easting"), text(table, "northing")
    bcode, bname = text(table, "borough_code"), text(table, "borough")
    several = _contains(ward, ";") | _contains(lon, ";") | _contains(east, ";")
    v.fail(several, "several locations given (separated by ';'); this kind takes one location")
    by_ward = filled(ward)
    by_lonlat = ~by_ward & (filled(lon) | filled(lat))
    by_en = ~by_ward & ~by_lonlat & (filled(east) | filled(north))
    by_geom = np.zeros(n, bool)
    if table.geometry is not None:
        by_geom = ~by_ward & ~by_lonlat & ~by_en & np.array([g is not None for g in table.geometry], bool)
    by_borough = ~by_ward & ~by_lonlat & ~by_en & ~by_geom & (filled(bcode) | filled(bname))
    v.fail(~(by_ward | by_lonlat | by_en | by_geom | by_borough),
           "no location: give ward_code (+ ward_vintage), lon/lat, easting/northing or borough_code")

    _place_distinct(v, out, np.flatnonzero(by_ward & v.ok), (ward, vintage), geo.ward, geo)

    xs, ys = np.full(n, np.nan), np.full(n, np.nan)
    if by_lonlat.any():
        lo = to_float(lon)
        la = to_float(lat)
        rows = by_lonlat & v.ok
        v.fail(rows & (np.isnan(lo) | np.isnan(la)),
               lambda i: f"lon/lat ({cell(lon, i)!r}, {cell(lat, i)!r}) are not numbers")
        v.fail(rows & ((np.abs(lo) > 1000) | (np.abs(la) > 1000)),
               lambda i: f"lon/lat ({lo[i]:g}, {la[i]:g}) look like British National Grid easting/northing: "
                         "put them in easting/northing columns")
        minx, miny, maxx, maxy = LONDON_LONLAT
        v.fail(rows & (lo >= miny) & (lo <= maxy) & (la >= minx) & (la <= maxx),
               lambda i: f"lon/lat ({lo[i]:g}, {la[i]:g}) look swapped: longitude is about -0.1 in London, "
                         "latitude about 51.5")
        v.fail(rows & ((np.abs(lo) > 180) | (np.abs(la) > 90)),
               lambda i: f"lon/lat ({lo[i]:g}, {la[i]:g}) are not WGS84 degrees")
        good = rows & v.ok
        xs[good], ys[good] = _TO_BNG.transform(lo[good], la[good])
    if by_en.any():
        e = to_float(east)
        no = to_float(north)
        rows = by_en & v.ok
        v.fail(rows & (np.isnan(e) | np.isnan(no)),
               lambda i: f"easting/northing ({cell(east, i)!r}, {cell(north, i)!r}) are not numbers")
        v.fail(rows & (np.abs(e) <= 180) & (np.abs(no) <= 90),
               lambda i: f"easting/northing ({e[i]:g}, {no[i]:g}) look like lon/lat degrees: put them in lon/lat columns")
        minx, miny, maxx, maxy = BNG_RANGE
        v.fail(rows & ((e < minx) | (e > maxx) | (no < miny) | (no > maxy)),
               lambda i: f"easting/northing ({e[i]:g}, {no[i]:g}) are not British National Grid coordinates")
        good = rows & v.ok
        xs[good], ys[good] = e[good], no[good]
    for i in np.flatnonzero(by_geom & v.ok):
        g = table.geometry[i]  # type: ignore[index]
        if g.geom_type != "Point":
            v.reject(i, f"geometry is a {g.geom_type}; this kind takes one point")
            continue
        try:
            xs[i], ys[i] = lonlat_to_bng(g.x, g.y) if table.epsg == 4326 else check_bng(g.x, g.y)
        except Reject as err:
            v.reject(i, str(err))

    pts = ~np.isnan(xs) & v.ok
    if pts.any():
        idx = np.flatnonzero(pts)
        wards = geo.locate_numbers(xs[idx], ys[idx])
        found = wards >= 0
        for i in idx[~found]:
            lo_, la_ = _TO_BNG.transform(xs[i], ys[i], direction="INVERSE")
            v.reject(i, f"point ({lo_:.5f}, {la_:.5f}) is outside London")
        hit = idx[found]
        out.ward[hit] = wards[found]
        out.borough[hit] = geo.ward_borough_number[wards[found]]
        out.method[hit] = 1  # point
        out.x[hit], out.y[hit] = xs[hit], ys[hit]

    _place_distinct(v, out, np.flatnonzero(by_borough & v.ok), (bcode, bname), geo.borough, geo)
    return out


def _contains(values: pa.Array, text: str) -> np.ndarray:
    """Which cells contain ``text``."""
    return pc.match_substring(values, text).to_numpy(zero_copy_only=False)


def _distinct_keys(keys: Sequence[pa.Array]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Number the distinct combinations of ``keys`` row by row: (each row's number, the combinations)."""
    combined = np.zeros(len(keys[0]), np.int64)
    for k in keys:
        encoded = pc.dictionary_encode(k)
        combined = combined * max(len(encoded.dictionary), 1) + encoded.indices.to_numpy(zero_copy_only=False)
    _, first, number = np.unique(combined, return_index=True, return_inverse=True)
    return number.ravel(), [tuple(cell(k, i) for k in keys) for i in first]


def _place_distinct(v: Verdicts, out: Placed, rows: np.ndarray, keys: Sequence[pa.Array],
                    place: Any, geo: Geography) -> None:
    """Place ``rows`` by ``place(*key)``, called once per distinct key: a Location, or Reject with the reason."""
    if not len(rows):
        return
    number, distinct = _distinct_keys([k.take(pa.array(rows)) for k in keys])
    found: list[Location | str] = []
    for key in distinct:
        try:
            found.append(place(*key))
        except Reject as e:
            found.append(str(e))
    failed = np.array([isinstance(f, str) for f in found])[number]
    at = np.full(len(v.failed), -1)
    at[rows] = number
    bad = np.zeros(len(v.failed), bool)
    bad[rows[failed]] = True
    v.fail(bad, lambda i: found[at[i]])
    good, which = rows[~failed], number[~failed]
    methods = METHODS.to_pylist()
    numbers = {  # per distinct key; -1 where the key was rejected (those rows are not picked)
        "borough": [geo.borough_number[f.borough_code] if isinstance(f, Location) else -1 for f in found],
        "ward": [geo.ward_number[f.ward_code] if isinstance(f, Location) and f.ward_code else -1 for f in found],
        "method": [methods.index(f.method) if isinstance(f, Location) else -1 for f in found]}
    for attr, per_key in numbers.items():
        getattr(out, attr)[good] = np.array(per_key)[which]
