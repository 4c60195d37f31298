-- The published index readers see, and the reference data it is drawn on: together they name the data a
-- tasking-map response came from (its ETag). Always one row; version is NULL while nothing is published.
SELECT c.version, u.published_at, u.synthetic, u.weights, u.indicators,
       (SELECT batch_id FROM geo.ward_vintage WHERE vintage = 2022) AS geo_batch
FROM (SELECT 1) AS one
LEFT JOIN harm.current c ON true
LEFT JOIN harm.publish u ON u.version = c.version
