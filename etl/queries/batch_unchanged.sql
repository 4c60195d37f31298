INSERT INTO etl.batch (job, file_name, file_sha256, status, finished_at, same_as)
VALUES (%(job)s, %(file_name)s, %(sha)s, 'unchanged', clock_timestamp(), %(same_as)s)
RETURNING batch_id
