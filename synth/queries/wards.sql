-- 2022 wards outside the City (it has its own police force), with population and geometry (EPSG:27700).
SELECT ward_code, borough_code, population, ST_AsBinary(geom) AS wkb
FROM geo.ward WHERE vintage = %(vintage)s AND NOT city_of_london ORDER BY ward_code
