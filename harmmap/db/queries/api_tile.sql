-- One Mapbox vector tile (web mercator z/x/y, extent 4096, 64-unit buffer): layer "wards", the 2022 wards
-- from the coverage-simplified copy that suits the zoom, with their place in one period of the current index
-- (NULL period or no index: geometry and names only). The copies are EPSG:4326, like the tile's bounds.
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096), 4326) AS near
)
SELECT ST_AsMVT(t, 'wards', 4096, 'geom') AS mvt
FROM (
    SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), b.tile, 4096, 64, true) AS geom,
           w.ward_code, w.ward_name, w.borough_code, w.borough_name, w.city_of_london, w.population,
           %(period)s::text AS period, i.score, i.rank_london, i.decile_london, i.rank_borough, i.decile_borough,
           i.hotspot, i.lisa_cluster, i.synthetic
    FROM bounds b
    JOIN geo.ward_simplified s ON s.vintage = 2022 AND s.tolerance_m = %(tolerance)s AND s.geom && b.near
    JOIN geo.ward w ON w.vintage = s.vintage AND w.ward_code = s.ward_code
    LEFT JOIN harm.current_ward_index i
           ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = s.ward_code
) t
WHERE t.geom IS NOT NULL
