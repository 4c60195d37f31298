INSERT INTO harm.indicator_year (indicator, year, borough_code, ward_code, value, synthetic)
SELECT 'drug_offences', a.year, w.borough_code, a.ward_code, a.offences, false
FROM etl.drug_offence_annual a JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = a.ward_code
