-- Quarantined rows, newest batch first, for `harmmap etl quarantine` (batch NULL: every batch).
SELECT q.batch_id, b.job, b.file_name, q.row_number, q.reason, q.raw::text AS raw
FROM etl.quarantine q JOIN etl.batch b USING (batch_id)
WHERE %(batch)s::bigint IS NULL OR q.batch_id = %(batch)s
ORDER BY q.batch_id DESC, q.row_number LIMIT %(limit)s
