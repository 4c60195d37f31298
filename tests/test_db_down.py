"""The database goes down and comes back: a PostgreSQL server this module owns is stopped and started.

While it is down every route answers 503 with ``Retry-After`` (problem JSON for data, a plain page for
HTML) within a bounded time; once it is back the same app answers 200 again within seconds, no restart.

The module makes that server itself (initdb in a temporary directory, as the postgres user when run as
root), and fails, never skips, when it cannot: ``make test`` installs PostgreSQL (scripts/bootstrap.sh), so
a missing binary or user is a broken setup, and the message says how to mend it.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from harmmap.cli import main

pytestmark = pytest.mark.db

#: Seconds the app waits for a connection before answering 503 (HARMMAP_DB_TIMEOUT_S) in this module.
DB_TIMEOUT_S = 1.0
#: No request may take longer than this while the database is down. A request may wait for the pool
#: twice (who is asking, then the audit log of the 503), plus connect timeouts and slack for a busy box.
MAX_DOWN_S = 2 * DB_TIMEOUT_S + 2
#: After the server is back, the app must answer 200 within this many seconds.
MAX_RECOVERY_S = 10.0


def _pg_bindir() -> Path | None:
    explicit = os.environ.get("HARMMAP_PG_BINDIR")
    candidates = [Path(explicit)] if explicit else sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


def _as_server_user() -> tuple[list[str], str | None]:
    """The prefix that runs initdb/pg_ctl as a user that is not root (initdb refuses root), and that user."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root and there is no postgres user to own this test's PostgreSQL server (initdb "
                    "refuses root): install postgresql-15, which makes that user (make test does, through "
                    "scripts/bootstrap.sh --system), or run the tests as a user other than root", pytrace=False)
    for prefix in (["runuser", "-u", "postgres", "--"],
                   ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]):
        if shutil.which(prefix[0]) and subprocess.run(prefix + ["true"], capture_output=True).returncode == 0:
            return prefix, "postgres"
    pytest.fail("running as root and neither runuser nor setpriv can switch to the postgres user, so initdb "
                "(which refuses root) cannot make this test's server: install util-linux (apt-get install "
                "util-linux), or run the tests as a user other than root", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OwnedServer:
    """A PostgreSQL cluster made by initdb in a temporary directory, on a free loopback port."""

    bindir: Path
    prefix: list[str]
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/harmmap"

    def ctl(self, *args: str) -> None:
        cmd = self.prefix + [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"pg_ctl {' '.join(args)}: {done.stderr or done.stdout}"

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.datadir} "
                   "-c fsync=off -c full_page_writes=off -c shared_buffers=32MB -c max_connections=40")
        self.ctl("start", "-w", "-t", "30", "-l", str(self.datadir / "server.log"), "-o", options)

    def stop(self, mode: str) -> None:
        self.ctl("stop", "-w", "-t", "30", "-m", mode)


