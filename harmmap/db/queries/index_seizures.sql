-- One row per asset seizure record: the pounds recovered (for the asset recovery target and its variance).
SELECT date_trunc('month', event_date)::date AS month, borough_code, value_gbp::float8 AS value_gbp, synthetic
FROM etl.asset_seizure
