import pytest

from harmmap import db

pytestmark = pytest.mark.db


def test_migrating_twice_changes_nothing(conn):
    before = conn.execute("SELECT version, checksum, applied_at FROM public.schema_migration ORDER BY 1").fetchall()
    assert db.migrate(conn) == []
    assert conn.execute("SELECT version, checksum, applied_at FROM public.schema_migration ORDER BY 1").fetchall() == before
    assert [r["version"] for r in before] == [m.version for m in db.available_migrations()]


def test_schemas_exist(conn):
    names = {r["nspname"] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert {"geo", "etl", "harm"} <= names


def test_an_edited_migration_is_refused(conn):
    conn.execute("UPDATE public.schema_migration SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(db.MigrationError, match="was changed after it was applied"):
        db.migrate(conn)


def test_finished_batch_must_account_for_every_row(conn):
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        with conn.transaction():
            conn.execute("""INSERT INTO etl.batch (job, file_name, file_sha256, status, rows_read, rows_loaded,
                            rows_quarantined) VALUES ('test', 'x.csv', repeat('a', 64), 'published', 10, 8, 1)""")


def test_vacuum_analyze_clears_dead_rows_and_counts_the_live_ones(settings):
    """db.vacuum_analyze, which the geo load and the index publish run after they commit."""
    import psycopg

    with db.connect(settings.database_url) as c:
        c.execute("DROP TABLE IF EXISTS public.vacuum_probe")
        c.execute("CREATE TABLE public.vacuum_probe AS SELECT g AS v FROM generate_series(1, 5000) g")
        c.execute("DELETE FROM public.vacuum_probe WHERE v % 2 = 0")   # a publish replacing rows
        with pytest.raises(psycopg.ProgrammingError, match="committed first"):
            db.vacuum_analyze(c, ["public.vacuum_probe"])              # still in the publish's transaction
        c.commit()
        try:
            db.vacuum_analyze(c, ["public.vacuum_probe"])
            row = c.execute("SELECT reltuples, relallvisible, relpages FROM pg_class "
                            "WHERE oid = 'public.vacuum_probe'::regclass").fetchone()
            assert row["reltuples"] == 2500 and row["relallvisible"] == row["relpages"] > 0
            assert c.autocommit is False                                # the caller's mode is back
        finally:
            c.execute("DROP TABLE public.vacuum_probe")
            c.commit()
