-- The coverage-simplified copies, in WGS84 for the web map.
INSERT INTO geo.ward_simplified (vintage, ward_code, tolerance_m, geom)
SELECT vintage, ward_code, tolerance_m,
       ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(ST_GeomFromWKB(wkb, 27700), 4326)), 3))
FROM simple_stage
