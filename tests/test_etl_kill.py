"""A job killed with SIGKILL in the middle of publishing leaves the published tables byte-for-byte as before."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from psycopg import sql

from harmmap import db

pytestmark = pytest.mark.db

TABLES = {
    "harm.indicator_month": "indicator, month, borough_code, ward_code",
    "etl.closure": "source_id",
    "etl.quarantine": "quarantine_id",
}


def published_bytes(url: str) -> dict[str, str]:
    """SHA-256 of each table's full COPY output, in a fixed order."""
    out = {}
    with db.connect(url) as c, c.cursor() as cur:
        for table, order in TABLES.items():
            h = hashlib.sha256()
            statement = sql.SQL("COPY (SELECT * FROM {} ORDER BY {}) TO STDOUT").format(
                sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, order.split(", "))))
            with cur.copy(statement) as copy:
                for chunk in copy:
                    h.update(chunk)
            out[table] = h.hexdigest()
    return out


def big_closures(path, n: int, seed: int, codes: list[str]) -> None:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "source_id": [f"K{seed}-{i}" for i in range(n)],
        "closure_type": rng.choice(["crack_house", "cannabis_factory"], n),
        "stage": "closure_order",
        "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "ward_code": rng.choice(codes, n),
        "ward_vintage": "2022",
        "synthetic": "false",
    }).to_csv(path, index=False, date_format="%Y-%m-%d")


def publishing_backend(url: str, batch_app: str) -> bool:
    """True once the job's backend is writing the published data: its COPY into the records table (the
    first write of the publish transaction) or a later statement of it. Reading reference data does not count.
    Table names may be quoted identifiers in the statement text (``COPY "etl"."closure"``)."""
    with db.connect(url) as c:
        # This database only: the server may be running other test sessions' jobs at the same time.
        row = c.execute("""SELECT count(*) AS n FROM (
                               SELECT replace(query, '"', '') AS q FROM pg_stat_activity
                               WHERE datname = current_database() AND application_name LIKE %s AND state = 'active') a
                           WHERE q LIKE 'COPY etl.closure%%' OR q LIKE '%%harm.indicator_month%%'
                                 OR q LIKE '%%add_stage%%' OR q LIKE '%%etl.quarantine%%'""",
                        (batch_app,)).fetchone()
    return row["n"] > 0


def any_job_backend(url: str, batch_app: str) -> bool:
    with db.connect(url) as c:
        return c.execute("SELECT count(*) AS n FROM pg_stat_activity "
                         "WHERE datname = current_database() AND application_name LIKE %s",
                         (batch_app,)).fetchone()["n"] > 0


def test_kill_minus_nine_mid_publish_changes_nothing(settings, geo_loaded, tmp_path, clear_loaded_indicators):
    url = settings.database_url
    clear_loaded_indicators()  # whatever other tests loaded: this one counts every closure row
    with db.connect(url) as c:
        codes = [r["ward_code"] for r in c.execute("SELECT ward_code FROM geo.ward WHERE vintage = 2022 AND NOT city_of_london")]
    env = {**os.environ, "HARMMAP_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "harmmap", "etl", "run", "closures"]

    # Something already published, so "as before" is not "empty".
    small = tmp_path / "closures_small.csv"
    big_closures(small, 500, seed=1, codes=codes)
    subprocess.run([*cmd, str(small)], env=env, check=True, capture_output=True, timeout=120)
    before = published_bytes(url)

    big = tmp_path / "closures_big.csv"
    big_closures(big, 250_000, seed=2, codes=codes)
    proc = subprocess.Popen([*cmd, str(big)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    caught = False
    while time.monotonic() < deadline and proc.poll() is None:
        if publishing_backend(url, "harmmap-etl-%"):
            os.kill(proc.pid, signal.SIGKILL)
            caught = True
            break
        time.sleep(0.005)
    proc.wait(timeout=30)
    assert caught, f"the job finished before it could be killed mid-publish: {proc.stderr.read().decode()[-500:]}"
    assert proc.returncode == -signal.SIGKILL

    # The server rolls the orphaned transaction back once it sees the client gone.
    for _ in range(400):
        if not any_job_backend(url, "harmmap-etl-%"):
            break
        time.sleep(0.05)
    assert published_bytes(url) == before
    with db.connect(url) as c:
        batch = c.execute("SELECT status FROM etl.batch WHERE file_name = 'closures_big.csv'").fetchone()
    assert batch["status"] == "running"  # the bookkeeping row shows the run never finished

    # Running the same file again completes: nothing half-done stands in its way.
    done = subprocess.run([*cmd, str(big)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "read 250,000 = loaded 250,000 + quarantined 0" in done.stdout
    with db.connect(url) as c:
        assert c.execute("SELECT count(*) AS n FROM etl.closure").fetchone()["n"] == 250_500
    clear_loaded_indicators()
