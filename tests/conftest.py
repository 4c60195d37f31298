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
from dataclasses import replace
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
