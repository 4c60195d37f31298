-- One row per disruption location: which networks were disrupted where and when (for the
-- "networks disrupted" target; network references are pseudonymous and never leave the database).
SELECT date_trunc('month', d.event_date)::date AS month, l.borough_code, d.network_ref, d.synthetic
FROM etl.disruption d JOIN etl.disruption_location l USING (source_id)
