"""What every indicator job shares: reading a file of any accepted format, row-level checks,
placing rows in wards, and the batch / quarantine bookkeeping. See docs/data-contracts.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
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


@dataclass
class SourceTable:
    """A source file as strings: one row per record, with where a person finds each row."""

    path: Path
    frame: pd.DataFrame
    places: list[str]
    geometry: list[Any] | None = None  # shapely geometry per row (vector files), else None
    epsg: int | None = None
    dropped: list[str] = field(default_factory=list)
    #: Rows that could not even be split into the header's columns: quarantined as they are.
    unparsed: list["Rejected"] = field(default_factory=list)
    encoding: str = ""

    def raw(self, i: int) -> dict[str, Any]:
        """The row as read (address columns were dropped on reading, so they are never stored)."""
        row = {k: v for k, v in self.frame.iloc[i].items() if v != ""}
        if self.geometry is not None and self.geometry[i] is not None:
            row["geometry"] = shapely.to_wkt(self.geometry[i], rounding_precision=6)
        return row

    def __len__(self) -> int:
        """Rows parsed into columns (what the checks run over)."""
        return len(self.frame)

    @property
    def rows_read(self) -> int:
        """Every source row: parsed, or not parseable (quarantined as is)."""
        return len(self.frame) + len(self.unparsed)


def read_table(path: Path) -> SourceTable:
    suffix = path.suffix.lower()
    geometry, epsg = None, None
    unparsed: list[Rejected] = []
    encoding = ""
    try:
        if suffix == ".csv":
            frame, places, unparsed, encoding = _read_csv(path)
        elif suffix in (".xlsx", ".xlsm"):
            frame, places = _read_xlsx(path)
        elif suffix in (".geojson", ".json", ".gpkg"):
            gdf = pyogrio.read_dataframe(path)
            epsg = gdf.crs.to_epsg() if gdf.crs is not None else None
            geometry = list(gdf.geometry.values) if "geometry" in gdf else None
            frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore")).apply(lambda col: col.map(_cell_text))
            places = [f"feature {i + 1}" for i in range(len(frame))]
            if geometry is not None and any(g is not None for g in geometry) and epsg not in (4326, 27700):
                raise EtlError(f"{path.name}: geometry CRS must be EPSG:4326 or EPSG:27700 (found "
                               f"{gdf.crs.name if gdf.crs else 'none'})")
        else:
            raise EtlError(f"{path.name}: unsupported file type {suffix!r} (use CSV, XLSX, GeoJSON or GeoPackage)")
    except EtlError:
        raise
    except Exception as e:  # noqa: BLE001 - each reader raises its own kinds; the person needs the file and why
        raise EtlError(f"{path.name}: cannot read it: {e}") from None
    frame.columns = [normalise_column(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        raise EtlError(f"{path.name}: column names repeat after normalising: {list(frame.columns)}")
    dropped = [c for c in frame.columns if ADDRESS_COLUMNS.search(c)]
    frame = frame.drop(columns=dropped)
    if suffix != ".csv":  # the CSV reader has already trimmed, in Arrow
        frame = frame.fillna("").astype(str).apply(lambda col: col.str.strip()).astype(object)
    return SourceTable(path, frame.reset_index(drop=True), places, geometry, epsg, dropped, unparsed, encoding)


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[str], list[Rejected], str]:
    """Every cell as trimmed text ('' for empty), where each row is, the rows that could not be parsed
    (wrong number of fields: quarantined, not fatal), and the encoding used.

    UTF-8 first; a file that is not UTF-8 is read as Windows-1252, which is what Excel's
    "CSV (Comma delimited)" writes (a £ sign is the usual giveaway).
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame, places, ragged = _read_csv_fast(path, encoding)
        except UnicodeDecodeError:
            continue
        except Exception as e:  # noqa: BLE001 - Arrow reports bad UTF-8 as ArrowInvalid
            if "utf" in str(e).lower() and encoding != "cp1252":
                continue
            raise
        if ragged:  # Arrow cannot say where the ragged rows are: read again, slowly but exactly
            frame, places, unparsed = _read_csv_slow(path, encoding)
            return frame, places, unparsed, encoding
        return frame, places, [], encoding
    raise EtlError(f"{path.name}: cannot decode it as UTF-8 or Windows-1252 text")


