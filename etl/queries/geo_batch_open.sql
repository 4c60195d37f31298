INSERT INTO etl.batch (job, file_name, file_sha256) VALUES ('geo', 'manifest.toml', %(sha)s)
RETURNING batch_id