@pytest.fixture(scope="session")
def server_tools() -> tuple[Path, list[str], str | None]:
    """initdb and pg_ctl, the prefix that runs them and as whom: checked first, so a machine without them
    fails at once rather than after the demo data has loaded."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin: install "
                    "postgresql-15 (make test does, through scripts/bootstrap.sh --system), or set "
                    "HARMMAP_PG_BINDIR to the directory that holds them", pytrace=False)
    return (bindir, *_as_server_user())


@pytest.fixture(scope="module")
def owned_server(server_tools, settings, demo_index_built, tmp_path_factory) -> Iterator[OwnedServer]:
    """The server, holding a copy of the test database (reference data, accounts, the demo index published),
    copied with `harmmap db backup` and `harmmap db restore`."""
    from conftest import publish_demo_index

    bindir, prefix, user = server_tools
    top = Path(tempfile.mkdtemp(prefix="harmmap-pg-"))
    datadir = top / "data"
    datadir.mkdir()
    if user:
        record = pwd.getpwnam(user)
        os.chown(top, record.pw_uid, record.pw_gid)
        os.chown(datadir, record.pw_uid, record.pw_gid)
    server = OwnedServer(bindir, prefix, datadir, _free_port())
    try:
        init = subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                                        "-E", "UTF8", "--no-sync", "--no-instructions"],
                              capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stderr
        server.start()
        publish_demo_index(demo_index_built)
        dump = tmp_path_factory.mktemp("db-down") / "copy.dump"
        for url, args in ((settings.database_url, ["db", "backup", str(dump)]),
                          (server.url, ["db", "restore", str(dump)])):
            result = CliRunner().invoke(main, args, env={"HARMMAP_DATABASE_URL": url})
            assert result.exit_code == 0, result.output
        yield server
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(datadir), "stop", "-m", "immediate"],
                       capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def live(settings, owned_server) -> Iterator[str]:
    """The app against the owned server, on a real WSGI server in a thread (as test_web's live_server)."""
    from web import create_app

    app = create_app(replace(settings, database_url=owned_server.url, db_timeout_s=DB_TIMEOUT_S))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    app.extensions["harmmap"].pool.close()


def credentials(base: str, path: str, role: str | None) -> dict[str, str]:
    """Who asks: a person signed in (through the form, while the database is up) for the pages, the map's
    data and the briefings; a program with its API key for the API; nobody for /healthz."""
    from conftest import ACCOUNTS, session_header

    if role is None:
        return {}
    if path.startswith("/api/"):
        return {"Authorization": f"Bearer {ACCOUNTS.keys[role]}"}
    return session_header(base, role)


#: One route of every kind: (path, what a person or program asks for, answers with HTML when down, the
#: least role that may ask).
ROUTES = [
    ("/", "text/html", True, "viewer"),                                    # the tasking map page
    ("/map/wards.geojson", "*/*", False, "viewer"),                        # the map's ward shapes
    ("/map/meta.json", "*/*", False, "viewer"),                            # the map's data (JSON)
    ("/map/worst.json", "*/*", False, "viewer"),
    ("/api/collections", "application/json", False, "analyst"),             # the OGC API
    ("/api/collections/wards/items?limit=2", "application/geo+json", False, "analyst"),
    ("/api/harm/worst?borough=Lambeth", "application/json", False, "analyst"),
    ("/api/tiles/10/511/340.mvt", "application/vnd.mapbox-vector-tile", False, "analyst"),  # tiles (Westminster)
    ("/brief/ward/E05009288.pdf", "application/pdf", True, "sergeant"),    # an A4 briefing (down: a plain page)
    ("/healthz", "application/json", False, None),
]


def fetch(base: str, path: str, accept: str, role: str | None,
          timeout: float = 30.0) -> tuple[int, dict, bytes, float]:
    request = urllib.request.Request(base + path, headers={"Accept": accept, **credentials(base, path, role)})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, headers, body = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, dict(e.headers), e.read()
    return status, headers, body, time.monotonic() - started


def all_up(base: str) -> dict[str, int]:
    return {path: fetch(base, path, accept, role)[0] for path, accept, _, role in ROUTES}


def test_every_route_answers_while_the_database_is_up(live):
    statuses = all_up(live)
    assert all(s == 200 for s in statuses.values()), statuses


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_down_is_503_with_retry_after_everywhere_and_the_app_recovers(live, owned_server, mode):
    assert all_up(live)["/healthz"] == 200
    owned_server.stop(mode)
    try:
        for path, accept, html, role in ROUTES:
            status, headers, body, seconds = fetch(live, path, accept, role)
            assert status == 503, (path, status, body[:300])
            assert int(headers["Retry-After"]) > 0, path
            assert seconds < MAX_DOWN_S, f"{path} took {seconds:.1f} s with the database down"
            if html:
                assert headers["Content-Type"].startswith("text/html"), path
                assert b"Traceback" not in body and b"Service unavailable" in body, path
            else:
                answer = json.loads(body)
                if path == "/healthz":  # its own document, for monitoring
                    assert answer["status"] == "unavailable" and answer["database"] == "unavailable", answer
                else:
                    assert headers["Content-Type"].startswith("application/problem+json"), path
                    assert answer["status"] == 503 and answer["title"] == "Service unavailable", (path, answer)
            print(f"down ({mode}): {path} 503 in {seconds:.2f} s")
        # Many requests at once while down: none hangs, none is a 500 (the pool's waiting queue stays bounded).
        results: list[tuple[int, float]] = []
        threads = [threading.Thread(target=lambda: results.append(fetch(live, "/map/meta.json", "*/*", "viewer")[::3]))
                   for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 12 and {s for s, _ in results} == {503}, results
        assert max(sec for _, sec in results) < 3 * MAX_DOWN_S, results
    finally:
        owned_server.start()
    # Back: the same app answers 200 within seconds, without a restart.
    back_at = time.monotonic()
    while True:
        statuses = all_up(live)
        if all(s == 200 for s in statuses.values()):
            break
        assert time.monotonic() - back_at < MAX_RECOVERY_S, f"still not recovered: {statuses}"
        time.sleep(0.2)
    recovered_in = time.monotonic() - back_at
    print(f"recovered {recovered_in:.1f} s after `pg_ctl start` (stop -m {mode})")


def test_a_busy_pool_is_not_taken_for_a_server_that_is_down(settings, owned_server):
    """Failing fast is only for a server that refuses connections: a pool whose connections are all in use
    still waits its full timeout for one to come back."""
    from psycopg_pool import PoolTimeout

    from harmmap import db

    pool = db.make_pool(replace(settings, database_url=owned_server.url, pool_min_size=1, pool_max_size=1,
                                db_timeout_s=DB_TIMEOUT_S))
    try:
        with pool.connection():
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                pool.getconn()
            assert time.monotonic() - started >= DB_TIMEOUT_S * 0.9
            assert not pool.server_down
    finally:
        pool.close()
