"""Database access: connections, the pool, database creation and migrations.

Every connection failure becomes :class:`DatabaseUnavailable` with a one-line message that says how
to fix it, so the CLI and ``make demo`` never show a traceback for a server that is down.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from harmmap.config import Settings

if TYPE_CHECKING:
    import pandas as pd

MIGRATIONS_PACKAGE = "harmmap.db.migrations"
QUERIES_PACKAGE = "harmmap.db.queries"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# Any fixed number works; it only has to be the same for every process that migrates.
_MIGRATION_LOCK = 0x4841524D  # "HARM"


class DatabaseUnavailable(RuntimeError):
    """The server cannot be reached or refuses us; the message says what to do."""


class NotMigrated(DatabaseUnavailable):
    """The database is reachable but its schema is missing or behind the code."""


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    params = conninfo_to_dict(url)
    params.pop("password", None)
    host = params.get("host", "localhost")
    return f"{params.get('user', '')}@{host}:{params.get('port', 5432)}/{params.get('dbname', '')}"


def _explain(url: str, error: psycopg.OperationalError) -> DatabaseUnavailable:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    where = describe(url)
    if "does not exist" in text and "database" in text:
        hint = "run `harmmap db init` (or `make demo`) to create it"
    elif "password" in text or "authentication" in text or "role" in text:
        hint = "put the right user and password in HARMMAP_DATABASE_URL"
    else:
        hint = ("start PostgreSQL (`make demo` starts a local cluster; by hand: "
                "pg_ctlcluster --skip-systemctl-redirect 15 main start) or fix HARMMAP_DATABASE_URL")
    return DatabaseUnavailable(f"database {where} is unavailable: {text} -- {hint}")


def connect(url: str, *, timeout_s: float = 5.0, autocommit: bool = False) -> psycopg.Connection:
    """A plain connection (CLI jobs, tests) with dict rows."""
    try:
        return psycopg.connect(url, connect_timeout=max(1, int(timeout_s)), autocommit=autocommit,
                               row_factory=dict_row)
    except psycopg.OperationalError as e:
        raise _explain(url, e) from None


#: TCP keepalives on every pooled connection: a server that vanishes without closing the socket (a
#: network cut, a host that powers off) is noticed in about 30 s instead of the kernel's two hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
#: While the server is known to be down, a request waits at most this long for a connection.
FAIL_FAST_S = 0.25


class Pool(ConnectionPool):
    """A pool that knows whether its server is down: its last attempt to connect failed, and none has
    succeeded since. Then ``getconn`` waits only ``FAIL_FAST_S`` (a request answers 503 at once instead
    of after the full timeout); a pool that is merely busy still waits its full timeout."""

    server_down: bool = False

    def getconn(self, timeout: float | None = None):  # type: ignore[override]
        if self.server_down:
            timeout = min(self.timeout if timeout is None else timeout, FAIL_FAST_S)
        return super().getconn(timeout)


def make_pool(settings: Settings, *, open_wait: bool = True) -> Pool:
    """The web app's pool. With ``open_wait`` it fails fast (DatabaseUnavailable) when the server is down.

    Staying up while the database is down (docs/security.md, "Staying up"): no request waits more than
    ``db_timeout_s`` for a connection, and only ``FAIL_FAST_S`` once the server is known to be down (then
    the app answers 503); ``check`` makes every connection prove it is alive before it is lent, so
    connections left over from a server that was restarted are dropped rather than failing a request; and
    ``reconnect_timeout`` is as short as ``db_timeout_s``, so the pool's reconnection backoff (1, 2, 4 ...
    s) never grows past a few seconds: once the server is back the next attempt succeeds and the app
    answers again without a restart.
    """
    pool: Pool

    class Connection(psycopg.Connection):  # the pool's connection class: records whether connecting works
        @classmethod
        def connect(cls, *args, **kwargs):  # type: ignore[override]
            try:
                conn = super().connect(*args, **kwargs)
            except psycopg.OperationalError:
                pool.server_down = True
                raise
            pool.server_down = False
            return conn

    pool = Pool(
        settings.database_url,
        connection_class=Connection,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={"row_factory": dict_row, "connect_timeout": max(1, int(settings.db_timeout_s)), **KEEPALIVES},
        timeout=settings.db_timeout_s,
        check=ConnectionPool.check_connection,
        reconnect_timeout=max(1.0, settings.db_timeout_s),
        open=False,
        name="harmmap",
    )
    pool.open(wait=False)
    if open_wait:
        try:
            pool.wait(timeout=settings.db_timeout_s)
        except Exception as e:  # PoolTimeout: say why, in one line
            pool.close()
            try:
                connect(settings.database_url, timeout_s=settings.db_timeout_s).close()
            except DatabaseUnavailable as why:
                raise why from None
            raise DatabaseUnavailable(f"database {describe(settings.database_url)} is unavailable: {e}") from None
    return pool


def admin_url(url: str, dbname: str = "postgres") -> str:
    """The same server and user, connected to another database (to create or drop ours)."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def database_name(url: str) -> str:
    return conninfo_to_dict(url).get("dbname") or "postgres"


