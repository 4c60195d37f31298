-- The 2022 wards a briefing map frame touches, with their place in one period of the published index
-- (NULL for the City of London, which is not ranked), simplified for the printed scale (the tolerance
-- is about 0.1 mm on paper). The frame is a box in EPSG:27700, the wards' own CRS, so the GiST index
-- is used.
SELECT w.ward_code, w.ward_name, w.borough_code, w.borough_name, w.city_of_london,
       i.score, i.rank_london, i.decile_london, i.rank_borough,
       coalesce(i.hotspot, 'no_data') AS hotspot,
       ST_AsBinary(ST_SimplifyPreserveTopology(w.geom, %(tolerance_m)s)) AS wkb
FROM geo.ward w
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = w.ward_code
WHERE w.vintage = 2022
  AND w.geom && ST_MakeEnvelope(%(xmin)s, %(ymin)s, %(xmax)s, %(ymax)s, 27700)
ORDER BY w.ward_code
