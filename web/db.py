"""The request's database connection (as flaskr's ``db.py``): one pooled connection per request, lent
to the blocks that need it and given back when the request ends.

``connection()`` is how every part of the web app reads or writes: the key check and the audit row
(autocommit), and the published data (``snapshot=True``: one REPEATABLE READ, READ ONLY transaction, so
every statement of a response reads the same publish).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, g, has_request_context

from web import services


@contextmanager
def connection(timeout: float | None = None, *, autocommit: bool = False,
               snapshot: bool = False) -> Iterator[psycopg.Connection]:
    """A database connection for one block: like ``pool.connection()``, the block is one transaction,
    committed when it ends and rolled back on an error; with ``autocommit`` each statement commits by
    itself (one round trip, no BEGIN and COMMIT), for the key check and the audit row; with ``snapshot``
    the transaction is REPEATABLE READ and READ ONLY (set on the connection, so psycopg's BEGIN says it:
    no extra round trip), so every statement of the block reads the same published state.

    A block that succeeded ends with COMMIT even when it wrote nothing: psycopg forgets all the prepared
    statements of a connection on ROLLBACK (it cannot know what the transaction undid), so ending reads
    that way would mean no statement is ever prepared.

    Within a request the connection is the request's own: taken from the pool at its first use (and so
    proven alive by the pool's check once), kept while the request runs and given back when it ends
    (``_give_back``). The key check, the data and the audit row of one request share it: one checkout
    per request instead of one per block. A block opened inside another gets a connection of its own,
    so it never ends the outer block's transaction. Outside a request it is a plain pool checkout.
    """
    svc = services()
    if not has_request_context() or g.get("_db_in_block"):
        with svc.pool.connection(timeout) as conn:
            try:
                _set_mode(conn, autocommit, snapshot)
                yield conn
            finally:
                _reset_mode(conn)
        return
    conn = g.get("_db_conn")
    if conn is not None and conn.closed:  # broken earlier in this request: give it back for another
        g.pop("_db_conn")
        svc.pool.putconn(conn)
        conn = None
    if conn is None:
        conn = g._db_conn = svc.pool.getconn(timeout)
    g._db_in_block = True
    try:
        _set_mode(conn, autocommit, snapshot)
        yield conn
    except BaseException:
        if not conn.closed and not autocommit:
            try:
                # A read-only snapshot that a 304 or a 400 ended early undid nothing: COMMIT keeps its
                # statements prepared (see above). Anything else, or a failed transaction, rolls back.
                if snapshot and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                    conn.commit()
                else:
                    conn.rollback()
            except psycopg.Error:
                pass  # the connection is broken: the error being raised says why
        raise
    else:
        if not autocommit:
            conn.commit()
    finally:
        g._db_in_block = False
        _reset_mode(conn)


def _set_mode(conn: psycopg.Connection, autocommit: bool, snapshot: bool) -> None:
    if conn.autocommit != autocommit:
        conn.autocommit = autocommit
    if snapshot:
        conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True


def _reset_mode(conn: psycopg.Connection) -> None:
    """Back to the pool's defaults (read-write, the server's isolation level, transactions) at the end of
    every block, so the next block, and the next request after ``_give_back``, find them; only possible,
    and only needed, on a live connection between transactions (a broken one is discarded by the pool)."""
    if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        if conn.read_only is not None or conn.isolation_level is not None:
            conn.isolation_level, conn.read_only = None, None
        if conn.autocommit:
            conn.autocommit = False


def _give_back(exc: BaseException | None) -> None:
    """At the end of a request, its connection goes back to the pool (the pool discards a broken one).
    Every block has already ended its transaction and reset the connection's mode."""
    conn = g.pop("_db_conn", None)
    if conn is not None:
        services().pool.putconn(conn)


def init_app(app: Flask) -> None:
    app.teardown_request(_give_back)
