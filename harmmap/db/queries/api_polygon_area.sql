-- The area of a posted polygon in km², measured in EPSG:27700 (metres), before any ward is read.
SELECT ST_Area(ST_Transform(ST_SetSRID(ST_GeomFromWKB(%(w)s), %(s)s), 27700)) / 1e6 AS km2
