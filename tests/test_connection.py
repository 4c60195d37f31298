"""web.connection: one pooled connection per request, transactions per block, modes reset, statements
prepared (a real PostGIS database; the app's own pool)."""

from __future__ import annotations

import psycopg
import pytest
from flask import g

from web.db import connection
from web.answer import snapshot


def _backend(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]


def test_blocks_of_one_request_share_its_connection_and_it_goes_back_at_the_end(app):
    pool = app.extensions["harmmap"].pool
    with app.test_request_context("/"):
        with connection(autocommit=True) as conn:
            first = _backend(conn)
        with connection() as conn:
            assert _backend(conn) == first
        assert g._db_conn is conn
        in_use = pool.get_stats()["pool_size"] - pool.get_stats()["pool_available"]
        assert in_use >= 1
        app.do_teardown_request()
        assert "_db_conn" not in g
    assert not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_block_commits_and_an_error_rolls_back(app, settings):
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS public.conn_probe (v int)")
        admin.execute("TRUNCATE public.conn_probe")
    try:
        with app.test_request_context("/"):
            with connection() as conn:
                conn.execute("INSERT INTO public.conn_probe VALUES (1)")
            with pytest.raises(RuntimeError):
                with connection() as conn:
                    conn.execute("INSERT INTO public.conn_probe VALUES (2)")
                    raise RuntimeError("boom")
            app.do_teardown_request()
        with psycopg.connect(settings.database_url) as other:
            assert [r[0] for r in other.execute("SELECT v FROM public.conn_probe")] == [1]
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute("DROP TABLE IF EXISTS public.conn_probe")


def test_a_nested_block_has_its_own_connection_and_leaves_the_outer_transaction_alone(app):
    with app.test_request_context("/"):
        with connection() as outer:
            outer.execute("CREATE TEMP TABLE nest_probe (v int) ON COMMIT DROP")
            outer.execute("INSERT INTO nest_probe VALUES (1)")
            with connection() as inner:
                assert _backend(inner) != _backend(outer)
            # the outer transaction is still open: its ON COMMIT DROP table is still there
            assert outer.execute("SELECT count(*) AS n FROM nest_probe").fetchone()["n"] == 1
        app.do_teardown_request()


def test_a_snapshot_block_is_read_only_repeatable_read_and_the_mode_is_reset_after_it(app):
    with app.test_request_context("/"):
        with connection(snapshot=True) as conn:
            row = conn.execute("SELECT current_setting('transaction_isolation') AS iso, "
                               "current_setting('transaction_read_only') AS ro").fetchone()
            assert (row["iso"], row["ro"]) == ("repeatable read", "on")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("CREATE TEMP TABLE ro_probe (v int)")
        with connection() as conn:  # the same connection, back to read-write
            row = conn.execute("SELECT current_setting('transaction_read_only') AS ro").fetchone()
            assert row["ro"] == "off"
        app.do_teardown_request()


def test_api_statements_are_prepared_across_requests(app, demo_index):
    """psycopg forgets a connection's prepared statements on ROLLBACK, so a read that ended that way would
    be planned anew on every request; snapshots end with COMMIT and stay prepared."""
    with app.test_request_context("/api/collections/wards/items"):
        for _ in range(8):                   # psycopg prepares a statement on its sixth use
            with snapshot() as snap:
                snap.conn.execute("SELECT 1 AS probe_prepared").fetchone()
        with connection() as conn:
            names = [r["statement"] for r in conn.execute("SELECT statement FROM pg_prepared_statements")]
        app.do_teardown_request()
    assert any("What a response or a job is drawn from" in s for s in names), names  # published_current.sql
    assert any("probe_prepared" in s for s in names), names
