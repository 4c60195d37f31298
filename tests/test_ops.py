"""Staying up: production settings (secret key, no debug, JSON logs), rate limits, gunicorn worker restarts."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from uuid import uuid4

import pytest
from click.testing import CliRunner

from harmmap import accounts, db, logs
from harmmap.cli import main
from harmmap.config import Settings, SettingsError


# --- production settings ---------------------------------------------------------------------------------

def test_production_without_a_secret_key_will_not_start_and_says_so_in_one_line():
    with pytest.raises(SettingsError, match="HARMMAP_SECRET_KEY is required"):
        Settings.from_env({"HARMMAP_ENVIRONMENT": "production"})
    env = {"HARMMAP_ENVIRONMENT": "production", "HARMMAP_SECRET_KEY": ""}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2
    assert result.output == "harmmap: HARMMAP_SECRET_KEY is required when HARMMAP_ENVIRONMENT=production\n"


def test_flask_debug_cannot_be_turned_on_in_production(settings, monkeypatch):
    env = {"HARMMAP_ENVIRONMENT": "production", "HARMMAP_SECRET_KEY": "k" * 32, "FLASK_DEBUG": "1"}
    with pytest.raises(SettingsError, match="FLASK_DEBUG"):
        Settings.from_env(env)
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2 and "FLASK_DEBUG" in result.output and "Traceback" not in result.output
    assert Settings.from_env({**env, "HARMMAP_ENVIRONMENT": "demo"}).environment == "demo"  # demo: allowed

    from web import create_app

    monkeypatch.setenv("FLASK_DEBUG", "1")  # Flask reads it when the app is made
    app = create_app(replace(settings, environment="production", secret_key="k" * 32, log_format="text"))
    try:
        assert app.debug is False
        with pytest.raises(RuntimeError, match="never turned on in production"):
            app.run(debug=True)
    finally:
        app.extensions["harmmap"].pool.close()


def test_json_log_lines_carry_time_level_logger_message_and_the_request(app):
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("web.test", logging.WARNING, __file__, 1, "database %s", ("unavailable",), None)
    with app.test_request_context("/map/meta.json", headers={"X-Request-ID": "req-12345678"}):
        from web import ops

        ops._request_id()
        line = json.loads(formatter.format(record))
    assert line["level"] == "WARNING" and line["logger"] == "web.test" and line["message"] == "database unavailable"
    assert line["time"].endswith("+00:00")
    assert line["request_id"] == "req-12345678" and line["path"] == "/map/meta.json"
    assert line["route"] == "tasking_data.meta_json"
    outside = json.loads(formatter.format(record))  # no request: no request fields
    assert "request_id" not in outside and outside["message"] == "database unavailable"


def test_every_response_has_a_request_id_and_a_sane_one_is_echoed(client):
    mine = client.get("/healthz", headers={"X-Request-ID": "abc-12345678"})
    assert mine.headers["X-Request-ID"] == "abc-12345678"
    made = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert made != "<script>" and len(made) == 32


# --- rate limits ----------------------------------------------------------------------------------------

def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


STORAGES = ["memory://", pytest.param("redis://127.0.0.1:6379/0", marks=pytest.mark.skipif(
    not _redis_reachable(), reason="no Redis on 127.0.0.1:6379 (optional: the memory storage is tested)"))]


@pytest.mark.parametrize("storage", STORAGES)
def test_over_the_limit_is_a_429_problem_with_retry_after_counted_per_user_then_per_address(
        settings, geo_loaded, storage):
    from web import create_app

    name = f"ratelimit-{uuid4().hex[:8]}"  # fresh names and addresses: nothing left over in Redis
    with db.connect(settings.database_url) as conn:
        accounts.add_user(conn, name, "viewer", None)
        token = accounts.create_key(conn, name, "viewer", 1, "tests: rate limit")[1].token
    app = create_app(replace(settings, rate_limit="3/minute", rate_limit_storage=storage))
    try:
        mine = app.test_client()
        mine.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        statuses = [mine.get("/map/wards.geojson").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        over = mine.get("/map/wards.geojson")
        assert over.status_code == 429 and over.mimetype == "application/problem+json"
        assert over.get_json()["title"] == "Too many requests"
        assert 0 < int(over.headers["Retry-After"]) <= 60
        assert mine.get("/healthz").status_code == 200            # monitoring is never limited
        assert app.test_client(as_role="viewer").get("/map/wards.geojson").status_code == 200  # another user
        # Nobody signed in: counted per address.
        address = f"10.{uuid4().int % 250}.{uuid4().int % 250}.{uuid4().int % 250}"
        anonymous = app.test_client(environ_base={"REMOTE_ADDR": address})
        assert [anonymous.get("/login").status_code for _ in range(3)] == [200, 200, 200]
        assert anonymous.get("/login").status_code == 429
        assert app.test_client().get("/login").status_code == 200  # another address
    finally:
        app.extensions["harmmap"].pool.close()


def test_limits_are_settings(settings):
    assert Settings().rate_limit == "600/minute" and Settings().rate_limit_storage == "memory://"
    with pytest.raises(SettingsError, match="HARMMAP_RATE_LIMIT"):
        Settings.from_env({"HARMMAP_RATE_LIMIT": "lots"})
    with pytest.raises(SettingsError, match="HARMMAP_RATE_LIMIT_STORAGE"):
        Settings.from_env({"HARMMAP_RATE_LIMIT_STORAGE": "mongodb://x"})
    from web import create_app

    off = create_app(replace(settings, rate_limit=""))
    try:
        assert "harmmap_limiter" not in off.extensions
    finally:
        off.extensions["harmmap"].pool.close()


# --- gunicorn: our configuration, JSON logs, a worker restart loses nothing -------------------------------

def _get(url: str, key: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except urllib.error.URLError:  # not listening yet
        return 0, b""


def _workers(master: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_gunicorn_in_production_logs_json_and_a_worker_restart_loses_nothing(settings, demo_index, tmp_path):
    from conftest import ACCOUNTS

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HARMMAP_ENVIRONMENT": "production", "HARMMAP_SECRET_KEY": uuid4().hex,
           "HARMMAP_DATABASE_URL": settings.database_url, "HARMMAP_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "2", "HARMMAP_COOKIE_SECURE": "false"}
    env.pop("FLASK_DEBUG", None)
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf", "web:create_app()"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    base, key = f"http://127.0.0.1:{port}", ACCOUNTS.keys["analyst"]  # the API: an analyst's program
    try:
        deadline = time.monotonic() + 60
        while _get(base + "/healthz", key)[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.3)
        while len(_workers(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        path = "/api/harm/worst?borough=Lambeth"
        before = _get(base + path, key)
        assert before[0] == 200
        old = _workers(server.pid)
        server.send_signal(signal.SIGHUP)  # gunicorn: reload the configuration, replace every worker
        while (_workers(server.pid) & old or len(_workers(server.pid)) < 2) and time.monotonic() < deadline + 30:
            time.sleep(0.2)
        assert not _workers(server.pid) & old, "the old workers were not replaced"
        assert _get(base + path, key) == before  # the same published answer from new workers
    finally:
        server.terminate()
        server.wait(30)
    lines = [ln for ln in (tmp_path / "gunicorn.log").read_text().splitlines() if ln.strip()]
    parsed = [json.loads(ln) for ln in lines]  # every line is one JSON object
    access = [p for p in parsed if p["logger"] == "gunicorn.access"]
    assert any(p.get("path") == "/api/harm/worst" and p.get("status") == 200 and "request_id" in p for p in access)
    assert any(p["logger"] == "gunicorn.error" and "Booting worker" in p["message"] for p in parsed)
