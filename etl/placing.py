"""Placing rows in 2022 wards, by the contract's order of preference: ward code (older vintages carried
to 2022 through the crosswalk), WGS84 lon/lat, British National Grid easting/northing, a point geometry,
then borough only. :func:`locate_single` does it vectorised for one location per row (closures,
seizures); :func:`row_locations` row by row for kinds with several (disruptions). docs/data-contracts.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import Transformer

from etl.checks import Verdicts, cell, filled, text, to_float
from etl.errors import EtlError, Reject
from etl.queries import query
from etl.readers import SourceTable
from harmmap.domain import CURRENT_VINTAGE, VINTAGES
from harmmap.locate import WardLocator

WARD_CODE = re.compile(r"^E05\d{6}$")
#: The 2022 wards are clipped to the river bank: a point on a bridge or the Thames lies in no ward.
#: Such a point within this many metres of a ward goes to the nearest ward (counted in batch notes).
SNAP_M = 200.0
# Generous boxes: a WGS84 point in London, and British National Grid's valid range.
LONDON_LONLAT = (-0.6, 51.25, 0.4, 51.75)
BNG_RANGE = (0, 0, 700_000, 1_300_000)
_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


# --- geography, and one location from its parts -------------------------------------------------------

@dataclass
class Location:
    """Where one record is: a 2022 ward (and its borough), or a borough only."""

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
        for r in conn.execute(query("geography_wards")):
            self.ward_codes.setdefault(r["vintage"], set()).add(r["ward_code"])
            if r["vintage"] == CURRENT_VINTAGE:
                self.ward_borough[r["ward_code"]] = r["borough_code"]
        if not self.ward_borough:
            raise EtlError("no 2022 wards are loaded: run `harmmap geo load` first")
        # An older ward code goes whole to the 2022 ward with most of its residents.
        self.to_current: dict[tuple[int, str], str] = {}
        best = conn.execute(query("geography_to_current"))
        for r in best:
            self.to_current[(r["vintage"], r["from_code"])] = r["to_code"]
        self.boroughs = {r["borough_code"]: r["borough_name"] for r in
                         conn.execute(query("geography_boroughs"))}
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
        self.lsoa11_to_ward = pd.DataFrame(conn.execute(query("geography_lsoa11_to_ward")).fetchall(),
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
        """A ward code of a vintage (empty: 2022), carried to its 2022 ward. Raises Reject."""
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
        """A borough by GSS code, or by name (spelling of "and"/"&", case and spaces forgiven). Raises Reject."""
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
    """Check an easting/northing pair a person typed (metres, EPSG:27700). Raises Reject naming the likely mistake."""
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


# --- vectorised location (the fast path for large single-location files) ------------------------

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
    out = empty_placed(n)
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
        lonlat_points(v, lon, lat, by_lonlat, xs, ys)
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

    place_points(v, xs, ys, geo, out)
    _place_distinct(v, out, np.flatnonzero(by_borough & v.ok), (bcode, bname), geo.borough, geo)
    return out


def empty_placed(n: int) -> Placed:
    """``n`` rows placed nowhere yet."""
    return Placed(np.full(n, -1, np.int32), np.full(n, -1, np.int32), np.full(n, -1, np.int8),
                  np.full(n, np.nan), np.full(n, np.nan))


def lonlat_points(v: Verdicts, lon: pa.Array, lat: pa.Array, rows: np.ndarray, xs: np.ndarray,
                  ys: np.ndarray) -> None:
    """Check the WGS84 pairs of ``rows`` (a mask) as a person typed them and put the good ones, in British
    National Grid metres, into ``xs``/``ys``; a pair that is not numbers, is swapped, or is easting/northing
    given as degrees fails its row with a reason that names the likely mistake."""
    lo = to_float(lon)
    la = to_float(lat)
    rows = rows & v.ok
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


def place_points(v: Verdicts, xs: np.ndarray, ys: np.ndarray, geo: Geography, out: Placed) -> None:
    """Place the rows with a BNG point (not NaN) that have not failed in their 2022 wards; a point in no
    ward and more than SNAP_M from every ward fails: ``point (lon, lat) is outside London``."""
    pts = ~np.isnan(xs) & v.ok
    if not pts.any():
        return
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
