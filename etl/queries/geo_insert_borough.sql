-- Boroughs, with their area (hectares) and residents (the sum of their LSOAs).
INSERT INTO geo.borough (borough_code, borough_name, area_ha, population, geom)
SELECT b.code, b.name, ST_Area(b.geom) / 1e4,
       coalesce((SELECT sum(population) FROM geo.lsoa21 l WHERE l.borough_code = b.code), 0),
       b.geom
FROM borough_stage b
