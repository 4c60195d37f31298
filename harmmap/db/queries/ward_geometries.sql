-- Every ward of one vintage as WKB (EPSG:27700), in code order: what the point locator, the
-- map simplification and the benchmarks build on.
SELECT ward_code, ST_AsBinary(geom) AS wkb
FROM geo.ward
WHERE vintage = %(vintage)s
ORDER BY ward_code
