-- Repair invalid polygons of a staged layer (ST_MakeValid, keeping only polygons), and say which and how
-- much area each repair moved. The stage table is an identifier.
WITH bad AS (
    SELECT row_number, code, name, geom AS old, ST_IsValidReason(geom) AS reason,
           ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3)) AS fixed
    FROM {stage} WHERE NOT ST_IsValid(geom)
), upd AS (
    UPDATE {stage} s SET geom = bad.fixed FROM bad WHERE s.row_number = bad.row_number
    RETURNING s.row_number
)
SELECT row_number, code, name, reason, ST_IsValid(fixed) AND NOT ST_IsEmpty(fixed) AS ok,
       ST_Area(fixed) - ST_Area(old) AS area_change_m2
FROM bad ORDER BY row_number
