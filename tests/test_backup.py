"""`harmmap db backup` / `harmmap db restore`: a real pg_dump and pg_restore round trip loses nothing published."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest
from click.testing import CliRunner

from harmmap import db
from harmmap.cli import main

pytestmark = pytest.mark.db

#: What is published, and what says where it came from.
PUBLISHED_SCHEMAS = ("harm", "geo")
ALSO = ("etl.batch",)


def published_tables(url: str) -> list[str]:
    with db.connect(url) as c:
        rows = c.execute("""SELECT format('%%I.%%I', schemaname, tablename) AS t FROM pg_tables
                            WHERE schemaname = ANY(%s) ORDER BY 1""", (list(PUBLISHED_SCHEMAS),)).fetchall()
    return [r["t"] for r in rows] + list(ALSO)


def fingerprints(url: str, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Per table: its row count and the md5 of its rows' md5s in order (row order on disk does not count)."""
    out = {}
    with db.connect(url) as c:
        for t in tables:  # names from pg_tables, quoted by format('%I')
            row = c.execute(f"SELECT count(*) AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS fp "
                            f"FROM (SELECT md5(x::text) AS h FROM {t} x) rows").fetchone()
            out[t] = (row["n"], row["fp"])
    return out


def run(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"HARMMAP_DATABASE_URL": url})


@pytest.fixture(scope="module")
def round_trip(settings, demo_index_built, tmp_path_factory):
    """The test database (index published) backed up, and restored into a database that did not exist."""
    from conftest import publish_demo_index

    publish_demo_index(demo_index_built)
    dump = tmp_path_factory.mktemp("backup") / "harmmap.dump"
    made = run(settings.database_url, "db", "backup", str(dump))
    assert made.exit_code == 0, made.output
    other = urlunsplit(urlsplit(settings.database_url)._replace(path=f"/harmmap_restore_{uuid4().hex[:8]}"))
    try:
        restored = run(other, "db", "restore", str(dump))
        assert restored.exit_code == 0, restored.output
        yield dump, other
    finally:
        db.drop_database(other)


#: Small tables that the restore tests below change and check (the full comparison is done once).
SMALL = ["geo.ward_vintage", "geo.borough", "harm.current", "harm.publish", "etl.batch", "public.schema_migration"]


def test_backup_then_restore_into_a_new_database_gives_the_same_published_tables(settings, round_trip,
                                                                                  demo_index_built):
    dump, other = round_trip
    assert dump.read_bytes()[:5] == b"PGDMP" and not list(dump.parent.glob(".*partial"))
    tables = published_tables(settings.database_url)
    assert {"harm.ward_index", "harm.current", "geo.ward", "etl.batch"} <= set(tables)
    before = fingerprints(settings.database_url, tables)
    assert before["harm.ward_index"][0] > 0 and before["geo.ward"][0] > 0
    assert fingerprints(other, tables) == before
    # ... and the restored database is one the app can serve: migrations recorded, index published.
    with db.connect(other) as c:
        db.require_schema(c)
        assert c.execute("SELECT version FROM harm.current").fetchone()["version"] == demo_index_built.version


def test_restoring_over_a_changed_database_puts_it_back(round_trip):
    dump, other = round_trip
    before = fingerprints(other, SMALL)
    with db.connect(other) as c:
        c.execute("UPDATE geo.ward_vintage SET label = label || ' (changed)'")
        c.execute("UPDATE geo.borough SET borough_name = borough_name || ' (changed)'")
    assert fingerprints(other, SMALL) != before
    again = run(other, "db", "restore", str(dump))
    assert again.exit_code == 0, again.output
    assert fingerprints(other, SMALL) == before


def test_a_failed_restore_changes_nothing(round_trip, tmp_path):
    """A truncated backup fails in one line, and the single transaction leaves the database as it was."""
    dump, other = round_trip
    before = fingerprints(other, SMALL)
    broken = tmp_path / "broken.dump"
    broken.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    result = run(other, "db", "restore", str(broken))
    assert result.exit_code == 2
    assert result.output.startswith("harmmap: restore of ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output
    assert fingerprints(other, SMALL) == before


def test_backup_errors_are_one_line_and_never_show_the_password(tmp_path):
    secret = "s3cret-pw"
    down = f"postgresql://postgres:{secret}@127.0.0.1:1/harmmap"
    for args in (["db", "backup", str(tmp_path / "x.dump")], ["db", "restore", str(tmp_path / "x.dump")]):
        result = run(down, *args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("harmmap: ") and result.output.count("\n") == 1
        assert secret not in result.output and "Traceback" not in result.output
    (tmp_path / "x.dump").write_bytes(b"PGDMP")  # restore reads the file first, then the server
    result = run(down, "db", "restore", str(tmp_path / "x.dump"))
    assert result.exit_code == 2 and "unavailable" in result.output and secret not in result.output
    assert "not a HarmMap backup" in run(down, "db", "restore", __file__).output


def test_backup_without_pg_dump_says_what_to_install(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no PostgreSQL tools
    result = run(settings.database_url, "db", "backup", str(tmp_path / "x.dump"))
    assert result.exit_code == 2
    assert "pg_dump not found" in result.output and "postgresql-client" in result.output


def test_the_password_goes_to_the_tools_in_the_environment_not_the_command_line():
    from harmmap.db.backup import _conninfo_and_env

    conninfo, env = _conninfo_and_env("postgresql://u:pw@db.example:6543/harmmap?sslmode=require")
    assert "pw" not in conninfo and env["PGPASSWORD"] == "pw"
    assert "db.example" in conninfo and "6543" in conninfo and "sslmode=require" in conninfo
    assert os.environ.get("PGPASSWORD") != "pw"
