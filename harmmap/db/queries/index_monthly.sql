-- Every published monthly indicator figure, ward-level and borough-only.
SELECT indicator, month, borough_code, ward_code, value, synthetic
FROM harm.indicator_month
