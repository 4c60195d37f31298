"""A database that exists but was never set up (no `harmmap db init`): say so, in one line or a 503."""

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest
from click.testing import CliRunner

from harmmap import db
from harmmap.cli import main

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def bare_url(base_settings) -> Iterator[str]:
    url = urlunsplit(urlsplit(base_settings.database_url)._replace(path=f"/harmmap_test_bare_{uuid4().hex[:8]}"))
    with db.connect(db.admin_url(url), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db.database_name(url)}"')
    try:
        yield url
    finally:
        db.drop_database(url)


@pytest.mark.parametrize("args", [["geo", "load"], ["db", "status"],
                                  ["geo", "crosswalk", "--from", "2018", "--to", "2022", "pyproject.toml"]])
def test_cli_says_run_db_init(bare_url, args):
    result = CliRunner().invoke(main, args, env={"HARMMAP_DATABASE_URL": bare_url})
    assert result.exit_code == 2, result.output
    assert "has no HarmMap schema -- run `harmmap db init`" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_web_answers_503_and_health_says_schema_missing(settings, bare_url):
    from web import create_app

    app = create_app(replace(settings, database_url=bare_url))
    try:
        client = app.test_client(as_role="viewer")  # a key: nobody can sign in to a database with no schema
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["database"] == "reachable" and health.get_json()["schema"] == "missing"
        for path in ("/", "/map/wards.geojson"):
            resp = client.get(path)
            assert resp.status_code == 503 and resp.headers["Retry-After"]
            assert b"harmmap db init" in resp.get_data()
    finally:
        app.extensions["harmmap"].pool.close()


def test_serve_refuses_to_start_on_a_database_that_is_not_set_up(bare_url):
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env={"HARMMAP_DATABASE_URL": bare_url})
    assert result.exit_code == 2 and "run `harmmap db init`" in result.output


def test_serve_refuses_to_start_when_the_database_is_down():
    result = CliRunner().invoke(main, ["serve", "--port", "1"],
                                env={"HARMMAP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/harmmap"})
    assert result.exit_code == 2 and "is unavailable" in result.output
