"""Fixtures: one throwaway PostGIS database per test run, loaded with the shipped reference data.

The database server is the one HARMMAP_DATABASE_URL points at (default: local PostgreSQL); the
database itself is ``harmmap_test_<random>``, created here and dropped at the end. A server that
cannot be reached is an error, never a skip: the suite must not pass by running nothing.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
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


#: The session cookie's name: ``__Host-harmmap`` when the cookie is Secure (production over HTTPS).
SESSION_COOKIES = ("harmmap_session", "__Host-harmmap")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class HarmMapClient(FlaskClient):
    """Flask's test client, anonymous until told otherwise, as a browser that has not signed in.

    - ``app.test_client().sign_in("viewer")``: signed in through the real form, as a person (the pages,
      the map's data, briefings). The session is a real one, in the database.
    - ``app.test_client(as_role="analyst")``: sends that role's real API key, as QGIS or GDAL does (the API).

    Nobody is signed in by default, so a route missing from ``web.auth.ROUTE_ROLES`` fails the tests that
    use it instead of passing on an administrator's rights.
    """

    def __init__(self, *args, as_role: str | None = None, environ_base: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base.update(environ_base or {})
        if as_role is not None:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ACCOUNTS.keys[as_role]}"

    def sign_in(self, role: str) -> HarmMapClient:
        """Sign in as the user named after ``role`` (GET /login for the CSRF token, then POST the form).

        The first sign-in per app and role runs the form; later clients are given the session cookie it
        set, as a browser keeps it between pages, so the suite does not pay scrypt (0.2 s) per test."""
        signed_in = _SESSIONS.setdefault(self.application, {})
        if role not in signed_in:
            token = CSRF_FIELD.search(self.get("/login").get_data(as_text=True)).group(1)
            r = self.post("/login", data={"csrf_token": token, "name": role, "password": ACCOUNTS.password,
                                          "next": "/healthz"})
            assert r.status_code == 303, f"sign-in as {role}: {r.status_code} {r.get_data(as_text=True)[:200]}"
            signed_in[role] = next((name, c.value) for name in SESSION_COOKIES if (c := self.get_cookie(name)))
        else:
            self.set_cookie(*signed_in[role])
        return self


#: app -> role -> (cookie name, value) of a session made through the sign-in form.
_SESSIONS: weakref.WeakKeyDictionary[Flask, dict[str, tuple[str, str]]] = weakref.WeakKeyDictionary()

Flask.test_client_class = HarmMapClient


def sign_in_over_http(base_url: str, name: str, password: str) -> dict[str, str]:
    """Sign in through the real form over HTTP; the session cookie, as Playwright's add_cookies takes it."""
    from http.cookiejar import CookieJar
    from urllib.parse import urlencode
    from urllib.request import HTTPCookieProcessor, build_opener

    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    with opener.open(base_url + "/login") as r:
        csrf = CSRF_FIELD.search(r.read().decode()).group(1)
    form = urlencode({"csrf_token": csrf, "name": name, "password": password, "next": "/healthz"}).encode()
    with opener.open(base_url + "/login", data=form) as r:
        assert urlsplit(r.url).path == "/healthz", f"sign-in as {name} failed"
    cookie = next(c for c in jar if c.name in SESSION_COOKIES)
    return {"name": cookie.name, "value": cookie.value, "url": base_url, "httpOnly": True, "sameSite": "Lax"}


#: (live server, role) -> the session cookie of a real sign-in there (``live_session``).
_LIVE_SESSIONS: dict[tuple[str, str], dict[str, str]] = {}


def live_session(base_url: str, role: str) -> dict[str, str]:
    """The live server's session cookie for ``role``, signed in once per run through the form over HTTP."""
    if (base_url, role) not in _LIVE_SESSIONS:
        _LIVE_SESSIONS[base_url, role] = sign_in_over_http(base_url, role, ACCOUNTS.password)
    return _LIVE_SESSIONS[base_url, role]


def session_header(base_url: str, role: str) -> dict[str, str]:
    """The ``Cookie`` header of ``live_session``: urlopen signed in as that role, as the browser is."""
    cookie = live_session(base_url, role)
    return {"Cookie": f"{cookie['name']}={cookie['value']}"}


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
                    "etl.drug_offence_annual", "etl.stop_search", "etl.quarantine")


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
def client(app) -> HarmMapClient:
    """Nobody signed in: a browser's first visit, or a program without a key."""
    return app.test_client()


@pytest.fixture
def client_as(app) -> Callable[[str], HarmMapClient]:
    """``client_as("sergeant")``: a new client signed in as that role through the sign-in form."""
    return lambda role: app.test_client().sign_in(role)


@pytest.fixture
def viewer(client_as) -> HarmMapClient:
    """A tasking officer signed in: the map page and its data."""
    return client_as("viewer")


