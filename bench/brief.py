"""Briefing PDFs: one ward page, and the whole-borough batch on 1 worker against 2 in the same run.

1. One ward page: ``harmmap.briefing.ward_pdf`` for the London-worst ward of the default period, in
   one process on one connection (what ``/brief/ward/<code>.pdf`` does per request), median of runs.
2. The borough with the most ranked wards: ``write_borough`` (what ``harmmap brief --borough`` runs:
   the overview and one PDF per ward) with 1 worker process and with 2, alternated, medians. The
   1-worker run is the baseline: the ratio shows what the second core buys.

``points`` is ignored (PDF pages have no point count); a run below the default size does fewer repeats.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from harmmap import briefing, db
from harmmap.config import Settings

WARD_RUNS = 15
BATCH_RUNS = 5


def _subject(settings: Settings) -> tuple[str, str, str, str, int]:
    """(period, worst ward code, its name, biggest borough name, its ranked wards)."""
    with db.connect(settings.database_url) as conn:
        row = conn.execute("SELECT version FROM harm.current").fetchone()
        if row is None:
            raise LookupError("no harm index is published: run `harmmap index publish` (make demo does it)")
        period = conn.execute(db.query("map_default_period"), {"version": row["version"]}).fetchone()["period"]
        worst = conn.execute(db.query("index_period"), {"period": period}).fetchone()
        sizes = conn.execute("""SELECT w.borough_name, count(*) AS n FROM harm.current_ward_index i
                                JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = i.ward_code
                                WHERE i.period = %(p)s AND i.rank_borough IS NOT NULL
                                GROUP BY w.borough_name ORDER BY n DESC, w.borough_name LIMIT 1""",
                             {"p": period}).fetchone()
    return period, worst["ward_code"], worst["ward_name"], sizes["borough_name"], int(sizes["n"])


def run(settings: Settings, points: int) -> str:
    quick = points < 1_000_000
    ward_runs, batch_runs = (3, 1) if quick else (WARD_RUNS, BATCH_RUNS)
    period, ward_code, ward_name, borough, n_wards = _subject(settings)
    load_start = os.getloadavg()[0]

    ward_s, ward_bytes = [], 0
    with db.connect(settings.database_url) as conn:
        for _ in range(ward_runs + 1):             # the first run warms caches and is not counted
            conn.rollback()
            t = time.perf_counter()
            ctx = briefing.open_context(conn, settings, period)
            body = briefing.ward_pdf(conn, ctx, ward_code)
            ward_s.append(time.perf_counter() - t)
            ward_bytes = len(body)
    ward_s = ward_s[1:]

    batch: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    files = 0
    size = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(batch_runs):
            for workers in (1, 2) if i % 2 == 0 else (2, 1):
                out = Path(tmp) / f"w{workers}-{i}"
                before = os.times()
                result = briefing.write_borough(settings, borough, period, out, workers=workers)
                after = os.times()
                batch[workers].append(result.seconds)
                # the workers' CPU time (they are reaped when the pool closes): Python's share of the work;
                # the rest of the wall time is PostgreSQL's, in its own processes
                cpu[workers].append(after.children_user + after.children_system
                                    - before.children_user - before.children_system)
                files = len(result.files)
                size = sum(p.stat().st_size for p in result.files)
    one, two = statistics.median(batch[1]), statistics.median(batch[2])
    load_end = os.getloadavg()[0]
    lines = [
        "## Briefing PDFs (`bench/brief.py`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC. Machine: {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, 1-minute load average "
        f"{load_start:.1f} at the start and {load_end:.1f} at the end (the machine is shared with other work, so "
        "the 2-worker figure is only as good as the second core was free). Period {period}; "
        f"{'quick run' if quick else 'full run'}.".replace("{period}", period),
        "",
        "| what | runs | median s | fastest s | per page s | workers' CPU s | pages | size |",
        "|---|---|---|---|---|---|---|---|",
        f"| one ward page ({ward_name}), in process | {len(ward_s)} | {statistics.median(ward_s):.3f} | "
        f"{min(ward_s):.3f} | {statistics.median(ward_s):.3f} | – | 1 | {ward_bytes / 1024:.0f} kB |",
        f"| {borough} batch (`harmmap brief`), 1 worker (baseline) | {len(batch[1])} | {one:.2f} | "
        f"{min(batch[1]):.2f} | {one / files:.3f} | {statistics.median(cpu[1]):.2f} | {files} | "
        f"{size / 1024:.0f} kB in {files} files |",
        f"| {borough} batch, 2 workers | {len(batch[2])} | {two:.2f} | {min(batch[2]):.2f} | {two / files:.3f} | "
        f"{statistics.median(cpu[2]):.2f} | {files} | same |",
        "",
        f"**2 workers: {one / two:.2f}x the speed of 1** (medians; fastest runs {min(batch[1]) / min(batch[2]):.2f}x; "
        f"ideal 2x; {n_wards} ward pages and the overview). "
        "Each batch includes opening the snapshot, ranking the borough's wards, starting the worker processes "
        "(fork) and each worker's own connection, which do not split across cores.",
    ]
    return "\n".join(lines)
