-- Searches for controlled drugs per 2022 ward and month, from every file loaded; a search with no location
-- is counted at force level (the force area's code, no ward), kept for London's totals, never spread.
INSERT INTO harm.indicator_month (indicator, month, borough_code, ward_code, value, synthetic)
SELECT %(indicator)s, month, coalesce(borough_code, %(force)s), ward_code, count(*), bool_or(synthetic)
FROM etl.stop_search
WHERE drugs
GROUP BY month, coalesce(borough_code, %(force)s), ward_code