@pytest.fixture
def sergeant(client_as) -> HarmMapClient:
    """An SNT sergeant signed in: also the briefing PDFs."""
    return client_as("sergeant")


@pytest.fixture
def analyst(client_as) -> HarmMapClient:
    """An analyst signed in: also exports (/map/worst.csv) and figures without disclosure control."""
    return client_as("analyst")


@pytest.fixture
def admin(client_as) -> HarmMapClient:
    """The administrator signed in: for tests about what only an administrator may do."""
    return client_as("admin")


@pytest.fixture
def api(app, demo_index) -> HarmMapClient:
    """An analyst's program (QGIS, GDAL, R) with the analyst's API key, the demo index published."""
    return app.test_client(as_role="analyst")


@pytest.fixture
def sql(settings: Settings, demo_index):
    """Run one query on the test database on a fresh connection: it sees what the app sees."""
    def run(text: str, params: dict | tuple | None = None) -> list[dict]:
        with db.connect(settings.database_url) as c:
            return c.execute(text, params).fetchall()
    return run


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The app on a free loopback port, served by a real WSGI server in a thread. Nobody is signed in:
    a browser context signs in with ``browser.new_context(as_role=...)``, urlopen with ``session_header``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "signed_in_as(role): the role a browser test signs in as (default viewer)")


@pytest.fixture
def browser_role(request) -> str:
    """The role of ``@pytest.mark.signed_in_as(role)``, else viewer: the least a browser test of the map needs."""
    marker = request.node.get_closest_marker("signed_in_as")
    return marker.args[0] if marker else "viewer"


@pytest.fixture(scope="session")
def browser(live_server):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield SignedInBrowser(b, live_server)
        b.close()


class SignedInBrowser:
    """The Playwright browser; ``new_context(as_role="viewer")`` carries that role's session cookie from a
    real sign-in on the live server (``as_role=None``: nobody signed in)."""

    def __init__(self, browser, base_url: str) -> None:
        self._browser = browser
        self._base_url = base_url

    def new_context(self, *, as_role: str | None, **kwargs):
        # Playwright evaluates string predicates (wait_for_function) with eval in the page, which HarmMap's
        # Content-Security-Policy forbids; test_access.py opens every kind of page with the policy enforced.
        kwargs.setdefault("bypass_csp", True)
        context = self._browser.new_context(**kwargs)
        if as_role is not None:
            context.add_cookies([live_session(self._base_url, as_role)])
        return context

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


@pytest.fixture
def results_dir() -> Path:
    path = REPO_ROOT / "test-results"
    path.mkdir(exist_ok=True)
    return path


# --- a guarded browser context (the tasking-map browser tests) ----------------------------------------

def open_context(browser, live_server: str, role: str, **kwargs):
    """A browser context signed in as ``role`` that records console errors and blocks (and records)
    requests off the app."""
    kwargs.setdefault("viewport", {"width": 1366, "height": 768})
    context = browser.new_context(as_role=role, accept_downloads=True, **kwargs)
    app_host = urlsplit(live_server).netloc
    context.problems = []  # type: ignore[attr-defined]
    context.foreign = []  # type: ignore[attr-defined]
    context.requests = []  # type: ignore[attr-defined]

    def guard(route):
        url = route.request.url
        context.requests.append(url)
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != app_host:
            context.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    return context


def new_page(context):
    pg = context.new_page()
    # errors, and the warning Chromium gives for a preload the page did not use
    pg.on("console", lambda m: context.problems.append(f"console {m.type}: {m.text}")
          if m.type == "error" or (m.type == "warning" and "preload" in m.text) else None)
    pg.on("pageerror", lambda e: context.problems.append(f"page error: {e}"))
    return pg


@pytest.fixture
def ctx(browser, live_server, demo_index, browser_role):
    context = open_context(browser, live_server, browser_role)
    yield context
    problems, foreign = list(context.problems), list(context.foreign)
    context.close()
    assert foreign == [], "requests left the app"
    assert problems == [], "console errors"


@pytest.fixture
def page(ctx):
    return new_page(ctx)


# --- reading what an ETL job wrote (the ETL test modules) ----------------------------------------------

def query(settings, sql: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(sql, params).fetchall()


def reasons(settings, batch_id: int) -> dict[int, str]:
    return {r["row_number"]: r["reason"] for r in
            query(settings, "SELECT row_number, reason FROM etl.quarantine WHERE batch_id = %s", (batch_id,))}


def ward_at(settings, lon: float, lat: float) -> str:
    """The 2022 ward PostGIS puts a WGS84 point in: an independent check on the job's locator."""
    return query(settings, """SELECT ward_code FROM geo.ward WHERE vintage = 2022
                              AND ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 27700))""",
                 (lon, lat))[0]["ward_code"]
