-- One disruption counts once in each ward it touched (and once per borough-only location).
INSERT INTO harm.indicator_month (indicator, month, borough_code, ward_code, value, synthetic)
SELECT 'network_disruptions', date_trunc('month', d.event_date)::date, l.borough_code, l.ward_code,
       count(DISTINCT d.source_id), bool_or(d.synthetic)
FROM etl.disruption d JOIN etl.disruption_location l USING (source_id)
GROUP BY 1, 2, 3, 4
