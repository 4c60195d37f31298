"""End-to-end load of a 1,000,000-row closures-shaped CSV of points, against the obvious pipeline.

Peer: pandas ``read_csv`` -> geopandas ``points_from_xy`` / ``to_crs`` / ``sjoin`` -> ``to_postgis``
(SQLAlchemy + GeoAlchemy2), the pipeline most analysts would write. HarmMap's job does more work
(validates every row, quarantines, aggregates, publishes in one transaction) and is timed whole.
Both run in the same process, on the same file and database, one after the other.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from etl import batch
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


def obvious_pipeline(settings: Settings, path: Path, *, spatial_index: bool = True) -> float:
    """pandas -> geopandas -> ``to_postgis``, each with its defaults. ``to_postgis`` (GeoAlchemy2)
    creates a GiST index on the new table before loading it; ``spatial_index=False`` (context only,
    not the baseline) creates the table first and drops that index, then appends."""
    import geopandas as gpd
    from sqlalchemy import create_engine

    url = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    t0 = time.perf_counter()
    frame = pd.read_csv(path)
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326).to_crs(27700)
    wards = gpd.read_postgis("SELECT ward_code, geom FROM geo.ward WHERE vintage = 2022", engine, geom_col="geom")
    joined = gpd.sjoin(points, wards, predicate="within", how="left").drop(columns="index_right")
    if spatial_index:
        joined.to_postgis("bench_closure_naive", engine, if_exists="replace", index=False)
    else:
        joined.head(0).to_postgis("bench_closure_naive", engine, if_exists="replace", index=False)
        with engine.begin() as c:
            c.exec_driver_sql("DROP INDEX idx_bench_closure_naive_geometry")
        joined.to_postgis("bench_closure_naive", engine, if_exists="append", index=False)
    seconds = time.perf_counter() - t0
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bench_closure_naive")
    engine.dispose()
    return seconds


def harmmap_job(settings: Settings, path: Path) -> tuple[float, batch.BatchReport, dict]:
    _clear(settings)
    t0 = time.perf_counter()
    report = batch.run(settings, "closures", path)
    seconds = time.perf_counter() - t0
    with db.connect(settings.database_url) as c:
        notes = c.execute("SELECT notes FROM etl.batch WHERE batch_id = %s", (report.batch_id,)).fetchone()["notes"]
    return seconds, report, notes


def _clear(settings: Settings) -> None:
    """Remove the benchmark's own rows and vacuum, so each run meets the tables as a new install would."""
    with db.connect(settings.database_url, autocommit=True) as c:
        c.execute("DELETE FROM etl.closure WHERE source_id LIKE 'B%'")
        c.execute("DELETE FROM harm.indicator_month WHERE indicator LIKE '%_closures'")
        c.execute("DELETE FROM etl.batch WHERE job = 'closures' AND file_name = 'bench_closures.csv'")
        c.execute("VACUUM etl.closure")
        c.execute("VACUUM harm.indicator_month")


#: Each pipeline runs this many times, alternating, and its median counts: the machine is shared.
REPEATS = 3


def _restore_closure_counts(settings: Settings) -> None:
    """Put back the published closure counts of the records already in the database (the demo's):
    clearing the benchmark's counts took every closure count with it."""
    with db.connect(settings.database_url) as c:
        c.execute("""INSERT INTO harm.indicator_month (indicator, month, borough_code, ward_code, value, synthetic)
                     SELECT closure_type || '_closures', date_trunc('month', event_date)::date, borough_code,
                            ward_code, count(*), bool_or(synthetic)
                     FROM etl.closure GROUP BY 1, 2, 3, 4""")


