-- What a response or a job is drawn from: the published index version readers see (NULL while nothing is
-- published), what went into it, and the reference data it is drawn on (the 2022 wards' load batch).
-- Version, publish time and batch go into every ETag; the later of the two times is the Last-Modified.
-- Always one row.
SELECT c.version, u.published_at, u.synthetic, u.weights, u.indicators, u.parameters,
       v.batch_id AS geo_batch, b.finished_at AS geo_loaded_at
FROM (SELECT 1) AS one
LEFT JOIN harm.current c ON true
LEFT JOIN harm.publish u ON u.version = c.version
LEFT JOIN geo.ward_vintage v ON v.vintage = 2022
LEFT JOIN etl.batch b ON b.batch_id = v.batch_id
