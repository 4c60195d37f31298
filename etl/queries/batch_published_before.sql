-- The last batch that published this very file (same kind, same SHA-256), if any.
SELECT batch_id FROM etl.batch
WHERE job = %(job)s AND file_sha256 = %(sha)s AND status = 'published'
ORDER BY batch_id DESC LIMIT 1
