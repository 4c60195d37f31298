-- One reference load at a time; a second waits here, then replaces the first's result whole.
SELECT pg_advisory_xact_lock(%(lock)s)
