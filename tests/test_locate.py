"""WardLocator: small cases checked by hand, a randomized comparison with brute force, and real wards vs PostGIS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from harmmap import db, locate
from harmmap.locate import WardLocator

NAN = float("nan")


def brute_force(geoms: list, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lowest index of a ward that intersects each point, -1 for none: the definition, one ward at a time."""
    points = shapely.points(np.asarray(x, float), np.asarray(y, float))
    answer = np.full(len(points), -1)
    for i in reversed(range(len(geoms))):
        answer[shapely.intersects(geoms[i], points)] = i
    return answer


def locator(geoms: list, cell_m: float) -> WardLocator:
    return WardLocator.from_geometries([f"W{i}" for i in range(len(geoms))], geoms, cell_m=cell_m)


# --- two adjacent squares -----------------------------------------------------------------------------

SQUARES = [box(0, 0, 100, 100), box(100, 0, 200, 100)]


@pytest.mark.parametrize("cell_m", [10, 30, 100, 1000])
def test_point_in_each_square_finds_that_square(cell_m: float) -> None:
    loc = locator(SQUARES, cell_m)
    assert loc.locate([50, 150, 0.5, 199.5], [50, 50, 99.5, 0.5]).tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("cell_m", [10, 30, 100, 1000])
def test_point_on_shared_edge_goes_to_lowest_index(cell_m: float) -> None:
    loc = locator(SQUARES, cell_m)
    assert loc.locate([100, 100, 100], [50, 0, 100]).tolist() == [0, 0, 0]
    swapped = locator(SQUARES[::-1], cell_m)   # the same edge, now the right square is ward 0
    assert swapped.locate([100, 100], [50, 0]).tolist() == [0, 0]
    assert swapped.locate([50, 150], [50, 50]).tolist() == [1, 0]


@pytest.mark.parametrize("cell_m", [10, 1000])
def test_point_on_outer_edge_is_inside_and_beyond_it_is_outside(cell_m: float) -> None:
    loc = locator(SQUARES, cell_m)
    assert loc.locate([0, 200, 50, 200.001, -0.001, 50, 1e7], [50, 50, 100, 50, 50, 100.001, 50]).tolist() == \
        [0, 1, 0, -1, -1, -1, -1]


def test_nan_and_infinite_coordinates_are_in_no_ward() -> None:
    loc = locator(SQUARES, 10)
    x = [NAN, 50, NAN, np.inf, -np.inf, 50]
    y = [50, NAN, NAN, 50, 50, np.inf]
    assert loc.locate(x, y).tolist() == [-1] * 6


def test_codes_are_returned_with_none_for_no_ward() -> None:
    loc = WardLocator.from_geometries(["E05000001", "E05000002"], SQUARES, cell_m=25)
    assert loc.locate_codes([50, 150, 500, NAN], [50, 50, 50, 0]).tolist() == ["E05000001", "E05000002", None, None]


def test_empty_input_gives_empty_answer() -> None:
    assert locator(SQUARES, 10).locate(np.array([]), np.array([])).shape == (0,)


def test_answer_keeps_the_shape_of_the_input() -> None:
    x = np.array([[50, 150], [500, 100]])
    y = np.array([[50, 50], [50, 50]])
    assert locator(SQUARES, 10).locate(x, y).tolist() == [[0, 1], [-1, 0]]


def test_mismatched_shapes_or_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        locator(SQUARES, 10).locate([1, 2], [1])
    with pytest.raises(ValueError, match="one code per geometry"):
        WardLocator.from_geometries(["a"], SQUARES)
    with pytest.raises(ValueError, match="Polygon"):
        WardLocator.from_geometries(["a"], [shapely.Point(0, 0)])


def test_missing_or_empty_wards_match_nothing() -> None:
    empty = shapely.from_wkt("POLYGON EMPTY")
    loc = locator([None, SQUARES[1], empty], 10)
    assert loc.locate([50, 150, 0], [50, 50, 0]).tolist() == [-1, 1, -1]
    assert locator([None, empty], 10).locate([0, 1], [0, 1]).tolist() == [-1, -1]


def test_a_grid_too_large_for_memory_is_refused() -> None:
    with pytest.raises(ValueError, match="use larger cells"):
        locator([box(0, 0, 1e6, 1e6)], 0.01)


# --- holes, multipolygons, small wards, overlaps ------------------------------------------------------

RING = Polygon([(0, 0), (300, 0), (300, 300), (0, 300)], [[(100, 100), (200, 100), (200, 200), (100, 200)]])


@pytest.mark.parametrize("cell_m", [7, 50, 500])
def test_point_in_a_hole_is_in_no_ward_unless_a_ward_fills_the_hole(cell_m: float) -> None:
    assert locator([RING], cell_m).locate([150, 50, 100], [150, 50, 150]).tolist() == [-1, 0, 0]
    filled = locator([RING, box(100, 100, 200, 200)], cell_m)
    assert filled.locate([150, 50, 100, 199.99], [150, 50, 150, 150]).tolist() == [1, 0, 0, 1]


@pytest.mark.parametrize("cell_m", [10, 100, 5000])
def test_both_parts_of_a_multipolygon_ward_are_that_ward(cell_m: float) -> None:
    wards = [box(2000, 0, 2100, 100), MultiPolygon([box(0, 0, 100, 100), box(1000, 1000, 1100, 1100)])]
    loc = locator(wards, cell_m)
    assert loc.locate([50, 1050, 500, 2050, 1100], [50, 1050, 500, 50, 1000]).tolist() == [1, 1, -1, 0, 1]


