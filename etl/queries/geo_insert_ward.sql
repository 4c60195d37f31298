-- One vintage's wards from its stage table (an identifier), with their area in hectares.
INSERT INTO geo.ward (vintage, ward_code, ward_name, borough_code, borough_name, area_ha, geom)
SELECT %(vintage)s, code, name, borough_code, borough_name, ST_Area(geom) / 1e4, geom FROM {stage}
