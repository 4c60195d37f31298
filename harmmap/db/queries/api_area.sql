-- The 2022 wards an area overlaps (a posted polygon as WKB, or a circle round a point), with the overlap in
-- square metres (EPSG:27700) and each count indicator's figure for the period, to be shared out by area.
-- Wards that only touch the area's edge (no overlapping area) are left out.
WITH area AS (
    SELECT CASE WHEN %(wkb)s::bytea IS NOT NULL
                THEN ST_Transform(ST_SetSRID(ST_GeomFromWKB(%(wkb)s::bytea), %(srid)s), 27700)
                ELSE ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), %(srid)s), 27700), %(radius_m)s, 32)
           END AS g
), touched AS (
    SELECT w.ward_code, w.ward_name, w.borough_code, w.borough_name, w.city_of_london, w.population,
           ST_Area(w.geom) AS ward_m2, ST_Area(ST_Intersection(w.geom, a.g)) AS overlap_m2
    FROM area a JOIN geo.ward w ON w.vintage = 2022 AND ST_Intersects(w.geom, a.g)
)
SELECT t.*, (SELECT ST_Area(g) FROM area) AS area_m2,
       i.score, i.rank_london, i.decile_london, i.hotspot, i.synthetic,
       (SELECT jsonb_object_agg(wi.indicator, wi.value) FROM harm.current_ward_indicator wi
        WHERE wi.version = %(version)s AND wi.period = %(period)s AND wi.ward_code = t.ward_code
          AND wi.indicator = ANY(%(indicators)s)) AS figures
FROM touched t
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = t.ward_code
WHERE t.overlap_m2 > 0
ORDER BY t.overlap_m2 DESC, t.ward_code