def create_database(url: str, *, timeout_s: float = 5.0) -> bool:
    """Create the (empty) database named in ``url`` if it is missing, from the server's ``postgres``
    database; True if it was created. Shared by ``db init`` and ``db restore``, which fills it itself."""
    name = database_name(url)
    with connect(admin_url(url), timeout_s=timeout_s, autocommit=True) as c:  # down: one line
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def ensure_database(url: str, *, timeout_s: float = 5.0) -> bool:
    """Create the database named in ``url`` if missing, with PostGIS enabled. True if it was created."""
    created = create_database(url, timeout_s=timeout_s)
    with connect(url, timeout_s=timeout_s, autocommit=True) as c:
        try:
            c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.errors.FeatureNotSupported as e:
            raise DatabaseUnavailable(
                f"PostGIS is not installed on the server of {describe(url)} ({e.diag.message_primary}) -- "
                "install the Debian package postgresql-15-postgis-3 (make demo does this when run as root)"
            ) from None
        except psycopg.errors.InsufficientPrivilege:
            raise DatabaseUnavailable(
                f"cannot enable PostGIS in {describe(url)}: the user needs to be a superuser or the "
                "database owner (CREATE EXTENSION postgis)") from None
    return created


def drop_database(url: str) -> None:
    with connect(admin_url(url), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name(url))))


# --- migrations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations not yet recorded, in order. Returns the names applied.

    All of them run in one transaction (each in a savepoint) under an advisory lock, so a failing
    migration leaves none of this run applied and two migrators never interleave. A second call
    applies nothing. A recorded migration whose file has since changed is an error: migrations are
    append-only.
    """
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(query("migration_table"))
        done = {r["version"]: r for r in conn.execute("SELECT version, name, checksum FROM public.schema_migration")}
        for m in available_migrations():
            if m.version in done:
                if done[m.version]["checksum"] != m.checksum:
                    raise MigrationError(
                        f"migration {m.name} was changed after it was applied (checksum differs); "
                        "add a new numbered migration instead")
                continue
            with conn.transaction():
                conn.execute(m.text)
                conn.execute("INSERT INTO public.schema_migration (version, name, checksum) VALUES (%s, %s, %s)",
                             (m.version, m.name, m.checksum))
            applied.append(m.name)
    return applied


def require_schema(conn: psycopg.Connection) -> None:
    """Fail in one line, with the fix, if the database has not been set up by ``harmmap db init``."""
    row = conn.execute("""SELECT to_regclass('public.schema_migration') IS NOT NULL AS present""").fetchone()
    latest = max((m.version for m in available_migrations()), default=0)
    applied = 0
    if row["present"]:
        applied = conn.execute("SELECT coalesce(max(version), 0) AS v FROM public.schema_migration").fetchone()["v"]
    conn.rollback()
    if applied < latest:
        where = describe(conn.info.dsn)
        state = "has no HarmMap schema" if not applied else f"is at migration {applied} of {latest}"
        raise NotMigrated(f"database {where} {state} -- run `harmmap db init` (make demo does it)")


def vacuum_analyze(conn: psycopg.Connection, tables: Sequence[str]) -> None:
    """``VACUUM (ANALYZE)`` the ``tables`` (``schema.table`` names written in the code, quoted as
    identifiers all the same) once a publish has committed: the rows it replaced are dead and index scans
    would keep visiting them, and the planner needs statistics for what is there now. Autovacuum would do
    both in time, but it may be off (it was on the server these figures were measured on) or not yet round.
    VACUUM cannot run in a transaction, so this runs in autocommit and needs ``conn`` between transactions."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise psycopg.ProgrammingError("vacuum_analyze needs the publish committed first")
    statement = sql.SQL("VACUUM (ANALYZE) {}").format(
        sql.SQL(", ").join(sql.Identifier(*table.split(".")) for table in tables))
    autocommit, conn.autocommit = conn.autocommit, True
    try:
        conn.execute(statement)
    finally:
        conn.autocommit = autocommit


@functools.cache
def query(name: str) -> str:
    """The text of ``harmmap/db/queries/<name>.sql`` (``%(param)s`` placeholders), read once per process."""
    return resources.files(QUERIES_PACKAGE).joinpath(f"{name}.sql").read_text(encoding="utf-8")


@contextmanager
def session(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection for one CLI command; commits on success, rolls back on error."""
    with connect(settings.database_url, timeout_s=settings.db_timeout_s) as conn:
        yield conn


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY a data frame into ``table`` (columns named as the table's) as CSV written by Arrow.

    The fast path for bulk writes: a few hundred thousand rows a second where ``write_row`` manages tens of
    thousands. Nulls (None, NaN, NaT) become unquoted empty fields, which COPY reads as NULL; timestamps
    are written as dates; lists as PostgreSQL array literals; dicts as JSON.
    """
    import json

    import pyarrow as pa
    from pyarrow import csv

    converted: dict[str, list] = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object and len(col):
            sample = next((v for v in col if v is not None and not (isinstance(v, float) and v != v)), None)
            if isinstance(sample, (list, tuple)):
                converted[name] = [None if v is None else "{" + ",".join(_array_item(x) for x in v) + "}" for v in col]
            elif isinstance(sample, dict):
                converted[name] = [None if v is None else json.dumps(v) for v in col]
    if converted:  # only then a copy: the big frames (records, counts) have plain columns
        frame = frame.assign(**converted)
    buf = io.BytesIO()
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for i, f in enumerate(arrow.schema):
        if pa.types.is_timestamp(f.type):
            arrow = arrow.set_column(i, f.name, arrow.column(i).cast(pa.date32()))
    csv.write_csv(arrow, buf, csv.WriteOptions(include_header=False, quoting_style="needed"))
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, frame.columns)))
    with conn.cursor().copy(statement) as copy:
        copy.write(buf.getvalue())


def _array_item(value: object) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
