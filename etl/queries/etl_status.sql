-- The most recent runs, for `harmmap etl status`.
SELECT batch_id, job, file_name, status, rows_read, rows_loaded, rows_quarantined, synthetic,
       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS started_utc,
       round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds, same_as, error
FROM etl.batch ORDER BY batch_id DESC LIMIT %(limit)s
