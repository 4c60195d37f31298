"""Fixtures: one throwaway PostGIS database per test run, loaded with the shipped reference data.

The database server is the one HARMMAP_DATABASE_URL points at (default: local PostgreSQL); the
database itself is ``harmmap_test_<random>``, created here and dropped at the end. A server that
cannot be reached is an error, never a skip: the suite must not pass by running nothing.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import pytest
from werkzeug.serving import make_server

from harmmap import db
from harmmap.config import REPO_ROOT, Settings

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic"]
CHROMIUM = "/usr/bin/chromium"

# Hotspot pseudo p-values with 99 permutations instead of 999: the same code path, a tenth of the time.
# Every `etl run` republishes the index, including those run as subprocesses, so it is set here.
os.environ.setdefault("HARMMAP_HOTSPOT_PERMUTATIONS", "99")


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    env = {k: v for k, v in os.environ.items() if k.startswith("HARMMAP_")}
    env.setdefault("HARMMAP_ENVIRONMENT", "test")
    env.pop("HARMMAP_BASEMAP_URL", None)  # no basemap in tests: nothing may leave 127.0.0.1
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def database_url(base_settings: Settings) -> Iterator[str]:
    url = urlunsplit(urlsplit(base_settings.database_url)._replace(path=f"/harmmap_test_{uuid4().hex[:8]}"))
    try:
        db.ensure_database(url)
        with db.connect(url) as conn:
            db.migrate(conn)
        yield url
    finally:
        db.drop_database(url)


@pytest.fixture(scope="session")
def settings(base_settings: Settings, database_url: str) -> Settings:
    return replace(base_settings, database_url=database_url)


@pytest.fixture(scope="session")
def geo_loaded(settings: Settings) -> dict:
    """The shipped reference data, loaded once per run (about 20 s)."""
    from etl import geo

    with db.connect(settings.database_url) as conn:
        report = geo.load(conn, settings.geodata_dir)
    return {"report": report}


@dataclass
class DemoIndex:
    settings: Settings
    tables: object          # harmmap.harm.IndexTables
    inputs: object          # harmmap.harm.IndexInputs it was built from
    version: int = 0


@pytest.fixture(scope="session")
def demo_index_built(settings: Settings, geo_loaded: dict, tmp_path_factory) -> DemoIndex:
    """The real MPS ward crime file and a synthetic set (seed 5) loaded, and the harm index built from
    them once (about a minute). Tests read the published ``harm.*`` tables through ``demo_index``."""
    import numpy as np
    from click.testing import CliRunner

    from etl import index
    from harmmap.cli import main
    from harmmap.harm import build_index

    env = {"HARMMAP_DATABASE_URL": settings.database_url}
    out = tmp_path_factory.mktemp("demo-index")
    clear_indicators(settings.database_url)
    assert CliRunner().invoke(main, ["synth", "--seed", "5", "--out", str(out)], env=env).exit_code == 0
    (out / "mps_ward_crime.csv").symlink_to(settings.geodata_dir / "crime/mps_ward_level_crime_2024-03_to_2026-03.csv")
    result = CliRunner().invoke(main, ["etl", "run-all", "--no-index", str(out)], env=env)
    assert result.exit_code == 0, result.output
    with db.connect(settings.database_url) as conn:
        with conn.transaction():
            inputs = index.read_inputs(conn)
    tables = build_index(inputs, index.config_from(settings), np.random.default_rng(settings.hotspot_seed))
    return DemoIndex(settings, tables, inputs)


@pytest.fixture
def demo_index(demo_index_built: DemoIndex) -> DemoIndex:
    """The demo index as the published one. Other tests (ETL jobs republish after loading, index tests
    publish) may have replaced it since: then it is written again (one transaction, ~10 s)."""
    from etl import index

    built = demo_index_built
    with db.connect(built.settings.database_url) as conn:
        row = conn.execute("SELECT version FROM harm.current").fetchone()
        if row is None or row["version"] != built.version:
            with conn.transaction():
                built.version = index.write(conn, built.tables, built.settings, seconds=0.0)
    return built


#: What the ETL jobs write (cleaned before loading the demo set).
INDICATOR_TABLES = ("harm.indicator_month", "harm.indicator_year", "etl.disruption_location", "etl.disruption",
                    "etl.closure", "etl.pas_result", "etl.asset_seizure", "etl.recorded_crime",
                    "etl.drug_offence_annual", "etl.quarantine")


def clear_indicators(url: str) -> None:
    """Delete everything the indicator jobs wrote (not the published index, not the geography)."""
    with db.connect(url) as c:
        for table in INDICATOR_TABLES:
            c.execute(f"DELETE FROM {table}")  # names from the tuple above
        c.execute("DELETE FROM etl.batch WHERE job <> 'geo'")


@pytest.fixture
def clear_loaded_indicators(settings: Settings):
    """Call it to delete what the indicator jobs wrote in the test database."""
    return lambda: clear_indicators(settings.database_url)


@pytest.fixture
def conn(settings: Settings, geo_loaded: dict) -> Iterator[psycopg.Connection]:
    """A connection whose work is rolled back: a job's own transaction() becomes a savepoint."""
    with db.connect(settings.database_url) as c, c.transaction(force_rollback=True):
        yield c


@pytest.fixture(scope="session")
def app(settings: Settings, geo_loaded: dict):
    from web import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    application.extensions["harmmap"].pool.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client, demo_index):
    """The test client with the demo index published (the analyst API's tests)."""
    return client


@pytest.fixture
def sql(settings: Settings, demo_index):
    """Run one query on the test database on a fresh connection: it sees what the app sees."""
    def run(text: str, params: dict | tuple | None = None) -> list[dict]:
        with db.connect(settings.database_url) as c:
            return c.execute(text, params).fetchall()
    return run


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The app on a free loopback port, served by a real WSGI server in a thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def results_dir() -> Path:
    path = REPO_ROOT / "test-results"
    path.mkdir(exist_ok=True)
    return path
