-- Points to wards: each point (x/y in %(srid)s) is moved to EPSG:27700 and joined to the ward that holds it
-- in every vintage with ST_Intersects on geo.ward's GiST index. A point on a boundary between two wards is
-- given to the lower ward code, so the answer is always one ward. The 2022 ward's place in one period of
-- the current index rides along (NULL without an index, or for a City of London ward).
WITH pts AS (
    SELECT u.n, ST_Transform(ST_SetSRID(ST_MakePoint(u.x, u.y), %(srid)s), 27700) AS g
    FROM unnest(%(xs)s::float8[], %(ys)s::float8[]) WITH ORDINALITY AS u(x, y, n)
)
SELECT p.n, round(ST_X(p.g)::numeric, 2)::float8 AS easting, round(ST_Y(p.g)::numeric, 2)::float8 AS northing,
       w22.ward_code, w22.ward_name, w22.borough_code, w22.borough_name, w22.city_of_london,
       w18.ward_code AS ward_code_2018, w18.ward_name AS ward_name_2018,
       w14.ward_code AS ward_code_2014, w14.ward_name AS ward_name_2014,
       i.score, i.rank_london, i.decile_london, i.rank_borough, i.decile_borough, i.hotspot, i.lisa_cluster,
       i.synthetic
FROM pts p
LEFT JOIN LATERAL (SELECT w.ward_code, w.ward_name, w.borough_code, w.borough_name, w.city_of_london
                   FROM geo.ward w WHERE w.vintage = 2022 AND ST_Intersects(w.geom, p.g)
                   ORDER BY w.ward_code LIMIT 1) w22 ON true
LEFT JOIN LATERAL (SELECT w.ward_code, w.ward_name FROM geo.ward w
                   WHERE w.vintage = 2018 AND ST_Intersects(w.geom, p.g) ORDER BY w.ward_code LIMIT 1) w18 ON true
LEFT JOIN LATERAL (SELECT w.ward_code, w.ward_name FROM geo.ward w
                   WHERE w.vintage = 2014 AND ST_Intersects(w.geom, p.g) ORDER BY w.ward_code LIMIT 1) w14 ON true
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = w22.ward_code
ORDER BY p.n