@pytest.mark.parametrize("cell_m", [100, 1000])
def test_ward_smaller_than_a_cell_is_found(cell_m: float) -> None:
    tiny = box(450.2, 450.2, 450.7, 450.7)
    around = box(0, 0, 900, 900).difference(tiny)
    loc = locator([around, tiny, box(5000, 5000, 5000.5, 5000.5)], cell_m)
    x = [450.5, 450.1, 450.2, 5000.25, 5000.6, 10]
    y = [450.5, 450.5, 450.5, 5000.25, 5000.25, 10]
    assert loc.locate(x, y).tolist() == [1, 0, 0, 2, -1, 0]


@pytest.mark.parametrize("cell_m", [10, 100])
def test_overlapping_wards_give_the_lowest_index(cell_m: float) -> None:
    big, small = box(0, 0, 1000, 1000), box(200, 200, 800, 800)
    assert locator([big, small], cell_m).locate([500, 100, 200], [500, 100, 500]).tolist() == [0, 0, 0]
    assert locator([small, big], cell_m).locate([500, 100, 200, 2000], [500, 100, 500, 0]).tolist() == [0, 1, 0, -1]


# --- randomized: agrees with brute force everywhere -------------------------------------------------

def random_wards(rng: np.random.Generator, n: int = 40) -> list:
    """A Voronoi tessellation of a 10 x 8 km box, with holes: some left empty, some filled by their own ward."""
    frame = box(500_000, 170_000, 510_000, 178_000)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(500_000, 510_000, n), rng.uniform(170_000, 178_000, n)]))
    cells = [c.intersection(frame) for c in shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))]
    wards, islands = [], []
    for i, cell in enumerate(cells):
        if i % 5 == 0:
            hole = cell.centroid.buffer(rng.uniform(20, 300), quad_segs=4).intersection(cell.buffer(-10))
            cell = cell.difference(hole)
            if i % 10 == 0 and not hole.is_empty:
                islands.append(hole)
        wards.append(cell)
    order = rng.permutation(len(wards) + len(islands))   # islands are not always the higher indices
    return [(wards + islands)[k] for k in order]


@pytest.mark.parametrize("cell_m", [25, 137.5, 1000])
@pytest.mark.parametrize("group_from", [0, 10**9], ids=["tests-grouped-by-ward", "tests-in-one-call"])
def test_random_points_agree_exactly_with_brute_force(cell_m: float, group_from: int, monkeypatch) -> None:
    monkeypatch.setattr(locate, "_PAIRS_PER_WARD_TO_GROUP", group_from)   # both ways of running exact tests
    rng = np.random.default_rng(20240501)
    wards = random_wards(rng)
    assert all(w.is_valid for w in wards)
    n = 20_000
    x = rng.uniform(499_500, 510_500, n)
    y = rng.uniform(169_500, 178_500, n)
    # plus points exactly on boundaries (every ring vertex) and a few NaNs
    vertices = shapely.get_coordinates(shapely.boundary(np.array(wards, dtype=object)))
    x = np.concatenate([x, vertices[:, 0], [NAN, 500_100]])
    y = np.concatenate([y, vertices[:, 1], [170_100, NAN]])

    expected = brute_force([shapely.from_wkb(w.wkb) for w in wards], x, y)   # copies: never prepared
    got = locator(wards, cell_m).locate(x, y)
    assert (got == expected).all(), f"{(got != expected).sum()} of {len(x)} points differ"
    assert 0.7 < (expected[:n] >= 0).mean() < 0.9 and len(set(expected[n:])) > 10   # the test does cover wards


# --- the real 2022 wards against PostGIS ------------------------------------------------------------

@pytest.mark.db
def test_real_wards_agree_with_postgis_st_intersects(settings, geo_loaded) -> None:
    rng = np.random.default_rng(7)
    n = 50_000
    with db.connect(settings.database_url) as conn:
        loc = WardLocator.from_db(conn, vintage=2022)
        minx, miny, maxx, maxy = shapely.total_bounds(loc.geoms)
        x = rng.uniform(minx, maxx, n)   # the London box: wards, the Thames and beyond the boundary
        y = rng.uniform(miny, maxy, n)
        rows = conn.execute("""
            SELECT p.i, w.ward_code
            FROM unnest(%(x)s::float8[], %(y)s::float8[]) WITH ORDINALITY AS p(x, y, i)
            JOIN geo.ward w ON w.vintage = 2022 AND ST_Intersects(w.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 27700))
            """, {"x": x.tolist(), "y": y.tolist()}).fetchall()
    postgis: dict[int, set[str]] = {}
    for r in rows:
        postgis.setdefault(r["i"] - 1, set()).add(r["ward_code"])

    assert len(loc.codes) == 704
    got = loc.locate_codes(x, y)
    wrong = [i for i in range(n) if (got[i] not in postgis[i] if i in postgis else got[i] is not None)]
    assert not wrong, f"{len(wrong)} points differ from PostGIS, e.g. {wrong[:5]}"
    assert 0.5 * n < len(postgis) < n   # most of the box is wards, not all of it
