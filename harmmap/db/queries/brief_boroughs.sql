-- Every borough's outline (EPSG:27700), simplified to a tolerance in metres: the London locator inset
-- of a briefing page and the borough boundary on its map.
SELECT borough_code, borough_name, city_of_london,
       ST_AsBinary(ST_SimplifyPreserveTopology(geom, %(tolerance_m)s)) AS wkb
FROM geo.borough
ORDER BY borough_code
