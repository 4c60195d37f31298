-- The last reference load: is it this very data set (same fingerprint), and is it still there?
SELECT batch_id, file_sha256 = %(sha)s AS same, EXISTS (SELECT 1 FROM geo.ward) AS loaded
FROM etl.batch WHERE job = 'geo' AND status = 'published'
ORDER BY batch_id DESC LIMIT 1
