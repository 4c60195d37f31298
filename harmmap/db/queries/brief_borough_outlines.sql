-- Borough outlines for a briefing map, as the union of each borough's 2022 wards: borough lines then lie on
-- the ward edges (geo.borough comes from another boundary file and differs from the ward set by tens of
-- metres, which shows at 1:25,000). Simplified to a tolerance in metres.
SELECT w.borough_code, b.borough_name, b.city_of_london,
       ST_AsBinary(ST_SimplifyPreserveTopology(ST_Union(w.geom), %(tolerance_m)s)) AS wkb
FROM geo.ward w
JOIN geo.borough b USING (borough_code)
WHERE w.vintage = 2022 AND w.borough_code = ANY(%(boroughs)s)
GROUP BY w.borough_code, b.borough_name, b.city_of_london
