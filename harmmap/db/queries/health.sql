-- /healthz: PostGIS answers, how many wards each vintage has, and which reference load is published.
SELECT postgis_lib_version() AS postgis,
       (SELECT json_object_agg(vintage, ward_count ORDER BY vintage) FROM geo.ward_vintage) AS wards,
       (SELECT max(batch_id) FROM etl.batch WHERE job = 'geo' AND status = 'published') AS geo_batch
