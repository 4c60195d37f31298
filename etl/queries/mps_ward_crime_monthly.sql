-- Drug possession, drug trafficking and their total per 2022 ward and month, from every file loaded.
INSERT INTO harm.indicator_month (indicator, month, borough_code, ward_code, value, synthetic)
SELECT CASE WHEN i.total THEN 'drug_offences'
            WHEN c.minor = 'POSSESSION OF DRUGS' THEN 'drug_possession' ELSE 'drug_trafficking' END,
       c.month, w.borough_code, c.ward_code, sum(c.offences), false
FROM etl.recorded_crime c
JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = c.ward_code
CROSS JOIN (VALUES (false), (true)) AS i(total)
WHERE c.major = 'DRUG OFFENCES' AND c.minor IN ('POSSESSION OF DRUGS', 'TRAFFICKING OF DRUGS')
GROUP BY 1, 2, 3, 4
