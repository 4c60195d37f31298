-- The 2022 wards the index is built on: population (Census 2021 usual residents), whether the ward is in
-- the MPS area (the City of London has its own police force), and the geometry for contiguity.
SELECT ward_code, borough_code, population, NOT city_of_london AS in_area,
       ST_AsBinary(geom) AS wkb
FROM geo.ward
WHERE vintage = 2022
ORDER BY ward_code