def _read_csv_fast(path: Path, encoding: str) -> tuple[pd.DataFrame, list[str], int]:
    """Read and trim in Arrow (C++): a million rows in about a second.

    Blank lines are skipped but still counted, so "line n" is the line a person sees in an editor.
    If a quoted value holds a line break, lines and rows no longer match one to one, and rows are
    named "row n" (n-th data row) instead. Returns the count of ragged rows (skipped here).
    """
    import csv as csv_text

    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    with path.open("rb") as f:
        names = next(csv_text.reader([f.readline().decode(encoding)]), [])
    ragged = 0

    def skip(_row: Any) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    table = csv.read_csv(path, read_options=csv.ReadOptions(encoding=encoding),
                         parse_options=csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                                        invalid_row_handler=skip),
                         convert_options=csv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                            strings_can_be_null=False, quoted_strings_can_be_null=False))
    if ragged:
        return pd.DataFrame(), [], ragged
    columns = {n: pc.utf8_trim_whitespace(table.column(n)).to_numpy(zero_copy_only=False) for n in table.column_names}
    # Plain object arrays: pandas 3 would otherwise store Arrow strings and copy on every access.
    frame = pd.DataFrame(columns, dtype=object)
    blank = np.ones(len(frame), bool)
    for n in frame.columns:
        blank &= frame[n].to_numpy() == ""
    line_numbers = np.arange(len(frame)) + 2
    with path.open("rb") as f:
        physical = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        f.seek(-1, 2)
        physical += 0 if f.read(1) == b"\n" else 1
    if physical == len(frame) + 1 or (physical == len(frame) + 2 and blank[-1:].all()):
        places = [f"line {n}" for n in line_numbers[~blank]]
    else:
        places = [f"row {i + 1}" for i in range(int((~blank).sum()))]
    return frame[~blank].reset_index(drop=True), places, 0


def _read_csv_slow(path: Path, encoding: str) -> tuple[pd.DataFrame, list[str], list[Rejected]]:
    """Python's csv module, which knows each record's line: used when some rows are ragged."""
    import csv as csv_text

    rows, places, unparsed = [], [], []
    with path.open(newline="", encoding=encoding) as f:
        reader = csv_text.reader(f)
        header = next(reader, [])
        start = reader.line_num + 1
        for record in reader:
            place = f"line {start}"
            start = reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                unparsed.append(Rejected(place, {"line": ",".join(record)[:2000]},
                                         f"{len(record)} fields where the header has {len(header)}"))
                continue
            rows.append([cell.strip() for cell in record])
            places.append(place)
    return pd.DataFrame(rows, columns=header, dtype=object), places, unparsed


def _read_xlsx(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The first sheet; "line n" is the spreadsheet's row number. A number shown as a percentage
    (cell format with %) is taken as shown: 45% is 45, not 0.45."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows()
        header = [_cell_text(c.value) for c in next(rows, [])]
        width = len(header)
        data, places = [], []
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
                places.append(f"line {number}")
    finally:
        book.close()
    return pd.DataFrame(data, columns=header, dtype=object), places


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
               if not any(c in table.frame.columns for c in g)]
    if missing:
        raise EtlError(f"{table.path.name}: missing column(s) {', '.join(missing)}; "
                       f"found {', '.join(table.frame.columns) or 'none'}")


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
                FROM geo.crosswalk a JOIN geo.crosswalk b ON b.from_vintage = 2018 AND b.to_vintage = 2022
                     AND b.from_code = a.to_code
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
        # LSOA 2011 -> LSOA 2021 -> 2022 ward, for the annual MPS series (about 5,000 rows).
        self.lsoa11_to_ward = pd.DataFrame(conn.execute("""
            SELECT k.lsoa11_code, l.ward_code_2022 AS ward_code, k.weight
            FROM geo.lsoa11_lsoa21 k JOIN geo.lsoa21 l ON l.lsoa_code = k.lsoa21_code""").fetchall(),
            columns=["lsoa11_code", "ward_code", "weight"])

    def locate_codes(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """2022 ward codes of BNG points; None where a point is neither in a ward nor within SNAP_M of one."""
        codes = self.locator.locate_codes(x, y)
        missing = np.flatnonzero(np.equal(codes, None))
        if len(missing):
            pts = shapely.points(x[missing], y[missing])
            near, dist = self._tree.query_nearest(pts, max_distance=SNAP_M, return_distance=True, all_matches=False)
            for point_i, ward_i in zip(near[0], near[1], strict=True):
                codes[missing[point_i]] = self._codes[ward_i]
            self.snapped += len(near[0])
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

class Verdicts:
    """The first reason each row fails, filled check by check; rows with no reason are good."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)

    @property
    def ok(self) -> np.ndarray:
        return np.equal(self.reason, None)

    def fail(self, mask: np.ndarray, message: Any) -> None:
        """Give ``message`` (a string, or a function of the row index) to rows in ``mask`` not yet failed."""
        hit = np.flatnonzero(np.asarray(mask, dtype=bool) & self.ok)
        for i in hit:
            self.reason[i] = message(i) if callable(message) else message

    def rejected(self, table: SourceTable) -> list[Rejected]:
        return [Rejected(table.places[i], table.raw(i), str(self.reason[i])) for i in np.flatnonzero(~self.ok)]


def map_distinct(values: np.ndarray, func: Any, dtype: Any = object) -> np.ndarray:
    """``func`` applied once per distinct value, then spread back (a million rows hold few distinct values)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    mapped = np.array([func(u) for u in uniques], dtype=dtype)
    return mapped[codes] if len(mapped) else np.array([], dtype=dtype)


def object_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A frame keeping text as Python objects (pandas 3 would convert it to Arrow strings, then back)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if np.asarray(v).dtype == object else v
                         for k, v in columns.items()})


