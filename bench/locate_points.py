"""Locating N points (default 1,000,000) in the 704 wards of 2022: naive PostGIS, geopandas, WardLocator.

Issue 4's targets: WardLocator at least 10x the naive PostGIS join and at least 1.5x geopandas
``sjoin`` on the same points and polygons, measured in one run. The points are uniform over the
land of London's 2022 wards (EPSG:27700), drawn with a seeded generator, so every run locates the
same points.
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg.rows import tuple_row

from harmmap import db
from harmmap.config import Settings
from harmmap.locate import WardLocator

VINTAGE = 2022
SEED = 20240501
REPEATS = 3
CELL_SIZES_M = (200.0, 100.0, 50.0, 25.0)
_COPY_CHUNK = 100_000


NAIVE_JOIN_SQL = """
SELECT p.id, w.ward_code
FROM bench_points p
JOIN geo.ward w ON w.vintage = 2022 AND ST_Intersects(w.geom, p.geom)
"""


@dataclass(frozen=True)
class Timing:
    seconds: float
    runs: int

    def rate(self, points: int) -> float:
        return points / self.seconds


def timed(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[Timing, Any]:
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return Timing(statistics.median(times), repeats), result


def random_points_in_wards(geoms: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform over the union of the wards (rejection sampling in its bounding box), EPSG:27700."""
    land = shapely.union_all(geoms)
    shapely.prepare(land)
    minx, miny, maxx, maxy = shapely.bounds(land)
    xs, ys, have = [], [], 0
    while have < n:
        batch = max(2 * (n - have), 1000)
        x, y = rng.uniform(minx, maxx, batch), rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(land, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def first_code_per_point(ids: np.ndarray, codes: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """The lowest ward code found for each point id (None for none), and how many points had several."""
    frame = pd.DataFrame({"id": ids, "code": codes}).sort_values(["id", "code"])
    counts = frame.groupby("id").size()
    first = frame.drop_duplicates("id")
    out = np.full(n, None, dtype=object)
    out[first["id"].to_numpy()] = first["code"].to_numpy()
    return out, int((counts > 1).sum())


# --- the three methods ---------------------------------------------------------------------------

def copy_points(conn: psycopg.Connection, x: np.ndarray, y: np.ndarray) -> None:
    """A temp table of points (EWKB, EPSG:27700) filled by COPY, then ANALYZE so the planner knows its size."""
    conn.execute("CREATE TEMP TABLE bench_points (id integer NOT NULL, geom geometry(Point, 27700) NOT NULL) "
                 "ON COMMIT DROP")
    ewkb = shapely.to_wkb(shapely.set_srid(shapely.points(x, y), 27700), hex=True, include_srid=True)
    with conn.cursor() as cur, cur.copy("COPY bench_points (id, geom) FROM STDIN") as copy:
        for lo in range(0, len(ewkb), _COPY_CHUNK):
            buf = io.StringIO()
            for i, h in enumerate(ewkb[lo:lo + _COPY_CHUNK].tolist(), start=lo):
                buf.write(f"{i}\t{h}\n")
            copy.write(buf.getvalue())
    conn.execute("ANALYZE bench_points")


def naive_join(conn: psycopg.Connection) -> tuple[np.ndarray, np.ndarray]:
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(NAIVE_JOIN_SQL)
        rows = cur.fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    codes = np.array([r[1] for r in rows], dtype=object)
    return ids, codes


def plan_summary(conn: psycopg.Connection) -> str:
    """The join's plan as nested node names, e.g. ``Nested Loop(Seq Scan bench_points, Index Scan ward)``."""
    def walk(node: dict) -> str:
        name = node["Node Type"] + (f" {node['Relation Name']}" if "Relation Name" in node else "")
        children = [walk(c) for c in node.get("Plans", [])]
        return f"{name}({', '.join(children)})" if children else name
    with conn.cursor(row_factory=tuple_row) as cur:
        plan = cur.execute("EXPLAIN (FORMAT JSON) " + NAIVE_JOIN_SQL).fetchone()[0]
    return walk(plan[0]["Plan"])


def machine_facts(conn: psycopg.Connection) -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    postgis = conn.execute("SELECT postgis_lib_version() AS postgis, postgis_geos_version() AS geos").fetchone()
    server = conn.execute("SHOW server_version").fetchone()["server_version"]
    load1, load5, _ = os.getloadavg()
    return {
        "CPUs usable (nproc)": str(len(os.sched_getaffinity(0))),
        "CPU model": cpu,
        "load average at start (1, 5 min)": f"{load1:.2f}, {load5:.2f}",
        "Python": platform.python_version(),
        "numpy / shapely / geopandas": f"{np.__version__} / {shapely.__version__} / {gpd.__version__}",
        "GEOS (shapely, geopandas, WardLocator)": shapely.geos_version_string,
        "PostgreSQL": server.split()[0],
        "PostGIS / its GEOS": f"{postgis['postgis']} / {postgis['geos']}",
    }


# --- the benchmark -------------------------------------------------------------------------------

def run(settings: Settings, points: int = 1_000_000) -> str:
    """Time the three methods on the same ``points`` points and return the Markdown section."""
    n = points
    started = datetime.now(timezone.utc)
    with db.connect(settings.database_url, timeout_s=settings.db_timeout_s) as conn:
        facts = machine_facts(conn)
        t = time.perf_counter()
        rows = conn.execute(db.query("ward_geometries"), {"vintage": VINTAGE}).fetchall()
        read_s = time.perf_counter() - t
        if not rows:
            raise LookupError(f"no {VINTAGE} wards in {db.describe(settings.database_url)} -- run `make bench` "
                              "(or `harmmap db init && harmmap geo load`) first")
        codes = np.array([r["ward_code"] for r in rows], dtype=object)
        wkbs = [bytes(r["wkb"]) for r in rows]

        x, y = random_points_in_wards(shapely.from_wkb(wkbs), n, np.random.default_rng(SEED))

        # (a) naive PostGIS join: COPY first (not counted), then the join, once each: it is the slow one.
        # Twice: with the plan PostgreSQL picks, and with bitmap scans off (plain GiST index scans),
        # which is faster here; the targets are judged against the faster one.
        t = time.perf_counter()
        copy_points(conn, x, y)
        copy_s = time.perf_counter() - t
        naive = []
        for label, setting in (("planner's choice", None), ("bitmap scans off", "off")):
            if setting:
                conn.execute("SELECT set_config('enable_bitmapscan', %s, true)", (setting,))
            plan = plan_summary(conn)
            timing, (ids, found_codes) = timed(lambda: naive_join(conn), repeats=1)
            naive.append((label, plan, timing, ids, found_codes))
        conn.rollback()   # drops the temp table and the setting

    # (b) geopandas sjoin; building the points frame is not counted
    t = time.perf_counter()
    points_gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=27700)
    gdf_build_s = time.perf_counter() - t
    wards_gdf = gpd.GeoDataFrame({"ward_code": codes}, geometry=shapely.from_wkb(wkbs), crs=27700)
    gp_time, joined = timed(lambda: gpd.sjoin(points_gdf, wards_gdf, predicate="within"))

    # (c) WardLocator: build from fresh (unprepared) geometries each time, then locate
    fresh = [shapely.from_wkb(wkbs) for _ in range(REPEATS)]
    build_time, locator = timed(lambda: WardLocator.from_geometries(codes, fresh.pop()))
    loc_time, found = timed(lambda: locator.locate(x, y))
    loc_codes = locator.locate_codes(x, y)
    cells = []
    for cell_m in CELL_SIZES_M:
        b, other = timed(lambda: WardLocator.from_geometries(codes, shapely.from_wkb(wkbs), cell_m=cell_m))
        q, _ = timed(lambda: other.locate(x, y))
        cells.append((cell_m, other.grid_shape, other.boundary_share, b.seconds, q.seconds))

    # correctness: the methods must agree point by point
    agreement = []
    for label, _, _, ids, found_codes in naive:
        first, multi = first_code_per_point(ids, found_codes, n)
        agreement.append(f"PostGIS ({label}) {int((first != loc_codes).sum())} disagreements, "
                         f"{multi} points in several wards")
    gp_first, gp_multi = first_code_per_point(joined.index.to_numpy(), joined["ward_code"].to_numpy(), n)
    agreement.append(f"geopandas {int((gp_first != loc_codes).sum())} disagreements, {gp_multi} points in "
                     "several wards")
    unlocated = int((found < 0).sum())

    total = Timing(build_time.seconds + loc_time.seconds, REPEATS)
    rate_loc, rate_total, rate_gp = loc_time.rate(n), total.rate(n), gp_time.rate(n)
    rate_pg = max(timing.rate(n) for _, _, timing, _, _ in naive)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:,.1f}x"

    def met(r: float, target: float) -> str:
        return "met" if r >= target else "NOT met"

    def row(name: str, timing: Timing) -> str:
        rate = timing.rate(n)
        return (f"| {name} | {timing.seconds:.3f} | {rate:,.0f} | {ratio(rate_loc, rate)} | "
                f"{ratio(rate_total, rate)} |")

    lines = [
        f"## locate_points: {n:,} points into the {len(codes)} wards of {VINTAGE}",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC. Points uniform over the wards' land (rejection sampling, seed {SEED}), "
        "EPSG:27700; every method gets the same points and the same ward polygons (`geo.ward`, read in "
        f"{read_s:.2f} s).",
        "",
        "| method | seconds | points/s | WardLocator (locate only) is faster by | "
        "WardLocator (build + locate) is faster by |",
        "|---|---:|---:|---:|---:|",
        *[row(f"(a) naive PostGIS join, {label}, 1 run", timing) for label, _, timing, _, _ in naive],
        row(f"(b) geopandas `sjoin(predicate=\"within\")`, median of {REPEATS}", gp_time),
        f"| (c) `WardLocator.locate` ({locator.cell_m:g} m cells), median of {REPEATS} | {loc_time.seconds:.3f} | "
        f"{rate_loc:,.0f} | | |",
        f"| (c) `WardLocator` build + locate | {total.seconds:.3f} | {rate_total:,.0f} | | |",
        "",
        f"Targets (issue 4), against the faster naive PostGIS plan: at least 10x the naive PostGIS join: "
        f"**{met(rate_loc / rate_pg, 10)}** ({ratio(rate_loc, rate_pg)}; {ratio(rate_total, rate_pg)} counting "
        f"the build). At least 1.5x geopandas `sjoin`: **{met(rate_loc / rate_gp, 1.5)}** "
        f"({ratio(rate_loc, rate_gp)}; {ratio(rate_total, rate_gp)} counting the build).",
        "",
        "Not counted in the rows above:",
        f"- (a) COPY of the points into a temp table (EWKB text, then ANALYZE): {copy_s:.2f} s. Each join runs "
        "once, fetching every row into Python. The query is "
        "`SELECT p.id, w.ward_code FROM bench_points p JOIN geo.ward w ON w.vintage = 2022 AND "
        "ST_Intersects(w.geom, p.geom)`. Plans:",
        *[f"  - {label}: `{plan}`" for label, plan, _, _, _ in naive],
        f"- (b) building the points GeoDataFrame from x, y: {gdf_build_s:.2f} s.",
        f"- (c) building the locator ({locator.cell_m:g} m grid, from unprepared polygons): {build_time.seconds:.3f} s "
        f"(median of {REPEATS}); it is in the \"build + locate\" row.",
        "",
        "Agreement with WardLocator, point by point (lowest ward code where a point touches several): "
        + "; ".join(agreement) + f". Points the locator put in no ward: {unlocated}.",
        "",
        "Grid cell size (the locator's one knob), same points, medians of 3:",
        "",
        "| cell | grid (columns x rows) | boundary cells | build s | locate s |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {c:g} m | {shape[1]} x {shape[0]} | {share:.1%} | {b:.3f} | {q:.3f} |"
          for c, shape, share, b, q in cells],
        "",
        "Machine:",
        *[f"- {k}: {v}" for k, v in facts.items()],
        "",
        "Caveat: the machine is shared with other work and noisy; compare the methods within this run "
        "(the ratios), not the absolute seconds across runs. PostGIS cannot use parallel workers on a temp "
        "table, so (a) ran on one core; geopandas and WardLocator are single-threaded too.",
    ]
    return "\n".join(lines)
