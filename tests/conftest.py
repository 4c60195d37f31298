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
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from harmmap import access, accounts as user_accounts, db
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
    env.setdefault("HARMMAP_RATE_LIMIT", "100000/minute")  # the suite is not throttled; test_ops checks limits
    env.pop("HARMMAP_BASEMAP_URL", None)  # no basemap in tests: nothing may leave 127.0.0.1
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def database_url(base_settings: Settings) -> Iterator[str]:
    url = urlunsplit(urlsplit(base_settings.database_url)._replace(path=f"/harmmap_test_{uuid4().hex[:8]}"))
    try:
        db.ensure_database(url)
        with db.connect(url) as conn:
            db.migrate(conn)
        make_accounts(url)
        yield url
    finally:
        db.drop_database(url)


# --- who the tests are (docs/security.md) --------------------------------------------------------------------

@dataclass
class Accounts:
    """One user per role, named after it (as `make demo` makes them), each with a key scoped to that role,
    plus an analyst key that has expired and one that was revoked."""

    password: str = ""
    keys: dict = field(default_factory=dict)   # role -> "hm_..." token
    expired_key: str = ""
    revoked_key: str = ""


ACCOUNTS = Accounts()


def make_accounts(url: str) -> Accounts:
    ACCOUNTS.password = access.new_password()
    with db.connect(url) as conn:
        for role in access.ROLES:
            user_accounts.add_user(conn, role, role, ACCOUNTS.password)
            ACCOUNTS.keys[role] = user_accounts.create_key(conn, role, role, 30, "tests")[1].token
        _, expired = user_accounts.create_key(conn, "analyst", "analyst", 1, "tests: expired")
        conn.execute("UPDATE auth.api_key SET expires_at = now() - interval '1 hour' WHERE key_id = %s",
                     (expired.key_id,))
        ACCOUNTS.expired_key = expired.token
        key, revoked = user_accounts.create_key(conn, "analyst", "analyst", 30, "tests: revoked")
        user_accounts.revoke_key(conn, key.key_id)
        ACCOUNTS.revoked_key = revoked.token
    return ACCOUNTS


@pytest.fixture(scope="session")
def accounts(database_url: str) -> Accounts:
    return ACCOUNTS


class SignedInClient(FlaskClient):
    """Flask's test client, sending the test admin's real API key unless ``as_role`` says otherwise
    (``app.test_client(as_role="viewer")``; ``as_role=None``: anonymous). Every app built in the tests
    uses it, so tests written before access control call routes as before."""

    def __init__(self, *args, as_role: str | None = "admin", environ_base: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base.update(environ_base or {})
        token = ACCOUNTS.keys.get(as_role) if as_role else None
        if token:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"


Flask.test_client_class = SignedInClient


def sign_in(base_url: str, name: str, password: str) -> dict[str, str]:
    """Sign in through the real form over HTTP; the session cookie, as Playwright's add_cookies takes it."""
    import re
    from http.cookiejar import CookieJar
    from urllib.parse import urlencode
    from urllib.request import HTTPCookieProcessor, build_opener

    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    with opener.open(base_url + "/login") as r:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode()).group(1)
    form = urlencode({"csrf_token": csrf, "name": name, "password": password, "next": "/healthz"}).encode()
    with opener.open(base_url + "/login", data=form) as r:
        assert urlsplit(r.url).path == "/healthz", f"sign-in as {name} failed"
    cookie = next(c for c in jar if c.name in ("harmmap_session", "__Host-harmmap"))
    return {"name": cookie.name, "value": cookie.value, "url": base_url, "httpOnly": True, "sameSite": "Lax"}


#: The live server's admin session cookie, added to every browser context (see ``browser``).
LIVE_SESSION: list[dict[str, str]] = []


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
    return publish_demo_index(demo_index_built)


def publish_demo_index(built: DemoIndex) -> DemoIndex:
    """Write ``built`` as the published index unless it already is (for module-scoped fixtures)."""
    from etl import index

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
    base = f"http://127.0.0.1:{port}"
    # Signed in as a user would be: browsers with the session cookie of a real sign-in, urlopen and GDAL
    # (subprocesses) with the admin's API key in a header, as an analyst configures them.
    LIVE_SESSION[:] = [sign_in(base, "admin", ACCOUNTS.password)]
    import urllib.request

    opener = urllib.request.build_opener()
    opener.addheaders = [("Authorization", f"Bearer {ACCOUNTS.keys['admin']}")]
    urllib.request.install_opener(opener)
    os.environ["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {ACCOUNTS.keys['admin']}"
    yield base
    urllib.request.install_opener(None)
    os.environ.pop("GDAL_HTTP_HEADERS", None)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield SignedInBrowser(b)
        b.close()


class SignedInBrowser:
    """The Playwright browser; each new context carries the live server's admin session cookie."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **kwargs):
        # Playwright evaluates string predicates (wait_for_function) with eval in the page, which HarmMap's
        # Content-Security-Policy forbids; test_access.py opens every kind of page with the policy enforced.
        kwargs.setdefault("bypass_csp", True)
        context = self._browser.new_context(**kwargs)
        if LIVE_SESSION:
            context.add_cookies(LIVE_SESSION)
        return context

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


@pytest.fixture
def results_dir() -> Path:
    path = REPO_ROOT / "test-results"
    path.mkdir(exist_ok=True)
    return path