def to_float(values: np.ndarray) -> np.ndarray:
    """Text to float64, NaN where a cell is empty or not a number (fast when every cell is a number)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def column(table: SourceTable, name: str) -> np.ndarray:
    return table.frame[name].to_numpy(dtype=object) if name in table.frame.columns else np.full(len(table), "", object)


def check_required_unique(v: Verdicts, table: SourceTable, name: str) -> np.ndarray:
    values = column(table, name)
    v.fail(values == "", f"{name} is empty")
    series = pd.Series(values, dtype=object)
    dup = series.duplicated(keep="first").to_numpy() & (values != "")
    if dup.any():
        first = {val: i for i, val in reversed(list(enumerate(values)))}
        v.fail(dup, lambda i: f"duplicate {name} {values[i]!r} (also at {table.places[first[values[i]]]})")
    return values


def check_choice(v: Verdicts, table: SourceTable, name: str, allowed: Sequence[str],
                 aliases: dict[str, str] | None = None) -> np.ndarray:
    raw = column(table, name)
    # Normalise each distinct spelling once, then map: a million rows hold only a few spellings.
    values = map_distinct(raw, lambda d: (aliases or {}).get(normalise_column(d), normalise_column(d)))
    bad = ~np.isin(values, list(allowed))
    v.fail(bad, lambda i: f"{name} {raw[i]!r} is not one of {', '.join(allowed)}" if raw[i] else f"{name} is empty")
    return values


def check_dates(v: Verdicts, table: SourceTable, name: str, today: date) -> np.ndarray:
    """Dates as numpy datetime64[D] (NaT where bad)."""
    raw = pd.Series(column(table, name), dtype=object)
    parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    other = parsed.isna() & (raw != "")
    if other.any():
        parsed[other] = pd.to_datetime(raw[other], format="%d/%m/%Y", errors="coerce")
    values = parsed.to_numpy().astype("datetime64[D]")
    v.fail(raw.to_numpy() == "", f"{name} is empty")
    bad = np.isnat(values)
    v.fail(bad, lambda i: f"{name} {raw[i]!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
    v.fail(~bad & (values > np.datetime64(today, "D")), lambda i: f"{name} {values[i]} is in the future")
    v.fail(~bad & (values < np.datetime64(EARLIEST, "D")), lambda i: f"{name} {values[i]} is before 2000")
    return values


def synthetic_flags(table: SourceTable) -> np.ndarray:
    return map_distinct(column(table, "synthetic"), lambda d: d.lower() in ("true", "1", "yes", "y", "t"), bool)


@dataclass
class Placed:
    """Per-row location arrays (2022 ward codes; EPSG:27700 points; NaN where no point)."""

    borough_code: np.ndarray
    ward_code: np.ndarray
    method: np.ndarray
    x: np.ndarray
    y: np.ndarray


def locate_single(v: Verdicts, table: SourceTable, geo: Geography) -> Placed:
    """One location per row, by the contract's order of preference, vectorised over the file."""
    n = len(table)
    out = Placed(np.full(n, None, object), np.full(n, None, object), np.full(n, None, object),
                 np.full(n, np.nan), np.full(n, np.nan))
    ward, vintage = column(table, "ward_code"), column(table, "ward_vintage")
    lon, lat = column(table, "lon"), column(table, "lat")
    east, north = column(table, "easting"), column(table, "northing")
    bcode, bname = column(table, "borough_code"), column(table, "borough")
    several = _contains(ward, ";") | _contains(lon, ";") | _contains(east, ";")
    v.fail(several, "several locations given (separated by ';'); this kind takes one location")
    by_ward = ward != ""
    by_lonlat = ~by_ward & ((lon != "") | (lat != ""))
    by_en = ~by_ward & ~by_lonlat & ((east != "") | (north != ""))
    by_geom = np.zeros(n, bool)
    if table.geometry is not None:
        by_geom = ~by_ward & ~by_lonlat & ~by_en & np.array([g is not None for g in table.geometry])
    by_borough = ~by_ward & ~by_lonlat & ~by_en & ~by_geom & ((bcode != "") | (bname != ""))
    v.fail(~(by_ward | by_lonlat | by_en | by_geom | by_borough),
           "no location: give ward_code (+ ward_vintage), lon/lat, easting/northing or borough_code")

    cache: dict[tuple[str, str], Location | str] = {}
    for i in np.flatnonzero(by_ward & v.ok):
        key = (ward[i], vintage[i])
        if key not in cache:
            try:
                cache[key] = geo.ward(*key)
            except Reject as e:
                cache[key] = str(e)
        _put(v, out, i, cache[key])

    xs, ys = np.full(n, np.nan), np.full(n, np.nan)
    if by_lonlat.any():
        lo = to_float(lon)
        la = to_float(lat)
        rows = by_lonlat & v.ok
        v.fail(rows & (np.isnan(lo) | np.isnan(la)), lambda i: f"lon/lat ({lon[i]!r}, {lat[i]!r}) are not numbers")
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
        v.fail(rows & (np.isnan(e) | np.isnan(no)), lambda i: f"easting/northing ({east[i]!r}, {north[i]!r}) are not numbers")
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
            v.fail(np.arange(n) == i, f"geometry is a {g.geom_type}; this kind takes one point")
            continue
        try:
            xs[i], ys[i] = lonlat_to_bng(g.x, g.y) if table.epsg == 4326 else check_bng(g.x, g.y)
        except Reject as err:
            v.fail(np.arange(n) == i, str(err))

    pts = ~np.isnan(xs) & v.ok
    if pts.any():
        idx = np.flatnonzero(pts)
        codes = geo.locate_codes(xs[idx], ys[idx])
        found = ~np.equal(codes, None)
        for i in idx[~found]:
            lo_, la_ = _TO_BNG.transform(xs[i], ys[i], direction="INVERSE")
            v.reason[i] = f"point ({lo_:.5f}, {la_:.5f}) is outside London"
        hit = idx[found]
        out.ward_code[hit] = codes[found]
        out.borough_code[hit] = map_distinct(codes[found], geo.ward_borough.get)
        out.method[hit] = "point"
        out.x[hit], out.y[hit] = xs[hit], ys[hit]

    for i in np.flatnonzero(by_borough & v.ok):
        key = (bcode[i], bname[i])
        if key not in cache:
            try:
                cache[key] = geo.borough(*key)  # type: ignore[index]
            except Reject as e:
                cache[key] = str(e)
        _put(v, out, i, cache[key])
    return out


def _contains(values: np.ndarray, text: str) -> np.ndarray:
    """Which cells contain ``text``; one join answers 'none' for a million cells in milliseconds."""
    if text not in "".join(values):
        return np.zeros(len(values), bool)
    return np.array([text in s for s in values], dtype=bool)


def _put(v: Verdicts, out: Placed, i: int, found: Location | str) -> None:
    if isinstance(found, str):
        v.reason[i] = found
    else:
        out.borough_code[i], out.ward_code[i], out.method[i] = found.borough_code, found.ward_code, found.method

