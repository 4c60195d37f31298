-- A new batch, status 'running' until it is published or fails.
INSERT INTO etl.batch (job, file_name, file_sha256) VALUES (%(job)s, %(file_name)s, %(sha)s)
RETURNING batch_id
