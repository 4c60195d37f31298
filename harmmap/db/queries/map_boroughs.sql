-- The 32 MPS boroughs and the City of London (flagged: its own police force, not in the index).
SELECT borough_code AS code, borough_name AS name, city_of_london
FROM geo.borough
ORDER BY borough_name
