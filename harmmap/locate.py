"""Locate many points in wards, exactly and fast: a grid of decided cells in front of an exact test.

Everything is in EPSG:27700 (British National Grid, metres): eastings and northings in, ward
indices or GSS ward codes out. A point is "in" a ward when the ward *intersects* it, so a point on a
ward's edge counts; a point on an edge shared by several wards goes to the lowest ward index, which
makes every answer deterministic and equal to a brute-force loop over the wards.

Why a grid works: London's wards are large (2 km² on average) next to a 50-100 m cell, so most
points fall in a cell that no ward boundary touches. Such a cell lies wholly inside one ward (or
wholly outside all wards) and its answer is decided once, when the grid is built; a point there
costs one array lookup. Only the few points in cells that a boundary touches go on to an exact
point-in-polygon test, and then only against the wards whose boundaries touch that cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
import shapely

from harmmap import db

#: Cell value meaning "no ward intersects any point of this cell". Ward cells hold the ward index
#: (>= 0); a cell that a boundary touches holds ``-2 - k``, where ``k`` is its row in the candidate table.
OUTSIDE = -1

#: Boundaries are widened by this much (metres) before they mark cells. Rounding errors in the
#: cell arithmetic are about 1e-10 m at London's coordinates, so a millimetre is a wide margin.
_MARGIN_M = 1e-3

#: Largest grid built (4 bytes a cell): 1 GiB.
_MAX_CELLS = 2**28

#: Above this many point-ward pairs per ward, exact tests are grouped by ward (see _intersects_pairs).
_PAIRS_PER_WARD_TO_GROUP = 64



class WardLocator:
    """Point-in-ward location for one set of ward polygons (one vintage), built once and reused.

    Build with :meth:`from_geometries` or :meth:`from_db`, then call :meth:`locate` (indices) or
    :meth:`locate_codes` (GSS codes) with arrays of eastings and northings in EPSG:27700.

    Attributes
    ----------
    codes : numpy.ndarray
        Ward codes (str); ``codes[i]`` is the ward of polygon ``i`` and of answer ``i``.
    geoms : numpy.ndarray
        The ward polygons (shapely, EPSG:27700), prepared for repeated point tests.
    cell_m : float
        Grid cell side in metres.

    Notes
    -----
    The grid covers the wards' bounding box with square cells of ``cell_m``. A cell is *decided*
    when no ward boundary (outer rings and holes, widened by 1 mm) touches it: every point in it is
    then inside the same set of wards, so the lowest index of that set (or ``-1``) is stored for the
    whole cell. Decided cells are labelled a row-run at a time: consecutive decided cells in a grid
    row form a box that no boundary touches, so one exact test of one point labels the whole run.

    A cell that a boundary touches keeps a short candidate list: the wards whose boundaries touch
    it, plus the lowest ward that contains the whole cell (which only happens where wards overlap).
    A point there is tested exactly (``shapely.intersects_xy``) against those candidates only.

    Cost, for ``V`` boundary vertices, boundary length ``L``, grid cells ``G`` and ``n`` points:
    building is ``O(V + L / cell_m + G)`` plus one exact test per row-run; locating is ``O(n)``
    array work plus about two exact tests (``O(log V)`` each) per point in a boundary cell. With the
    704 wards of 2022, about 22% of points uniform over London fall in a boundary cell with 100 m
    cells and 12% with 50 m cells; a million points take about 0.1 s and the grid builds in about
    0.1 s (see ``bench/RESULTS.md``).
    """

    codes: np.ndarray
    geoms: np.ndarray
    cell_m: float

    def __init__(self, codes: np.ndarray, geoms: np.ndarray, cell_m: float, origin: tuple[float, float],
                 cells: np.ndarray, cand_ptr: np.ndarray, cand_ward: np.ndarray, cand_base: np.ndarray) -> None:
        self.codes = codes
        self.geoms = geoms
        self.cell_m = cell_m
        self._x0, self._y0 = origin
        self._cells = cells                  # (ny, nx) int32: ward index, OUTSIDE, or -2 - candidate row
        self._flat = cells.ravel()
        self._cand_ptr = cand_ptr            # candidate row k: cand_ward[cand_ptr[k]:cand_ptr[k + 1]]
        self._cand_ward = cand_ward          # ascending ward indices whose boundaries touch the cell
        self._cand_base = cand_base          # lowest ward containing the whole cell, or OUTSIDE

    # --- building -------------------------------------------------------------------------------

    @classmethod
    def from_geometries(cls, codes: Sequence[str] | np.ndarray, geoms: Sequence[Any] | np.ndarray,
                        cell_m: float = 100.0) -> WardLocator:
        """Build a locator from ward codes and their polygons.

        Parameters
        ----------
        codes : sequence of str
            Ward codes, one per polygon, in the order answers should index them.
        geoms : sequence of shapely Polygon or MultiPolygon
            Valid ward polygons in EPSG:27700 (metres). Holes are respected. ``None`` or empty
            geometries are allowed and never match a point. The geometries are prepared in place
            (``shapely.prepare``), which only makes later predicates on them faster.
        cell_m : float, default 100.0
            Grid cell side in metres. Smaller cells send fewer points to the exact test but make a
            larger grid (``4 * area_of_bbox / cell_m**2`` bytes); 25-100 m suits London wards.

        Returns
        -------
        WardLocator
        """
        codes_arr = np.asarray(codes, dtype=object).astype(str)
        geom_arr = np.asarray(geoms, dtype=object)
        if codes_arr.ndim != 1 or geom_arr.ndim != 1 or len(codes_arr) != len(geom_arr):
            raise ValueError(f"need one code per geometry: {codes_arr.shape} codes, {geom_arr.shape} geometries")
        if not cell_m > 0 or not np.isfinite(cell_m):
            raise ValueError(f"cell_m must be a positive number of metres, not {cell_m!r}")
        bad = ~(shapely.is_missing(geom_arr) | np.isin(shapely.get_type_id(geom_arr), (3, 6)))
        if bad.any():
            raise ValueError(f"ward {codes_arr[bad][0]!r} is not a Polygon or MultiPolygon")
        geom_arr = np.where(shapely.is_missing(geom_arr), shapely.from_wkt("POLYGON EMPTY"), geom_arr)
        shapely.prepare(geom_arr)
        cell_m = float(cell_m)

        present = ~shapely.is_empty(geom_arr)
        if not present.any():  # nothing to find: a 1x1 grid that answers OUTSIDE everywhere
            return cls(codes_arr, geom_arr, cell_m, (0.0, 0.0), np.full((1, 1), OUTSIDE, np.int32),
                       np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))
        minx, miny, maxx, maxy = shapely.total_bounds(geom_arr[present])
        x0, y0 = float(minx), float(miny)
        # floor((max - origin) / cell) + 1 cells: every coordinate <= max lands inside the grid
        nx = int(np.floor((maxx - x0) / cell_m)) + 1
        ny = int(np.floor((maxy - y0) / cell_m)) + 1
        if nx * ny > _MAX_CELLS:
            raise ValueError(f"a {cell_m:g} m grid over {maxx - minx:,.0f} x {maxy - miny:,.0f} m would have "
                             f"{nx * ny:,} cells; use larger cells (or check the geometries are in metres)")

        touched_cell, touched_ward = _boundary_cells(geom_arr, x0, y0, cell_m, nx, ny)
        cells = np.empty(ny * nx, np.int32)
        decided = np.ones(ny * nx, bool)
        decided[touched_cell] = False

        tree = shapely.STRtree(geom_arr)
        cells[decided] = _label_runs(tree, geom_arr, decided, x0, y0, cell_m, nx)

        # Boundary cells: candidate rows in cell order (touched_cell is sorted, with repeats)
        first = np.flatnonzero(np.r_[True, touched_cell[1:] != touched_cell[:-1]])
        rows_cell = touched_cell[first]
        cand_ptr = np.append(first, len(touched_cell)).astype(np.int64)
        cand_base = _whole_cell_base(tree, geom_arr, rows_cell, touched_cell, touched_ward,
                                     x0, y0, cell_m, nx)
        # Candidates at or above the base can never win (the base always intersects): drop them.
        keep = touched_ward < np.repeat(np.where(cand_base < 0, np.iinfo(np.int32).max, cand_base),
                                        np.diff(cand_ptr))
        cand_ward = touched_ward[keep].astype(np.int32)
        cand_ptr = np.concatenate([[0], np.cumsum(np.add.reduceat(keep.astype(np.int64), first))])
        cells[rows_cell] = -2 - np.arange(len(rows_cell), dtype=np.int32)
        return cls(codes_arr, geom_arr, cell_m, (x0, y0), cells.reshape(ny, nx),
                   cand_ptr.astype(np.int64), cand_ward, cand_base.astype(np.int32))

    @classmethod
    def from_db(cls, conn: psycopg.Connection, vintage: int = 2022, cell_m: float = 100.0) -> WardLocator:
        """Build a locator from ``geo.ward`` (EPSG:27700) for one ward vintage, wards in code order.

        Raises
        ------
        LookupError
            If the database holds no wards of that vintage (reference data not loaded).
        """
        rows = conn.execute(db.query("ward_geometries"), {"vintage": vintage}).fetchall()
        if not rows:
            raise LookupError(f"no {vintage} wards in geo.ward -- run `harmmap geo load` first")
        codes = [r["ward_code"] for r in rows]
        geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows])
        return cls.from_geometries(codes, geoms, cell_m=cell_m)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """Rows and columns of the grid (northing, easting)."""
        return self._cells.shape

    @property
    def boundary_share(self) -> float:
        """Share of grid cells that a ward boundary touches (points there get an exact test)."""
        return float((self._cells <= -2).mean())

    # --- locating -------------------------------------------------------------------------------

    def locate(self, x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> np.ndarray:
        """The ward index of each point, ``-1`` where no ward intersects it.

        Parameters
        ----------
        x, y : array_like of float
            Eastings and northings in EPSG:27700 (metres), of the same shape. NaN or infinite
            coordinates give ``-1``.

        Returns
        -------
        numpy.ndarray of int32
            Same shape as ``x``. A point on an edge shared by several wards gets the lowest index.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"x and y differ in shape: {x.shape} and {y.shape}")
        shape = x.shape
        x, y = x.ravel(), y.ravel()
        ny, nx = self._cells.shape
        fx = (x - self._x0) / self.cell_m
        fy = (y - self._y0) / self.cell_m
        # NaN fails every comparison, so NaN and +-inf fall out here with points off the grid
        on_grid = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        out = np.full(len(x), OUTSIDE, np.int32)
        if on_grid.all():
            out = self._flat[fy.astype(np.intp) * nx + fx.astype(np.intp)]  # truncation == floor here
        else:
            idx = np.flatnonzero(on_grid)
            out[idx] = self._flat[fy[idx].astype(np.intp) * nx + fx[idx].astype(np.intp)]
        pending = np.flatnonzero(out <= -2)
        if len(pending):
            out[pending] = self._exact(x[pending], y[pending], -2 - out[pending])
        return out.reshape(shape)

    def locate_codes(self, x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> np.ndarray:
        """The ward code of each point (object array), ``None`` where no ward intersects it.

        Same arguments and tie rule as :meth:`locate`.
        """
        found = self.locate(x, y)
        codes = np.empty(found.shape, dtype=object)
        hit = found >= 0
        codes[hit] = self.codes[found[hit]]
        return codes

    def _exact(self, x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact answers for points in boundary cells ``rows``: lowest intersecting candidate, else the base."""
        start = self._cand_ptr[rows]
        count = self._cand_ptr[rows + 1] - start
        answer = self._cand_base[rows].copy()
        point = np.repeat(np.arange(len(rows)), count)              # pairs sorted by point, then ward
        offset = np.arange(len(point)) - np.repeat(np.cumsum(count) - count, count)
        ward = self._cand_ward[np.repeat(start, count) + offset]
        hit = _intersects_pairs(self.geoms, ward, x[point], y[point])
        hit_point, hit_ward = point[hit], ward[hit]
        first = np.ones(len(hit_point), bool)                        # first hit per point = lowest ward
        first[1:] = hit_point[1:] != hit_point[:-1]
        answer[hit_point[first]] = hit_ward[first]
        return answer


# --- building blocks -------------------------------------------------------------------------------

def _intersects_pairs(geoms: np.ndarray, ward: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``geoms[ward[i]]`` intersects point ``(x[i], y[i])``.

    Few pairs: one call over all of them. Many: one call per ward, so each polygon's prepared index
    stays in cache for its points (measured faster from about 50 pairs per ward on London's wards).
    """
    if len(ward) == 0 or len(ward) < _PAIRS_PER_WARD_TO_GROUP * len(geoms):
        return shapely.intersects_xy(geoms[ward], x, y)
    result = np.zeros(len(ward), bool)
    order = np.argsort(ward, kind="stable")
    sorted_ward = ward[order]
    bounds = np.flatnonzero(np.diff(sorted_ward)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(order)]):
        sel = order[lo:hi]
        result[sel] = shapely.intersects_xy(geoms[sorted_ward[lo]], x[sel], y[sel])
    return result


def _lowest_intersecting(tree: shapely.STRtree, geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brute force through the STRtree: lowest index of a ward intersecting each point, else OUTSIDE."""
    point, ward = tree.query(shapely.points(x, y))               # bounding boxes only
    hit = _intersects_pairs(geoms, ward, x[point], y[point])
    answer = np.full(len(x), np.iinfo(np.int32).max, np.int64)
    np.minimum.at(answer, point[hit], ward[hit])
    answer[answer == np.iinfo(np.int32).max] = OUTSIDE
    return answer.astype(np.int32)


def _boundary_cells(geoms: np.ndarray, x0: float, y0: float, cell_m: float, nx: int, ny: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Every (cell, ward) where the ward's boundary, widened by ``_MARGIN_M``, touches the cell.

    Returned sorted by cell, then ward, without repeats. Segments are cut into pieces no longer
    than one cell in x and in y, so each piece's widened box spans at most 3 x 3 cells; marking the
    whole box is conservative (a cell may be marked that the piece misses: it only costs speed).
    """
    parts, part_ward = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    seg_ward = part_ward[ring_part[ring[:-1][same]]]
    ax, ay = xy[:-1][same, 0], xy[:-1][same, 1]
    bx, by = xy[1:][same, 0], xy[1:][same, 1]

    pieces = np.maximum(1, np.ceil(np.maximum(np.abs(bx - ax), np.abs(by - ay)) / cell_m)).astype(np.int64)
    seg = np.repeat(np.arange(len(ax)), pieces)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t0, t1 = k / pieces[seg], (k + 1) / pieces[seg]
    dx, dy = (bx - ax)[seg], (by - ay)[seg]
    px0, px1 = ax[seg] + t0 * dx, ax[seg] + t1 * dx
    py0, py1 = ay[seg] + t0 * dy, ay[seg] + t1 * dy
    ix_lo = _cell_of(np.minimum(px0, px1) - _MARGIN_M, x0, cell_m, nx)
    ix_hi = _cell_of(np.maximum(px0, px1) + _MARGIN_M, x0, cell_m, nx)
    iy_lo = _cell_of(np.minimum(py0, py1) - _MARGIN_M, y0, cell_m, ny)
    iy_hi = _cell_of(np.maximum(py0, py1) + _MARGIN_M, y0, cell_m, ny)
    ward = seg_ward[seg]

    nwards = len(geoms)
    keys = []
    for di in range(3):
        for dj in range(3):
            m = (ix_lo + di <= ix_hi) & (iy_lo + dj <= iy_hi)
            cell = (iy_lo[m] + dj) * nx + (ix_lo[m] + di)
            keys.append(cell * nwards + ward[m])
    key = np.sort(np.concatenate(keys))
    key = key[np.r_[True, key[1:] != key[:-1]]]
    return key // nwards, key % nwards


def _cell_of(v: np.ndarray, origin: float, cell_m: float, n: int) -> np.ndarray:
    """Grid column (or row) of coordinates, clipped to the grid: the same arithmetic as locate()."""
    return np.clip(np.floor((v - origin) / cell_m), 0, n - 1).astype(np.int64)


def _label_runs(tree: shapely.STRtree, geoms: np.ndarray, decided: np.ndarray,
                x0: float, y0: float, cell_m: float, nx: int) -> np.ndarray:
    """Labels of the decided cells (in flat order): one exact test per run of decided cells in a row."""
    flat = np.flatnonzero(decided)
    starts = np.ones(len(flat), bool)
    starts[1:] = (flat[1:] != flat[:-1] + 1) | (flat[1:] % nx == 0)
    first = flat[starts]
    cx = x0 + (first % nx + 0.5) * cell_m
    cy = y0 + (first // nx + 0.5) * cell_m
    run_label = _lowest_intersecting(tree, geoms, cx, cy)
    return run_label[np.cumsum(starts) - 1]


def _whole_cell_base(tree: shapely.STRtree, geoms: np.ndarray, rows_cell: np.ndarray, touched_cell: np.ndarray,
                     touched_ward: np.ndarray, x0: float, y0: float, cell_m: float, nx: int) -> np.ndarray:
    """For each boundary cell, the lowest ward containing the whole cell (its boundary misses it), else OUTSIDE.

    A ward whose boundary does not touch a cell holds all of the cell or none of it, so the cell's
    centre decides. With wards that do not overlap this is OUTSIDE everywhere, but nothing here
    assumes it.
    """
    cx = x0 + (rows_cell % nx + 0.5) * cell_m
    cy = y0 + (rows_cell // nx + 0.5) * cell_m
    row, ward = tree.query(shapely.points(cx, cy))               # bounding boxes only
    nwards = len(geoms)
    touching = np.searchsorted(rows_cell, touched_cell) * nwards + touched_ward   # sorted
    key = row * nwards + ward
    pos = np.minimum(np.searchsorted(touching, key), max(len(touching) - 1, 0))
    other = touching[pos] != key if len(touching) else np.ones(len(key), bool)
    row, ward = row[other], ward[other]
    hit = _intersects_pairs(geoms, ward, cx[row], cy[row])
    base = np.full(len(rows_cell), np.iinfo(np.int32).max, np.int64)
    np.minimum.at(base, row[hit], ward[hit])
    base[base == np.iinfo(np.int32).max] = OUTSIDE
    return base
