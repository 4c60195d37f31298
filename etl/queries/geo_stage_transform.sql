-- A staged layer's geometry in British National Grid (repairs are then done in metres). The stage table is an identifier.
UPDATE {stage} SET geom = ST_Multi(ST_Transform(ST_GeomFromWKB(wkb, %(epsg)s), 27700))
