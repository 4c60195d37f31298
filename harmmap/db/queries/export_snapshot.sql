-- This transaction's snapshot, for worker processes to read exactly what it reads (SET TRANSACTION SNAPSHOT).
SELECT pg_export_snapshot() AS id
