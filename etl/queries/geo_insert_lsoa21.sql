INSERT INTO geo.lsoa21 (lsoa_code, lsoa_name, borough_code, population, ward_code_2022, geom)
SELECT code, name, borough_code, population::int, ward_code_2022, geom FROM lsoa_stage
