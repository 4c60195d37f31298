-- What an API response is drawn from: the published index version readers see (NULL while nothing is
-- published) and the reference data (the 2022 wards' load batch). Both go into the ETag; the later of
-- the two times is the Last-Modified. Always one row.
SELECT c.version, u.published_at, u.synthetic,
       v.batch_id AS geo_batch, b.finished_at AS geo_loaded_at
FROM (SELECT 1) AS one
LEFT JOIN harm.current c ON true
LEFT JOIN harm.publish u ON u.version = c.version
LEFT JOIN geo.ward_vintage v ON v.vintage = 2022
LEFT JOIN etl.batch b ON b.batch_id = v.batch_id