def run(settings: Settings, n: int = 1_000_000) -> str:
    naive, ours, runs = [], [], []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_closures.csv"
        t0 = time.perf_counter()
        make_file(settings, path, n)
        made = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        for _ in range(REPEATS):
            naive.append(obvious_pipeline(settings, path))
            seconds, report, notes = harmmap_job(settings, path)
            ours.append(seconds)
            runs.append((report, notes))
        no_index = obvious_pipeline(settings, path, spatial_index=False)
        _clear(settings)
        _restore_closure_counts(settings)
    naive_s, ours_s = statistics.median(naive), statistics.median(ours)
    report, notes = runs[ours.index(sorted(ours)[len(ours) // 2])]  # the median run's own figures
    ratio = naive_s / ours_s
    verdict = "**met**" if ratio >= 5 else "**not met**"
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    copy = notes.get("seconds_copy", {})
    each = lambda xs: ", ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    return "\n".join([
        f"### End-to-end load of {n:,} closures (CSV of lon/lat points, {size_mb:.0f} MB)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC. Machine: {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, 1-minute load average "
        f"{load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end (other work on the machine); compare "
        f"the ratio, not the seconds. The two pipelines ran alternately, {REPEATS} times each, on the same file and "
        "database; medians below. HarmMap's job keeps both cores busy, so it loses more than the mostly "
        "single-threaded baseline when other work competes for them.",
        "",
        "| pipeline | seconds (median) | each run | rows/s | ratio |",
        "|---|---:|---|---:|---:|",
        f"| obvious: pandas read_csv -> geopandas sjoin -> to_postgis | {naive_s:.1f} | {each(naive)} | "
        f"{n / naive_s:,.0f} | 1.0x |",
        f"| HarmMap `etl run closures` (validate, locate, quarantine, COPY, aggregate, publish) | {ours_s:.1f} | "
        f"{each(ours)} | {n / ours_s:,.0f} | **{ratio:.2f}x** |",
        "",
        f"Target (issue 4): at least 5x the obvious pipeline: {verdict} in this run ({ratio:.2f}x; per run "
        f"{', '.join(f'{a / b:.2f}' for a, b in zip(naive, ours, strict=True))}).",
        "",
        f"HarmMap job (median run): read {report.rows_read:,} = loaded {report.rows_loaded:,} + quarantined "
        f"{report.rows_quarantined:,}; {stages}. During its COPY of {copy.get('copy', 0):.1f} s, the job's own "
        f"thread was busy {copy.get('python', 0):.1f} s checking, locating and encoding; the rest it waited for "
        f"the server. (Generating the file took {made:.1f} s, not counted.)",
        "",
        f"Context, not the baseline: `to_postgis` builds a GiST index on its new table by default (GeoAlchemy2). "
        f"The same obvious pipeline loading a table without it took {no_index:.1f} s (1 run), "
        f"{no_index / ours_s:.1f}x HarmMap's median.",
        "",
        *NOTES,
    ])


#: What the figures above rest on: measured separately (2026-11-23, on the machine of the earlier runs;
#: backend CPU time from /proc and ``perf``, cProfile for Python), so kept as text here.
NOTES = """\
How the job runs now: Arrow reads the file (native UTF-8), the reference geography loads meanwhile on a
thread, then rows are checked, located and encoded as binary `COPY` rows a chunk at a time while psycopg's
writer thread streams the previous chunk to the server, so both cores work; the file-wide duplicate check
runs on a third thread. The records, quarantine and monthly counts still change in one transaction.

What dominates: the server's single backend. Its CPU time for the `COPY` of a million rows into
`etl.closure` is about 3.0-3.6 s; text CSV cost about 1 s more, which binary input saves. Of that, a plain
heap insert is about 1.1 s, the unique index on `source_id` 1.2-1.5 s (byte-order `COLLATE "C"`, migration
005, saves about 0.3 s), the stored generated `geom` point about 0.5 s, and the CHECKs and the
`location_method` domain about 0.3 s. The job's Python side (checks, location, encoding: about 2.5 s of CPU)
finishes before the server does. Around the `COPY`: reading the file about 0.3 s before the first chunk, and
adding about 46,000 (indicator, month, ward) counts to `harm.indicator_month` 0.4-0.6 s after it.

Tried and measured: sending the point as binary EWKB into a plain column instead of generating it (no
gain: the cost is storing it); feeding the counts in index order (no gain); splitting the counts into
UPDATE + INSERT by a join (about 0.2 s faster, but plan-dependent on a large table; instead the published
keys are looked up once and new counts are COPYed in, existing ones still go through ON CONFLICT).
Earlier: a partition per batch with `COPY ... FREEZE` gave no gain. Not done, because they would weaken
what is stored or guaranteed: UNLOGGED tables, `synchronous_commit` off, dropping the key, the CHECKs or
the stored point (which would save about 0.5 s of the server's time).

The floor, with this schema and these guarantees, measured on the machine of the earlier runs (where the job
took 6.8-7.8 s): the job cannot end before its one backend has done the `COPY` (3.0-3.6 s of CPU per million
rows there) and added the counts (0.4-0.6 s), after about 0.4 s of reading before the first chunk: about 60%
of the job is the server's single backend, which no client-side work can shorten. Earlier runs of this
benchmark on 2026-11-23, on a machine about half as fast and busier, gave 3.5x (one run of each pipeline),
4.6x, 3.1x, 4.1x, 4.8x, just under 5x and 5.07x (1-minute load 0.5-3): the ratio is at the target when little
else runs and falls when other work takes a core, because the job needs both. The largest part that could
still go is the stored point (about 0.5 s of the server's time there), which is a schema decision.""".split("\n")


if __name__ == "__main__":
    print(run(Settings.from_env()))
